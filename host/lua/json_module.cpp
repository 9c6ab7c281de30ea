// The `json` module: encode and decode with nlohmann::json, json.null for
// null, and markers for empty arrays/objects so they round-trip.
#include <cstring>
#include <string>

#include "lua/boundary.hpp"
#include "lua/convert.hpp"
#include "lua/host.hpp"
#include "lua/modules.hpp"

namespace moonshift::lua {
namespace {

// json.encode(value [, {indent = 2}])
int json_encode(lua_State* L) {
    if (lua_isnone(L, 1)) arg_error(L, "json.encode", 1, 1, "a value");
    int indent = -1;
    if (!lua_isnoneornil(L, 2)) {
        if (lua_type(L, 2) != LUA_TTABLE) arg_error(L, "json.encode", 2, 2, "an options table");
        lua_pushliteral(L, "indent");
        lua_rawget(L, 2);
        if (lua_type(L, -1) == LUA_TNUMBER) indent = static_cast<int>(lua_tonumber(L, -1));
        lua_pop(L, 1);
    }
    std::string out;
    try {
        out = to_json(L, 1).dump(indent);
    } catch (const nlohmann::json::exception&) {
        throw std::runtime_error("json.encode: a string is not valid UTF-8");
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(std::string("json.encode: cannot encode ") + e.what());
    }
    lua_pushlstring(L, out.data(), out.size());
    return 1;
}

int json_decode(lua_State* L) {
    size_t len = 0;
    const char* text = check_text(L, 1, "json.decode", 1, "JSON text (a string)", &len);
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text, text + len);
    } catch (const nlohmann::json::parse_error& e) {
        // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." without the tag
        std::string msg = e.what();
        auto tag = msg.find("] ");
        throw std::runtime_error("json.decode: " +
                                 (tag == std::string::npos ? msg : msg.substr(tag + 2)));
    }
    push_json(L, j);
    return 1;
}

template <const char* Key>
int mark(lua_State* L) {
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    push_registry(L, Key);
    lua_setmetatable(L, 1);
    return 1;
}

}  // namespace

void register_json(lua_State* L, int sandbox) {
    static const luaL_Reg functions[] = {
        {"encode", bind<json_encode>},
        {"decode", bind<json_decode>},
        {"array", bind<mark<&json_array_mt_key>>},
        {"object", bind<mark<&json_object_mt_key>>},
        {nullptr, nullptr},
    };
    lua_newtable(L);
    luaL_register(L, nullptr, functions);
    push_null(L);
    lua_setfield(L, -2, "null");
    lua_setfield(L, sandbox, "json");
}

}  // namespace moonshift::lua
