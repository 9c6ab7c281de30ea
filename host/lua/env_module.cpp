// The `env` module: variables from the project's .env files, then the
// process environment. A value read under a secret-looking name (PASSWORD,
// API_TOKEN, ...) is remembered and replaced by *** in every log line.
#include <cstdlib>
#include <optional>
#include <string>

#include "common/text.hpp"
#include "lua/boundary.hpp"
#include "lua/host.hpp"
#include "lua/modules.hpp"

namespace moonshift::lua {
namespace {

std::optional<std::string> lookup(host& h, const std::string& name) {
    std::optional<std::string> value;
    if (auto it = h.opts.variables.find(name); it != h.opts.variables.end())
        value = it->second;
    else if (const char* v = std::getenv(name.c_str()))
        value = v;
    // Registered once for the whole process: every later message, log line and report hides it.
    if (value && text::is_secret_name(name)) text::add_secret(*value);
    return value;
}

// env.get(name [, default])
int env_get(lua_State* L) {
    check_text(L, 1, "env.get", 1, "a variable name (a string)");
    lua_settop(L, 2);
    auto value = lookup(host_of(L), lua_tostring(L, 1));
    if (!value) return 1;  // the default, or nil
    lua_pushlstring(L, value->data(), value->size());
    return 1;
}

// env.require(name): the value, or an error when it is missing or empty.
int env_require(lua_State* L) {
    check_text(L, 1, "env.require", 1, "a variable name (a string)");
    std::string name = lua_tostring(L, 1);
    auto value = lookup(host_of(L), name);
    if (!value || value->empty())
        throw usage_error("variable " + name + " is not set",
                          "set it in the environment or in the project's .env file");
    lua_pushlstring(L, value->data(), value->size());
    return 1;
}

}  // namespace

void register_env(lua_State* L, int sandbox) {
    static const luaL_Reg functions[] = {
        {"get", bind<env_get>},
        {"require", bind<env_require>},
        {nullptr, nullptr},
    };
    lua_newtable(L);
    luaL_register(L, nullptr, functions);
    lua_setfield(L, sandbox, "env");
}

}  // namespace moonshift::lua
