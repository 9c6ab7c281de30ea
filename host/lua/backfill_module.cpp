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

void register_backfill(lua_State* L, int sandbox) {
    lua_pushcfunction(L, bind<backfill_declare>);
    lua_setfield(L, sandbox, "backfill");
}

}  // namespace moonshift::lua
