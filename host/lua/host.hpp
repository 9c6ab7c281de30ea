// What every binding shares: the per-state `host` record (session, phase,
// deadline, secrets) kept in the Lua registry, and the registry keys of the
// runtime's own tables. Internal to host/lua/.
#pragma once
#include <chrono>
#include <lua.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "db/session.hpp"
#include "db/transaction.hpp"
#include "lua/backfill_spec.hpp"
#include "lua/runtime.hpp"

namespace moonshift::lua {

// A statement a script passed to db:*, checked once and remembered.
struct sql_verdict {
    std::string refusal;  // empty when the statement may run
    std::string kind;     // the parser's node ("SelectStmt"), "" when it could not tell
    // sql::server_access, refused in read-only phases; read the first time
    // such a phase sends the statement (it needs the parse tree).
    std::optional<std::vector<std::string>> outside;
};

// An exception a binding caught, kept until the trampoline raises it in Lua.
struct pending_error {
    enum class kind { none, value, control, sql, message } what = kind::none;
    int ref = LUA_NOREF;  // kind::value
    std::string control_kind, message, location;
    db::server_error sql;
    std::string query;
};

// The allocator wrapper's record: LuaJIT's own allocator (luaL_newstate's)
// and what the state holds through it.
struct memory_meter {
    lua_Alloc f = nullptr;
    void* ud = nullptr;
    std::size_t used = 0;
    std::size_t limit = 0;  // the [lua] memory setting; 0 = none
    bool exceeded = false;  // the call in progress went over; cleared after the call
};

struct host {
    lua_State* L = nullptr;
    db::session* session = nullptr;
    options opts;

    // The call in progress.
    bool in_call = false;
    bool loading = false;  // top-level code of a file that is being loaded
    phase current = phase::run;
    const migration_info* migration = nullptr;
    std::string call_label;  // the file whose function runs, for messages

    // Deadline of the call in progress; budget zero = none.
    std::chrono::milliseconds budget{0};
    std::chrono::milliseconds call_budget{
        0};  // of the call in progress (load_budget while loading)
    std::chrono::steady_clock::time_point deadline;
    bool has_deadline = false;

    // A time-out or the memory limit stopped the call in progress: the hook
    // stays quiet while the error unwinds (the message handler runs Lua too).
    bool stopping = false;
    memory_meter memory;
    // The call in progress used the database (the lock is checked after it).
    bool used_db = false;

    // Read-only phases enter their subtransaction lazily, on the first db
    // call, so a hook that never touches the database costs no round trip.
    // Resetting it rolls back what the phase did.
    bool read_only_pending = false;
    std::optional<db::subtransaction> read_only;

    // Set while db:copy_in / db:copy_out own the connection.
    const char* busy = nullptr;

    std::string last_traceback;  // written by the message handler
    pending_error pending;
    unsigned long counter = 0;  // unique savepoint and cursor names
    std::unordered_map<std::string, sql_verdict> verdicts;
    std::vector<backfill_spec> backfills;  // declared by backfill{...}, taken by the engine

    // Registry references of the runtime's own values.
    int sandbox_ref = LUA_NOREF;  // the shared globals every environment reads through
    int db_ref = LUA_NOREF;
    int ctx_ref = LUA_NOREF;       // what scripts see: a read-only view
    int ctx_data_ref = LUA_NOREF;  // the table behind it, which the host fills per call
    int modules_ref = LUA_NOREF;   // require's cache

    // Throws control_raise("timeout") when the budget of the call is spent,
    // control_raise("memory") when the heap is over its limit even after a
    // full collection.
    // `on` is the running thread (a coroutine's), for the collection.
    void check_deadline(lua_State* on = nullptr);
    void check_memory(lua_State* on = nullptr);
    std::string memory_message() const;
    // "script exceeded its time budget of 200 ms in phase "up""
    std::string timeout_message() const;
    std::string redact(const std::string& s) const;
    void emit_log(const std::string& level, const std::string& message,
                  const std::string& source) const;
    bool db_phase_writable() const { return !is_read_only(current); }
};

host& host_of(lua_State* L);
void bind_host(lua_State* L, host* h);

// Registry keys (addresses) of the shared metatables and the null sentinel.
extern const char null_key;            // lightuserdata: json.null == db.null
extern const char control_mt_key;      // ctx:fail / ctx:skip / time budget
extern const char sql_error_mt_key;    // {sqlstate, message, ...}
extern const char json_array_mt_key;   // a table that encodes as a JSON array even when empty
extern const char json_object_mt_key;  // a table that encodes as a JSON object even when empty
extern const char pg_array_mt_key;     // a table bound as a PostgreSQL array literal

void push_registry(lua_State* L, const char* key);  // pushes registry[key]
bool has_metatable(lua_State* L, int idx, const char* key);
void push_null(lua_State* L);
bool is_null(lua_State* L, int idx);

// "file:line" of the function `level` frames up (1 = the caller of the
// running C function), skipping C frames and the built-in library
// (builtin:...), so a message names the user's line; "" when there is none.
std::string where(lua_State* L, int level);

}  // namespace moonshift::lua
