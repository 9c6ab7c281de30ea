// The `backfill` function: backfill{table=, key=, where=, set=|transform=,
// batch=, throttle=, keep_before=} declares batched data work that the host
// runs after the migration's DDL committed (host/backfill/). Also reads a
// migration's `backfill` field, and calls transforms and pause_when
// predicates for the runner (through runtime.cpp's call windows).
#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

#include "common/error.hpp"
#include "common/text.hpp"
#include "lua/backfill_lua.hpp"
#include "lua/boundary.hpp"
#include "lua/convert.hpp"
#include "lua/modules.hpp"

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

backfill_spec read_one(const reader& r, int t) {
    lua_State* L = r.L;
    r.check_keys(t, options_allowed, "backfill{...}");
    backfill_spec s;
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
    if (r.get(t, "keep_before") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TBOOLEAN) r.fail("keep_before must be true or false");
        s.keep_before = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    if (r.get(t, "lock_timeout") != LUA_TNIL) s.lock_timeout = r.duration(-1, "lock_timeout");
    lua_pop(L, 1);
    return s;
}

// backfill{...}: declares; the host runs it once the migration's DDL committed.
int backfill_declare(lua_State* L) {
    host& h = host_of(L);
    if (lua_type(L, 1) != LUA_TTABLE) arg_error(L, "backfill", 1, 1, "a table of options");
    if (!h.in_call || h.loading || h.current != phase::up)
        luaL_error(L, "backfill{...} is only available while a migration's up runs (here: %s)",
                   h.loading ? "while the file loads" : phase_name(h.current));
    lua_settop(L, 1);
    std::string at = where(L, 1);
    std::string file = at, line_text;
    if (auto colon = at.rfind(':'); colon != std::string::npos) {
        file = at.substr(0, colon);
        line_text = at.substr(colon + 1);
    }
    int line = line_text.empty() ? 0 : std::stoi(line_text);
    auto specs = read_backfill_specs(
        L, 1, file, line,
        h.call_label == file && file.find("backfill.lua") != std::string::npos ? "file" : "up");
    for (auto& s : specs) {
        // A function declared inside up could only be found again by running
        // up again, which a resume must not do (its DDL committed).
        if (s.origin == "up" && (s.has_transform() || s.pause_when_ref != -2))
            throw error(exit_code::usage,
                        at + ": backfill: a transform or pause_when declared inside up() cannot be "
                             "resumed after a "
                             "crash without running up() again",
                        "declare it as the migration's field: return { up = ..., backfill = { ... "
                        "} } (or in a "
                        "folder's backfill.lua)");
        h.backfills.push_back(std::move(s));
    }
    return 0;
}

std::string unescape_copy(const char* p, std::size_t n, std::string& buf) {
    buf.clear();
    for (std::size_t i = 0; i < n; ++i) {
        if (p[i] != '\\' || i + 1 == n) {
            buf += p[i];
            continue;
        }
        char c = p[++i];
        switch (c) {
            case 'n':
                buf += '\n';
                break;
            case 't':
                buf += '\t';
                break;
            case 'r':
                buf += '\r';
                break;
            case 'b':
                buf += '\b';
                break;
            case 'f':
                buf += '\f';
                break;
            case 'v':
                buf += '\v';
                break;
            default:
                buf += c;
        }
    }
    return buf;
}

void append_copy_field(std::string& out, const std::string& v) {
    for (char c : v) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                out += c;
        }
    }
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

void run_transform(lua_State* L, const backfill_spec& s, transform_batch& b,
                   const std::function<int(int, int)>& call, const std::function<void(int)>& fail) {
    const int ncols = static_cast<int>(b.columns.size());
    if (!lua_checkstack(L, ncols + 16)) throw std::runtime_error("too many columns");
    int names = lua_gettop(L) + 1;
    for (auto& c : b.columns) lua_pushlstring(L, c.data(), c.size());
    std::vector<std::pair<const char*, std::size_t>> fields(b.columns.size());
    std::string buf, value;
    auto key_text = [&]() {
        std::string k;
        for (std::size_t i = 0; i < b.key_fields.size(); ++i) {
            auto& f = fields[b.key_fields[i]];
            k += (i ? ", " : "") + b.columns[b.key_fields[i]] + "=" +
                 unescape_copy(f.first, f.second, buf);
        }
        return k;
    };
    auto fail_row = [&](const std::string& message) {
        throw script_error(
            s.where_text() + ": backfill of " + s.table + ": row " + key_text() + ": " + message,
            s.file, s.line, {});
    };
    int base = lua_gettop(L);
    for (const auto& line : *b.lines) {
        // Split the COPY text line into fields (tabs are escaped inside values).
        std::size_t start = 0;
        for (int c = 0; c < ncols; ++c) {
            std::size_t end = line.find('\t', start);
            if (end == std::string::npos) end = line.size();
            fields[c] = {line.data() + start, end - start};
            start = end + 1;
        }
        lua_rawgeti(L, LUA_REGISTRYINDEX, s.transform_ref);
        lua_createtable(L, 0, ncols);
        for (int c = 0; c < ncols; ++c) {
            if (fields[c].second == 2 && fields[c].first[0] == '\\' && fields[c].first[1] == 'N')
                continue;
            lua_pushvalue(L, names + c);
            unescape_copy(fields[c].first, fields[c].second, value);
            push_pg_value(L, b.oids[c], value.data(), value.size());
            lua_rawset(L, -3);
        }
        int status = call(1, 1);
        if (status != 0) {
            std::string row = key_text();
            try {
                fail(status);
            } catch (const script_error& e) {
                std::string msg = e.what();
                auto nl = msg.find('\n');
                msg.insert(nl == std::string::npos ? msg.size() : nl,
                           " (backfill of " + s.table + ", row " + row + ")");
                throw script_error(msg, e.file(), e.line(), e.traceback(), e.sql(), e.query(),
                                   e.timed_out());
            }
            fail_row("the transform was skipped (ctx:skip is not allowed in a transform)");
        }
        int res = lua_gettop(L);
        if (lua_isnil(L, res) || (lua_type(L, res) == LUA_TBOOLEAN && !lua_toboolean(L, res))) {
            lua_settop(L, base);
            continue;  // nil: leave the row as it is
        }
        if (lua_type(L, res) != LUA_TTABLE)
            fail_row(std::string("the transform returned a ") + luaL_typename(L, res) +
                     "; return a table {column = value}, or nil to leave the row as it is");
        if (b.out_columns.empty()) {
            lua_pushnil(L);
            while (lua_next(L, res)) {
                lua_pop(L, 1);
                if (lua_type(L, -1) != LUA_TSTRING)
                    fail_row("the transform returned a table with a key that is not a column name");
                b.out_columns.emplace_back(lua_tostring(L, -1));
            }
            std::sort(b.out_columns.begin(), b.out_columns.end());
            if (b.out_columns.empty())
                fail_row(
                    "the transform returned an empty table; return nil to leave a row as it is");
        }
        for (auto f : b.key_fields) {
            b.out.append(fields[f].first, fields[f].second);
            b.out += '\t';
        }
        int seen = 0;
        for (std::size_t i = 0; i < b.out_columns.size(); ++i) {
            const auto& col = b.out_columns[i];
            lua_pushlstring(L, col.data(), col.size());
            lua_rawget(L, res);
            if (lua_isnil(L, -1))
                fail_row("the transform returned no value for \"" + col +
                         "\" (every row must return the same columns; use db.null for NULL)");
            ++seen;
            std::optional<std::string> v;
            try {
                v = param_text(L, -1, "column " + col);
            } catch (const std::exception& e) {
                fail_row(e.what());
            }
            if (!v)
                b.out += "\\N";
            else
                append_copy_field(b.out, *v);
            b.out += i + 1 < b.out_columns.size() ? '\t' : '\n';
            lua_pop(L, 1);
        }
        int total = 0;
        lua_pushnil(L);
        while (lua_next(L, res)) {
            lua_pop(L, 1);
            ++total;
        }
        if (total != seen) {
            std::string list;
            for (auto& c : b.out_columns) list += (list.empty() ? "" : ", ") + c;
            fail_row("the transform returned other columns than the first row did (" + list + ")");
        }
        ++b.changed;
        lua_settop(L, base);
    }
    lua_settop(L, names - 1);
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

void register_backfill(lua_State* L, int sandbox) {
    lua_pushcfunction(L, bind<backfill_declare>);
    lua_setfield(L, sandbox, "backfill");
}

}  // namespace moonshift::lua
