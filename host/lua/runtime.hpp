// The Lua runtime: one sandboxed LuaJIT state per run, the scripts it has
// loaded, and the phases it runs them in. This is the whole public surface of
// host/lua/; the engine needs nothing else (docs/lua-api.md is the user side).
#pragma once
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "db/session.hpp"
#include "lua/backfill_spec.hpp"
#include "lua/record.hpp"

struct lua_State;

namespace moonshift::lua {

// When a script runs. precheck, verify, check and hook see the database
// read-only (their work is always rolled back); up, down and run may write.
enum class phase { precheck, up, verify, down, check, hook, run };
const char* phase_name(phase p);  // "precheck", "up", ...
bool is_read_only(phase p);

struct log_line {
    std::string level;    // "info", "warn", "error", "debug"
    std::string message;  // already redacted
    std::string source;   // "migrations/002_backfill.lua:7", or "" when unknown
};

struct options {
    std::filesystem::path project_root;  // require("x.y") looks in <root>/scripts/x/y.lua
    std::string env_name;                // ctx.env
    bool dry_run = false;                // ctx.dry_run
    std::function<void(const log_line&)>
        log;  // print, log.*, ctx:log; nothing is printed without it
    // Variables for env.get, looked up before the process environment (.env files).
    std::map<std::string, std::string> variables;
    // false (the default): LuaJIT runs as an interpreter and the count hook
    // stops any runaway script at its deadline. true: the JIT compiles hot
    // loops, which is faster, but a compiled pure-Lua loop that never calls
    // the host cannot be interrupted (LuaJIT runs no hooks in compiled code).
    bool jit = false;
    // [http] allow_hosts of moonshift.toml: the hosts the http module may
    // reach ("*.example.com" for subdomains); empty = any (http_module.cpp).
    std::vector<std::string> http_allow_hosts;
    // Time budget of a file's top-level code while load() runs it ([lua]
    // load; zero: none): a migration or lint rule that loops while loading.
    std::chrono::milliseconds load_budget{10000};
    // Bytes the Lua heap may hold ([lua] memory; zero: no limit). A script
    // over it stops with an error naming the limit; garbage is collected
    // before that is decided.
    std::size_t memory_limit = std::size_t(512) << 20;
    // Rows db:query (and db:try_query) may return; more is an error that
    // points to db:each, which streams.
    std::size_t query_row_limit = 100000;
};

struct migration_info {
    std::string version, name;
};

// A script error, located in the script: what() reads
// "migrations/002_backfill.lua:7: attempt to index a nil value", with DETAIL
// and HINT lines for a database error. Exit code migration_failed.
class script_error : public error {
  public:
    script_error(std::string message, std::string file, int line, std::string traceback,
                 std::optional<db::server_error> sql = {}, std::string query = {},
                 bool timed_out = false);
    const std::string& file() const noexcept { return file_; }  // "" when not located
    int line() const noexcept { return line_; }                 // 0 when not located
    const std::string& traceback() const noexcept { return traceback_; }
    // The server's error when a database call failed and the script did not catch it.
    const std::optional<db::server_error>& sql() const noexcept { return sql_; }
    const std::string& query() const noexcept { return query_; }
    bool timed_out() const noexcept { return timed_out_; }

  private:
    std::string file_, traceback_, query_;
    int line_;
    std::optional<db::server_error> sql_;
    bool timed_out_;
};

// ctx:fail(msg) (or a library check built on it): exit code check_failed.
// what() is "scripts/checks/users.lua:4: check failed: users has no primary key".
class check_failure : public error {
  public:
    check_failure(std::string reason, std::string file, int line, phase p);
    const std::string& reason() const noexcept { return reason_; }
    const std::string& file() const noexcept { return file_; }
    int line() const noexcept { return line_; }
    phase in_phase() const noexcept { return phase_; }

  private:
    std::string reason_, file_;
    int line_;
    phase phase_;
};

// What a run of one function returned.
struct outcome {
    bool ran = false;      // false when the script has no such function (a no-op)
    bool skipped = false;  // the script called ctx:skip(reason)
    std::string skip_reason;
    std::string skip_source;  // file:line of the ctx:skip call
};

// The kind of value a field of a loaded table must hold.
enum class value_type { function, boolean, string, table };
struct field {
    std::string name;
    value_type type = value_type::function;
};

// precheck, up, verify, down (functions), transaction (boolean), description (string),
// backfill (a table: docs/backfills.md).
const std::vector<field>& migration_fields();

class runtime;

// The table a script file returned, read once at load into typed slots.
// A script must not outlive its runtime's use (it is released when either goes).
class script {
  public:
    script() = default;  // empty: has() is false for everything; not runnable
    script(script&&) noexcept;
    script& operator=(script&&) noexcept;
    script(const script&) = delete;
    script& operator=(const script&) = delete;
    ~script();

    const std::string& label() const { return label_; }
    bool has(const std::string& name) const;  // the field is present (not nil)
    std::optional<bool> boolean(const std::string& name) const;
    std::optional<std::string> string(const std::string& name) const;

  private:
    friend class runtime;
    void read_table(lua_State* L, int t, const std::vector<field>& fields);
    std::string label_;
    int ref_ = -2;  // LUA_NOREF
    std::map<std::string, value_type> present_;
    std::map<std::string, bool> booleans_;
    std::map<std::string, std::string> strings_;
    std::weak_ptr<void> owner_;  // expires with the runtime
    void* state_ = nullptr;      // lua_State*, valid while owner_ lives
};

class runtime {
  public:
    // session may be null: then every db call raises "no database connection".
    runtime(db::session* session, options o);
    ~runtime();
    runtime(runtime&&) noexcept;
    runtime& operator=(runtime&&) noexcept;

    // Loads a file that returns a table (a migration, a hook file). label is
    // its project-relative path, used as the chunk name, so messages read
    // "migrations/002_backfill.lua:7: ...". With fields empty, any key is
    // allowed; otherwise an unknown key or a value of the wrong type is an
    // error naming the key and the file. Throws script_error.
    script load(const std::string& label, const std::string& source,
                const std::vector<field>& fields);
    script load_migration(const std::string& label, const std::string& source) {
        return load(label, source, migration_fields());
    }

    // Calls script[key](db, ctx) in phase p. A missing key is a no-op
    // (outcome::ran == false). Throws script_error or check_failure.
    outcome run_phase(const script& s, const std::string& key, phase p,
                      const migration_info* m = nullptr);

    // Runs a whole file (a project check, a verification, `moonshift run
    // FILE.lua ARGS`): the chunk gets args as `...` and ctx.args; when it
    // returns a function, that is called with (db, ctx) too.
    outcome run_file(const std::string& label, const std::string& source, phase p,
                     const std::vector<std::string>& args = {});

    // Calls handler script[event](data, ctx) of a hook file in phase hook,
    // with data converted from JSON. A missing handler is a no-op.
    outcome run_hook(const script& s, const std::string& event, const nlohmann::json& data);

    // Calls script[key](args...) in phase p, the arguments converted from
    // JSON (no db/ctx arguments), and returns its first result as JSON (null
    // when it returned nothing or the key is missing). Used for lint rules,
    // which get a statement and answer with findings. Throws script_error or
    // check_failure; a result that is not data (a function) is a script_error.
    nlohmann::json call(const script& s, const std::string& key, phase p,
                        const std::vector<nlohmann::json>& args);
    // The same for many scripts and one argument, an object given as its
    // named parts, converted to Lua once and shared by every call (lint: one
    // statement, every rule that looks at it). results[i] is script i's
    // answer. A failure throws as above, with *failed (when given) set to
    // the index of the script that raised.
    std::vector<nlohmann::json> call_each(const std::vector<const script*>& scripts,
                                          const std::string& key, phase p, const json_record& arg,
                                          std::size_t* failed = nullptr);

    // Time budget of every following run_* call, counted from its start;
    // zero (the default) means none. The time spent in SQL counts too, but a
    // single statement is bounded by PostgreSQL's statement_timeout.
    // A wall-clock watchdog enforces it even inside C functions: past the
    // deadline a hook stops Lua code, a grace period later the session's
    // statement is cancelled. Returns the budget it replaces.
    std::chrono::milliseconds set_deadline(std::chrono::milliseconds budget);

    // Backfills (backfill_module.cpp, docs/backfills.md). take_backfills:
    // what backfill{...} declared since the last take. backfills_of: the
    // script's `backfill` field (throws error(usage) for a bad option).
    std::vector<backfill_spec> take_backfills();
    std::vector<backfill_spec> backfills_of(const script& s, int line);
    // Calls the spec's transform for every row of the batch (phase up). A
    // failure throws script_error naming the row's key, with the traceback.
    void transform(const backfill_spec& s, transform_batch& b, const migration_info* m);
    // The spec's throttle.pause_when(health): "" to go on, else why to wait.
    std::string pause_reason(const backfill_spec& s, const nlohmann::json& health);

    // Bytes held by the Lua heap, for tests and benchmarks.
    std::size_t memory_bytes() const;

    struct impl;

  private:
    std::unique_ptr<impl> impl_;
};

}  // namespace moonshift::lua
