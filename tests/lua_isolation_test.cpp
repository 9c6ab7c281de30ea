// The Lua probe suite for isolation and the run's lock: a script cannot
// rewrite what later scripts share (ctx, db, library modules, the string
// table behind every string's methods), and cannot release the run's
// advisory lock from a read-only phase. Plus the budgets moonshift.toml sets
// for phases that had none ([lua] load, lint, hook), through the real CLI.
#define BOOST_TEST_DYN_LINK
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <string>

#include "common/error.hpp"
#include "lua/runtime.hpp"
#include "support/harness.hpp"
#include "support/lua.hpp"
#include "support/project.hpp"

namespace lua = moonshift::lua;
namespace test = moonshift::test;
using lua::phase;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

double seconds_since(clock_type::time_point t) {
    return std::chrono::duration<double>(clock_type::now() - t).count();
}

struct runner : test::lua_runner {
    explicit runner(moonshift::db::session* s = nullptr)
        : lua_runner(s, {}, "scripts/checks/a.lua", phase::check) {}
};

// The run's lock as another session sees it.
long long lock_holders(const std::string& url) {
    moonshift::db::settings s;
    s.url = url;
    moonshift::db::session other(s);
    return other
        .query("select count(*) from pg_locks where locktype = 'advisory' and granted")[0][0]
        .as<long long>();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lua_isolation)

BOOST_AUTO_TEST_CASE(check_cannot_disarm_ctx_fail_for_later_scripts) {
    runner r;
    auto e = r.error_of("local x = 1\nctx.fail = function() end\n");
    BOOST_TEST(contains(e.what(), "scripts/checks/a.lua:2: ctx is read-only"), e.what());
    // Caught, it still changes nothing; raw writes are refused too.
    r.asserts(R"lua(
assert(not pcall(function() ctx.fail = function() end end))
assert(not pcall(rawset, ctx, "fail", function() end))
assert(not pcall(table.insert, ctx, 1))
assert(not pcall(setmetatable, ctx, {}))
assert(getmetatable(ctx) == "ctx")
)lua");
    // A later script's ctx:fail still stops the run.
    try {
        r.rt.run_file("scripts/verify/b.lua", "ctx:fail('rows are missing')", phase::verify);
        BOOST_FAIL("ctx:fail did not stop the script");
    } catch (const lua::check_failure& f) {
        BOOST_TEST(f.reason() == "rows are missing");
    }
}

BOOST_AUTO_TEST_CASE(host_modules_and_libraries_are_read_only) {
    runner r;
    for (std::string write :
         {"db.query = nil", "json.encode = print", "log.info = print",
          "string.upper = string.lower", "table.concat = nil", "math.pi = 3", "os.time = nil",
          "require('moonshift.checks').table_exists = nil", "require('moonshift.lint').table = nil",
          "require('string').rep = nil", "rawset(string, 'upper', string.lower)"}) {
        auto e = r.error_of("local x = 1\n" + write + "\n");
        BOOST_TEST(contains(e.what(), "scripts/checks/a.lua:2:"), write << ": " << e.what());
        BOOST_TEST((contains(e.what(), "read-only") || contains(e.what(), "table expected")),
                   write << ": " << e.what());
    }
    r.asserts(R"lua(
assert(("abc"):upper() == "ABC")
assert(getmetatable("") == false)
assert(type(require("moonshift.lint").table) == "function")
assert(table.concat({"a", "b"}) == "ab")
)lua");
}

BOOST_AUTO_TEST_CASE(project_lint_rule_cannot_switch_off_a_builtin_rule) {
    test::temp_dir dir;
    test::write_file(dir.path / "moonshift.toml", "");
    // Sorted after the built-ins, this rule would make every table look new.
    test::write_file(dir.path / "scripts/lint/aaa-evil.lua",
                     "local lint = require('moonshift.lint')\n"
                     "lint.table = function() return { created = true } end\n"
                     "return { description = 'evil', check = function() end }\n");
    test::write_file(dir.path / "migrations/001_t.sql", "truncate accounts;\n");
    auto r = test::run_cli({"lint"}, dir.path);
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(contains(r.err, "scripts/lint/aaa-evil.lua:2:"), r.err);
    BOOST_TEST(contains(r.err, "read-only"), r.err);
}

BOOST_FIXTURE_TEST_CASE(advisory_unlock_in_a_check_is_refused_and_the_lock_stays,
                        test::fresh_session) {
    session.lock("moonshift", 1000ms, nullptr);
    runner r(&session);
    for (std::string sql :
         {"select pg_advisory_unlock_all()", "SELECT pg_catalog.PG_ADVISORY_UNLOCK(1)"}) {
        auto e = r.error_of("local x = 1\ndb:query('" + sql + "')\n");
        BOOST_TEST(contains(e.what(), "scripts/checks/a.lua:2:"), e.what());
        BOOST_TEST(contains(e.what(), "migration lock"), e.what());
    }
    BOOST_TEST(lock_holders(url) == 2);  // the run's key (an idle session) and the work key
    BOOST_TEST(session.still_holds_lock());
}

BOOST_FIXTURE_TEST_CASE(advisory_unlock_hidden_from_the_parser_fails_the_run_loudly,
                        test::fresh_session) {
    session.lock("moonshift", 1000ms, nullptr);
    // A function made beforehand hides the call from the parser (a DO block
    // would too, but the read-only phases refuse those).
    session.exec_script(
        "create function sneaky() returns void language plpgsql as "
        "$$ begin execute 'select pg_advisory_' || 'unlock_all()'; end $$");
    runner r(&session);
    try {
        r.rt.run_file("scripts/checks/sneaky.lua", "db:query('select sneaky()')\n", phase::check);
        BOOST_FAIL("the check passed after releasing the lock");
    } catch (const moonshift::error& e) {
        BOOST_TEST(int(e.code()) == int(moonshift::exit_code::lock_held));
        BOOST_TEST(contains(e.what(), "scripts/checks/sneaky.lua"), e.what());
        BOOST_TEST(contains(e.what(), "released the run's lock"), e.what());
    }
}

BOOST_FIXTURE_TEST_CASE(read_only_phases_refuse_server_files_programs_and_dblink,
                        test::fresh_session) {
    // The harness connects as a superuser, who could otherwise do all of this.
    BOOST_REQUIRE(session.query("select rolsuper from pg_roles where rolname = current_user")[0][0]
                      .as<bool>());
    session.exec_script("create table t(x int)");
    auto marker = "/tmp/moonshift-ro-probe-" + std::to_string(::getpid());
    std::filesystem::remove(marker);
    runner r(&session);
    for (std::string sql : std::vector<std::string>{
             "select pg_read_file('PG_VERSION')",
             "select * from pg_catalog.pg_ls_dir('.')",
             "select length(pg_read_binary_file('postmaster.pid'))",
             "copy (select 1) to '" + marker + "'",
             "copy t from program 'touch " + marker + "'",
             "copy t from '/etc/hostname'",
             "select lo_export(1, '" + marker + "')",
             "select * from dblink('dbname=postgres', 'select 1') as r(x int)",
             "select dblink_exec('dbname=postgres', 'create table x()')",
             "do $$ begin perform pg_read_file('PG_VERSION'); end $$",
             "with f as (select pg_stat_file('PG_VERSION') as s) select * from f",
         }) {
        for (auto p : {phase::check, phase::precheck, phase::verify}) {
            auto e = r.error_of("local x = 1\ndb:query([[" + sql + "]])\n", p);
            BOOST_TEST(contains(e.what(), "scripts/checks/a.lua:2:"), e.what());
            BOOST_TEST(contains(e.what(), "(read-only)"), e.what());
            BOOST_TEST(contains(e.what(), "whatever the role"), e.what());
        }
    }
    BOOST_TEST(!std::filesystem::exists(marker));
    BOOST_TEST(session.query("select count(*) from t")[0][0].as<long long>() == 0);
    // A migration (a writable phase) may still read a server file.
    r.ok("assert(db:query(\"select pg_read_file('PG_VERSION') as v\")[1].v ~= nil)", phase::up);
}

BOOST_AUTO_TEST_CASE(migration_file_looping_while_it_loads_stops_within_load_budget) {
    test::project p;
    test::write_file(p.dir.path / "moonshift.toml",
                     test::read_file(p.dir.path / "moonshift.toml") + "\n[lua]\nload = \"1s\"\n");
    p.migration("001_t.sql", "create table t (id int);\n");
    p.migration("002_spin.lua", "local n = 0\nwhile true do n = n + 1 end\nreturn {}\n");
    auto before = p.fingerprint();
    auto start = clock_type::now();
    auto r = p.ms({"up"});
    BOOST_TEST(seconds_since(start) < 10.0);
    BOOST_TEST(r.exit_code != 0, r.out << r.err);
    BOOST_TEST(contains(r.err, "002_spin.lua:2:"), r.err);
    BOOST_TEST(contains(r.err, "time budget of 1000 ms while loading"), r.err);
    BOOST_TEST(p.fingerprint() == before);
}

BOOST_AUTO_TEST_CASE(lint_rule_looping_stops_within_lint_budget) {
    test::project p;
    test::write_file(p.dir.path / "moonshift.toml",
                     test::read_file(p.dir.path / "moonshift.toml") + "\n[lua]\nlint = \"1s\"\n");
    test::write_file(p.dir.path / "scripts/lint/spin.lua",
                     "return { description = 'spins', check = function(stmt)\n"
                     "  while true do end\nend }\n");
    p.migration("001_t.sql", "create table t (id int);\n");
    auto before = p.fingerprint();
    auto start = clock_type::now();
    auto r = p.ms({"up"});
    BOOST_TEST(seconds_since(start) < 10.0);
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(contains(r.err, "scripts/lint/spin.lua:2:"), r.err);
    BOOST_TEST(contains(r.err, "time budget of 1000 ms"), r.err);
    BOOST_TEST(p.fingerprint() == before);
    BOOST_TEST(p.applied_versions().empty());
}

BOOST_AUTO_TEST_CASE(lua_hook_setting_bounds_project_hooks) {
    test::project p;
    test::write_file(p.dir.path / "moonshift.toml",
                     test::read_file(p.dir.path / "moonshift.toml") +
                         "\n[notify.spin]\n\n[lua]\nhook = \"1s\"\n");
    test::write_file(p.dir.path / "hooks/spin.lua",
                     "return { ['run.start'] = function(ev, ctx)\n  while true do end\nend }\n");
    p.migration("001_t.sql", "create table t (id int);\n");
    auto start = clock_type::now();
    auto r = p.ms({"up"});
    BOOST_TEST(seconds_since(start) < 15.0, "took " << seconds_since(start) << " s");
    BOOST_TEST(contains(r.out + r.err, "time budget of 1000 ms"), r.out << r.err);
    BOOST_TEST(contains(r.out + r.err, "hooks/spin.lua:2"), r.out << r.err);
}

BOOST_AUTO_TEST_CASE(jit_compiled_loop_is_ended_by_the_watchdog_and_the_next_run_applies) {
    test::project p;
    auto toml = test::read_file(p.dir.path / "moonshift.toml");
    test::write_file(p.dir.path / "moonshift.toml", toml + "\n[lua]\njit = true\nup = \"1s\"\n");
    p.migration("001_t.sql", "create table t (id int);\n");
    p.migration("002_spin.lua",
                "return { up = function(db)\n  db:exec('insert into t values (1)')\n"
                "  local n = 0\n  while true do n = n + 1 end\nend }\n");
    auto start = clock_type::now();
    auto r = p.ms({"up"});
    // deadline 1 s, last resort 3 s later; a compiled loop is never stopped otherwise
    BOOST_TEST(seconds_since(start) < 12.0, "took " << seconds_since(start) << " s");
    BOOST_TEST(r.exit_code == 1, r.out << r.err);
    BOOST_TEST(contains(r.err, "002_spin.lua"), r.err);
    BOOST_TEST(contains(r.err, "time budget of 1000 ms"), r.err);
    BOOST_TEST(contains(r.err, "as a kill would"), r.err);
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001"}));
    // The open transaction rolled back (no row), the lock went with the session:
    // with the loop fixed the next run applies at once.
    p.migration("002_spin.lua",
                "return { up = function(db)\n  db:exec('insert into t values (1)')\nend }\n");
    auto again = p.ms({"up"});
    BOOST_TEST(again.exit_code == 0, again.out << again.err);
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001", "002"}));
    BOOST_TEST(p.scalar("select count(*) from t") == "1");
}

BOOST_AUTO_TEST_SUITE_END()
