// The protected call path into Lua and the exception firewall out of C++.
#include "lua/boundary.hpp"

#include <cstdlib>

#include "lua/host.hpp"

namespace moonshift::lua {
namespace {

// Registry slot holding the error value whose traceback last_traceback is,
// so an error a binding re-raises keeps the traceback of where it began.
const char traceback_owner_key = 0;
const char message_handler_key = 0;

int message_handler(lua_State* L) {
    host& h = host_of(L);
    lua_pushlightuserdata(L, const_cast<char*>(&traceback_owner_key));
    lua_rawget(L, LUA_REGISTRYINDEX);
    bool same = lua_rawequal(L, 1, -1);
    lua_pop(L, 1);
    if (same) return 1;
    luaL_traceback(L, L, nullptr, 1);
    size_t n = 0;
    const char* tb = lua_tolstring(L, -1, &n);
    try {
        h.last_traceback.assign(tb, n);
    } catch (const std::exception&) {
        // Out of memory while failing: the error itself matters more.
    }
    lua_pop(L, 1);
    lua_pushlightuserdata(L, const_cast<char*>(&traceback_owner_key));
    lua_pushvalue(L, 1);
    lua_rawset(L, LUA_REGISTRYINDEX);
    return 1;
}

std::string hint_for(const host& h, const db::server_error& e) {
    if (!e.hint.empty()) return e.hint;
    if (e.sqlstate == "25P02")
        return "an earlier statement in this transaction failed; run statements that may fail "
               "with db:try_query/db:try_exec or inside db:transaction(fn)";
    if (e.sqlstate == "25006" && is_read_only(h.current))
        return std::string("phase \"") + phase_name(h.current) + "\" is read-only";
    return {};
}

void set_string(lua_State* L, const char* key, const std::string& value) {
    if (value.empty()) return;
    lua_pushlstring(L, value.data(), value.size());
    lua_setfield(L, -2, key);
}

}  // namespace

int protected_call(lua_State* L, int nargs, int nresults) {
    int fn = lua_gettop(L) - nargs;
    // The handler function is made once (pushing a C function allocates a
    // closure each time, and db:each calls this per row).
    lua_pushlightuserdata(L, const_cast<char*>(&message_handler_key));
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushcfunction(L, message_handler);
        lua_pushlightuserdata(L, const_cast<char*>(&message_handler_key));
        lua_pushvalue(L, -2);
        lua_rawset(L, LUA_REGISTRYINDEX);
    }
    lua_insert(L, fn);
    int status = lua_pcall(L, nargs, nresults, fn);
    lua_remove(L, fn);
    return status;
}

void call_or_throw(lua_State* L, int nargs, int nresults) {
    if (protected_call(L, nargs, nresults) != 0) throw lua_raise(luaL_ref(L, LUA_REGISTRYINDEX));
}

void push_control(lua_State* L, const char* kind, const std::string& message,
                  const std::string& at) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushlstring(L, message.data(), message.size());
    lua_setfield(L, -2, "message");
    lua_pushlstring(L, at.data(), at.size());
    lua_setfield(L, -2, "where");
    push_registry(L, &control_mt_key);
    lua_setmetatable(L, -2);
}

bool is_control(lua_State* L, int idx) {
    return lua_type(L, idx) == LUA_TTABLE && has_metatable(L, idx, &control_mt_key);
}

void push_sql_error(lua_State* L, const db::server_error& e, const std::string& query,
                    const std::string& at) {
    const host& h = host_of(L);
    lua_createtable(L, 0, 8);
    set_string(L, "sqlstate", e.sqlstate);
    lua_pushlstring(L, e.message.data(), e.message.size());
    lua_setfield(L, -2, "message");
    set_string(L, "detail", e.detail);
    set_string(L, "hint", hint_for(h, e));
    set_string(L, "context", e.context);
    set_string(L, "query", query);
    if (e.position > 0) {
        lua_pushinteger(L, e.position);
        lua_setfield(L, -2, "position");
    }
    lua_pushlstring(L, at.data(), at.size());
    lua_setfield(L, -2, "where");
    push_registry(L, &sql_error_mt_key);
    lua_setmetatable(L, -2);
}

namespace detail {

void stash(lua_State* L, const std::exception& e) noexcept {
    host& h = host_of(L);
    auto& p = h.pending;
    try {
        p = pending_error{};
        if (auto* r = dynamic_cast<const lua_raise*>(&e)) {
            p.what = pending_error::kind::value;
            p.ref = r->ref();
        } else if (auto* c = dynamic_cast<const control_raise*>(&e)) {
            p.what = pending_error::kind::control;
            p.control_kind = c->kind();
            p.message = c->message();
            p.location = c->location();
        } else if (auto* f = dynamic_cast<const db::sql_failure*>(&e);
                   f && f->info().sqlstate == "57014" && h.has_deadline &&
                   std::chrono::steady_clock::now() >= h.deadline) {
            // The watchdog cancelled the statement: the budget is what ended it.
            p.what = pending_error::kind::control;
            p.control_kind = "timeout";
            p.message = h.timeout_message();
            h.stopping = true;
        } else if (auto* f = dynamic_cast<const db::sql_failure*>(&e)) {
            p.what = pending_error::kind::sql;
            p.sql = f->info();
            p.query = f->query();
        } else {
            p.what = pending_error::kind::message;
            p.message = e.what();
        }
    } catch (const std::exception&) {
        p.what = pending_error::kind::message;
        p.message.clear();  // out of memory: push_stashed says so
    }
}

void push_stashed(lua_State* L) {
    host& h = host_of(L);
    auto& p = h.pending;
    std::string at = p.location.empty() ? where(L, 1) : p.location;
    switch (p.what) {
        case pending_error::kind::value:
            lua_rawgeti(L, LUA_REGISTRYINDEX, p.ref);
            luaL_unref(L, LUA_REGISTRYINDEX, p.ref);
            break;
        case pending_error::kind::control:
            push_control(L, p.control_kind.c_str(), p.message, at);
            break;
        case pending_error::kind::sql:
            push_sql_error(L, p.sql, p.query, at);
            break;
        default: {
            std::string msg = p.message.empty() ? std::string("out of memory") : p.message;
            if (!at.empty()) msg = at + ": " + msg;
            lua_pushlstring(L, msg.data(), msg.size());
        }
    }
    p = pending_error{};
}

}  // namespace detail

void arg_error(lua_State* L, const char* fn, int arg, int idx, const char* expected) {
    luaL_error(L, "%s: argument #%d must be %s, got %s", fn, arg, expected, luaL_typename(L, idx));
    std::abort();  // not reached: luaL_error does not return
}

const char* check_text(lua_State* L, int idx, const char* fn, int arg, const char* expected,
                       size_t* len) {
    // Strictly a string: lua_tolstring would also accept the number 42.
    if (lua_type(L, idx) != LUA_TSTRING) arg_error(L, fn, arg, idx, expected);
    return lua_tolstring(L, idx, len);
}

}  // namespace moonshift::lua
