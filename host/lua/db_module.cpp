// The `db` module: the script's handle on the run's own session. Parameters
// are always bound; transaction control is refused (the host owns the
// transaction); read-only phases refuse writes; db:try_* return nil, err.
#include <algorithm>
#include <cctype>

#include "common/error.hpp"
#include "db/pq.hpp"
#include "lua/boundary.hpp"
#include "lua/convert.hpp"
#include "lua/db_access.hpp"
#include "lua/host.hpp"
#include "lua/modules.hpp"

namespace moonshift::lua {
namespace {

constexpr int fetch_size = 1000;

db::pq::params collect_params(lua_State* L, int from, int to, const char* fn) {
    db::pq::params out;
    for (int i = from; i <= to; ++i)
        out.push_back(
            param_text(L, i, std::string(fn) + ": parameter $" + std::to_string(i - from + 1)));
    return out;
}

// Rows as tables keyed by column name; names are pushed once per result.
void push_row(lua_State* L, const PGresult* r, int row, int names) {
    int cols = PQnfields(r);
    lua_createtable(L, 0, cols);
    for (int c = 0; c < cols; ++c) {
        if (PQgetisnull(r, row, c)) continue;
        lua_pushvalue(L, names + c);
        push_pg_value(L, PQftype(r, c), PQgetvalue(r, row, c),
                      static_cast<std::size_t>(PQgetlength(r, row, c)));
        lua_rawset(L, -3);
    }
}

int push_names(lua_State* L, const PGresult* r) {
    int cols = PQnfields(r);
    if (!lua_checkstack(L, cols + 8)) throw std::runtime_error("too many columns");
    int first = lua_gettop(L) + 1;
    for (int c = 0; c < cols; ++c) lua_pushstring(L, PQfname(r, c));
    return first;
}

enum class shape { rows, scalar, affected };

void push_result(lua_State* L, const PGresult* r, shape s) {
    switch (s) {
        case shape::rows: {
            int names = push_names(L, r);
            int n = PQntuples(r);
            lua_createtable(L, n, 0);
            for (int i = 0; i < n; ++i) {
                push_row(L, r, i, names);
                lua_rawseti(L, -2, i + 1);
            }
            lua_replace(L, names);
            lua_settop(L, names);
            return;
        }
        case shape::scalar:
            if (PQntuples(r) == 0 || PQnfields(r) == 0 || PQgetisnull(r, 0, 0))
                lua_pushnil(L);
            else
                push_pg_value(L, PQftype(r, 0), PQgetvalue(r, 0, 0),
                              static_cast<std::size_t>(PQgetlength(r, 0, 0)));
            return;
        case shape::affected: {
            const char* n = PQcmdTuples(const_cast<PGresult*>(r));
            lua_pushnumber(L, n && *n ? std::atof(n) : 0);
            return;
        }
    }
}

// db:query / db:scalar / db:exec and their try_ forms.
int run_statement(lua_State* L, const char* fn, shape s, bool writes, bool try_form) {
    host& h = host_of(L);
    check_db_call(L, h, fn, writes);
    check_text(L, 2, fn, 1, "SQL text (a string)");
    std::string sql = lua_tostring(L, 2);
    PGconn* c = enter_db(h, fn, sql, statement_use::any);
    auto params = collect_params(L, 3, lua_gettop(L), fn);
    if (!try_form) {
        auto r = db::pq::exec(c, sql, params);
        push_result(L, r.get(), s);
        return 1;
    }
    std::optional<db::sql_failure> failed;
    bool savepoint = db::pq::in_transaction(c);
    std::string name = "moonshift_try_" + std::to_string(++h.counter);
    if (savepoint) db::pq::command(c, "SAVEPOINT " + name);
    try {
        auto r = db::pq::exec(c, sql, params);
        if (savepoint) db::pq::command(c, "RELEASE SAVEPOINT " + name);
        push_result(L, r.get(), s);
        return 1;
    } catch (const db::sql_failure& f) {
        failed = f;
    }
    if (savepoint)
        db::pq::command(c, "ROLLBACK TO SAVEPOINT " + name + "; RELEASE SAVEPOINT " + name);
    lua_pushnil(L);
    push_sql_error(L, failed->info(), failed->query(), where(L, 1));
    return 2;
}

int db_query(lua_State* L) { return run_statement(L, "db:query", shape::rows, false, false); }
int db_scalar(lua_State* L) { return run_statement(L, "db:scalar", shape::scalar, false, false); }
int db_exec(lua_State* L) { return run_statement(L, "db:exec", shape::affected, true, false); }
int db_try_query(lua_State* L) {
    return run_statement(L, "db:try_query", shape::rows, false, true);
}
int db_try_scalar(lua_State* L) {
    return run_statement(L, "db:try_scalar", shape::scalar, false, true);
}
int db_try_exec(lua_State* L) {
    return run_statement(L, "db:try_exec", shape::affected, true, true);
}

// db:each(sql, ..., fn): a server-side cursor read fetch_size rows at a time,
// so memory stays constant; fn(row) returning false stops early.
int db_each(lua_State* L) {
    host& h = host_of(L);
    const char* fn = "db:each";
    check_db_call(L, h, fn, false);
    check_text(L, 2, fn, 1, "SQL text (a string)");
    int top = lua_gettop(L);
    if (top < 3 || lua_type(L, top) != LUA_TFUNCTION)
        arg_error(L, fn, top - 1, top, "a function to call with each row (the last argument)");
    std::string sql = lua_tostring(L, 2);
    PGconn* c = enter_db(h, fn, sql, statement_use::query);
    auto params = collect_params(L, 3, top - 1, fn);
    std::string cursor = "moonshift_each_" + std::to_string(++h.counter);
    bool own = !db::pq::in_transaction(c);  // a cursor needs a transaction block
    if (own) db::pq::command(c, "BEGIN");
    long long count = 0;
    try {
        std::string prefix = "DECLARE " + cursor + " NO SCROLL CURSOR FOR ";
        db::pq::exec(c, prefix + sql, params, sql, static_cast<int>(prefix.size()));
        std::string fetch = "FETCH " + std::to_string(fetch_size) + " FROM " + cursor;
        for (bool more = true; more;) {
            h.check_deadline();
            auto r = db::pq::exec(c, fetch);
            int n = PQntuples(r.get());
            more = n == fetch_size;
            int names = push_names(L, r.get());
            for (int i = 0; i < n; ++i) {
                lua_pushvalue(L, top);
                push_row(L, r.get(), i, names);
                call_or_throw(L, 1, 1);
                ++count;
                bool stop = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
                lua_pop(L, 1);
                if (stop) {
                    more = false;
                    break;
                }
            }
            lua_settop(L, top);
        }
        db::pq::command(c, "CLOSE " + cursor);
        if (own) db::pq::command(c, "COMMIT");
    } catch (...) {  // C++ exceptions only reach here; rethrown after cleanup
        if (own)
            db::pq::command_quietly(c, "ROLLBACK");
        else if (!db::pq::transaction_failed(c))
            db::pq::command_quietly(c, "CLOSE " + cursor);
        throw;
    }
    lua_pushnumber(L, static_cast<double>(count));
    return 1;
}

// db:transaction(fn): a savepoint inside the run's transaction (a transaction
// of its own when there is none), released when fn returns, rolled back when
// it raises; the error goes on unchanged.
int db_transaction(lua_State* L) {
    host& h = host_of(L);
    const char* fn = "db:transaction";
    check_db_call(L, h, fn, false);
    if (lua_type(L, 2) != LUA_TFUNCTION) arg_error(L, fn, 1, 2, "a function");
    lua_settop(L, 2);
    PGconn* c = enter_db(h, fn, {}, statement_use::none);
    bool top = !db::pq::in_transaction(c);
    std::string name = "moonshift_tx_" + std::to_string(++h.counter);
    db::pq::command(c, top ? std::string("BEGIN") : "SAVEPOINT " + name);
    std::string undo = top ? std::string("ROLLBACK")
                           : "ROLLBACK TO SAVEPOINT " + name + "; RELEASE SAVEPOINT " + name;
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 1);
    if (protected_call(L, 1, LUA_MULTRET) != 0) {
        int ref = luaL_ref(L, LUA_REGISTRYINDEX);
        try {
            db::pq::command(c, undo);
        } catch (...) {
            luaL_unref(L, LUA_REGISTRYINDEX, ref);
            throw;
        }
        throw lua_raise(ref);
    }
    if (db::pq::transaction_failed(c)) {
        db::pq::command(c, undo);
        throw error(exit_code::migration_failed,
                    "db:transaction: a statement inside failed (its error was caught), so the "
                    "transaction was rolled back");
    }
    db::pq::command(c, top ? std::string("COMMIT") : "RELEASE SAVEPOINT " + name);
    return lua_gettop(L) - 2;
}

int db_array(lua_State* L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    push_registry(L, &pg_array_mt_key);
    lua_setmetatable(L, 1);
    return 1;
}

}  // namespace

int db_copy_out(lua_State* L);  // db_copy.cpp
int db_copy_in(lua_State* L);

void register_db(lua_State* L, int sandbox) {
    static const luaL_Reg functions[] = {
        {"query", bind<db_query>},
        {"scalar", bind<db_scalar>},
        {"exec", bind<db_exec>},
        {"try_query", bind<db_try_query>},
        {"try_scalar", bind<db_try_scalar>},
        {"try_exec", bind<db_try_exec>},
        {"each", bind<db_each>},
        {"transaction", bind<db_transaction>},
        {"copy_out", bind<db_copy_out>},
        {"copy_in", bind<db_copy_in>},
        {"array", bind<db_array>},
        {nullptr, nullptr},
    };
    lua_newtable(L);
    luaL_register(L, nullptr, functions);
    push_null(L);
    lua_setfield(L, -2, "null");
    lua_pushvalue(L, -1);
    host_of(L).db_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_setfield(L, sandbox, "db");
}

}  // namespace moonshift::lua
