// The Lua runtime without a database: loading migration tables, located
// errors with tracebacks, ctx, json, log, env redaction, require, hooks and
// the time budget — all through the real LuaJIT state.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "lua/runtime.hpp"
#include "support/harness.hpp"
#include "support/lua.hpp"

namespace lua = moonshift::lua;
using lua::phase;

namespace {

struct runner : moonshift::test::lua_runner {
    explicit runner(lua::options o = {})
        : lua_runner(nullptr, std::move(o), "scripts/t.lua", phase::run) {}
};

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

const char* const good_migration = R"lua(
return {
  description = "backfill slugs",
  transaction = false,
  up = function(db, ctx) ctx:log("up ran") end,
  verify = function(db, ctx) end,
}
)lua";

}  // namespace

BOOST_AUTO_TEST_SUITE(lua_runtime)

BOOST_AUTO_TEST_CASE(migration_table_is_read_once_into_typed_slots) {
    runner r;
    auto s = r.rt.load_migration("migrations/002_backfill.lua", good_migration);
    BOOST_TEST(s.label() == "migrations/002_backfill.lua");
    BOOST_TEST(s.has("up"));
    BOOST_TEST(s.has("verify"));
    BOOST_TEST(!s.has("down"));
    BOOST_TEST(s.boolean("transaction").value_or(true) == false);
    BOOST_TEST(s.string("description").value_or("") == "backfill slugs");
    auto o = r.rt.run_phase(s, "up", phase::up, nullptr);
    BOOST_TEST(o.ran);
    BOOST_TEST(contains(r.messages(), "migrations/002_backfill.lua:5 up ran"), r.messages());
    // A function the file does not define is a no-op.
    BOOST_TEST(!r.rt.run_phase(s, "down", phase::down, nullptr).ran);
}

BOOST_AUTO_TEST_CASE(unknown_key_in_a_migration_is_a_load_error_naming_key_and_file) {
    runner r;
    try {
        r.rt.load_migration("migrations/002_backfill.lua",
                            "return {\n  up = function() end,\n  verfiy = function() end,\n}\n");
        BOOST_FAIL("a misspelt key must not load");
    } catch (const lua::script_error& e) {
        std::string m = e.what();
        BOOST_TEST(contains(m, "migrations/002_backfill.lua"), m);
        BOOST_TEST(contains(m, "unknown key \"verfiy\""), m);
        BOOST_TEST(contains(m, "did you mean \"verify\"?"), m);
        BOOST_TEST(e.file() == "migrations/002_backfill.lua");
    }
}

BOOST_AUTO_TEST_CASE(a_migration_value_of_the_wrong_type_is_a_load_error) {
    runner r;
    try {
        r.rt.load_migration("migrations/003_x.lua",
                            "return { transaction = 'no', up = function() end }");
        BOOST_FAIL("transaction must be a boolean");
    } catch (const lua::script_error& e) {
        BOOST_TEST(
            contains(e.what(),
                     "migrations/003_x.lua: \"transaction\" must be a boolean, not a string"),
            e.what());
    }
    try {
        r.rt.load_migration("migrations/003_x.lua", "local t = 1\n");
        BOOST_FAIL("a file that returns nothing must not load");
    } catch (const lua::script_error& e) {
        BOOST_TEST(
            contains(e.what(),
                     "migrations/003_x.lua: the file must return a table, but it returned nothing"),
            e.what());
    }
}

BOOST_AUTO_TEST_CASE(syntax_error_names_file_and_line) {
    runner r;
    try {
        r.rt.load_migration("migrations/004_bad.lua",
                            "return {\n  up = function(db)\n    local x = = 1\n  end,\n}\n");
        BOOST_FAIL("a syntax error must not load");
    } catch (const lua::script_error& e) {
        BOOST_TEST(contains(e.what(), "migrations/004_bad.lua:3:"), e.what());
        BOOST_TEST(e.file() == "migrations/004_bad.lua");
        BOOST_TEST(e.line() == 3);
        BOOST_TEST(static_cast<int>(e.code()) == 1);
    }
}

BOOST_AUTO_TEST_CASE(runtime_error_names_the_script_line_and_carries_a_traceback) {
    runner r;
    auto s = r.rt.load_migration(
        "migrations/005_oops.lua",
        "local function helper(t)\n"
        "  return t.missing.field\n"
        "end\n"
        "return { up = function(db, ctx)\n  local v = helper({})\n  return v\nend }\n");
    try {
        r.rt.run_phase(s, "up", phase::up, nullptr);
        BOOST_FAIL("indexing nil must fail");
    } catch (const lua::script_error& e) {
        std::string m = e.what();
        BOOST_TEST(
            m.rfind("migrations/005_oops.lua:2: attempt to index field 'missing' (a nil value)",
                    0) == 0,
            m);
        BOOST_TEST(e.line() == 2);
        BOOST_TEST(contains(e.traceback(), "stack traceback:"), e.traceback());
        BOOST_TEST(contains(e.traceback(), "migrations/005_oops.lua:5"), e.traceback());
    }
}

BOOST_AUTO_TEST_CASE(error_with_a_table_value_is_reported) {
    runner r;
    auto e = r.error_of("error({ message = 'custom failure' })");
    BOOST_TEST(contains(e.what(), "custom failure"), e.what());
}

BOOST_AUTO_TEST_CASE(ctx_describes_the_run_and_functions_get_db_and_ctx_as_arguments_and_globals) {
    lua::options o;
    o.env_name = "staging";
    o.dry_run = true;
    runner r(o);
    auto s = r.rt.load_migration("migrations/006_ctx.lua", R"lua(
return {
  up = function(d, c)
    assert(d == db and c == ctx, "arguments and globals are the same objects")
    assert(ctx.env == "staging", "env")
    assert(ctx.dry_run == true, "dry_run")
    assert(ctx.phase == "up", "phase " .. tostring(ctx.phase))
    assert(ctx.migration.version == "006" and ctx.migration.name == "ctx", "migration")
  end,
  verify = function(d, c) assert(c.phase == "verify") end,
})lua");
    lua::migration_info m{"006", "ctx"};
    BOOST_CHECK_NO_THROW(r.rt.run_phase(s, "up", phase::up, &m));
    BOOST_CHECK_NO_THROW(r.rt.run_phase(s, "verify", phase::verify, &m));
    r.asserts("assert(ctx.migration == nil) assert(ctx.phase == 'check')", phase::check);
    r.asserts("local a, b = ...\nassert(a == 'one' and b == 'two')\nassert(ctx.args[2] == 'two')",
              phase::run, {"one", "two"});
    // A file may return a function instead: it is called with (db, ctx).
    r.ok("return function(d, c) assert(c == ctx and c.phase == 'run') log.info('called') end");
    BOOST_TEST(contains(r.messages(), "called"));
}

BOOST_AUTO_TEST_CASE(ctx_fail_stops_with_exit_code_3_naming_the_line) {
    runner r;
    try {
        r.rt.run_file("scripts/checks/users.lua",
                      "local n = 0\nif n == 0 then ctx:fail('users has no rows') end\n",
                      phase::check);
        BOOST_FAIL("ctx:fail must stop the script");
    } catch (const lua::check_failure& e) {
        BOOST_TEST(std::string(e.what()) ==
                   "scripts/checks/users.lua:2: check failed: users has no rows");
        BOOST_TEST(static_cast<int>(e.code()) == 3);
        BOOST_TEST(e.reason() == "users has no rows");
        BOOST_TEST(e.line() == 2);
        BOOST_TEST((e.in_phase() == phase::check));
    }
    // pcall cannot swallow it, nor xpcall, nor a coroutine.
    for (std::string code :
         {"pcall(ctx.fail, ctx, 'no')\nerror('pcall swallowed ctx:fail')",
          "xpcall(function() ctx:fail('no') end, function(e) return e end)\nerror('swallowed')",
          "coroutine.resume(coroutine.create(function() ctx:fail('no') "
          "end))\nerror('swallowed')"}) {
        BOOST_CHECK_THROW(r.rt.run_file("scripts/t.lua", code, phase::check), lua::check_failure);
    }
}

BOOST_AUTO_TEST_CASE(ctx_fail_with_level_2_names_the_caller_of_a_helper) {
    runner r;
    try {
        r.rt.run_file("scripts/checks/x.lua",
                      "local function must(v, msg)\n  if not v then ctx:fail(msg, 2) "
                      "end\nend\n\nmust(false, 'needs v')\n",
                      phase::check);
        BOOST_FAIL("must fail");
    } catch (const lua::check_failure& e) {
        BOOST_TEST(e.line() == 5);
        BOOST_TEST(e.file() == "scripts/checks/x.lua");
    }
}

BOOST_AUTO_TEST_CASE(ctx_skip_ends_the_script_quietly) {
    runner r;
    auto o = r.ok("ctx:skip('nothing to do on staging')\nerror('not reached')", phase::check);
    BOOST_TEST(o.ran);
    BOOST_TEST(o.skipped);
    BOOST_TEST(o.skip_reason == "nothing to do on staging");
    BOOST_TEST(o.skip_source == "scripts/t.lua:1");
    auto p = r.ok("pcall(function() ctx:skip('inner') end)\nerror('pcall swallowed ctx:skip')");
    BOOST_TEST(p.skipped);
}

BOOST_AUTO_TEST_CASE(json_round_trips_values_and_keeps_empty_arrays_and_objects) {
    runner r;
    r.asserts(R"lua(
local text = '{"a":[1,2.5,null,"x"],"b":{"c":true,"d":[]},"e":{},"f":"é日"}'
local v = json.decode(text)
assert(json.decode('"\\u00e9\\u65e5"') == "é日", "unicode escapes")
assert(v.a[1] == 1 and v.a[2] == 2.5 and v.a[3] == json.null and v.a[4] == "x", "array")
assert(#v.a == 4, "null keeps its place in the array")
assert(v.b.c == true, "nested")
assert(v.f == "é日", "unicode")
assert(json.encode(v) == text, "round trip: " .. json.encode(v))
assert(json.encode({}) == "{}", "an empty table is an object")
assert(json.encode(json.array()) == "[]", "json.array() is an empty array")
assert(json.encode({1, 2, 3}) == "[1,2,3]")
assert(json.encode({x = 1}) == '{"x":1}')
assert(json.encode(12345678) == "12345678", "integers have no .0")
assert(json.encode(json.null) == "null")
local ok, err = pcall(json.encode, { f = function() end })
assert(not ok and err:find("json.encode: cannot encode a value of type function", 1, true), tostring(err))
ok, err = pcall(json.encode, { 1, nil, 3 })
assert(not ok and err:find("hole at index 2", 1, true), tostring(err))
local cyclic = {} cyclic.self = cyclic
ok, err = pcall(json.encode, cyclic)
assert(not ok and err:find("nested deeper", 1, true), tostring(err))
ok, err = pcall(json.decode, '{"a": }')
assert(not ok and err:find("json.decode: parse error at line 1, column 7", 1, true), tostring(err))
local v2 = json.decode("[]")
assert(json.encode(v2) == "[]" and json.encode(json.decode("{}")) == "{}", "empty containers keep their kind")
)lua");
}

BOOST_AUTO_TEST_CASE(log_and_print_reach_the_sink_with_the_script_line) {
    runner r;
    r.ok(
        "print('hello', 42, nil, true)\nlog.warn('careful', { n = 1 "
        "})\nlog.error('bad')\nlog.debug('dbg')\nctx:log('via ctx')");
    BOOST_TEST_REQUIRE(r.logs.size() == 5u, r.messages());
    BOOST_TEST(r.logs[0].level == "info");
    BOOST_TEST(r.logs[0].message == "hello 42 nil true");
    BOOST_TEST(r.logs[0].source == "scripts/t.lua:1");
    BOOST_TEST(r.logs[1].level == "warn");
    BOOST_TEST(r.logs[1].message == "careful {\"n\":1}");
    BOOST_TEST(r.logs[2].level == "error");
    BOOST_TEST(r.logs[3].level == "debug");
    BOOST_TEST(r.logs[4].message == "via ctx");
    BOOST_TEST(r.logs[4].source == "scripts/t.lua:5");
}

BOOST_AUTO_TEST_CASE(env_reads_variables_and_redacts_secrets_in_every_log_line) {
    lua::options o;
    o.variables = {{"API_TOKEN", "tok-8f3a9c"}, {"REGION", "eu"}, {"EMPTY", ""}};
    runner r(o);
    r.asserts(R"lua(
assert(env.get("REGION") == "eu")
assert(env.get("MOONSHIFT_SURELY_UNSET_VAR") == nil)
assert(env.get("MOONSHIFT_SURELY_UNSET_VAR", "dflt") == "dflt")
local t = env.require("API_TOKEN")
print("calling with " .. t)
log.info("url", "postgres://app:hunter22@db.example.com/app")
log.info({ token = t })
)lua");
    std::string all = r.messages();
    BOOST_TEST(!contains(all, "tok-8f3a9c"), all);
    BOOST_TEST(!contains(all, "hunter22"), all);
    BOOST_TEST(contains(all, "calling with ***"), all);
    BOOST_TEST(contains(all, "postgres://app:***@db.example.com/app"), all);
    // Error messages are redacted too.
    auto e = r.error_of("error('token was ' .. env.get('API_TOKEN'))");
    BOOST_TEST(!contains(e.what(), "tok-8f3a9c"), e.what());
    // A missing variable names itself and the line.
    auto missing = r.error_of("local x = 1\nenv.require('DEPLOY_KEY_THAT_IS_NOT_SET')");
    BOOST_TEST(
        contains(missing.what(), "scripts/t.lua:2: variable DEPLOY_KEY_THAT_IS_NOT_SET is not set"),
        missing.what());
    auto empty = r.error_of("env.require('EMPTY')");
    BOOST_TEST(contains(empty.what(), "variable EMPTY is not set"), empty.what());
}

BOOST_AUTO_TEST_CASE(require_loads_builtin_and_project_modules_once) {
    moonshift::test::temp_dir dir;
    moonshift::test::write_file(
        dir.path / "scripts/lib/util.lua",
        "log.info('util loaded')\nlocal M = {}\nfunction M.double(x) return 2 * x end\nreturn M\n");
    moonshift::test::write_file(dir.path / "scripts/pkg/init.lua", "return { name = 'pkg' }\n");
    moonshift::test::write_file(dir.path / "scripts/broken.lua", "return {\n  x = \n");
    moonshift::test::write_file(dir.path / "scripts/cycle_a.lua", "return require('cycle_b')\n");
    moonshift::test::write_file(dir.path / "scripts/cycle_b.lua", "return require('cycle_a')\n");
    lua::options o;
    o.project_root = dir.path;
    runner r(o);
    r.asserts(R"lua(
local util = require("lib.util")
assert(util.double(21) == 42)
assert(require("lib.util") == util, "cached")
assert(require("pkg").name == "pkg", "init.lua")
local checks = require("moonshift.checks")
assert(type(checks.table_exists) == "function", "built-in library")
assert(require("string") == string, "standard libraries are the sandbox's")
)lua");
    std::size_t loads = 0;
    for (const auto& l : r.logs) loads += l.message == "util loaded";
    BOOST_TEST(loads == 1u);
    BOOST_TEST(r.logs.at(0).source == "scripts/lib/util.lua:1");

    auto missing = r.error_of("local m = require('lib.nope')");
    BOOST_TEST(contains(missing.what(),
                        "scripts/t.lua:1: require: module 'lib.nope' not found (looked for "
                        "scripts/lib/nope.lua and scripts/lib/nope/init.lua)"),
               missing.what());
    auto broken = r.error_of("require('broken')");
    BOOST_TEST(contains(broken.what(), "scripts/broken.lua:3:"), broken.what());
    auto cycle = r.error_of("require('cycle_a')");
    BOOST_TEST(contains(cycle.what(), "circular require of 'cycle_a'"), cycle.what());
}

BOOST_AUTO_TEST_CASE(require_refuses_paths_and_withheld_modules) {
    moonshift::test::temp_dir dir;
    moonshift::test::write_file(dir.path / "secret.lua", "return 'outside'\n");
    lua::options o;
    o.project_root = dir.path;
    runner r(o);
    for (std::string name : {"../secret", "/etc/passwd", "lib/util", "..", "a..b", ".x"}) {
        auto e = r.error_of("require('" + name + "')");
        BOOST_TEST(contains(e.what(),
                            "scripts/t.lua:1: require: module name '" + name + "' is not allowed"),
                   e.what());
    }
    for (std::string name : {"ffi", "jit", "io", "debug", "package", "jit.util", "table.new"}) {
        auto e = r.error_of("require('" + name + "')");
        BOOST_TEST(contains(e.what(),
                            "require: module '" + name + "' is not available in moonshift scripts"),
                   e.what());
    }
}

BOOST_AUTO_TEST_CASE(hook_handlers_get_the_event_as_a_table) {
    runner r;
    auto hooks =
        r.rt.load("hooks/notify.lua",
                  "return { ['run.finish'] = function(ev, ctx)\n"
                  "  log.info(ev.outcome, #ev.applied, ev.applied[1].version, ctx.phase)\nend }\n",
                  {{"run.finish"}, {"migration.failed"}});
    auto o = r.rt.run_hook(hooks, "run.finish",
                           {{"outcome", "ok"}, {"applied", {{{"version", "001"}}}}});
    BOOST_TEST(o.ran);
    BOOST_TEST(r.messages() == "info hooks/notify.lua:2 ok 1 001 hook\n");
    BOOST_TEST(!r.rt.run_hook(hooks, "migration.failed", nlohmann::json::object()).ran);
    BOOST_CHECK_THROW(r.rt.load("hooks/bad.lua", "return { ['run.finsh'] = function() end }",
                                {{"run.finish"}, {"migration.failed"}}),
                      lua::script_error);
}

BOOST_AUTO_TEST_CASE(pure_lua_infinite_loop_is_stopped_by_the_count_hook) {
    runner r;  // jit = false (the default): the interpreter runs the count hook
    r.rt.set_deadline(std::chrono::milliseconds(200));
    for (std::string code : {"while true do end", "local x = 0\nfor i = 1, 1e15 do x = x + i end",
                             "while true do pcall(function() end) end",
                             "local co = coroutine.wrap(function() while true do end end)\nco()"}) {
        auto t0 = std::chrono::steady_clock::now();
        auto e = r.error_of(code, phase::up);
        auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - t0)
                        .count();
        BOOST_TEST(e.timed_out(), e.what());
        BOOST_TEST(contains(e.what(), "script exceeded its time budget of 200 ms in phase \"up\""),
                   e.what());
        BOOST_TEST(contains(e.what(), "scripts/t.lua:"), e.what());
        BOOST_TEST(took < 5000, "stopped after " << took << " ms");
    }
    // The budget is per call: the next call starts afresh.
    r.ok("local x = 1");
    r.rt.set_deadline(std::chrono::milliseconds(0));
    r.ok("for i = 1, 1000 do end");
}

BOOST_AUTO_TEST_CASE(host_calls_check_the_deadline_even_with_the_jit_on) {
    lua::options o;
    o.jit = true;
    runner r(o);
    r.rt.set_deadline(std::chrono::milliseconds(200));
    // The loop compiles, so only the host call can notice the deadline.
    auto e = r.error_of("local n = 0\nwhile true do n = n + #json.encode({ n }) end");
    BOOST_TEST(e.timed_out(), e.what());
    BOOST_TEST(contains(e.what(), "scripts/t.lua:2: script exceeded its time budget of 200 ms"),
               e.what());
}

BOOST_AUTO_TEST_CASE(calls_without_a_database_say_so) {
    runner r;
    auto e = r.error_of("local x = 1\ndb:query('select 1')");
    BOOST_TEST(contains(e.what(),
                        "scripts/t.lua:2: db:query: there is no database connection in this run"),
               e.what());
}

BOOST_AUTO_TEST_SUITE_END()
