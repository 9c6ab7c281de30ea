// The sandbox: each way out of it is tried and must fail with a clear error
// naming the script's file and line; what scripts may use still works.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <lua.hpp>
#include <string>
#include <vector>

#include "lua/runtime.hpp"
#include "support/lua.hpp"

namespace lua = moonshift::lua;

namespace {

std::string failure_of(lua::runtime& rt, const std::string& code) {
    try {
        rt.run_file("scripts/escape.lua", code, lua::phase::run);
    } catch (const lua::script_error& e) {
        return e.what();
    }
    BOOST_FAIL("expected the sandbox to stop:\n" << code);
    return {};
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

int collect_bytes(lua_State*, const void* p, size_t n, void* out) {
    static_cast<std::string*>(out)->append(static_cast<const char*>(p), n);
    return 0;
}

// Bytecode for `return 1`, made by a plain LuaJIT state outside the sandbox.
std::string bytecode() {
    lua_State* L = luaL_newstate();
    luaL_loadstring(L, "return { up = function() end }");
    std::string out;
    lua_dump(L, collect_bytes, &out);
    lua_close(L);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lua_sandbox)

BOOST_AUTO_TEST_CASE(dangerous_globals_are_absent) {
    lua::runtime rt(nullptr, {});
    for (std::string name :
         {"io", "ffi", "debug", "load", "loadstring", "dofile", "loadfile", "getfenv", "setfenv",
          "package", "jit", "module", "newproxy", "gcinfo", "_G"}) {
        auto m = failure_of(rt, "local x = 1\nlocal f = " + name + "\n");
        BOOST_TEST(m == "scripts/escape.lua:2: undeclared global '" + name + "'", m);
    }
}

BOOST_AUTO_TEST_CASE(os_offers_only_time_date_and_clock) {
    moonshift::test::lua_runner r(nullptr, {}, "scripts/ok.lua", lua::phase::run);
    auto& rt = r.rt;
    for (std::string fn :
         {"execute", "exit", "getenv", "remove", "rename", "tmpname", "setlocale"}) {
        auto m = failure_of(rt, "os." + fn + "('x')");
        BOOST_TEST(
            contains(m, "scripts/escape.lua:1: attempt to call field '" + fn + "' (a nil value)"),
            m);
    }
    r.asserts(
        "assert(type(os.time()) == 'number')\n"
        "assert(os.date('!%Y-%m-%d', 0) == '1970-01-01')\n"
        "assert(os.clock() >= 0)");
}

BOOST_AUTO_TEST_CASE(bytecode_cannot_be_made_or_loaded) {
    lua::runtime rt(nullptr, {});
    auto m = failure_of(rt, "local b = string.dump(function() end)");
    BOOST_TEST(contains(m, "scripts/escape.lua:1: attempt to call field 'dump' (a nil value)"), m);
    m = failure_of(rt, "local b = (''):dump()");
    BOOST_TEST(contains(m, "scripts/escape.lua:1:"), m);
    // The string metatable is out of reach, so its __index cannot be swapped.
    m = failure_of(rt, "getmetatable('').__index = {}");
    BOOST_TEST(contains(m, "scripts/escape.lua:1: attempt to index a boolean value"), m);
    try {
        rt.load_migration("migrations/001_x.lua", bytecode());
        BOOST_FAIL("bytecode must not load");
    } catch (const lua::script_error& e) {
        BOOST_TEST(std::string(e.what()) ==
                       "migrations/001_x.lua: precompiled bytecode is not accepted; give the Lua "
                       "source text",
                   e.what());
    }
    m = failure_of(rt, bytecode());
    BOOST_TEST(contains(m, "scripts/escape.lua: precompiled bytecode is not accepted"), m);
}

BOOST_AUTO_TEST_CASE(require_cannot_reach_ffi_or_files) {
    lua::runtime rt(nullptr, {});
    auto m = failure_of(rt, "local ffi = require('ffi')\nffi.C.system('id')");
    BOOST_TEST(
        m == "scripts/escape.lua:1: require: module 'ffi' is not available in moonshift scripts",
        m);
    m = failure_of(rt, "require('../../etc/passwd')");
    BOOST_TEST(contains(m, "module name '../../etc/passwd' is not allowed"), m);
}

BOOST_AUTO_TEST_CASE(global_typos_and_global_assignments_are_errors) {
    lua::runtime rt(nullptr, {});
    auto m = failure_of(rt, "pirnt('hello')");
    BOOST_TEST(m == "scripts/escape.lua:1: undeclared global 'pirnt'", m);
    m = failure_of(rt, "local function f()\n  local t = {}\n  return tabel.concat(t)\nend\nf()");
    BOOST_TEST(m == "scripts/escape.lua:3: undeclared global 'tabel'", m);
    m = failure_of(rt, "\ncounter = 1");
    BOOST_TEST(contains(m, "scripts/escape.lua:2: assignment to undeclared global 'counter'"), m);
    m = failure_of(rt, "function helper() end");
    BOOST_TEST(contains(m, "assignment to undeclared global 'helper'"), m);
    m = failure_of(rt, "db = nil");
    BOOST_TEST(contains(m, "assignment to undeclared global 'db'"), m);
}

BOOST_AUTO_TEST_CASE(collectgarbage_only_counts) {
    moonshift::test::lua_runner r(nullptr, {}, "scripts/ok.lua", lua::phase::run);
    auto& rt = r.rt;
    r.asserts("assert(collectgarbage('count') > 0)");
    auto m = failure_of(rt, "collectgarbage()");
    BOOST_TEST(contains(m, "collectgarbage(\"collect\") is not available in moonshift scripts"), m);
    m = failure_of(rt, "collectgarbage('stop')");
    BOOST_TEST(contains(m, "collectgarbage(\"stop\") is not available"), m);
}

BOOST_AUTO_TEST_CASE(the_safe_libraries_work) {
    moonshift::test::lua_runner r(nullptr, {}, "scripts/ok.lua", lua::phase::run);
    r.asserts(R"lua(
assert(string.format("%05.1f|%s", 3.14159, "x") == "003.1|x")
assert(("a,b,c"):gsub(",", ";") == "a;b;c")
assert(table.concat({ 1, 2, 3 }, "-") == "1-2-3")
local t = { 3, 1, 2 } table.sort(t) assert(t[1] == 1 and t[3] == 3)
assert(math.floor(2.7) == 2 and math.huge > 0)
assert(bit.band(0xff, 0x0f) == 0x0f and bit.lshift(1, 4) == 16)
assert(select("#", 1, nil, 3) == 3 and unpack({ 1, 2 }) == 1)
local co = coroutine.create(function(a) local b = coroutine.yield(a + 1) return b * 2 end)
local _, x = coroutine.resume(co, 1) assert(x == 2)
local _, y = coroutine.resume(co, 5) assert(y == 10)
local ok, err = pcall(error, "plain")
assert(not ok and err == "plain", "pcall still catches ordinary errors")
ok, err = xpcall(function() error({ code = 7 }) end, function(e) return e.code end)
assert(not ok and err == 7, "xpcall handlers still run")
local mt = setmetatable({}, { __index = function(_, k) return k .. "!" end })
assert(mt.hi == "hi!" and rawget(mt, "hi") == nil)
assert(type(tostring(nil)) == "string" and tonumber("0x10") == 16)
)lua");
}

BOOST_AUTO_TEST_CASE(cpp_exceptions_become_catchable_lua_errors_and_the_state_survives) {
    moonshift::test::lua_runner r(nullptr, {}, "scripts/ok.lua", lua::phase::run);
    auto& rt = r.rt;
    r.asserts(R"lua(
local ok, err = pcall(json.decode, "{")
assert(not ok and err:find("json.decode:", 1, true), tostring(err))
ok, err = pcall(env.require, "MOONSHIFT_NOT_SET_ANYWHERE")
assert(not ok and err:find("variable MOONSHIFT_NOT_SET_ANYWHERE is not set", 1, true), tostring(err))
for i = 1, 1000 do pcall(json.decode, "[") end
assert(json.decode("[1]")[1] == 1, "still usable")
)lua");
    // Still usable from C++ after many caught failures, and after an uncaught one.
    BOOST_CHECK_THROW(rt.run_file("scripts/x.lua", "json.decode('{')", lua::phase::run),
                      lua::script_error);
    r.asserts("assert(json.encode({ 1 }) == '[1]')");
}

BOOST_AUTO_TEST_CASE(wrong_argument_types_name_the_function_and_line) {
    lua::runtime rt(nullptr, {});
    auto m = failure_of(rt, "local x\njson.decode(42)");
    BOOST_TEST(m == "scripts/escape.lua:2: json.decode: argument #1 must be JSON text (a string), "
                    "got number",
               m);
    m = failure_of(rt, "env.get({})");
    BOOST_TEST(m == "scripts/escape.lua:1: env.get: argument #1 must be a variable name (a "
                    "string), got table",
               m);
    m = failure_of(rt, "ctx:fail({})");
    BOOST_TEST(contains(m, "ctx:fail: the message must be a string, got table"), m);
}

BOOST_AUTO_TEST_SUITE_END()
