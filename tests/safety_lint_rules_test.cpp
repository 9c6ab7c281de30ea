// Every built-in lint rule, offline, through the real Lua rules: a statement
// that trips it and one that does not. Plus suppressions, rule ordering,
// project rules and the statement facts the rules stand on.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "lint/lint.hpp"
#include "project/config.hpp"
#include "sql/facts.hpp"
#include "support/harness.hpp"
#include "support/linting.hpp"

namespace lint = moonshift::lint;
namespace sql = moonshift::sql;
using moonshift::test::temp_dir;
using moonshift::test::write_file;

using moonshift::test::expect_rule;
using moonshift::test::linter_fixture;

BOOST_AUTO_TEST_SUITE(safety_lint_rules)

BOOST_FIXTURE_TEST_CASE(create_index_without_concurrently_on_an_existing_table, linter_fixture) {
    expect_rule(*this, "require-concurrent-index", "CREATE INDEX users_email ON users (email);",
                "CREATE INDEX CONCURRENTLY users_email ON users (email);");
    // A table created in the same run has no traffic to block.
    expect_rule(
        *this, "require-concurrent-index", "ALTER TABLE users ADD CONSTRAINT u UNIQUE (email);",
        "CREATE TABLE users (id int, email text);\nCREATE INDEX users_email ON users (email);");
    auto across = run({{"migrations/001_a.sql", "CREATE TABLE t (a int);"},
                       {"migrations/002_b.sql", "CREATE INDEX t_a ON t (a);"}});
    BOOST_TEST(!across.has("require-concurrent-index"), across.text());
}

BOOST_FIXTURE_TEST_CASE(add_column_with_a_volatile_default, linter_fixture) {
    expect_rule(*this, "volatile-default",
                "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();",
                "ALTER TABLE users ADD COLUMN created_at timestamptz DEFAULT now();");
    expect_rule(*this, "volatile-default", "ALTER TABLE users ADD COLUMN n bigserial;",
                "ALTER TABLE users ADD COLUMN n bigint;");
}

BOOST_FIXTURE_TEST_CASE(set_not_null_on_an_existing_table, linter_fixture) {
    expect_rule(*this, "set-not-null", "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
                "ALTER TABLE users ALTER COLUMN email DROP NOT NULL;");
}

BOOST_FIXTURE_TEST_CASE(new_not_null_column_without_default, linter_fixture) {
    expect_rule(*this, "not-null-without-default",
                "ALTER TABLE users ADD COLUMN plan text NOT NULL;",
                "ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free';");
}

BOOST_FIXTURE_TEST_CASE(column_type_change_that_rewrites, linter_fixture) {
    expect_rule(*this, "column-type-change", "ALTER TABLE users ALTER COLUMN id TYPE bigint;",
                "CREATE TABLE users (id int);\nALTER TABLE users ALTER COLUMN id TYPE bigint;");
}

BOOST_FIXTURE_TEST_CASE(drop_table_drop_column_truncate, linter_fixture) {
    expect_rule(*this, "drop-table", "DROP TABLE users;", "DROP VIEW users_view;");
    expect_rule(*this, "drop-table", "DROP TABLE IF EXISTS old_users;",
                "CREATE TABLE scratch (a int);\nDROP TABLE scratch;");
    expect_rule(*this, "drop-column", "ALTER TABLE users DROP COLUMN email;",
                "ALTER TABLE users ADD COLUMN email text;");
    expect_rule(*this, "truncate", "TRUNCATE users;", "DELETE FROM users WHERE id = 1;");
}

BOOST_FIXTURE_TEST_CASE(renames, linter_fixture) {
    expect_rule(*this, "rename", "ALTER TABLE users RENAME TO members;",
                "ALTER INDEX users_pkey RENAME TO members_pkey;");
    expect_rule(*this, "rename", "ALTER TABLE users RENAME COLUMN email TO mail;",
                "ALTER TABLE users ADD COLUMN mail text;");
}

BOOST_FIXTURE_TEST_CASE(constraints_without_not_valid, linter_fixture) {
    expect_rule(*this, "constraint-without-not-valid",
                "ALTER TABLE orders ADD CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES "
                "users (id);",
                "ALTER TABLE orders ADD CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES "
                "users (id) NOT VALID;");
    expect_rule(*this, "constraint-without-not-valid",
                "ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0);",
                "ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0) NOT VALID;");
}

BOOST_FIXTURE_TEST_CASE(update_and_delete_without_where, linter_fixture) {
    expect_rule(*this, "require-where", "DELETE FROM users;",
                "DELETE FROM users WHERE deleted_at IS NOT NULL;");
    expect_rule(*this, "require-where", "UPDATE users SET plan = 'free';",
                "UPDATE users SET plan = 'free' WHERE plan IS NULL;");
}

BOOST_FIXTURE_TEST_CASE(vacuum_full_cluster_and_reindex, linter_fixture) {
    expect_rule(*this, "blocking-maintenance", "VACUUM FULL users;", "VACUUM users;");
    expect_rule(*this, "blocking-maintenance", "CLUSTER users USING users_pkey;", "ANALYZE users;");
    expect_rule(*this, "blocking-maintenance", "REINDEX TABLE users;",
                "-- moonshift:no-transaction\nREINDEX TABLE CONCURRENTLY users;");
}

BOOST_FIXTURE_TEST_CASE(grants_to_the_api_roles_and_public, linter_fixture) {
    expect_rule(*this, "public-grant", "GRANT SELECT ON users TO anon;",
                "GRANT SELECT ON users TO reporting;");
    expect_rule(*this, "public-grant", "GRANT ALL ON ALL TABLES IN SCHEMA public TO PUBLIC;",
                "REVOKE ALL ON users FROM anon;");
    expect_rule(
        *this, "public-grant",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO authenticated;",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO reporting;");
}

BOOST_FIXTURE_TEST_CASE(changes_to_supabase_managed_schemas, linter_fixture) {
    expect_rule(*this, "managed-schema", "ALTER TABLE auth.users ADD COLUMN plan text;",
                "CREATE TABLE public.profiles (id uuid REFERENCES auth.users (id));");
    expect_rule(*this, "managed-schema",
                "CREATE FUNCTION storage.f() RETURNS int LANGUAGE sql AS 'SELECT 1';",
                "CREATE POLICY read_own ON storage.objects FOR SELECT USING (owner = auth.uid());");
}

BOOST_FIXTURE_TEST_CASE(create_without_if_not_exists_is_a_warning, linter_fixture) {
    expect_rule(*this, "prefer-if-not-exists", "CREATE TABLE t (a int);",
                "CREATE TABLE IF NOT EXISTS t (a int);");
    auto r = run("CREATE TABLE t (a int);");
    for (const auto& f : r.findings)
        if (f.rule == "prefer-if-not-exists") BOOST_TEST(f.severity == "warning");
}

BOOST_FIXTURE_TEST_CASE(new_table_without_rls_in_an_exposed_schema, linter_fixture) {
    cfg.lint.exposed_schemas = {"public"};
    expect_rule(*this, "rls-required", "CREATE TABLE profiles (id uuid PRIMARY KEY);",
                "CREATE TABLE profiles (id uuid PRIMARY KEY);\nALTER TABLE profiles ENABLE ROW "
                "LEVEL SECURITY;");
    expect_rule(*this, "rls-required", "CREATE TABLE public.notes (id int);",
                "CREATE TABLE private.notes (id int);");
    // RLS enabled by a later migration of the same run counts.
    auto later =
        run({{"migrations/001_a.sql", "CREATE TABLE notes (id int);"},
             {"migrations/002_b.sql", "ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;"}});
    BOOST_TEST(!later.has("rls-required"), later.text());
}

BOOST_FIXTURE_TEST_CASE(rls_rule_is_quiet_without_exposed_schemas, linter_fixture) {
    // Not Supabase (offline, none configured): no API serves the tables.
    BOOST_TEST(!run("CREATE TABLE profiles (id int);").has("rls-required"));
}

BOOST_FIXTURE_TEST_CASE(no_transaction_statements_need_the_directive, linter_fixture) {
    auto r = run("CREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY t_a ON t (a);");
    BOOST_TEST(r.has("transaction"), r.text());
    BOOST_TEST(r.text().find("migrations/002_x.sql:2:1:") != std::string::npos, r.text());
    BOOST_TEST(!run("-- moonshift:no-transaction\nCREATE INDEX CONCURRENTLY t_a ON t (a);")
                    .has("transaction"));
}

BOOST_FIXTURE_TEST_CASE(findings_are_located_at_file_line_and_column, linter_fixture) {
    auto r = run("CREATE TABLE IF NOT EXISTS a (id int);\n\n  DELETE FROM users;\n");
    BOOST_REQUIRE(r.has("require-where"));
    for (const auto& f : r.findings)
        if (f.rule == "require-where") {
            BOOST_TEST(f.line == 3);
            BOOST_TEST(f.column == 15);  // at the table name
            BOOST_TEST(
                lint::format(f).rfind(
                    "migrations/002_x.sql:3:15: error require-where: DELETE without WHERE", 0) == 0,
                lint::format(f));
        }
}

BOOST_FIXTURE_TEST_CASE(allow_with_a_reason_suppresses_and_keeps_the_reason, linter_fixture) {
    auto r =
        run("-- moonshift:allow drop-column nothing reads email since v2.3\nALTER TABLE users DROP "
            "COLUMN email;\n"
            "ALTER TABLE users DROP COLUMN phone;");
    int suppressed = 0, reported = 0;
    for (const auto& f : r.findings) {
        if (f.rule != "drop-column") continue;
        if (f.suppressed) {
            ++suppressed;
            BOOST_TEST(f.reason == "nothing reads email since v2.3");
            BOOST_TEST(f.line == 2);
        } else {
            ++reported;
            BOOST_TEST(f.line == 3);  // the allow covers its own statement only
        }
    }
    BOOST_TEST(suppressed == 1);
    BOOST_TEST(reported == 1);
}

BOOST_FIXTURE_TEST_CASE(allow_on_the_same_line_and_several_rules, linter_fixture) {
    auto r = run("TRUNCATE audit_log; -- moonshift:allow truncate,require-where rotated monthly\n");
    BOOST_TEST(!r.has("truncate"), r.text());
}

BOOST_FIXTURE_TEST_CASE(allow_without_reason_or_for_an_unknown_rule_is_reported, linter_fixture) {
    auto r = run("-- moonshift:allow drop-table\nDROP TABLE users;");
    BOOST_TEST(r.has("allow"), r.text());
    BOOST_TEST(r.has("drop-table"), r.text());  // no reason: not suppressed
    auto u = run("-- moonshift:allow drop-tabel typo\nDROP TABLE users;");
    bool warned = false;
    for (const auto& f : u.findings)
        if (f.rule == "allow" && f.severity == "warning" &&
            f.message.find("drop-tabel") != std::string::npos)
            warned = true;
    BOOST_TEST(warned, u.text());
}

BOOST_FIXTURE_TEST_CASE(config_turns_rules_off_and_changes_severity, linter_fixture) {
    cfg.lint.disable = {"drop-table"};
    cfg.lint.warn = {"truncate"};
    auto r = run("DROP TABLE users;\nTRUNCATE t;");
    BOOST_TEST(!r.has("drop-table"));
    for (const auto& f : r.findings)
        if (f.rule == "truncate") BOOST_TEST(f.severity == "warning");
    cfg.lint.disable = {"drop-tabel"};
    BOOST_CHECK_THROW(run("SELECT 1;"), moonshift::error);
}

BOOST_FIXTURE_TEST_CASE(project_rules_run_and_replace_built_in_ones, linter_fixture) {
    write_file(dir.path / "scripts/lint/no-serial.lua",
               "local lint = require('moonshift.lint')\n"
               "return {\n"
               "  description = 'use identity columns',\n"
               "  kinds = 'CreateStmt',\n"
               "  check = function(stmt)\n"
               "    for _, elt in ipairs(stmt.node.tableElts or {}) do\n"
               "      local c = elt.ColumnDef\n"
               "      if c and lint.type_of(c.typeName) == 'serial' then\n"
               "        return { message = 'serial column ' .. c.colname, at = c.location }\n"
               "      end\n"
               "    end\n"
               "  end,\n"
               "}\n");
    write_file(dir.path / "scripts/lint/drop-table.lua",
               "return { severity = 'warning', kinds = 'DropStmt', check = function() return "
               "'project says so' end }\n");
    auto r = run("CREATE TABLE IF NOT EXISTS t (id serial);\nDROP TABLE u;");
    BOOST_TEST(r.has("no-serial"), r.text());
    for (const auto& f : r.findings) {
        if (f.rule == "no-serial") {
            BOOST_TEST(f.rule_file == "scripts/lint/no-serial.lua");
            BOOST_TEST(f.column == 31);
        }
        if (f.rule == "drop-table") {
            BOOST_TEST(f.message == "project says so");
            BOOST_TEST(f.severity == "warning");
        }
    }
}

// What a rule is given, field by field (the linter hands the parse tree to
// Lua without copying it into one object first): the same statement table.
BOOST_FIXTURE_TEST_CASE(a_rule_sees_every_field_of_the_statement, linter_fixture) {
    write_file(
        dir.path / "scripts/lint/echo.lua",
        "return { kinds = 'AlterTableStmt', check = function(stmt)\n"
        "  local t = stmt.tables['users']\n"
        "  return table.concat({ stmt.kind, stmt.node.relation.relname,\n"
        "    stmt.file .. ':' .. stmt.line .. ':' .. stmt.column .. '@' .. stmt.offset,\n"
        "    tostring(stmt.no_transaction), tostring(stmt.file_no_transaction),\n"
        "    stmt.facts.relations[1].qualified, json.encode(stmt.facts.destructive),\n"
        "    json.encode(stmt.node.cmds):sub(1, 1), tostring(t.known), tostring(t.created),\n"
        "    tostring(stmt.options.connected), stmt.options.small_table, stmt.text }, '|')\n"
        "end }\n");
    auto r = run("SELECT 1;\n  ALTER TABLE users ADD COLUMN a int;");
    std::string seen;
    for (const auto& f : r.findings)
        if (f.rule == "echo") seen = f.message;
    BOOST_TEST(seen ==
                   "AlterTableStmt|users|migrations/002_x.sql:2:3@12|false|false|users|[]|[|"
                   "false|false|false|" +
                       std::to_string(cfg.lint.small_table_bytes) +
                       "|ALTER TABLE users ADD COLUMN a int",
               r.text());
}

BOOST_FIXTURE_TEST_CASE(a_rule_with_a_syntax_error_names_its_file, linter_fixture) {
    write_file(dir.path / "scripts/lint/broken.lua",
               "return { check = function(stmt) return end\n");
    try {
        run("SELECT 1;");
        BOOST_FAIL("a broken rule must stop the lint");
    } catch (const moonshift::error& e) {
        BOOST_TEST(std::string(e.what()).find("scripts/lint/broken.lua") != std::string::npos,
                   e.what());
        BOOST_TEST(static_cast<int>(e.code()) == 2);
    }
}

BOOST_FIXTURE_TEST_CASE(a_rule_that_raises_names_its_file_and_the_statement, linter_fixture) {
    write_file(dir.path / "scripts/lint/crash.lua",
               "return { kinds = 'DropStmt', check = function(stmt)\n  return "
               "stmt.node.nope.deeper\nend }\n");
    try {
        run("SELECT 1;\nDROP TABLE t;");
        BOOST_FAIL("a raising rule must stop the lint");
    } catch (const moonshift::error& e) {
        std::string what = e.what();
        BOOST_TEST(what.find("scripts/lint/crash.lua:2") != std::string::npos, what);
        BOOST_TEST(what.find("migrations/002_x.sql:2:1") != std::string::npos, what);
    }
}

BOOST_AUTO_TEST_CASE(statement_facts_say_what_is_at_risk_and_which_locks) {
    auto s = sql::parse(
        "ALTER TABLE s.users DROP COLUMN email, ALTER COLUMN id TYPE bigint;\n"
        "DROP TABLE a, b;\nTRUNCATE c;\nUPDATE d SET x = 1;\nCREATE INDEX ON e (x);\n"
        "CREATE INDEX CONCURRENTLY ON f (x);\nDROP SCHEMA g CASCADE;",
        "m.sql");
    auto f0 = sql::facts_of(s.statements[0]);
    BOOST_TEST(f0.destructive.size() == 2u);
    BOOST_TEST(f0.at_risk == std::vector<std::string>{"s.users"});
    BOOST_REQUIRE(f0.locks.size() == 1u);
    BOOST_TEST((f0.locks[0].mode == sql::lock_mode::access_exclusive));
    BOOST_TEST((sql::facts_of(s.statements[1]).at_risk == std::vector<std::string>{"a", "b"}));
    BOOST_TEST(sql::facts_of(s.statements[2]).destructive[0] == "TRUNCATE c");
    auto f3 = sql::facts_of(s.statements[3]);
    BOOST_TEST(f3.changes_rows);
    BOOST_TEST(f3.destructive.empty());
    BOOST_TEST((sql::facts_of(s.statements[4]).locks[0].mode == sql::lock_mode::share));
    BOOST_TEST(
        (sql::facts_of(s.statements[5]).locks[0].mode == sql::lock_mode::share_update_exclusive));
    BOOST_TEST(sql::facts_of(s.statements[6]).dropped_schemas == std::vector<std::string>{"g"});
}

BOOST_AUTO_TEST_CASE(lock_conflicts_follow_postgresql_table) {
    using sql::lock_mode;
    BOOST_TEST(sql::lock_conflicts(lock_mode::access_exclusive, lock_mode::access_share));
    BOOST_TEST(!sql::lock_conflicts(lock_mode::share, lock_mode::access_share));
    BOOST_TEST(sql::lock_conflicts(lock_mode::share, lock_mode::row_exclusive));
    BOOST_TEST(!sql::lock_conflicts(lock_mode::share_update_exclusive, lock_mode::row_exclusive));
    BOOST_TEST(
        sql::lock_conflicts(lock_mode::share_update_exclusive, lock_mode::share_update_exclusive));
    BOOST_TEST(!sql::lock_conflicts(lock_mode::row_exclusive, lock_mode::row_exclusive));
    BOOST_TEST(sql::lock_conflicts(lock_mode::exclusive, lock_mode::row_share));
    BOOST_TEST((sql::lock_mode_from_pg("ShareRowExclusiveLock") == lock_mode::share_row_exclusive));
}

BOOST_AUTO_TEST_SUITE_END()
