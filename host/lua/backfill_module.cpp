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

namespace {

// One batch through the transform: a COPY text line in, the row's key and
// new values (COPY text) out. The column names stay on the Lua stack from
// `names_` on for the whole batch; run() takes them off when it is done.
class transform_rows {
  public:
    transform_rows(lua_State* L, const backfill_spec& s, transform_batch& b)
        : L_(L), s_(s), b_(b), ncols_(static_cast<int>(b.columns.size())), fields_(ncols_) {
        if (!lua_checkstack(L, ncols_ + 16)) throw std::runtime_error("too many columns");
        names_ = lua_gettop(L) + 1;
        for (auto& c : b.columns) lua_pushlstring(L, c.data(), c.size());
        base_ = lua_gettop(L);
    }
    transform_rows(const transform_rows&) = delete;
    transform_rows& operator=(const transform_rows&) = delete;

    void run(const std::function<int(int, int)>& call, const std::function<void(int)>& fail) {
        for (const auto& line : *b_.lines) {
            split(line);
            push_call();
            if (int status = call(1, 1); status != 0) failed(status, fail);
            int res = lua_gettop(L_);
            if (lua_isnil(L_, res) ||
                (lua_type(L_, res) == LUA_TBOOLEAN && !lua_toboolean(L_, res))) {
                lua_settop(L_, base_);
                continue;  // nil: leave the row as it is
            }
            if (lua_type(L_, res) != LUA_TTABLE)
                fail_row(std::string("the transform returned a ") + luaL_typename(L_, res) +
                         "; return a table {column = value}, or nil to leave the row as it is");
            if (b_.out_columns.empty()) learn_columns(res);
            append(res);
            ++b_.changed;
            lua_settop(L_, base_);
        }
        lua_settop(L_, names_ - 1);
    }

  private:
    // Splits the COPY text line into fields (tabs are escaped inside values).
    void split(const std::string& line) {
        std::size_t start = 0;
        for (int c = 0; c < ncols_; ++c) {
            std::size_t end = line.find('\t', start);
            if (end == std::string::npos) end = line.size();
            fields_[c] = {line.data() + start, end - start};
            start = end + 1;
        }
    }

    // The transform and the row as {column = value} (NULLs left out).
    void push_call() {
        lua_rawgeti(L_, LUA_REGISTRYINDEX, s_.transform_ref);
        lua_createtable(L_, 0, ncols_);
        for (int c = 0; c < ncols_; ++c) {
            if (fields_[c].second == 2 && fields_[c].first[0] == '\\' && fields_[c].first[1] == 'N')
                continue;
            lua_pushvalue(L_, names_ + c);
            unescape_copy(fields_[c].first, fields_[c].second, value_);
            push_pg_value(L_, b_.oids[c], value_.data(), value_.size());
            lua_rawset(L_, -3);
        }
    }

    // The script raised (or skipped): its error, naming the row.
    [[noreturn]] void failed(int status, const std::function<void(int)>& fail) {
        std::string row = key_text();
        try {
            fail(status);
        } catch (const script_error& e) {
            std::string msg = e.what();
            auto nl = msg.find('\n');
            msg.insert(nl == std::string::npos ? msg.size() : nl,
                       " (backfill of " + s_.table + ", row " + row + ")");
            throw script_error(msg, e.file(), e.line(), e.traceback(), e.sql(), e.query(),
                               e.timed_out());
        }
        fail_row("the transform was skipped (ctx:skip is not allowed in a transform)");
    }

    // The first returned table names the columns every row returns.
    void learn_columns(int res) {
        lua_pushnil(L_);
        while (lua_next(L_, res)) {
            lua_pop(L_, 1);
            if (lua_type(L_, -1) != LUA_TSTRING)
                fail_row("the transform returned a table with a key that is not a column name");
            b_.out_columns.emplace_back(lua_tostring(L_, -1));
        }
        std::sort(b_.out_columns.begin(), b_.out_columns.end());
        if (b_.out_columns.empty())
            fail_row("the transform returned an empty table; return nil to leave a row as it is");
    }

    // The row's key and its new values, one COPY text line.
    void append(int res) {
        for (auto f : b_.key_fields) {
            b_.out.append(fields_[f].first, fields_[f].second);
            b_.out += '\t';
        }
        int seen = 0;
        for (std::size_t i = 0; i < b_.out_columns.size(); ++i) {
            const auto& col = b_.out_columns[i];
            lua_pushlstring(L_, col.data(), col.size());
            lua_rawget(L_, res);
            if (lua_isnil(L_, -1))
                fail_row("the transform returned no value for \"" + col +
                         "\" (every row must return the same columns; use db.null for NULL)");
            ++seen;
            std::optional<std::string> v;
            try {
                v = param_text(L_, -1, "column " + col);
            } catch (const std::exception& e) {
                fail_row(e.what());
            }
            if (!v)
                b_.out += "\\N";
            else
                append_copy_field(b_.out, *v);
            b_.out += i + 1 < b_.out_columns.size() ? '\t' : '\n';
            lua_pop(L_, 1);
        }
        int total = 0;
        lua_pushnil(L_);
        while (lua_next(L_, res)) {
            lua_pop(L_, 1);
            ++total;
        }
        if (total != seen) {
            std::string list;
            for (auto& c : b_.out_columns) list += (list.empty() ? "" : ", ") + c;
            fail_row("the transform returned other columns than the first row did (" + list + ")");
        }
    }

    std::string key_text() {
        std::string k;
        for (std::size_t i = 0; i < b_.key_fields.size(); ++i) {
            auto& f = fields_[b_.key_fields[i]];
            k += (i ? ", " : "") + b_.columns[b_.key_fields[i]] + "=" +
                 unescape_copy(f.first, f.second, buf_);
        }
        return k;
    }

    [[noreturn]] void fail_row(const std::string& message) {
        throw script_error(
            s_.where_text() + ": backfill of " + s_.table + ": row " + key_text() + ": " + message,
            s_.file, s_.line, {});
    }

    lua_State* L_;
    const backfill_spec& s_;
    transform_batch& b_;
    int ncols_;
    std::vector<std::pair<const char*, std::size_t>> fields_;
    std::string buf_, value_;
    int names_ = 0, base_ = 0;
};

}  // namespace

void run_transform(lua_State* L, const backfill_spec& s, transform_batch& b,
                   const std::function<int(int, int)>& call, const std::function<void(int)>& fail) {
    transform_rows(L, s, b).run(call, fail);
}

void register_backfill(lua_State* L, int sandbox) {
    lua_pushcfunction(L, bind<backfill_declare>);
    lua_setfield(L, sandbox, "backfill");
}

}  // namespace moonshift::lua
