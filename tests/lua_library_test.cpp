// The host's Lua library (scripts/moonshift/checks.lua and verify.lua,
// embedded in the binary) against a real PostgreSQL: each helper passes when
// its condition holds and otherwise fails with exit code 3 naming the line
// of the user's script that called it.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <string>

#include "db/session.hpp"
#include "db/transaction.hpp"
#include "lua/runtime.hpp"
#include "support/harness.hpp"
#include "support/lua.hpp"

namespace lua = moonshift::lua;
namespace db = moonshift::db;
using lua::phase;

namespace {

db::settings settings_for(const std::string& url) {
    db::settings s;
    s.url = url;
    return s;
}

struct library : moonshift::test::fresh_session, moonshift::test::lua_runner {
    library() : lua_runner(&session, {}, "scripts/checks/t.lua", phase::check) {
        session.exec_script(
            "CREATE TABLE users (id int PRIMARY KEY, email text);"
            "INSERT INTO users SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 5) g;"
            "CREATE TABLE secrets (id int); ALTER TABLE secrets ENABLE ROW LEVEL SECURITY;"
            "CREATE VIEW active_users AS SELECT * FROM users;");
    }

    // A check script that must pass: its asserts and every line ran.
    void passes(const std::string& code) { asserts(code); }

    // The check failure of a script whose *second* line calls the helper.
    std::string fails(const std::string& call) {
        try {
            rt.run_file("scripts/checks/t.lua",
                        "local checks, verify = require('moonshift.checks'), "
                        "require('moonshift.verify')\n" +
                            call,
                        phase::check);
        } catch (const lua::check_failure& e) {
            BOOST_TEST(e.file() == "scripts/checks/t.lua", e.what());
            BOOST_TEST(e.line() == 2, e.what());
            BOOST_TEST(static_cast<int>(e.code()) == 3);
            return e.reason();
        } catch (const std::exception& e) {
            BOOST_FAIL("expected a check failure, got: " << e.what() << "\n" << call);
        }
        BOOST_FAIL("expected a check failure from: " << call);
        return {};
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(lua_library)

BOOST_FIXTURE_TEST_CASE(checks_pass_when_their_condition_holds, library) {
    passes(R"lua(
local checks = require("moonshift.checks")
assert(checks.table_exists("users"))
assert(checks.table_exists("public.users"))
assert(checks.column_exists("users", "email"))
assert(checks.rls_enabled("secrets"))
assert(checks.max_table_size("users", "10 MB"))
assert(checks.max_table_size("users", 10 * 1024 * 1024))
assert(checks.extension_installed("plpgsql"))
assert(checks.no_long_running_transactions(3600))
)lua");
}

BOOST_FIXTURE_TEST_CASE(checks_fail_with_clear_messages_naming_the_callers_line, library) {
    BOOST_TEST(fails("checks.table_exists('orders')") == "table orders does not exist");
    BOOST_TEST(fails("checks.table_exists('active_users')") ==
               "active_users is a view, not a table");
    BOOST_TEST(fails("checks.column_exists('users', 'slug')") == "table users has no column slug");
    BOOST_TEST(fails("checks.rls_enabled('users')") ==
               "row level security is not enabled on users");
    std::string size = fails("checks.max_table_size('users', 100)");
    BOOST_TEST(size.rfind("table users is ", 0) == 0, size);
    BOOST_TEST(size.find("over the limit of 100 bytes") != std::string::npos, size);
    BOOST_TEST(fails("checks.extension_installed('postgis_nonexistent')") ==
               "extension postgis_nonexistent is not installed");
}

BOOST_FIXTURE_TEST_CASE(a_long_running_transaction_fails_the_check, library) {
    db::session other(settings_for(url));
    db::transaction open(other);
    other.query("SELECT 1");
    other.query("SELECT pg_sleep(1.2)");
    std::string reason = fails("checks.no_long_running_transactions(1)");
    BOOST_TEST(reason.rfind("1 transaction(s) open longer than 1 s: pid " +
                                std::to_string(other.backend_pid()),
                            0) == 0,
               reason);
    open.rollback();
}

BOOST_FIXTURE_TEST_CASE(verification_helpers_pass_and_fail, library) {
    passes(R"lua(
local verify = require("moonshift.verify")
assert(verify.expect_rows("select * from users", 5) == 5)
verify.expect_rows("select * from users where id > $1;", { min = 1, max = 3 }, 2)
verify.expect_no_rows("select * from users where email is null", "users without email")
assert(verify.expect_scalar("select count(*) from users", 5) == 5)
verify.expect_scalar("select email from users where id = $1", "u1@example.com", 1)
verify.expect_scalar("select '{\"a\": 1}'::jsonb", { a = 1 })
local before = verify.snapshot_row_counts({ "users", "secrets" })
assert(before.users == 5 and before.secrets == 0)
verify.row_counts_unchanged(before)
)lua");
    BOOST_TEST(fails("verify.expect_rows('select * from users', 4)") ==
               "expected 4 row(s), got 5 from: select * from users");
    BOOST_TEST(fails("verify.expect_rows('select * from users', { min = 10 })") ==
               "expected at least 10 row(s), got 5 from: select * from users");
    std::string no_rows =
        fails("verify.expect_no_rows('select id from users where id < 3', 'users below 3 remain')");
    BOOST_TEST(no_rows == "users below 3 remain (e.g. {\"id\":1}, {\"id\":2})", no_rows);
    BOOST_TEST(fails("verify.expect_scalar('select count(*) from users', 6)") ==
               "expected 6, got 5 from: select count(*) from users");
    BOOST_TEST(fails("local s = verify.snapshot_row_counts({'users'}) s.users = 4 "
                     "verify.row_counts_unchanged(s)") == "row counts changed: users had 4, now 5");
}

BOOST_FIXTURE_TEST_CASE(library_misuse_is_a_script_error_at_the_callers_line, library) {
    try {
        rt.run_file("scripts/checks/t.lua",
                    "local checks = require('moonshift.checks')\nchecks.table_exists(42)",
                    phase::check);
        BOOST_FAIL("a number is not a table name");
    } catch (const lua::script_error& e) {
        BOOST_TEST(std::string(e.what()).rfind("scripts/checks/t.lua:2: checks.table_exists: the "
                                               "table name must be a non-empty string, got number",
                                               0) == 0,
                   e.what());
    }
    try {
        rt.run_file("scripts/verify/t.lua",
                    "local verify = require('moonshift.verify')\nverify.expect_rows('select * from "
                    "nope', 1)",
                    phase::verify);
        BOOST_FAIL("a missing table is an SQL error");
    } catch (const lua::script_error& e) {
        BOOST_TEST(std::string(e.what()).rfind(
                       "scripts/verify/t.lua:2: relation \"nope\" does not exist (42P01)", 0) == 0,
                   e.what());
    }
}

BOOST_AUTO_TEST_SUITE_END()
