// The `log` module and `print`: lines go to the host's log sink with the
// script's file:line, after redaction of passwords and secret variables.
#include "lua/boundary.hpp"
#include "lua/convert.hpp"
#include "lua/host.hpp"
#include "lua/modules.hpp"

namespace moonshift::lua {
namespace {

template <const char* Level>
int log_at(lua_State* L) {
    prepare_log_args(L, 1);
    host& h = host_of(L);
    h.emit_log(Level, join_log_args(L, 1), where(L, 1));
    return 0;
}

constexpr char debug_level[] = "debug";
constexpr char info_level[] = "info";
constexpr char warn_level[] = "warn";
constexpr char error_level[] = "error";

}  // namespace

void prepare_log_args(lua_State* L, int first) {
    int top = lua_gettop(L);
    for (int i = first; i <= top; ++i) {
        switch (lua_type(L, i)) {
            case LUA_TSTRING:
            case LUA_TNUMBER:
                break;
            case LUA_TTABLE:
                if (luaL_callmeta(L, i, "__tostring"))
                    lua_replace(L, i);  // else JSON, in join_log_args
                break;
            case LUA_TNIL:
                lua_pushliteral(L, "nil");
                lua_replace(L, i);
                break;
            case LUA_TBOOLEAN:
                lua_pushstring(L, lua_toboolean(L, i) ? "true" : "false");
                lua_replace(L, i);
                break;
            case LUA_TLIGHTUSERDATA:
                if (is_null(L, i)) {
                    lua_pushliteral(L, "null");
                    lua_replace(L, i);
                    break;
                }
                [[fallthrough]];
            default:
                lua_pushfstring(L, "%s: %p", luaL_typename(L, i), lua_topointer(L, i));
                lua_replace(L, i);
        }
    }
}

std::string join_log_args(lua_State* L, int first) {
    std::string out;
    int top = lua_gettop(L);
    for (int i = first; i <= top; ++i) {
        if (i > first) out += ' ';
        if (lua_type(L, i) == LUA_TTABLE) {
            try {
                out += to_json(L, i).dump();
            } catch (const std::exception&) {
                out += "table: " +
                       std::to_string(reinterpret_cast<std::uintptr_t>(lua_topointer(L, i)));
            }
        } else {
            size_t n = 0;
            const char* s = lua_tolstring(L, i, &n);
            out.append(s, n);
        }
    }
    return out;
}

void register_log(lua_State* L, int sandbox) {
    static const luaL_Reg functions[] = {
        {"debug", bind<log_at<debug_level>>},
        {"info", bind<log_at<info_level>>},
        {"warn", bind<log_at<warn_level>>},
        {"error", bind<log_at<error_level>>},
        {nullptr, nullptr},
    };
    lua_newtable(L);
    luaL_register(L, nullptr, functions);
    lua_setfield(L, sandbox, "log");
    lua_pushcfunction(L, bind<log_at<info_level>>);
    lua_setfield(L, sandbox, "print");
}

}  // namespace moonshift::lua
