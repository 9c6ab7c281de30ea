// The sandbox: safe libraries opened one by one (never luaL_openlibs), copied
// by name into one shared table that scripts read through their own strict
// environments. The real globals table is never reachable from a script:
// getfenv, setfenv, debug, load and friends are absent.
#include "lua/sandbox.hpp"

#include <cstring>
#include <iterator>
#include <utility>

#include "lua/boundary.hpp"
#include "lua/modules.hpp"

namespace moonshift::lua {
namespace {

const char env_mt_key = 0;

const char* const base_allowed[] = {
    "assert",   "error",  "ipairs", "next",         "pairs",        "rawequal",
    "rawget",   "rawset", "select", "setmetatable", "getmetatable", "tonumber",
    "tostring", "type",   "unpack", "_VERSION",
};
const char* const shared_libraries[] = {"string", "table", "math", "bit"};
const char* const coroutine_allowed[] = {"create", "resume", "running",    "status",
                                         "wrap",   "yield",  "isyieldable"};
const char* const os_allowed[] = {"time", "date", "clock"};

// pcall, xpcall and coroutine.resume as scripts see them: the control values
// of ctx:fail, ctx:skip and the time budget pass through, so no script can
// catch its way past its deadline.
const char* const prelude = R"lua(
local sandbox, is_control, pcall, xpcall, error, resume = ...
local function pass(ok, ...)
  if not ok and is_control((...)) then error((...), 0) end
  return ok, ...
end
sandbox.pcall = function(f, ...) return pass(pcall(f, ...)) end
sandbox.xpcall = function(f, handler, ...)
  return pass(xpcall(f, function(e)
    if is_control(e) then return e end
    return handler(e)
  end, ...))
end
sandbox.coroutine.resume = function(co, ...) return pass(resume(co, ...)) end
)lua";

int undeclared_read(lua_State* L) {
    const char* name = lua_tostring(L, 2);
    return luaL_error(L, "undeclared global '%s'", name ? name : luaL_typename(L, 2));
}

int undeclared_write(lua_State* L) {
    const char* name = lua_tostring(L, 2);
    return luaL_error(
        L, "assignment to undeclared global '%s' (scripts have no globals: declare it with local)",
        name ? name : luaL_typename(L, 2));
}

// A memory error while the heap is over its limit passes through pcall too.
int is_control_value(lua_State* L) {
    lua_pushboolean(L, is_control(L, 1) || host_of(L).memory.exceeded);
    return 1;
}

// Only collectgarbage("count"): the rest would let a script stall the run.
int collectgarbage_count(lua_State* L) {
    const char* opt = lua_tostring(L, 1);
    if (!opt || std::strcmp(opt, "count") != 0)
        return luaL_error(
            L, "collectgarbage(\"%s\") is not available in moonshift scripts (only \"count\")",
            opt ? opt : "collect");
    lua_pushnumber(L, lua_gc(L, LUA_GCCOUNT, 0) + lua_gc(L, LUA_GCCOUNTB, 0) / 1024.0);
    return 1;
}

int refuse_write(lua_State* L) {
    const char* name = lua_tostring(L, lua_upvalueindex(1));
    const char* key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?";
    return luaL_error(L,
                      "%s is read-only: scripts share it and cannot change it (tried to set "
                      "%s.%s); keep your own values in locals",
                      name, name, key);
}

int control_tostring(lua_State* L) {
    lua_getfield(L, 1, "where");
    lua_getfield(L, 1, "message");
    if (lua_objlen(L, -2) > 0) {
        lua_pushliteral(L, ": ");
        lua_insert(L, -2);
        lua_concat(L, 3);
    }
    return 1;
}

int sql_error_tostring(lua_State* L) {
    int parts = 0;
    lua_getfield(L, 1, "where");
    if (lua_objlen(L, -1) > 0) {
        lua_pushliteral(L, ": ");
        parts += 2;
    } else {
        lua_pop(L, 1);
    }
    lua_getfield(L, 1, "message");
    ++parts;
    lua_getfield(L, 1, "sqlstate");
    if (lua_isstring(L, -1)) {
        lua_pushliteral(L, " (");
        lua_insert(L, -2);
        lua_pushliteral(L, ")");
        parts += 3;
    } else {
        lua_pop(L, 1);
    }
    lua_concat(L, parts);
    return 1;
}

void open_library(lua_State* L, lua_CFunction open, const char* name) {
    lua_pushcfunction(L, open);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);  // trusted setup code, inside the runtime's own protected call
}

// registry[key] = a new metatable whose __metatable hides and protects it.
void make_metatable(lua_State* L, const char* key, const char* label, lua_CFunction tostring) {
    lua_pushlightuserdata(L, const_cast<char*>(key));
    lua_newtable(L);
    lua_pushstring(L, label);
    lua_setfield(L, -2, "__metatable");
    if (tostring) {
        lua_pushcfunction(L, tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_rawset(L, LUA_REGISTRYINDEX);
}

void copy_fields(lua_State* L, int from, int to, const char* const* names, std::size_t n) {
    if (from < 0 && from > LUA_REGISTRYINDEX) from = lua_gettop(L) + from + 1;
    if (to < 0 && to > LUA_REGISTRYINDEX) to = lua_gettop(L) + to + 1;
    for (std::size_t i = 0; i < n; ++i) {
        lua_getfield(L, from, names[i]);
        lua_setfield(L, to, names[i]);
    }
}

}  // namespace

namespace {

// The standard libraries the sandbox copies from, with what they must not
// offer removed at the source.
void open_libraries(lua_State* L, bool jit) {
    open_library(L, luaopen_base, "");
    open_library(L, luaopen_string, LUA_STRLIBNAME);
    open_library(L, luaopen_table, LUA_TABLIBNAME);
    open_library(L, luaopen_math, LUA_MATHLIBNAME);
    open_library(L, luaopen_bit, LUA_BITLIBNAME);
    open_library(L, luaopen_os, LUA_OSLIBNAME);  // only time, date and clock are copied
    // luaopen_jit is what switches LuaJIT's compiler on; without it the state
    // interprets, and the count hook sees every loop.
    if (jit) open_library(L, luaopen_jit, LUA_JITLIBNAME);

    // string.dump makes bytecode, which nothing here may load; the string
    // metatable's __index is this very table, so remove it at the source.
    lua_getglobal(L, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    replace_string_matching(L, lua_gettop(L));
    lua_pop(L, 1);
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");  // getmetatable("") gives false, not the real metatable
    lua_pop(L, 2);

    make_metatable(L, &control_mt_key, "moonshift control", bind<control_tostring>);
    make_metatable(L, &sql_error_mt_key, "moonshift sql error", bind<sql_error_tostring>);
    make_metatable(L, &json_array_mt_key, "json array", nullptr);
    make_metatable(L, &json_object_mt_key, "json object", nullptr);
    make_metatable(L, &pg_array_mt_key, "db array", nullptr);
}

// The allowed globals, coroutine and os functions, copied into the sandbox.
void copy_allowed(lua_State* L, int sandbox) {
    copy_fields(L, LUA_GLOBALSINDEX, sandbox, base_allowed, std::size(base_allowed));
    copy_fields(L, LUA_GLOBALSINDEX, sandbox, shared_libraries, std::size(shared_libraries));
    lua_getglobal(L, "coroutine");
    lua_newtable(L);
    copy_fields(L, -2, -1, coroutine_allowed, std::size(coroutine_allowed));
    lua_setfield(L, sandbox, "coroutine");
    lua_pop(L, 1);
    lua_getglobal(L, LUA_OSLIBNAME);
    lua_newtable(L);
    copy_fields(L, -2, -1, os_allowed, std::size(os_allowed));
    lua_setfield(L, sandbox, "os");
    lua_pop(L, 1);
    lua_pushcfunction(L, bind<collectgarbage_count>);
    lua_setfield(L, sandbox, "collectgarbage");
}

// The prelude (Lua) wraps pcall, xpcall, error and coroutine.resume so that
// control values pass through them.
void run_prelude(lua_State* L, int sandbox) {
    if (luaL_loadbufferx(L, prelude, std::strlen(prelude), "=[sandbox]", "t") != 0) lua_error(L);
    lua_pushvalue(L, sandbox);
    lua_pushcfunction(L, bind<is_control_value>);
    lua_getglobal(L, "pcall");
    lua_getglobal(L, "xpcall");
    lua_getglobal(L, "error");
    lua_getglobal(L, "coroutine");
    lua_getfield(L, -1, "resume");
    lua_remove(L, -2);
    lua_call(L, 6, 0);
}

// Strict globals: reading a name the sandbox lacks, or writing one, is an
// error; a script's environment reads through to the sandbox.
void make_strict(lua_State* L, int sandbox) {
    lua_newtable(L);
    lua_pushcfunction(L, bind<undeclared_read>);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, bind<undeclared_write>);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, sandbox);

    lua_pushlightuserdata(L, const_cast<char*>(&env_mt_key));
    lua_newtable(L);
    lua_pushvalue(L, sandbox);
    lua_setfield(L, -2, "__index");  // a table, so global reads stay fast (and JIT-friendly)
    lua_pushcfunction(L, bind<undeclared_write>);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_rawset(L, LUA_REGISTRYINDEX);
}

// Every table of the sandbox (host modules and libraries) becomes a
// read-only view; ctx keeps its table for the host to fill; the string
// metatable reads through the view of string.
void protect_shared(lua_State* L, host& h, int sandbox) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, h.ctx_ref);
    h.ctx_data_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushnil(L);
    while (lua_next(L, sandbox)) {
        if (lua_type(L, -1) == LUA_TTABLE && lua_type(L, -2) == LUA_TSTRING) {
            push_read_only(L, -1, lua_tostring(L, -2));
            lua_pushvalue(L, -3);
            lua_insert(L, -2);
            lua_rawset(L, sandbox);  // an existing key: allowed while traversing
        }
        lua_pop(L, 1);
    }
    for (auto [name, ref] : {std::pair<const char*, int*>{"db", &h.db_ref}, {"ctx", &h.ctx_ref}}) {
        luaL_unref(L, LUA_REGISTRYINDEX, *ref);
        lua_getfield(L, sandbox, name);
        *ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_getfield(L, sandbox, LUA_STRLIBNAME);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 2);
}

}  // namespace

void push_read_only(lua_State* L, int idx, const char* name) {
    if (idx < 0 && idx > LUA_REGISTRYINDEX) idx = lua_gettop(L) + idx + 1;
    lua_newuserdata(L, 0);
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, idx);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, name);
    lua_pushcclosure(L, bind<refuse_write>, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__metatable");  // getmetatable(ctx) == "ctx"; setmetatable refuses
    lua_setmetatable(L, -2);
}

void open_sandbox(lua_State* L, host& h) {
    open_libraries(L, h.opts.jit);
    lua_newtable(L);
    int sandbox = lua_gettop(L);
    copy_allowed(L, sandbox);
    run_prelude(L, sandbox);
    register_modules(L, sandbox);
    protect_shared(L, h, sandbox);
    make_strict(L, sandbox);
    h.sandbox_ref = luaL_ref(L, LUA_REGISTRYINDEX);  // pops the sandbox
}

int load_text(lua_State* L, const std::string& label, std::string_view source) {
    if (source.substr(0, 3) == "\xEF\xBB\xBF") source.remove_prefix(3);
    std::string patched;
    if (source.substr(0, 2) == "#!") {  // keep the line, so line numbers stay right
        patched.assign(source);
        patched[0] = '-';
        patched[1] = '-';
        source = patched;
    }
    if (!source.empty() && source[0] == '\x1b') {  // LuaJIT's own message does not name the file
        lua_pushfstring(L, "%s: precompiled bytecode is not accepted; give the Lua source text",
                        label.c_str());
        return LUA_ERRSYNTAX;
    }
    std::string chunk = "@" + label;
    int status = luaL_loadbufferx(L, source.data(), source.size(), chunk.c_str(), "t");
    if (status != 0) return status;
    push_environment(L);
    lua_setfenv(L, -2);
    return 0;
}

void push_environment(lua_State* L) {
    lua_newtable(L);
    push_registry(L, &env_mt_key);
    lua_setmetatable(L, -2);
}

}  // namespace moonshift::lua
