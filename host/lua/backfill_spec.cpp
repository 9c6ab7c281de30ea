// Reading a backfill's declaration (a Lua table) into backfill_spec, with
// errors that name the option at fault; and the spec's data as JSON for the
// checkpoint of the migration's DDL.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/error.hpp"
#include "common/text.hpp"
#include "lua/backfill_lua.hpp"

namespace moonshift::lua {
namespace {

const char* const options_allowed[] = {"table",       "key",         "where", "set",
                                       "transform",   "columns",     "batch", "throttle",
                                       "keep_before", "lock_timeout"};
const char* const throttle_allowed[] = {"max_rows_per_second", "max_replication_lag",
                                        "max_transaction_age", "pause_during_autovacuum",
                                        "pause_when"};
const char* const batch_allowed[] = {"size", "target", "min", "max", "start"};

struct reader {
    lua_State* L;
    std::string at;  // "migrations/002_x.lua:7"

    [[noreturn]] void fail(const std::string& what, const std::string& hint = {}) const {
        throw error(exit_code::usage, at + ": backfill: " + what,
                    hint.empty() ? "see docs/backfills.md for the options of backfill{...}" : hint);
    }
    std::string type_at(int idx) const { return luaL_typename(L, idx); }

    template <std::size_t N>
    void check_keys(int t, const char* const (&allowed)[N], const char* what) const {
        lua_pushnil(L);
        while (lua_next(L, t)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) != LUA_TSTRING)
                fail(std::string(what) + " has a key that is not a name");
            std::string k = lua_tostring(L, -1);
            if (std::find_if(std::begin(allowed), std::end(allowed),
                             [&](const char* a) { return k == a; }) == std::end(allowed)) {
                std::string list;
                for (auto* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
                lua_pop(L, 1);
                fail("unknown option \"" + k + "\" in " + what + "; allowed: " + list);
            }
        }
    }
    // Pushes t[key] (raw).
    int get(int t, const char* key) const {
        lua_pushstring(L, key);
        lua_rawget(L, t);
        return lua_type(L, -1);
    }
    std::string text(int idx, const std::string& name) const {
        if (lua_type(L, idx) != LUA_TSTRING)
            fail(name + " must be a string, not a " + type_at(idx));
        std::size_t n = 0;
        const char* s = lua_tolstring(L, idx, &n);
        return std::string(s, n);
    }
    std::chrono::milliseconds duration(int idx, const std::string& name) const {
        if (lua_type(L, idx) == LUA_TNUMBER)
            return std::chrono::milliseconds(static_cast<long long>(lua_tonumber(L, idx) * 1000));
        std::string s = text(idx, name);
        try {
            return text::parse_duration(s);
        } catch (const std::exception& e) {
            fail(name + " = \"" + s + "\" is not a duration: " + e.what());
        }
    }
    long long count(int idx, const std::string& name) const {
        if (lua_type(L, idx) != LUA_TNUMBER || lua_tonumber(L, idx) < 1 ||
            lua_tonumber(L, idx) != std::floor(lua_tonumber(L, idx)))
            fail(name + " must be a whole number of rows, at least 1");
        return static_cast<long long>(lua_tonumber(L, idx));
    }
};

bool plain_name(const std::string& s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '"' ||
              c == '$'))
            return false;
    return true;
}

// table and key.
void read_target(const reader& r, int t, backfill_spec& s) {
    lua_State* L = r.L;
    if (r.get(t, "table") == LUA_TNIL)
        r.fail("table is missing", "name the table: backfill { table = \"artworks\", ... }");
    s.table = r.text(-1, "table");
    if (!plain_name(s.table)) r.fail("table = \"" + s.table + "\" is not a table name");
    lua_pop(L, 1);
    int kt = r.get(t, "key");
    if (kt == LUA_TNIL) {
        s.key.push_back("id");
    } else if (kt == LUA_TSTRING) {
        s.key.push_back(lua_tostring(L, -1));
    } else if (kt == LUA_TTABLE) {
        int n = static_cast<int>(lua_objlen(L, -1));
        for (int i = 1; i <= n; ++i) {
            lua_rawgeti(L, -1, i);
            s.key.push_back(r.text(-1, "key[" + std::to_string(i) + "]"));
            lua_pop(L, 1);
        }
        if (s.key.empty()) r.fail("key is an empty list");
    } else {
        r.fail("key must be a column name or a list of them, not a " + r.type_at(-1));
    }
    lua_pop(L, 1);
    for (auto& k : s.key)
        if (!plain_name(k)) r.fail("key \"" + k + "\" is not a column name");
}

// where, and what changes: set (SQL), or transform (Lua) with its columns.
void read_change(const reader& r, int t, backfill_spec& s) {
    lua_State* L = r.L;
    if (r.get(t, "where") != LUA_TNIL) s.where = r.text(-1, "where");
    lua_pop(L, 1);
    if (r.get(t, "set") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TTABLE)
            r.fail("set must be a table {column = \"SQL expression\"}");
        int st = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, st)) {
            if (lua_type(L, -2) != LUA_TSTRING) r.fail("set has a key that is not a column name");
            std::string col = lua_tostring(L, -2);
            if (!plain_name(col)) r.fail("set: \"" + col + "\" is not a column name");
            s.set.emplace_back(col, r.text(-1, "set." + col));
            lua_pop(L, 1);
        }
        std::sort(s.set.begin(), s.set.end());
        if (s.set.empty())
            r.fail("set is empty", "name at least one column: set = { slug = \"lower(title)\" }");
    }
    lua_pop(L, 1);
    if (r.get(t, "transform") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TFUNCTION)
            r.fail("transform must be a function(row), not a " + r.type_at(-1));
        s.transform_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    } else {
        lua_pop(L, 1);
    }
    if (s.set.empty() == !s.has_transform())
        r.fail(s.set.empty() ? "give either set = {...} (SQL) or transform = function(row) ... end"
                             : "give set or transform, not both");
    if (r.get(t, "columns") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TTABLE) r.fail("columns must be a list of column names");
        int n = static_cast<int>(lua_objlen(L, -1));
        for (int i = 1; i <= n; ++i) {
            lua_rawgeti(L, -1, i);
            s.columns.push_back(r.text(-1, "columns[" + std::to_string(i) + "]"));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

// batch: a size, a target duration, or a table of both and their bounds.
void read_batch(const reader& r, int t, backfill_spec& s) {
    lua_State* L = r.L;
    int bt = r.get(t, "batch");
    if (bt == LUA_TNUMBER) {
        s.batch = r.count(-1, "batch");
    } else if (bt == LUA_TSTRING) {
        s.target = r.duration(-1, "batch");
    } else if (bt == LUA_TTABLE) {
        int b = lua_gettop(L);
        r.check_keys(b, batch_allowed, "batch");
        if (r.get(b, "size") != LUA_TNIL) s.batch = r.count(-1, "batch.size");
        lua_pop(L, 1);
        if (r.get(b, "target") != LUA_TNIL) s.target = r.duration(-1, "batch.target");
        lua_pop(L, 1);
        if (r.get(b, "min") != LUA_TNIL) s.min_batch = r.count(-1, "batch.min");
        lua_pop(L, 1);
        if (r.get(b, "max") != LUA_TNIL) s.max_batch = r.count(-1, "batch.max");
        lua_pop(L, 1);
        if (r.get(b, "start") != LUA_TNIL) s.start_batch = r.count(-1, "batch.start");
        lua_pop(L, 1);
        if (s.min_batch > s.max_batch) r.fail("batch.min is larger than batch.max");
    } else if (bt != LUA_TNIL) {
        r.fail("batch must be a number of rows, a target duration (\"250ms\") or a table");
    }
    lua_pop(L, 1);
    if (s.target.count() <= 0) r.fail("the batch target duration must be above zero");
}

void read_throttle(const reader& r, int t, backfill_spec& s) {
    lua_State* L = r.L;
    if (r.get(t, "throttle") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TTABLE) r.fail("throttle must be a table");
        int th = lua_gettop(L);
        r.check_keys(th, throttle_allowed, "throttle");
        if (r.get(th, "max_rows_per_second") != LUA_TNIL) {
            if (lua_type(L, -1) != LUA_TNUMBER || lua_tonumber(L, -1) <= 0)
                r.fail("throttle.max_rows_per_second must be a number above zero");
            s.max_rows_per_second = lua_tonumber(L, -1);
        }
        lua_pop(L, 1);
        if (r.get(th, "max_replication_lag") != LUA_TNIL) {
            s.max_replication_lag = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)
                                        ? std::chrono::milliseconds(0)
                                        : r.duration(-1, "throttle.max_replication_lag");
        }
        lua_pop(L, 1);
        if (r.get(th, "max_transaction_age") != LUA_TNIL)
            s.max_transaction_age = r.duration(-1, "throttle.max_transaction_age");
        lua_pop(L, 1);
        if (r.get(th, "pause_during_autovacuum") != LUA_TNIL)
            s.pause_during_autovacuum = lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (r.get(th, "pause_when") != LUA_TNIL) {
            if (lua_type(L, -1) != LUA_TFUNCTION)
                r.fail("throttle.pause_when must be a function(health)");
            s.pause_when_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        } else {
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

backfill_spec read_one(const reader& r, int t) {
    lua_State* L = r.L;
    r.check_keys(t, options_allowed, "backfill{...}");
    backfill_spec s;
    read_target(r, t, s);
    read_change(r, t, s);
    read_batch(r, t, s);
    read_throttle(r, t, s);
    if (r.get(t, "keep_before") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TBOOLEAN) r.fail("keep_before must be true or false");
        s.keep_before = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    if (r.get(t, "lock_timeout") != LUA_TNIL) s.lock_timeout = r.duration(-1, "lock_timeout");
    lua_pop(L, 1);
    return s;
}

}  // namespace

std::vector<backfill_spec> read_backfill_specs(lua_State* L, int idx, const std::string& file,
                                               int line, const std::string& origin) {
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    reader r{L, file + (line > 0 ? ":" + std::to_string(line) : "")};
    std::vector<backfill_spec> out;
    if (lua_type(L, idx) != LUA_TTABLE)
        r.fail("expected a table of options, got a " + r.type_at(idx));
    int top = lua_gettop(L);
    lua_rawgeti(L, idx, 1);
    bool list = lua_type(L, -1) == LUA_TTABLE;
    lua_settop(L, top);
    int n = list ? static_cast<int>(lua_objlen(L, idx)) : 1;
    for (int i = 1; i <= n; ++i) {
        if (list)
            lua_rawgeti(L, idx, i);
        else
            lua_pushvalue(L, idx);
        if (lua_type(L, -1) != LUA_TTABLE) r.fail("entry " + std::to_string(i) + " is not a table");
        auto s = read_one(r, lua_gettop(L));
        s.file = file;
        s.line = line;
        s.origin = origin;
        out.push_back(std::move(s));
        lua_settop(L, top);
    }
    return out;
}

nlohmann::json backfill_spec::to_json() const {
    nlohmann::json j = {{"table", table},
                        {"key", key},
                        {"where", where},
                        {"columns", columns},
                        {"batch", batch},
                        {"target_ms", target.count()},
                        {"min_batch", min_batch},
                        {"max_batch", max_batch},
                        {"start_batch", start_batch},
                        {"max_rows_per_second", max_rows_per_second},
                        {"max_replication_lag_ms", max_replication_lag.count()},
                        {"max_transaction_age_ms", max_transaction_age.count()},
                        {"pause_during_autovacuum", pause_during_autovacuum},
                        {"keep_before", keep_before},
                        {"transform", has_transform()},
                        {"file", file},
                        {"line", line},
                        {"origin", origin}};
    j["set"] = nlohmann::json::array();
    for (auto& [c, e] : set) j["set"].push_back({c, e});
    if (lock_timeout) j["lock_timeout_ms"] = lock_timeout->count();
    return j;
}

backfill_spec backfill_spec::from_json(const nlohmann::json& j) {
    backfill_spec s;
    s.table = j.value("table", "");
    s.key = j.value("key", std::vector<std::string>{});
    s.where = j.value("where", "");
    s.columns = j.value("columns", std::vector<std::string>{});
    s.batch = j.value("batch", 0LL);
    s.target = std::chrono::milliseconds(j.value("target_ms", 300LL));
    s.min_batch = j.value("min_batch", 100LL);
    s.max_batch = j.value("max_batch", 100000LL);
    s.start_batch = j.value("start_batch", 1000LL);
    s.max_rows_per_second = j.value("max_rows_per_second", 0.0);
    s.max_replication_lag = std::chrono::milliseconds(j.value("max_replication_lag_ms", 10000LL));
    s.max_transaction_age = std::chrono::milliseconds(j.value("max_transaction_age_ms", 0LL));
    s.pause_during_autovacuum = j.value("pause_during_autovacuum", false);
    s.keep_before = j.value("keep_before", false);
    s.file = j.value("file", "");
    s.line = j.value("line", 0);
    s.origin = j.value("origin", "up");
    for (auto& p : j.value("set", nlohmann::json::array()))
        s.set.emplace_back(p[0].get<std::string>(), p[1].get<std::string>());
    if (j.contains("lock_timeout_ms"))
        s.lock_timeout = std::chrono::milliseconds(j["lock_timeout_ms"].get<long long>());
    return s;
}

}  // namespace moonshift::lua
