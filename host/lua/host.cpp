// The per-state host record and the registry helpers every binding uses.
#include "lua/host.hpp"

#include <algorithm>
#include <cstring>

#include "common/text.hpp"
#include "lua/boundary.hpp"

namespace moonshift::lua {
namespace {
const char host_key = 0;
}  // namespace

const char null_key = 0;
const char control_mt_key = 0;
const char sql_error_mt_key = 0;
const char json_array_mt_key = 0;
const char json_object_mt_key = 0;
const char pg_array_mt_key = 0;

void bind_host(lua_State* L, host* h) {
    lua_pushlightuserdata(L, const_cast<char*>(&host_key));
    lua_pushlightuserdata(L, h);
    lua_rawset(L, LUA_REGISTRYINDEX);
}

host& host_of(lua_State* L) {
    lua_pushlightuserdata(L, const_cast<char*>(&host_key));
    lua_rawget(L, LUA_REGISTRYINDEX);
    auto* h = static_cast<host*>(lua_touserdata(L, -1));
    lua_pop(L, 1);
    return *h;
}

void push_registry(lua_State* L, const char* key) {
    lua_pushlightuserdata(L, const_cast<char*>(key));
    lua_rawget(L, LUA_REGISTRYINDEX);
}

bool has_metatable(lua_State* L, int idx, const char* key) {
    if (!lua_getmetatable(L, idx)) return false;
    push_registry(L, key);
    bool same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same;
}

void push_null(lua_State* L) { lua_pushlightuserdata(L, const_cast<char*>(&null_key)); }

bool is_null(lua_State* L, int idx) {
    if (lua_type(L, idx) != LUA_TLIGHTUSERDATA) return false;
    return lua_touserdata(L, idx) == &null_key;
}

std::string where(lua_State* L, int level) {
    // C frames (pcall) and the host's own library say nothing to the user:
    // the line to show is the first one of the user's scripts.
    lua_Debug ar;
    for (int l = level; lua_getstack(L, l, &ar); ++l) {
        lua_getinfo(L, "Sl", &ar);
        if (ar.currentline <= 0 || std::strncmp(ar.short_src, "builtin:", 8) == 0 ||
            std::strcmp(ar.short_src, "[sandbox]") == 0)
            continue;
        return std::string(ar.short_src) + ":" + std::to_string(ar.currentline);
    }
    return {};
}

void host::check_deadline(lua_State* on) {
    if (has_deadline && std::chrono::steady_clock::now() >= deadline) {
        stopping = true;
        throw control_raise("timeout", timeout_message());
    }
    check_memory(on);
}

void host::check_memory(lua_State* on) {
    if (!memory.limit || (memory.used <= memory.limit && !memory.exceeded)) return;
    // Garbage counts until it is collected: collect before deciding, and
    // stop only when the live data stays near the limit.
    lua_gc(on ? on : L, LUA_GCCOLLECT, 0);
    if (memory.exceeded || memory.used > memory.limit / 8 * 7) {
        memory.exceeded = true;
        stopping = true;
        throw control_raise("memory", memory_message());
    }
}

std::string host::memory_message() const {
    return "script exceeded its memory limit of " + std::to_string(memory.limit >> 20) + " MB " +
           (loading ? std::string("while loading")
                    : std::string("in phase \"") + phase_name(current) + "\"") +
           " ([lua] memory in moonshift.toml; stream large results with db:each)";
}

std::string host::timeout_message() const {
    return "script exceeded its time budget of " + std::to_string(call_budget.count()) + " ms " +
           (loading ? std::string("while loading")
                    : std::string("in phase \"") + phase_name(current) + "\"");
}

std::string host::redact(const std::string& s) const { return text::redact(s); }

void host::emit_log(const std::string& level, const std::string& message,
                    const std::string& source) const {
    if (!opts.log) return;
    opts.log(log_line{level, redact(message), source});
}

}  // namespace moonshift::lua
