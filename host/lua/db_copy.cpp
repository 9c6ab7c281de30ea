// db:copy_out and db:copy_in: the COPY protocol, line by line, for moving
// many rows without building them all in memory.
#include <cstring>
#include <stdexcept>
#include <vector>

#include "lua/boundary.hpp"
#include "lua/convert.hpp"
#include "lua/db_access.hpp"
#include "lua/host.hpp"

namespace moonshift::lua {
namespace {

// One SQL identifier: plain (letters, digits, _ and $) or "double ""quoted""".
// Returns the length it spans at s, 0 when there is none. No allocation:
// this runs while a Lua error may still be raised.
std::size_t identifier_at(const char* s, std::size_t len) {
    if (len == 0) return 0;
    if (s[0] == '"') {
        for (std::size_t i = 1; i < len; ++i) {
            if (s[i] != '"') continue;
            if (i + 1 < len && s[i + 1] == '"') {
                ++i;
                continue;
            }
            return i > 1 ? i + 1 : 0;
        }
        return 0;
    }
    auto first = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    };
    if (!first(s[0])) return 0;
    std::size_t i = 1;
    while (i < len && (first(s[i]) || (s[i] >= '0' && s[i] <= '9') || s[i] == '$')) ++i;
    return i;
}

// "users", "public.users", "\"Odd Name\"": a table name, not SQL.
bool is_table_name(const char* s, std::size_t len) {
    std::size_t a = identifier_at(s, len);
    if (a == 0) return false;
    if (a == len) return true;
    if (s[a] != '.') return false;
    std::size_t b = identifier_at(s + a + 1, len - a - 1);
    return b > 0 && a + 1 + b == len;
}

bool is_column_name(const char* s, std::size_t len) {
    return len > 0 && identifier_at(s, len) == len;
}

// Plain lowercase names are quoted so reserved words ("order") work; quoted
// and mixed-case names are left as written (SQL folds the latter).
std::string quote_name(const std::string& name) {
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '$'))
            return name;
    return "\"" + name + "\"";
}

std::string quoted_table(const std::string& name) {
    if (name[0] != '"') {
        auto dot = name.find('.');
        if (dot != std::string::npos && name.find('"') == std::string::npos)
            return quote_name(name.substr(0, dot)) + "." + quote_name(name.substr(dot + 1));
    }
    return name.find('"') == std::string::npos ? quote_name(name) : name;
}

void append_copy_field(std::string& out, const std::optional<std::string>& v) {
    if (!v) {
        out += "\\N";
        return;
    }
    for (char c : *v) {
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

struct busy_scope {
    host& h;
    busy_scope(host& hh, const char* what) : h(hh) { h.busy = what; }
    ~busy_scope() { h.busy = nullptr; }
};

// db:copy_out(table_or_query, fn [, {format = "csv", header = true}])
int db_copy_out_impl(lua_State* L) {
    host& h = host_of(L);
    const char* fn = "db:copy_out";
    check_db_call(L, h, fn, false);
    size_t len = 0;
    const char* source = check_text(L, 2, fn, 1, "a table name or a query (a string)", &len);
    if (lua_type(L, 3) != LUA_TFUNCTION)
        arg_error(L, fn, 2, 3, "a function to call with each line");
    bool csv = false, header = false;
    if (!lua_isnoneornil(L, 4)) {
        if (lua_type(L, 4) != LUA_TTABLE) arg_error(L, fn, 3, 4, "an options table");
        lua_pushliteral(L, "format");
        lua_rawget(L, 4);
        const char* format = lua_tostring(L, -1);
        if (format && std::strcmp(format, "csv") == 0)
            csv = true;
        else if (format && std::strcmp(format, "text") != 0)
            luaL_error(L, "%s: format must be \"text\" or \"csv\", got \"%s\"", fn, format);
        lua_pushliteral(L, "header");
        lua_rawget(L, 4);
        header = lua_toboolean(L, -1);
        lua_settop(L, 3);
    }
    if (header && !csv) luaL_error(L, "%s: header = true needs format = \"csv\"", fn);
    std::string src(source, len);
    bool table = is_table_name(source, len);
    db::session& session = enter_db(h, fn, table ? std::string() : src,
                                    table ? statement_use::none : statement_use::any);
    std::string sql = "COPY " + (table ? quoted_table(src) : "(" + src + ")") + " TO STDOUT";
    if (csv) sql += header ? " WITH (FORMAT csv, HEADER true)" : " WITH (FORMAT csv)";
    busy_scope busy(h, fn);
    long long lines = 0;
    long long rows = session.copy_out(sql, src, [&](const char* data, std::size_t n) {
        if (++lines % 1000 == 0) h.check_deadline();
        lua_pushvalue(L, 3);
        lua_pushlstring(L, data, n);
        call_or_throw(L, 1, 0);
    });
    lua_pushnumber(L, static_cast<double>(rows));
    return 1;
}

// db:copy_in(table, {columns...}, rows): rows is an array of rows or a
// function returning the next row (nil at the end); a row is an array in
// column order or a table keyed by column name.
int db_copy_in_impl(lua_State* L) {
    host& h = host_of(L);
    const char* fn = "db:copy_in";
    check_db_call(L, h, fn, true);
    size_t len = 0;
    const char* table = check_text(L, 2, fn, 1, "a table name (a string)", &len);
    if (!is_table_name(table, len)) luaL_error(L, "%s: \"%s\" is not a table name", fn, table);
    if (lua_type(L, 3) != LUA_TTABLE) arg_error(L, fn, 2, 3, "an array of column names");
    int ncols = static_cast<int>(lua_objlen(L, 3));
    if (ncols == 0) luaL_error(L, "%s: the list of columns is empty", fn);
    for (int i = 1; i <= ncols; ++i) {
        lua_rawgeti(L, 3, i);
        size_t n = 0;
        const char* col = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : nullptr;
        if (!col || !is_column_name(col, n))
            luaL_error(L, "%s: column #%d is not a column name", fn, i);
        lua_pop(L, 1);
    }
    int rows_type = lua_type(L, 4);
    if (rows_type != LUA_TTABLE && rows_type != LUA_TFUNCTION)
        arg_error(L, fn, 3, 4, "an array of rows or a function returning the next row");
    lua_settop(L, 4);

    std::vector<std::string> columns;
    std::string sql = "COPY " + quoted_table(std::string(table, len)) + " (";
    for (int i = 1; i <= ncols; ++i) {
        lua_rawgeti(L, 3, i);
        columns.emplace_back(lua_tostring(L, -1));
        lua_pop(L, 1);
        sql += (i > 1 ? ", " : "") + quote_name(columns.back());
    }
    sql += ") FROM STDIN";
    db::session& session = enter_db(h, fn, {}, statement_use::none);
    busy_scope busy(h, fn);
    long long index = 0;
    long long count = session.copy_in(sql, sql, [&](std::string& out) {
        ++index;
        if (index % 1000 == 0) h.check_deadline();
        if (rows_type == LUA_TFUNCTION) {
            lua_pushvalue(L, 4);
            call_or_throw(L, 0, 1);
        } else {
            lua_rawgeti(L, 4, static_cast<int>(index));
        }
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            return false;
        }
        std::string row_name = std::string(fn) + ": row " + std::to_string(index);
        if (lua_type(L, -1) != LUA_TTABLE)
            throw std::runtime_error(row_name + " is a " + luaL_typename(L, -1) + ", not a table");
        int row = lua_gettop(L);
        bool by_name = lua_objlen(L, row) == 0;
        for (int i = 0; i < ncols; ++i) {
            if (by_name) {
                lua_pushlstring(L, columns[i].data(), columns[i].size());
                lua_rawget(L, row);  // raw: no metamethod may raise a Lua error here
            } else
                lua_rawgeti(L, row, i + 1);
            if (i > 0) out += '\t';
            append_copy_field(out, param_text(L, -1, row_name + ", column " + columns[i]));
            lua_pop(L, 1);
        }
        out += '\n';
        lua_pop(L, 1);
        return true;
    });
    lua_pushnumber(L, static_cast<double>(count));
    return 1;
}

}  // namespace

int db_copy_out(lua_State* L) { return db_copy_out_impl(L); }
int db_copy_in(lua_State* L) { return db_copy_in_impl(L); }

}  // namespace moonshift::lua
