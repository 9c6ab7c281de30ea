// The SQL front end against the real libpg_query: statement boundaries,
// classification and located error messages. No database needed.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <string>

#include "sql/sql.hpp"

namespace sql = moonshift::sql;

namespace {

// The parse error for sql, failing the test when there is none.
sql::parse_error parse_failure(const std::string& text, const std::string& label = "m.sql") {
    try {
        sql::parse(text, label);
    } catch (const sql::parse_error& e) {
        return e;
    }
    BOOST_FAIL("expected a parse error for: " << text);
    throw;  // unreachable
}

sql::statement only_statement(const std::string& text, bool trees = true) {
    auto s = sql::parse(text, "m.sql", sql::parse_options{trees});
    BOOST_TEST_REQUIRE(s.statements.size() == 1u, "expected one statement in: " << text);
    return s.statements[0];
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sql_parse)

BOOST_AUTO_TEST_CASE(statements_have_exact_offsets_lines_and_columns) {
    const std::string text =
        "-- header; with a semicolon\n"       // line 1
        "/* block; /* nested; */ still */\n"  // line 2
        "CREATE TABLE t (\n"                  // line 3
        "  id int\n"
        ");\n"
        "  INSERT INTO t VALUES (1); -- trailing; comment\n"        // line 6, column 3
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\n"  // line 7
        "BEGIN RETURN 1; END;\n"
        "$$;\n"
        "SELECT 'é'\n"  // line 10, no semicolon, comment after
        "-- the end\n";
    auto s = sql::parse(text, "m.sql");
    BOOST_TEST_REQUIRE(s.statements.size() == 4u);

    const auto& create = s.statements[0];
    BOOST_TEST(create.text == "CREATE TABLE t (\n  id int\n)");
    BOOST_TEST(create.offset == text.find("CREATE TABLE"));
    BOOST_TEST(create.length == create.text.size());
    BOOST_TEST(create.line == 3);
    BOOST_TEST(create.column == 1);

    const auto& insert = s.statements[1];
    BOOST_TEST(insert.text == "INSERT INTO t VALUES (1)");
    BOOST_TEST(insert.offset == text.find("INSERT"));
    BOOST_TEST(insert.line == 6);
    BOOST_TEST(insert.column == 3);

    const auto& function = s.statements[2];
    BOOST_TEST(function.text ==
               "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\nBEGIN RETURN 1; END;\n$$");
    BOOST_TEST(function.line == 7);
    BOOST_TEST(function.kind == "CreateFunctionStmt");

    const auto& select = s.statements[3];
    BOOST_TEST(select.text == "SELECT 'é'",
               "the comment after the last statement is not part of it");
    BOOST_TEST(select.line == 10);
    for (const auto& st : s.statements) BOOST_TEST(text.substr(st.offset, st.length) == st.text);
}

BOOST_AUTO_TEST_CASE(comments_around_a_statement_are_not_part_of_it) {
    auto s = sql::parse(
        "SELECT 1 -- one\n;\nSELECT 2 /* two; */ ;\nSELECT '--' -- three\n;"
        "SELECT '*/';SELECT 3 /* a /* nested */ comment */",
        "m.sql");
    BOOST_TEST_REQUIRE(s.statements.size() == 5u);
    BOOST_TEST(s.statements[0].text == "SELECT 1");
    BOOST_TEST(s.statements[1].text == "SELECT 2");
    BOOST_TEST(s.statements[2].text == "SELECT '--'");
    BOOST_TEST(s.statements[3].text == "SELECT '*/'");
    BOOST_TEST(s.statements[4].text == "SELECT 3");
    auto parts = sql::split("/* a /* nested; */ comment; */ SELECT 1 -- x\n");
    BOOST_TEST_REQUIRE(parts.size() == 1u);
    BOOST_TEST(parts[0].text == "SELECT 1");
}

BOOST_AUTO_TEST_CASE(columns_count_characters_after_utf8) {
    const std::string text = "/* héhé ✓ */ SELECT 1; SELECT 'ü'; SELECT 2";
    auto s = sql::parse(text, "m.sql");
    BOOST_TEST_REQUIRE(s.statements.size() == 3u);
    BOOST_TEST(s.statements[0].offset == text.find("SELECT 1"));
    BOOST_TEST(s.statements[0].column == 14, "12 characters of comment and a space come first");
    BOOST_TEST(s.statements[2].offset == text.find("SELECT 2"));
    BOOST_TEST(s.statements[2].column == 36);
}

BOOST_AUTO_TEST_CASE(tree_locations_are_offsets_in_the_file) {
    const std::string text = "SELECT 1;\nSELECT 42;";
    auto s = sql::parse(text, "m.sql");
    BOOST_TEST_REQUIRE(s.statements.size() == 2u);
    const auto& target = s.statements[1].tree["SelectStmt"]["targetList"][0]["ResTarget"];
    BOOST_TEST(target["location"].get<std::size_t>() == text.find("42"));
}

BOOST_AUTO_TEST_CASE(strings_and_quoted_identifiers_keep_their_semicolons) {
    auto s = sql::parse(
        "SELECT E'it\\'s; here', 'a;b', \"semi;colon\" FROM t; SELECT $tag$ $$;$$ $tag$;", "m.sql");
    BOOST_TEST_REQUIRE(s.statements.size() == 2u);
    BOOST_TEST(s.statements[0].text == "SELECT E'it\\'s; here', 'a;b', \"semi;colon\" FROM t");
    BOOST_TEST(s.statements[1].text == "SELECT $tag$ $$;$$ $tag$");
}

BOOST_AUTO_TEST_CASE(begin_atomic_body_is_one_statement) {
    auto s = sql::parse(
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT "
        "3;",
        "m.sql");
    BOOST_TEST_REQUIRE(s.statements.size() == 2u);
    BOOST_TEST(s.statements[0].text.find("END") != std::string::npos);
    BOOST_TEST(!s.statements[0].transaction_control, "BEGIN ATOMIC is not a transaction");
    auto parts = sql::split(
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT "
        "3;");
    BOOST_TEST(parts.size() == 2u, "split keeps BEGIN ATOMIC whole when the file parses");
}

BOOST_AUTO_TEST_CASE(kinds_are_top_level_node_names) {
    BOOST_TEST(only_statement("CREATE TABLE t (id int)").kind == "CreateStmt");
    BOOST_TEST(only_statement("CREATE INDEX i ON t (a)").kind == "IndexStmt");
    BOOST_TEST(only_statement("ALTER TABLE t ADD COLUMN b int").kind == "AlterTableStmt");
    BOOST_TEST(only_statement("DROP TABLE t").kind == "DropStmt");
    BOOST_TEST(only_statement("INSERT INTO t VALUES (1)").kind == "InsertStmt");
    BOOST_TEST(only_statement("UPDATE t SET a = 1").kind == "UpdateStmt");
    BOOST_TEST(only_statement("COMMIT").kind == "TransactionStmt");
    BOOST_TEST(only_statement("DO $$ BEGIN END $$").kind == "DoStmt");
    auto s = only_statement("CREATE TABLE t (id int)");
    BOOST_TEST(s.tree.contains("CreateStmt"));
}

BOOST_AUTO_TEST_CASE(transaction_control_is_detected) {
    for (const char* text :
         {"BEGIN", "BEGIN TRANSACTION", "START TRANSACTION ISOLATION LEVEL SERIALIZABLE", "COMMIT",
          "END", "ROLLBACK", "ABORT", "SAVEPOINT a", "RELEASE SAVEPOINT a",
          "ROLLBACK TO SAVEPOINT a", "PREPARE TRANSACTION 'x'", "COMMIT PREPARED 'x'"}) {
        auto s = only_statement(text);
        BOOST_TEST(s.transaction_control, text << " is transaction control");
        BOOST_TEST(!s.no_transaction, text);
    }
    auto script = sql::parse("CREATE TABLE t (id int);\nCOMMIT;", "m.sql");
    BOOST_TEST(script.has_transaction_control());
    BOOST_TEST_REQUIRE(script.first_transaction_control() != nullptr);
    BOOST_TEST(script.first_transaction_control()->line == 2);
    auto plain = sql::parse("CREATE TABLE t (id int); SELECT 1;", "m.sql");
    BOOST_TEST(!plain.has_transaction_control());
    BOOST_TEST(!plain.has_no_transaction_statement());
}

BOOST_AUTO_TEST_CASE(statements_that_refuse_a_transaction_block_are_flagged) {
    struct example {
        const char* sql;
        const char* reason_start;
    };
    const example examples[] = {
        {"CREATE INDEX CONCURRENTLY i ON t (a)", "CREATE INDEX CONCURRENTLY cannot run"},
        {"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a)", "CREATE INDEX CONCURRENTLY"},
        {"DROP INDEX CONCURRENTLY i", "DROP INDEX CONCURRENTLY"},
        {"REINDEX INDEX CONCURRENTLY i", "REINDEX CONCURRENTLY"},
        {"REINDEX (VERBOSE, CONCURRENTLY) TABLE t", "REINDEX CONCURRENTLY"},
        {"REINDEX SCHEMA s", "REINDEX SCHEMA"},
        {"REINDEX DATABASE d", "REINDEX DATABASE"},
        {"VACUUM", "VACUUM"},
        {"VACUUM (ANALYZE) t", "VACUUM"},
        {"CREATE DATABASE d", "CREATE DATABASE"},
        {"DROP DATABASE IF EXISTS d", "DROP DATABASE"},
        {"ALTER DATABASE d SET TABLESPACE ts", "ALTER DATABASE SET TABLESPACE"},
        {"CREATE TABLESPACE ts LOCATION '/data'", "CREATE TABLESPACE"},
        {"DROP TABLESPACE ts", "DROP TABLESPACE"},
        {"ALTER SYSTEM SET work_mem = '64MB'", "ALTER SYSTEM"},
        {"CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p", "CREATE SUBSCRIPTION"},
        {"DROP SUBSCRIPTION s", "DROP SUBSCRIPTION"},
        {"ALTER TABLE p DETACH PARTITION c CONCURRENTLY", "ALTER TABLE ... DETACH PARTITION"},
        {"CLUSTER", "CLUSTER"},
        {"DISCARD ALL", "DISCARD ALL"},
    };
    for (const auto& e : examples) {
        auto s = only_statement(e.sql);
        BOOST_TEST(s.no_transaction, e.sql << " must be flagged no_transaction");
        BOOST_TEST(s.no_transaction_reason.rfind(e.reason_start, 0) == 0u,
                   e.sql << ": reason \"" << s.no_transaction_reason << "\"");
        BOOST_TEST(s.no_transaction_reason.find("cannot run inside a transaction block") !=
                   std::string::npos);
        BOOST_TEST(!s.transaction_control);
        auto without_tree = only_statement(e.sql, false);
        BOOST_TEST(without_tree.tree.is_null());
        BOOST_TEST(without_tree.kind == s.kind);
        BOOST_TEST(without_tree.no_transaction_reason == s.no_transaction_reason,
                   e.sql << ": the flags do not depend on keeping trees");
    }
    auto script =
        sql::parse("CREATE TABLE t (a int);\n\nCREATE INDEX CONCURRENTLY i ON t (a);", "m.sql");
    BOOST_TEST(script.has_no_transaction_statement());
    BOOST_TEST_REQUIRE(script.first_no_transaction_statement() != nullptr);
    BOOST_TEST(script.first_no_transaction_statement()->line == 3);
}

BOOST_AUTO_TEST_CASE(statements_that_run_in_a_transaction_are_not_flagged) {
    for (const char* text :
         {"CREATE INDEX i ON t (a)", "DROP INDEX i", "REINDEX INDEX i", "REINDEX TABLE t",
          "ANALYZE t", "ALTER TYPE mood ADD VALUE 'meh'", "CLUSTER t USING i",
          "ALTER DATABASE d SET work_mem = '1MB'", "ALTER TABLE p DETACH PARTITION c",
          "CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p WITH (connect = false)",
          "CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p WITH (create_slot = off)",
          "DISCARD TEMP", "CREATE TABLE t (a int)"}) {
        auto s = only_statement(text);
        BOOST_TEST(!s.no_transaction, text << " was flagged: " << s.no_transaction_reason);
        BOOST_TEST(s.no_transaction_reason.empty());
        BOOST_TEST(!only_statement(text, false).no_transaction,
                   text << " was flagged without a tree");
    }
}

BOOST_AUTO_TEST_CASE(syntax_error_names_file_line_column_with_caret) {
    auto e = parse_failure("SELECT 1;\nSELECT a\n  FROM FROM t;\n", "migrations/001_x.sql");
    BOOST_TEST(e.line() == 3);
    BOOST_TEST(e.column() == 8);
    BOOST_TEST(e.offset() == std::string("SELECT 1;\nSELECT a\n  FROM ").size());
    BOOST_TEST(e.reason() == "syntax error at or near \"FROM\"");
    BOOST_TEST(std::string(e.what()) ==
               "migrations/001_x.sql:3:8: syntax error at or near \"FROM\"\n"
               "    FROM FROM t;\n"
               "         ^");
    BOOST_TEST(int(e.code()) == int(moonshift::exit_code::migration_failed));
}

BOOST_AUTO_TEST_CASE(syntax_error_after_multibyte_characters_points_at_the_right_column) {
    auto e = parse_failure("-- café ☕\nSELECT 'naïve' 'über' FROM FROM;", "m.sql");
    BOOST_TEST(e.line() == 2);
    BOOST_TEST(e.column() == 16);
    BOOST_TEST(e.offset() == std::string("-- café ☕\nSELECT 'naïve' ").size());
    BOOST_TEST(std::string(e.what()) ==
                   "m.sql:2:16: syntax error at or near \"'über'\"\n"
                   "  SELECT 'naïve' 'über' FROM FROM;\n"
                   "                 ^",
               "the error is at the second string; got:\n"
                   << e.what());
}

BOOST_AUTO_TEST_CASE(error_at_end_of_input_points_after_the_last_text) {
    auto e = parse_failure("CREATE TABLE t (\n  id int,\n\n\n", "m.sql");
    BOOST_TEST(e.reason() == "syntax error at end of input");
    BOOST_TEST(e.line() == 2);
    BOOST_TEST(e.column() == 10);
}

BOOST_AUTO_TEST_CASE(unterminated_literal_is_reported_briefly_at_its_start) {
    std::string rest(500, 'x');
    auto e = parse_failure("SELECT 1;\nSELECT 'oops;\n" + rest, "m.sql");
    BOOST_TEST(e.line() == 2);
    BOOST_TEST(e.column() == 8);
    BOOST_TEST(e.reason() == "unterminated quoted string at or near \"'oops;...\"");
    e = parse_failure("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1;", "m.sql");
    BOOST_TEST(e.reason().rfind("unterminated dollar-quoted string", 0) == 0u, e.reason());
    BOOST_TEST(e.column() == 36);
}

BOOST_AUTO_TEST_CASE(psql_meta_command_is_an_error_at_its_line) {
    auto e = parse_failure("CREATE TABLE t (id int);\n\\set ON_ERROR_STOP on\nSELECT 1;", "m.sql");
    BOOST_TEST(e.reason() == "psql meta-command \\set is not supported; moonshift runs SQL only");
    BOOST_TEST(e.line() == 2);
    BOOST_TEST(e.column() == 1);
    BOOST_TEST(std::string(e.what()).rfind("m.sql:2:1: psql meta-command \\set", 0) == 0u,
               e.what());
    BOOST_TEST(!e.hint().empty());

    e = parse_failure("\\i other.sql\n", "m.sql");
    BOOST_TEST(e.reason() == "psql meta-command \\i is not supported; moonshift runs SQL only");
    e = parse_failure("SELECT 1 AS x \\gset\n", "m.sql");
    BOOST_TEST(e.reason() == "psql meta-command \\gset is not supported; moonshift runs SQL only");
    BOOST_TEST(e.column() == 15);

    // A backslash inside a literal is not a meta-command.
    BOOST_TEST(sql::parse("SELECT E'\n\\set x';", "m.sql").statements.size() == 1u);
}

BOOST_AUTO_TEST_CASE(psql_variable_gets_a_hint) {
    auto e = parse_failure("SELECT * FROM t WHERE id = :id;", "m.sql");
    BOOST_TEST(e.hint().find("psql variable") != std::string::npos, e.hint());
}

BOOST_AUTO_TEST_CASE(empty_or_comment_only_file_has_no_statements) {
    BOOST_TEST(sql::parse("", "m.sql").statements.empty());
    BOOST_TEST(sql::parse("  \n\t\n", "m.sql").statements.empty());
    BOOST_TEST(sql::parse("-- nothing; here\n/* nor; here */\n", "m.sql").statements.empty());
    BOOST_TEST(sql::parse(";;\n;", "m.sql").statements.empty());
    BOOST_TEST(sql::split("-- only a comment").empty());
    BOOST_TEST(sql::split("").empty());
}

BOOST_AUTO_TEST_CASE(bad_bytes_are_located_errors) {
    auto e = parse_failure(std::string("SELECT 1;\nSELECT '\xff';"), "m.sql");
    BOOST_TEST(e.reason() == "invalid UTF-8 byte sequence");
    BOOST_TEST(e.line() == 2);
    e = parse_failure(std::string("SELECT 1;\0", 10), "m.sql");
    BOOST_TEST(e.reason() == "the file contains a NUL byte");
    BOOST_TEST(e.offset() == 9u);
}

BOOST_AUTO_TEST_CASE(byte_order_mark_is_not_sql) {
    auto s = sql::parse(
        "\xEF\xBB\xBF"
        "SELECT 1;",
        "m.sql");
    BOOST_TEST_REQUIRE(s.statements.size() == 1u);
    BOOST_TEST(s.statements[0].offset == 3u);
    BOOST_TEST(s.statements[0].column == 1);
    BOOST_TEST(s.statements[0].text == "SELECT 1");
}

BOOST_AUTO_TEST_CASE(split_tolerates_sql_that_does_not_parse) {
    const std::string text = "SELECT 1;\n-- note\nSELEC oops; CREATE TABLE t (id int);\n";
    auto parts = sql::split(text);
    BOOST_TEST_REQUIRE(parts.size() == 3u);
    BOOST_TEST(parts[0].text == "SELECT 1");
    BOOST_TEST(parts[1].text == "SELEC oops");
    BOOST_TEST(parts[1].line == 3);
    BOOST_TEST(parts[1].column == 1);
    BOOST_TEST(parts[2].text == "CREATE TABLE t (id int)");
    BOOST_TEST(parts[2].offset == text.find("CREATE"));
    BOOST_TEST(parts[2].kind.empty());
    BOOST_TEST(parts[2].tree.is_null());
}

BOOST_AUTO_TEST_CASE(split_of_unparsable_sql_drops_nothing_and_keeps_routine_bodies_whole) {
    auto parts = sql::split(
        "foo bar; SELECT (1; 2); "
        "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql\n"
        "BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END;\n"
        "SELEC 3");
    BOOST_TEST_REQUIRE(parts.size() == 4u);
    BOOST_TEST(parts[0].text == "foo bar", "a statement not starting with a keyword is kept");
    BOOST_TEST(parts[1].text == "SELECT (1; 2)", "no split inside parentheses");
    BOOST_TEST(parts[2].text.rfind("CREATE OR REPLACE FUNCTION", 0) == 0u);
    BOOST_TEST(parts[2].text.size() - parts[2].text.rfind("END") == 3u, parts[2].text);
    BOOST_TEST(parts[3].text == "SELEC 3");
    BOOST_TEST(parts[3].line == 3);
}

BOOST_AUTO_TEST_CASE(split_keeps_an_unterminated_literal_in_the_last_statement) {
    const std::string text = "SELECT 1; SELECT 2;\nSELECT 'never closed; SELECT 3;\n";
    auto parts = sql::split(text);
    BOOST_TEST_REQUIRE(parts.size() == 3u);
    BOOST_TEST(parts[1].text == "SELECT 2");
    BOOST_TEST(parts[2].text == "SELECT 'never closed; SELECT 3;");
    BOOST_TEST(parts[2].line == 2);
}

BOOST_AUTO_TEST_CASE(split_agrees_with_parse_on_valid_sql) {
    const std::string text =
        "CREATE TABLE a (id int); -- x\n/* y */ CREATE FUNCTION f() RETURNS void AS $$ BEGIN; END "
        "$$ "
        "LANGUAGE plpgsql;\n  SELECT 'é'";
    auto parsed = sql::parse(text, "m.sql");
    auto parts = sql::split(text);
    BOOST_TEST_REQUIRE(parts.size() == parsed.statements.size());
    for (std::size_t i = 0; i < parts.size(); ++i) {
        BOOST_TEST(parts[i].text == parsed.statements[i].text);
        BOOST_TEST(parts[i].offset == parsed.statements[i].offset);
        BOOST_TEST(parts[i].line == parsed.statements[i].line);
        BOOST_TEST(parts[i].column == parsed.statements[i].column);
    }
}

BOOST_AUTO_TEST_CASE(format_located_shows_line_and_caret) {
    const std::string text = "SELECT 1;\n\tSELECT nope FROM t;\r\nSELECT 2;";
    BOOST_TEST(
        sql::format_located(text, text.find("nope"), "f.sql", "column \"nope\" does not exist") ==
        "f.sql:2:9: column \"nope\" does not exist\n"
        "  \tSELECT nope FROM t;\n"
        "  \t       ^");
    BOOST_TEST(sql::format_located("x", 99, "", "m") == "1:2: m\n  x\n   ^");

    std::string long_line = "SELECT " + std::string(300, 'a') + " FROM FROM";
    auto shown = sql::format_located(long_line, long_line.rfind("FROM"), "f.sql", "m");
    BOOST_TEST(shown.size() < 400u, "a long line is shown as a window:\n" << shown);
    auto source = shown.substr(shown.find('\n') + 1);
    source = source.substr(0, source.find('\n'));
    auto caret = shown.substr(shown.rfind('\n') + 1);
    BOOST_TEST(source.substr(caret.size() - 1, 4) == "FROM", "caret under the second FROM:\n"
                                                                 << shown);
}

BOOST_AUTO_TEST_CASE(a_thousand_statements_parse_in_one_pass) {
    std::string text;
    for (int i = 0; i < 1000; ++i)
        text += "CREATE TABLE t" + std::to_string(i) +
                " (id bigint PRIMARY KEY, name text NOT NULL);\n";
    auto s = sql::parse(text, "m.sql");
    BOOST_TEST_REQUIRE(s.statements.size() == 1000u);
    BOOST_TEST(s.statements[999].line == 1000);
    BOOST_TEST(s.statements[999].kind == "CreateStmt");
    auto fast = sql::parse(text, "m.sql", sql::parse_options{false});
    BOOST_TEST_REQUIRE(fast.statements.size() == 1000u);
    BOOST_TEST(fast.statements[999].text == s.statements[999].text);
    BOOST_TEST(fast.statements[999].kind == "CreateStmt");
}

BOOST_AUTO_TEST_SUITE_END()
