// Shared rules of the http and mail modules.
#include "lua/net_access.hpp"

#include <algorithm>
#include <stdexcept>

#include "common/text.hpp"
#include "lua/boundary.hpp"

namespace moonshift::lua {

void check_net_call(lua_State* L, const char* fn) {
    const host& h = host_of(L);
    if (h.loading)
        luaL_error(L,
                   "%s: the network is not available while a file loads; use it inside the "
                   "functions the file "
                   "returns",
                   fn);
    switch (h.current) {
        case phase::hook:
        case phase::check:
        case phase::run:
            return;
        default:
            luaL_error(L,
                       "%s is not allowed in phase \"%s\": a network call there would hold the "
                       "migration's locks "
                       "while it waits; make it in a hook, a check or `moonshift run`",
                       fn, phase_name(h.current));
    }
}

void option_reader::wrong(const char* key, const char* expected) const {
    throw std::runtime_error(fn_ + ": option \"" + key + "\" must be " + expected + ", got " +
                             luaL_typename(L_, -1));
}

int option_reader::push(const char* key) const {
    lua_pushstring(L_, key);
    lua_rawget(L_, t_);
    return lua_type(L_, -1);
}

bool option_reader::has(const char* key) const {
    bool present = push(key) != LUA_TNIL;
    lua_pop(L_, 1);
    return present;
}

void option_reader::only(std::initializer_list<const char*> known) const {
    lua_pushnil(L_);
    while (lua_next(L_, t_)) {
        lua_pop(L_, 1);
        bool ok = false;
        std::string name = lua_type(L_, -1) == LUA_TSTRING ? lua_tostring(L_, -1) : "";
        for (const char* k : known) ok = ok || name == k;
        if (!ok) {
            std::string list;
            for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
            std::string shown = name.empty() ? std::string("a key of type ") + luaL_typename(L_, -1)
                                             : "\"" + name + "\"";
            lua_pop(L_, 1);
            throw std::runtime_error(fn_ + ": unknown option " + shown + "; options: " + list);
        }
    }
}

std::optional<std::string> option_reader::string(const char* key) const {
    int type = push(key);
    std::optional<std::string> out;
    if (type == LUA_TSTRING) {
        size_t n = 0;
        const char* s = lua_tolstring(L_, -1, &n);
        out = std::string(s, n);
    } else if (type != LUA_TNIL) {
        wrong(key, "a string");
    }
    lua_pop(L_, 1);
    return out;
}

std::optional<bool> option_reader::boolean(const char* key) const {
    int type = push(key);
    std::optional<bool> out;
    if (type == LUA_TBOOLEAN)
        out = lua_toboolean(L_, -1) != 0;
    else if (type != LUA_TNIL)
        wrong(key, "true or false");
    lua_pop(L_, 1);
    return out;
}

std::optional<int> option_reader::count(const char* key) const {
    int type = push(key);
    std::optional<int> out;
    if (type == LUA_TNUMBER && lua_tonumber(L_, -1) >= 0 && lua_tonumber(L_, -1) <= 100)
        out = static_cast<int>(lua_tonumber(L_, -1));
    else if (type != LUA_TNIL)
        wrong(key, "a whole number from 0 to 100");
    lua_pop(L_, 1);
    return out;
}

std::optional<std::chrono::milliseconds> option_reader::duration(const char* key) const {
    int type = push(key);
    std::optional<std::chrono::milliseconds> out;
    if (type == LUA_TNUMBER && lua_tonumber(L_, -1) >= 0) {
        out = std::chrono::milliseconds(static_cast<long long>(lua_tonumber(L_, -1) * 1000));
    } else if (type == LUA_TSTRING) {
        try {
            out = text::parse_duration(lua_tostring(L_, -1));
        } catch (const std::exception&) {
            wrong(key, "a number of seconds or a duration like \"5s\"");
        }
    } else if (type != LUA_TNIL) {
        wrong(key, "a number of seconds or a duration like \"5s\"");
    }
    lua_pop(L_, 1);
    return out;
}

std::optional<std::vector<std::string>> option_reader::strings(const char* key) const {
    int type = push(key);
    std::optional<std::vector<std::string>> out;
    if (type == LUA_TSTRING) {
        out = std::vector<std::string>{lua_tostring(L_, -1)};
    } else if (type == LUA_TTABLE) {
        out.emplace();
        int n = static_cast<int>(lua_objlen(L_, -1));
        for (int i = 1; i <= n; ++i) {
            lua_rawgeti(L_, -1, i);
            if (lua_type(L_, -1) != LUA_TSTRING) wrong(key, "a string or an array of strings");
            out->push_back(lua_tostring(L_, -1));
            lua_pop(L_, 1);
        }
    } else if (type != LUA_TNIL) {
        wrong(key, "a string or an array of strings");
    }
    lua_pop(L_, 1);
    return out;
}

net::header_list option_reader::headers(const char* key) const {
    int type = push(key);
    net::header_list out;
    if (type == LUA_TTABLE) {
        int t = lua_gettop(L_);
        lua_pushnil(L_);
        while (lua_next(L_, t)) {
            if (lua_type(L_, -2) != LUA_TSTRING ||
                (lua_type(L_, -1) != LUA_TSTRING && lua_type(L_, -1) != LUA_TNUMBER))
                wrong(key, "a table of header names and string values");
            out.emplace_back(lua_tostring(L_, -2), lua_tostring(L_, -1));
            lua_pop(L_, 1);
        }
        // Table order is not defined; a stable order keeps requests reproducible.
        std::sort(out.begin(), out.end());
    } else if (type != LUA_TNIL) {
        wrong(key, "a table of header names and string values");
    }
    lua_pop(L_, 1);
    return out;
}

std::chrono::milliseconds within_budget(const host& h, std::chrono::milliseconds timeout) {
    if (!h.has_deadline) return timeout;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        h.deadline - std::chrono::steady_clock::now());
    return std::max(std::chrono::milliseconds(1), std::min(timeout, left));
}

int push_failure(lua_State* L, const net::delivery_error& e) {
    const host& h = host_of(L);
    lua_pushnil(L);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, e.kind().c_str());
    lua_setfield(L, -2, "kind");
    std::string message = h.redact(e.what());
    lua_pushlstring(L, message.data(), message.size());
    lua_setfield(L, -2, "message");
    lua_pushinteger(L, e.status());
    lua_setfield(L, -2, "status");
    lua_pushinteger(L, e.attempts());
    lua_setfield(L, -2, "attempts");
    return 2;
}

}  // namespace moonshift::lua
