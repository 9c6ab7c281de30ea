// host/db/ against the real PostgreSQL of the harness: the transaction and
// savepoint guards commit only when told and roll back otherwise, a joined
// guard leaves the outer block alone, quoting survives hostile text through
// the server, query() binds every kind of argument, and a server error keeps
// its SQLSTATE, position, detail and hint.
#include <boost/test/unit_test.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "db/quote.hpp"
#include "db/result.hpp"
#include "db/session.hpp"
#include "db/transaction.hpp"
#include "support/harness.hpp"

namespace db = moonshift::db;

namespace {

// Two sessions on a fresh database: `s` under test, `other` to see what was committed.
struct two_sessions : moonshift::test::fresh_db {
    db::session s{settings()};
    db::session other{settings()};

    two_sessions() { s.exec_script("CREATE TABLE t (v text)"); }

    db::settings settings() const {
        db::settings out;
        out.url = url;
        return out;
    }
    long long committed_rows() {
        return other.query("SELECT count(*) FROM t")[0][0].as<long long>();
    }
};

// The same hostile texts everywhere: quotes, backslashes, unicode, a NUL-free control character.
const std::vector<std::string> hostile = {
    "plain",   "it's",      "\"quoted\"",     "back\\slash", "both '\\\" end\\",
    "é日本 🐘", "tab\there", "{braces,comma}", "NULL",        " spaced ",
    ""};

}  // namespace

BOOST_AUTO_TEST_SUITE(db_layer)

BOOST_FIXTURE_TEST_CASE(a_transaction_commits_only_on_commit, two_sessions) {
    {
        db::transaction tx(s);
        s.query("INSERT INTO t VALUES ($1)", "kept");
        BOOST_TEST(s.in_transaction());
        BOOST_TEST(committed_rows() == 0, "nothing is visible before commit()");
        tx.commit();
        BOOST_TEST(!tx.open());
    }
    BOOST_TEST(!s.in_transaction());
    BOOST_TEST(committed_rows() == 1);
}

BOOST_FIXTURE_TEST_CASE(a_transaction_rolls_back_on_an_exception_and_on_an_early_exit,
                        two_sessions) {
    BOOST_CHECK_THROW(
        {
            db::transaction tx(s);
            s.query("INSERT INTO t VALUES ($1)", "lost");
            throw std::runtime_error("the caller failed");
        },
        std::runtime_error);
    BOOST_TEST(!s.in_transaction(), "the destructor closed the block");
    auto early_exit = [&] {
        db::transaction tx(s);
        s.query("INSERT INTO t VALUES ($1)", "lost too");
        // leaves without commit()
    };
    early_exit();
    BOOST_TEST(!s.in_transaction());
    BOOST_TEST(committed_rows() == 0);
    // A failed statement leaves the block failed; the guard still cleans up.
    {
        db::transaction tx(s);
        BOOST_CHECK_THROW(s.query("SELECT 1/0"), db::sql_failure);
        BOOST_TEST(s.transaction_failed());
    }
    BOOST_TEST(!s.in_transaction());
    BOOST_TEST(s.query("SELECT 1")[0][0].as<int>() == 1, "the session is usable again");
}

BOOST_FIXTURE_TEST_CASE(an_explicit_rollback_undoes_the_work, two_sessions) {
    db::transaction tx(s);
    s.query("INSERT INTO t VALUES ($1)", "undone");
    tx.rollback();
    BOOST_TEST(!s.in_transaction());
    BOOST_TEST(committed_rows() == 0);
}

BOOST_FIXTURE_TEST_CASE(a_joined_guard_neither_commits_nor_rolls_back_the_outer_block,
                        two_sessions) {
    db::transaction outer(s);
    {
        db::transaction inner(s, db::transaction::mode::join);
        BOOST_TEST(inner.joined());
        s.query("INSERT INTO t VALUES ($1)", "joined");
        inner.commit();
        BOOST_TEST(s.in_transaction(), "commit() of a joined guard leaves the block open");
    }
    BOOST_TEST(committed_rows() == 0);
    {
        db::transaction inner(s, db::transaction::mode::join);
        s.query("INSERT INTO t VALUES ($1)", "joined, not committed");
    }  // no commit(): still not the joined guard's business
    BOOST_TEST(s.in_transaction());
    BOOST_TEST(s.query("SELECT count(*) FROM t")[0][0].as<int>() == 2);
    outer.commit();
    BOOST_TEST(committed_rows() == 2);
    // Without an open block, join begins one of its own.
    db::transaction alone(s, db::transaction::mode::join);
    BOOST_TEST(!alone.joined());
    BOOST_TEST(s.in_transaction());
    alone.rollback();
}

BOOST_FIXTURE_TEST_CASE(commit_with_sends_its_sql_and_the_commit_together, two_sessions) {
    {
        db::transaction tx(s, db::transaction::mode::begin, "SET LOCAL statement_timeout = '5s'");
        BOOST_TEST(s.query("SHOW statement_timeout")[0][0].as<std::string>() == "5s");
        s.query("INSERT INTO t VALUES ($1)", "row");
        tx.commit("INSERT INTO t VALUES ('history row')");
    }
    BOOST_TEST(!s.in_transaction());
    BOOST_TEST(committed_rows() == 2);
    BOOST_TEST(other.query("SELECT count(*) FROM t WHERE v = 'history row'")[0][0].as<int>() == 1);
    // A failing `with` commits nothing and leaves no block open.
    {
        db::transaction tx(s);
        s.query("INSERT INTO t VALUES ($1)", "not kept");
        BOOST_CHECK_THROW(tx.commit("INSERT INTO missing_table VALUES (1)"), db::sql_failure);
    }
    BOOST_TEST(!s.in_transaction());
    BOOST_TEST(committed_rows() == 2);
}

BOOST_FIXTURE_TEST_CASE(a_savepoint_rollback_keeps_the_outer_block_usable, two_sessions) {
    db::transaction tx(s);
    s.query("INSERT INTO t VALUES ($1)", "outer");
    {
        db::savepoint sp(s, "step");
        s.query("INSERT INTO t VALUES ($1)", "inner");
        BOOST_CHECK_THROW(s.query("SELECT 1/0"), db::sql_failure);
        BOOST_TEST(s.transaction_failed());
        sp.rollback();
        BOOST_TEST(!s.transaction_failed(), "the outer block is usable after the rollback");
    }
    {
        db::savepoint sp(s, "kept");
        s.query("INSERT INTO t VALUES ($1)", "released");
        sp.release();
    }
    {
        db::savepoint sp(s, "dropped");
        s.query("INSERT INTO t VALUES ($1)", "rolled back by the destructor");
    }
    tx.commit();
    auto rows = other.query("SELECT v FROM t ORDER BY v");
    BOOST_TEST_REQUIRE(rows.size() == 2u);
    BOOST_TEST(rows[0][0].as<std::string>() == "outer");
    BOOST_TEST(rows[1][0].as<std::string>() == "released");
}

BOOST_FIXTURE_TEST_CASE(quoted_identifiers_and_literals_survive_hostile_text, two_sessions) {
    for (const auto& text : hostile) {
        BOOST_TEST_CONTEXT("text: " << text) {
            auto literal = s.query("SELECT " + db::quote::literal(text));
            BOOST_TEST(literal[0][0].as<std::string>() == text);
            if (text.empty()) continue;  // "" is not an identifier
            auto name = db::quote::ident(text);
            s.exec_script("CREATE TABLE " + db::quote::qualified("public", text) + " (" + name +
                          " int)");
            auto column = s.query(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum = 1",
                db::quote::qualified("public", text));
            BOOST_TEST_REQUIRE(column.size() == 1u);
            BOOST_TEST(column[0][0].as<std::string>() == text);
            s.exec_script("DROP TABLE " + name);
        }
    }
}

BOOST_FIXTURE_TEST_CASE(a_quoted_array_binds_as_one_text_array, two_sessions) {
    auto r = s.query("SELECT x FROM unnest($1::text[]) WITH ORDINALITY AS u(x, n) ORDER BY n",
                     db::quote::array(hostile));
    BOOST_TEST_REQUIRE(r.size() == hostile.size());
    for (std::size_t i = 0; i < hostile.size(); ++i) {
        BOOST_TEST(!r[i][0].is_null(), "item " << i << " is the text, not NULL");
        BOOST_TEST(r[i][0].as<std::string>() == hostile[i]);
    }
    BOOST_TEST(s.query("SELECT cardinality($1::text[])", db::quote::array({}))[0][0].as<int>() ==
               0);
}

BOOST_FIXTURE_TEST_CASE(query_binds_ints_bools_doubles_optionals_and_null, two_sessions) {
    auto r = s.query(
        "SELECT $1::int + 1, $2::bigint, $3::boolean, NOT $4::boolean, $5::float8 * 2, "
        "$6::text, $7::int IS NULL, $8::text IS NULL, $9::text",
        41, 9007199254740993LL, true, false, 1.25, std::optional<std::string>("opt"),
        std::optional<int>(), std::nullopt, "it's \"text\"");
    BOOST_TEST(r[0][0].as<int>() == 42);
    BOOST_TEST(r[0][1].as<long long>() == 9007199254740993LL);
    BOOST_TEST(r[0][2].as<bool>() == true);
    BOOST_TEST(r[0][3].as<bool>() == true);
    BOOST_TEST(r[0][4].as<double>() == 2.5);
    BOOST_TEST(r[0][5].as<std::string>() == "opt");
    BOOST_TEST(r[0][6].as<bool>() == true);
    BOOST_TEST(r[0][7].as<bool>() == true);
    BOOST_TEST(r[0][8].as<std::string>() == "it's \"text\"");
    auto shortest = s.query("SELECT $1::numeric = 0.1", 0.1);
    BOOST_TEST(shortest[0][0].as<bool>() == true, "doubles bind as their shortest decimal");
    auto null = s.query("SELECT NULL::int");
    BOOST_TEST(null[0][0].is_null());
    BOOST_TEST(!null[0][0].get<int>().has_value());
    BOOST_TEST(null[0][0].as<int>(7) == 7);
    auto changed = s.query("INSERT INTO t SELECT 'x' FROM generate_series(1, 3)");
    BOOST_TEST(changed.affected_rows() == 3);
}

BOOST_FIXTURE_TEST_CASE(a_server_error_keeps_sqlstate_position_detail_and_hint, two_sessions) {
    s.exec_script("CREATE TABLE u (id int PRIMARY KEY); INSERT INTO u VALUES (1)");
    try {
        s.query("INSERT INTO u VALUES ($1)", 1);
        BOOST_FAIL("a duplicate key must fail");
    } catch (const db::sql_failure& e) {
        BOOST_TEST(e.info().sqlstate == "23505");
        BOOST_TEST(e.info().detail == "Key (id)=(1) already exists.");
        BOOST_TEST(e.query() == "INSERT INTO u VALUES ($1)");
    }
    try {
        s.query("SELECT 1 FROM u WHERE nosuchcolumn = 1");
        BOOST_FAIL("an unknown column must fail");
    } catch (const db::sql_failure& e) {
        BOOST_TEST(e.info().sqlstate == "42703");
        BOOST_TEST(e.info().position == 23, "1-based position of nosuchcolumn");
        BOOST_TEST(e.info().message.find("nosuchcolumn") != std::string::npos, e.info().message);
    }
    try {
        s.query("SELECT lenght('x')");
        BOOST_FAIL("an unknown function must fail");
    } catch (const db::sql_failure& e) {
        BOOST_TEST(e.info().sqlstate == "42883");
        BOOST_TEST(e.info().position == 8);
        BOOST_TEST(e.info().hint.find("No function matches") != std::string::npos, e.info().hint);
    }
    try {
        s.exec_script(
            "DO $$ BEGIN RAISE EXCEPTION 'custom' USING DETAIL = 'the detail', "
            "HINT = 'the hint', ERRCODE = 'P0042'; END $$");
        BOOST_FAIL("RAISE must fail");
    } catch (const db::sql_failure& e) {
        BOOST_TEST(e.info().sqlstate == "P0042");
        BOOST_TEST(e.info().message.find("custom") != std::string::npos, e.info().message);
        BOOST_TEST(e.info().detail == "the detail");
        BOOST_TEST(e.info().hint == "the hint");
    }
    BOOST_TEST(s.query("SELECT 1")[0][0].as<int>() == 1, "the session survives its errors");
}

BOOST_AUTO_TEST_SUITE_END()
