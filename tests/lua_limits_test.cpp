// The Lua probe suite for limits: hostile scripts that must stop within
// their budget plus one second, with an error naming the script's file and
// line — catastrophic patterns (C code no hook reaches), a loop while a file
// loads, a server query past the budget (cancelled by the watchdog), a heap
// growing without bound, and db:query results too large to buffer.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>

#include "lua/runtime.hpp"
#include "support/harness.hpp"
#include "support/lua.hpp"

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
    explicit runner(lua::options o = {}, moonshift::db::session* s = nullptr)
        : lua_runner(s, std::move(o), "scripts/probe.lua", phase::check) {}
};

// Runs code that must stop on its budget of 1 s; returns the error.
lua::script_error stopped(runner& r, const std::string& code, double& took) {
    r.rt.set_deadline(1000ms);
    auto start = clock_type::now();
    auto e = r.error_of(code);
    took = seconds_since(start);
    return e;
}

// Backtracking that takes hours in LuaJIT's own matcher (a C function).
const char* const catastrophic = ".-.-.-.-.-.-b";

}  // namespace

BOOST_AUTO_TEST_SUITE(lua_limits)

BOOST_AUTO_TEST_CASE(catastrophic_string_find_stops_within_its_budget) {
    for (std::string call :
         {"string.find(s, P)", "s:match(P)", "s:gsub(P, 'x')", "for x in s:gmatch(P) do end"}) {
        runner r;
        double took = 0;
        auto e = stopped(r,
                         "local s = string.rep('a', 4000)\nlocal P = '" +
                             std::string(catastrophic) + "'\n" + call + "\n",
                         took);
        BOOST_TEST(e.timed_out(), call << ": " << e.what());
        BOOST_TEST(took < 2.0, call << " stopped after " << took << " s, budget 1 s");
        BOOST_TEST(e.file() == "scripts/probe.lua", call);
        BOOST_TEST(e.line() == 3, call << ": " << e.what());
        BOOST_TEST(contains(e.what(), "time budget of 1000 ms"), e.what());
    }
}

BOOST_AUTO_TEST_CASE(string_matching_keeps_lua_semantics) {
    runner r;
    r.asserts(R"lua(
assert(string.find("hello world", "o w") == 5)
assert(select(2, string.find("hello", "l+")) == 4)
assert(string.match("key=value", "(%w+)=(%w+)") == "key")
assert(select(2, ("a,b,,c"):gsub(",", ";")) == 3)
assert(("abc"):gsub("%w", "%0%0") == "aabbcc")
assert(("hello world"):gsub("o", {o = "0"}) == "hell0 w0rld")
assert(("abc"):gsub(".", function(c) return c:upper() end) == "ABC")
local n = 0
for k, v in ("a=1, b=2"):gmatch("(%w+)=(%w+)") do n = n + 1 end
assert(n == 2)
assert(("THE (quick) fox"):find("%((%a+)%)") == 5)
assert(("f(a(b)c)"):match("%b()") == "(a(b)c)")
assert(("THE quick"):find("%f[%a]%a+", 4) == 5)
assert(("x"):match("()") == 1)
assert(not pcall(string.find, "a", "[a"))
)lua");
}

BOOST_AUTO_TEST_CASE(loop_at_the_top_of_a_migration_file_stops_while_loading) {
    lua::options o;
    o.load_budget = 1000ms;
    runner r(o);
    auto start = clock_type::now();
    try {
        r.rt.load_migration("migrations/002_spin.lua",
                            "local n = 0\nwhile true do n = n + 1 end\n");
        BOOST_FAIL("the file loaded");
    } catch (const lua::script_error& e) {
        BOOST_TEST(seconds_since(start) < 2.0);
        BOOST_TEST(e.timed_out(), e.what());
        BOOST_TEST(e.file() == "migrations/002_spin.lua");
        BOOST_TEST(e.line() == 2, e.what());
        BOOST_TEST(contains(e.what(), "while loading"), e.what());
    }
}

BOOST_AUTO_TEST_CASE(hook_loop_stops_within_its_budget) {
    runner r;
    auto hooks =
        r.rt.load("hooks/spin.lua",
                  "return { ['run.start'] = function(ev, ctx)\n  while true do end\nend }", {});
    r.rt.set_deadline(1000ms);
    auto start = clock_type::now();
    try {
        r.rt.run_hook(hooks, "run.start", nlohmann::json::object());
        BOOST_FAIL("the hook returned");
    } catch (const lua::script_error& e) {
        BOOST_TEST(seconds_since(start) < 2.0);
        BOOST_TEST(e.timed_out(), e.what());
        BOOST_TEST(contains(e.what(), "hooks/spin.lua:2:"), e.what());
    }
}

BOOST_AUTO_TEST_CASE(growing_table_stops_at_the_memory_limit_and_the_state_recovers) {
    lua::options o;
    o.memory_limit = std::size_t(64) << 20;
    runner r(o);
    auto start = clock_type::now();
    auto e = r.error_of(R"lua(local t = {}
local i = 0
while true do
  i = i + 1
  t[i] = string.rep("x", 1000) .. i
end
)lua");
    BOOST_TEST(seconds_since(start) < 30.0);
    BOOST_TEST(contains(e.what(), "memory limit of 64 MB"), e.what());
    BOOST_TEST(e.file() == "scripts/probe.lua", e.what());
    BOOST_TEST(e.line() >= 3, e.what());
    BOOST_TEST(r.rt.memory_bytes() < (std::size_t(64) << 20));
    r.ok("local t = {} for i = 1, 1000 do t[i] = i end");  // the state goes on
}

BOOST_AUTO_TEST_CASE(memory_error_passes_through_pcall) {
    lua::options o;
    o.memory_limit = std::size_t(32) << 20;
    runner r(o);
    auto e = r.error_of(R"lua(local ok = pcall(function()
  local t = {}
  for i = 1, 1e9 do t[i] = string.rep("y", 4096) .. i end
end)
ctx:log("caught it")
)lua");
    BOOST_TEST(contains(e.what(), "memory limit of 32 MB"), e.what());
    BOOST_TEST(!contains(r.messages(), "caught it"));
}

BOOST_AUTO_TEST_CASE(one_huge_allocation_is_refused) {
    lua::options o;
    o.memory_limit = std::size_t(32) << 20;
    runner r(o);
    auto e = r.error_of("local s = string.rep('z', 200 * 1024 * 1024)\n");
    BOOST_TEST(contains(e.what(), "memory limit of 32 MB"), e.what());
    BOOST_TEST(e.file() == "scripts/probe.lua");
}

BOOST_FIXTURE_TEST_CASE(server_query_past_the_budget_is_cancelled, test::fresh_session) {
    runner r({}, &session);
    double took = 0;
    auto e = stopped(r, "local x = 1\ndb:query('select pg_sleep(60)')\n", took);
    BOOST_TEST(took < 2.0, "stopped after " << took << " s, budget 1 s");
    BOOST_TEST(e.timed_out(), e.what());
    BOOST_TEST(e.line() == 2, e.what());
    // The session is usable afterwards (the cancel hit the script's statement only).
    BOOST_TEST(session.query("select 1")[0][0].as<int>() == 1);
}

BOOST_FIXTURE_TEST_CASE(cancelled_query_cannot_be_caught_with_pcall, test::fresh_session) {
    runner r({}, &session);
    double took = 0;
    auto e = stopped(r,
                     "local ok = pcall(db.query, db, 'select pg_sleep(60)')\n"
                     "ctx:log('caught', ok)\n",
                     took);
    BOOST_TEST(took < 2.0);
    BOOST_TEST(e.timed_out(), e.what());
    BOOST_TEST(!contains(r.messages(), "caught"));
}

BOOST_FIXTURE_TEST_CASE(large_db_query_result_fails_and_points_to_db_each, test::fresh_session) {
    lua::options o;
    o.query_row_limit = 1000;
    runner r(o, &session);
    auto e = r.error_of(
        "local x = 1\nlocal rows = db:query('select g from generate_series(1, 1001) g')\n");
    BOOST_TEST(contains(e.what(), "1001 rows, more than its limit of 1000"), e.what());
    BOOST_TEST(contains(e.what(), "db:each"), e.what());
    BOOST_TEST(e.line() == 2, e.what());
    r.asserts("assert(#db:query('select g from generate_series(1, 1000) g') == 1000)");
}

BOOST_AUTO_TEST_SUITE_END()
