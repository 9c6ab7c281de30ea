// The rules every db:* call follows before it touches the connection: who
// may call (phase, loading, a COPY in progress), which statements may run
// (one, not transaction control), and the read-only savepoint of read-only
// phases. Shared by db_module.cpp and db_copy.cpp; runtime.cpp closes the
// read-only savepoint when a call ends.
#pragma once
#include <lua.hpp>
#include <string>

#include "lua/host.hpp"

namespace moonshift::lua {

enum class statement_use {
    none,   // no statement (db:transaction)
    any,    // one statement of any kind but transaction control or COPY STDIN/STDOUT
    query,  // one query that returns rows (a cursor can be declared for it)
};

// Raises a Lua error (call before building C++ objects) when fn cannot run
// now: not called as db:fn(...), no session, while a file loads, while a COPY
// streams, or a write in a read-only phase.
void check_db_call(lua_State* L, host& h, const char* fn, bool writes);

// Checks the statement (throws moonshift::error naming fn), enters the
// read-only guard on the first call of a read-only phase, and returns the
// session.
db::session& enter_db(host& h, const char* fn, const std::string& sql, statement_use use);

// Rolls back what a read-only phase did; nothing when it never used the db.
// Throws when the rollback fails.
void leave_read_only(host& h);
// After a call that used the database: throws error(lock_held) when the
// session took the run's lock and no longer holds it (a script released it).
void confirm_lock(host& h);
// The same on a path that is already failing: the guard's destructor rolls
// back and nothing is thrown.
void drop_read_only(host& h) noexcept;

}  // namespace moonshift::lua
