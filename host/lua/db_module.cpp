// The `db` module: the script's handle on the run's own session. Parameters
// are always bound; transaction control is refused (the host owns the
// transaction); read-only phases refuse writes; db:try_* return nil, err.
#include <algorithm>
#include <cctype>

#include "common/error.hpp"
#include "db/transaction.hpp"
#include "lua/boundary.hpp"
#include "lua/convert.hpp"
#include "lua/db_access.hpp"
#include "lua/host.hpp"
#include "lua/modules.hpp"

namespace moonshift::lua {
namespace {

constexpr int fetch_size = 1000;

db::params collect_params(lua_State* L, int from, int to, const char* fn) {
    db::params out;
    for (int i = from; i <= to; ++i)
        out.push_back(
            param_text(L, i, std::string(fn) + ": parameter $" + std::to_string(i - from + 1)));
    return out;
}

// Rows as tables keyed by column name; names are pushed once per result.
void push_row(lua_State* L, const db::row& row, int cols, int names) {
    lua_createtable(L, 0, cols);
    for (int c = 0; c < cols; ++c) {
        db::field f = row[c];
        if (f.is_null()) continue;
        lua_pushvalue(L, names + c);
        push_pg_value(L, f);
        lua_rawset(L, -3);
    }
}

int push_names(lua_State* L, const db::result& r) {
    int cols = r.columns();
    if (!lua_checkstack(L, cols + 8)) throw std::runtime_error("too many columns");
    int first = lua_gettop(L) + 1;
    for (int c = 0; c < cols; ++c) lua_pushstring(L, r.column_name(c));
    return first;
}

enum class shape { rows, scalar, affected };

void push_result(lua_State* L, const db::result& r, shape s) {
    switch (s) {
        case shape::rows: {
            std::size_t limit = host_of(L).opts.query_row_limit;
            if (limit && r.size() > limit)
                throw error(exit_code::migration_failed,
                            "db:query returned " + std::to_string(r.size()) +
                                " rows, more than its limit of " + std::to_string(limit) +
                                "; stream large results with db:each(sql, ..., fn), which "
                                "holds 1000 rows at a time");
            int names = push_names(L, r);
            int n = static_cast<int>(r.size()), cols = r.columns();
            lua_createtable(L, n, 0);
            for (int i = 0; i < n; ++i) {
                push_row(L, r[i], cols, names);
                lua_rawseti(L, -2, i + 1);
            }
            lua_replace(L, names);
            lua_settop(L, names);
            return;
        }
        case shape::scalar:
            if (r.empty() || r.columns() == 0 || r[0][0].is_null())
                lua_pushnil(L);
            else
                push_pg_value(L, r[0][0]);
            return;
        case shape::affected:
            lua_pushnumber(L, static_cast<double>(r.affected_rows()));
            return;
    }
}

// Closes a cursor on a path that is already failing.
void close_quietly(db::session& s, const std::string& cursor) {
    try {
        s.exec_script("CLOSE " + cursor);
    } catch (const error&) {
        // The connection is gone: that shows on the next statement, and the
        // error that fails this call is the one to report.
    }
}

// db:query / db:scalar / db:exec and their try_ forms.
int run_statement(lua_State* L, const char* fn, shape s, bool writes, bool try_form) {
    host& h = host_of(L);
    check_db_call(L, h, fn, writes);
    check_text(L, 2, fn, 1, "SQL text (a string)");
    std::string sql = lua_tostring(L, 2);
    db::session& session = enter_db(h, fn, sql, statement_use::any);
    auto params = collect_params(L, 3, lua_gettop(L), fn);
    if (!try_form) {
        push_result(L, session.query_with(sql, params), s);
        return 1;
    }
    // Inside a block a failed statement would fail the whole block: a
    // savepoint keeps it usable.
    std::optional<db::savepoint> sp;
    if (session.in_transaction())
        sp.emplace(session, "moonshift_try_" + std::to_string(++h.counter));
    std::optional<db::sql_failure> failed;
    try {
        auto r = session.query_with(sql, params);
        if (sp) sp->release();
        push_result(L, r, s);
        return 1;
    } catch (const db::sql_failure& f) {
        failed = f;
    }
    if (sp) sp->rollback();
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
    db::session& session = enter_db(h, fn, sql, statement_use::query);
    auto params = collect_params(L, 3, top - 1, fn);
    std::string cursor = "moonshift_each_" + std::to_string(++h.counter);
    // A cursor needs a transaction block: the open one, or one of its own.
    db::transaction tx(session, db::transaction::mode::join);
    long long count = 0;
    try {
        std::string prefix = "DECLARE " + cursor + " NO SCROLL CURSOR FOR ";
        session.query_shown(prefix + sql, params, sql, static_cast<int>(prefix.size()));
        std::string fetch = "FETCH " + std::to_string(fetch_size) + " FROM " + cursor;
        for (bool more = true; more;) {
            h.check_deadline();
            auto r = session.query_with(fetch, {});
            int n = static_cast<int>(r.size()), cols = r.columns();
            more = n == fetch_size;
            int names = push_names(L, r);
            for (int i = 0; i < n; ++i) {
                lua_pushvalue(L, top);
                push_row(L, r[i], cols, names);
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
    } catch (...) {  // C++ exceptions only reach here (a Lua error is a lua_raise); rethrown
        // An outer block goes on after the error (a script may catch it): the
        // cursor must not stay open in it. A block of its own rolls back.
        if (tx.joined() && !session.transaction_failed()) close_quietly(session, cursor);
        throw;
    }
    tx.commit("CLOSE " + cursor);  // joined: only the CLOSE
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
    db::session& session = enter_db(h, fn, {}, statement_use::none);
    std::optional<db::transaction> tx;
    std::optional<db::savepoint> sp;
    if (session.in_transaction())
        sp.emplace(session, "moonshift_tx_" + std::to_string(++h.counter));
    else
        tx.emplace(session);
    auto undo = [&] { sp ? sp->rollback() : tx->rollback(); };
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 1);
    if (protected_call(L, 1, LUA_MULTRET) != 0) {
        int ref = luaL_ref(L, LUA_REGISTRYINDEX);
        try {
            undo();
        } catch (const std::exception&) {
            luaL_unref(L, LUA_REGISTRYINDEX, ref);
            throw;
        }
        throw lua_raise(ref);
    }
    if (session.transaction_failed()) {
        undo();
        throw error(exit_code::migration_failed,
                    "db:transaction: a statement inside failed (its error was caught), so the "
                    "transaction was rolled back");
    }
    sp ? sp->release() : tx->commit();
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
