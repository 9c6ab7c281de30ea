// The `ctx` module: what the running script is for (environment, migration,
// phase, dry run, arguments) and its three verbs: ctx:fail, ctx:skip, ctx:log.
#include "lua/boundary.hpp"
#include "lua/host.hpp"
#include "lua/modules.hpp"

namespace moonshift::lua {
namespace {

// ctx:fail(msg) and ctx.fail(msg) both work: the index of the first real argument.
int first_argument(lua_State* L) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, host_of(L).ctx_ref);
    bool self = lua_rawequal(L, 1, -1);
    lua_pop(L, 1);
    return self ? 2 : 1;
}

// The message argument as a string, left at index `at` (Lua phase: may raise).
void message_argument(lua_State* L, int at, const char* fn) {
    if (lua_type(L, at) == LUA_TSTRING || lua_type(L, at) == LUA_TNUMBER) return;
    if (luaL_callmeta(L, at, "__tostring")) {
        lua_replace(L, at);
        return;
    }
    luaL_error(L, "%s: the message must be a string, got %s", fn, luaL_typename(L, at));
}

// ctx:fail(msg [, level]): stops the run with exit code 3. level works as in
// error(): 1 names the line that called ctx:fail, 2 the caller of that
// function (what a library check wants).
int ctx_fail(lua_State* L) {
    int at = first_argument(L);
    message_argument(L, at, "ctx:fail");
    int level = 1;
    if (!lua_isnoneornil(L, at + 1)) {
        if (lua_type(L, at + 1) != LUA_TNUMBER)
            arg_error(L, "ctx:fail", 2, at + 1, "a level (a number)");
        level = static_cast<int>(lua_tonumber(L, at + 1));
    }
    throw control_raise("fail", lua_tostring(L, at), where(L, level < 1 ? 1 : level));
}

// ctx:skip(msg): ends this script quietly; the host records it as skipped.
int ctx_skip(lua_State* L) {
    int at = first_argument(L);
    if (lua_isnoneornil(L, at)) {
        lua_pushliteral(L, "skipped");
        lua_replace(L, at);
    }
    message_argument(L, at, "ctx:skip");
    throw control_raise("skip", lua_tostring(L, at), where(L, 1));
}

int ctx_log(lua_State* L) {
    int at = first_argument(L);
    prepare_log_args(L, at);
    host_of(L).emit_log("info", join_log_args(L, at), where(L, 1));
    return 0;
}

}  // namespace

void register_ctx(lua_State* L, int sandbox) {
    static const luaL_Reg functions[] = {
        {"fail", bind<ctx_fail>},
        {"skip", bind<ctx_skip>},
        {"log", bind<ctx_log>},
        {nullptr, nullptr},
    };
    host& h = host_of(L);
    lua_newtable(L);
    luaL_register(L, nullptr, functions);
    lua_pushstring(L, h.opts.env_name.c_str());
    lua_setfield(L, -2, "env");
    lua_pushboolean(L, h.opts.dry_run);
    lua_setfield(L, -2, "dry_run");
    lua_pushvalue(L, -1);
    h.ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_setfield(L, sandbox, "ctx");
}

}  // namespace moonshift::lua
