// The run lifecycle (DESIGN.md): open, plan, apply or roll back, close.
// The engine never prints: everything a person should see is an event.
#pragma once
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "backup/backup.hpp"
#include "catalog/catalog.hpp"
#include "db/session.hpp"
#include "engine/plan.hpp"
#include "history/history.hpp"
#include "project/config.hpp"

namespace moonshift::safety {
class guard;
}
namespace moonshift::lint {
class linter;
}
namespace moonshift::db {
class transaction;
}
namespace moonshift::rehearsal {
struct result;
}

namespace moonshift::sql {
struct statement;
}  // namespace moonshift::sql
namespace moonshift::lua {
enum class phase;
class runtime;
class script;
struct backfill_spec;
}  // namespace moonshift::lua

namespace moonshift::engine {
class engine;
class lease_keeper;
struct outcome;
struct import_options;
outcome import_history(engine& e, const import_options& o);
}  // namespace moonshift::engine
namespace moonshift::seed {
struct source;
nlohmann::json load(engine::engine& e, const source& src,
                    const std::function<void(const nlohmann::json&)>& loaded);
}  // namespace moonshift::seed

namespace moonshift::engine {

// run.start, run.planned, migration.start, migration.applied,
// migration.failed, migration.reverted, run.finish, and "log" lines
// ({level, message}) for progress that is not an event of the lifecycle.
struct event {
    std::string name;
    nlohmann::json data;
};
using sink = std::function<void(const event&)>;

// `moonshift wait`: connects until the server accepts connections, or throws
// error(migration_failed) after `timeout` naming the last refusal (admin.cpp).
void wait_until_ready(const std::string& url, std::chrono::milliseconds timeout);

struct context {
    project::config cfg;
    project::environment env;
    std::string url;  // resolved connection string (local cluster, interpolated url, ...)
    sink on_event;
    // Called once a run is over (its row finished, the lock released,
    // run.finish emitted) with its outcome and report; what it adds to the
    // report is saved with the run. Notification hooks record their
    // deliveries here. An exception from it fails a run whose outcome was
    // "ok" (a required hook failed); after any other outcome it is dropped.
    std::function<void(const std::string& outcome, nlohmann::json& report)> on_close;
    // Environments with approve = true (gate.cpp): asked before a change, with
    // a sentence saying what will change; true to go on. The CLI answers from
    // --yes or a typed confirmation on a TTY. Unset: refused.
    std::function<bool(const std::string& what)> confirm;
    // Promotion (gate.cpp): `up` applies only migrations applied and verified
    // with the same checksum in this environment (`promote_from`, `promote`).
    struct source_env {
        std::string name, url;
    };
    std::optional<source_env> promote_from;
    // The command will read the migrations folder (status, up, down, plan):
    // it is read and hashed on a second thread while the connection is made.
    bool read_catalog_early = false;
    // The command needs the folder's migrations and checksums, not their
    // contents (status): catalog::discover_summary, which reads no file while
    // its cache holds (catalog/summary.cpp).
    bool catalog_summary = false;
    // The command takes the run lock (up, down, redo): the lock's own session
    // connects beside the engine's (db::settings::lock_holder_early).
    bool takes_lock = false;
};

struct up_options {
    std::optional<std::string> to;    // apply up to and including this version
    bool single_transaction = false;  // all pending in one transaction
    bool out_of_order = false;        // also apply pending versions older than the newest applied
    bool dry_run = false;             // show what would run, change nothing
    bool to_source_head = false;      // promote: up to the newest version the source has applied
    // `up --lint=warn --reason R`: lint errors are warnings for this run, R is
    // recorded in the run's report (safety.lint.let_through).
    std::string lint_warn_reason;
    bool allow_irreversible = false;  // watch window or triggers: apply what cannot be rolled back
};

struct down_options {
    int steps = 1;
    bool restore_backup = false;    // no down script: put back the backup taken before it ran
    std::optional<std::string> to;  // roll back everything after this version
    bool dry_run = false;
    // Roll back even what cannot be undone in full (docs/rollback.md): the
    // reason is recorded in the run's report. Both or neither.
    bool force = false;
    std::string reason;
};

struct outcome {
    int count = 0;  // migrations applied / reverted / recorded
    nlohmann::json report = nlohmann::json::object();
};

// `moonshift backup create`: these tables (COPY), or the whole database (pg_dump).
struct backup_request {
    std::vector<std::string> tables;
    bool full = false;
    std::string reason;         // "by hand" when empty
    backup::progress progress;  // a line per table while it is copied
};

class run_scope;

class engine {
  public:
    explicit engine(context ctx);
    ~engine();

    catalog::catalog read_catalog() const;
    plan status();  // read-only, no lock
    outcome up(const up_options& o);
    outcome down(const down_options& o);
    outcome redo();
    outcome baseline(const std::string& version);
    outcome repair(const std::string& reason);
    // The recorded runs, newest first: of this environment, or of all.
    std::vector<history::run> runs(int limit, bool all_environments = false);
    // The linter with this database's table facts (`moonshift lint`).
    std::unique_ptr<lint::linter> make_linter();
    // `moonshift plan` (rehearse.cpp): the migrations run under the migration
    // lock in one transaction that is rolled back, measured one by one.
    rehearsal::result rehearse(const std::vector<const catalog::migration*>& pending);
    // The project's Lua (lua_steps.cpp): scripts/checks/*.lua before any
    // migration (and `moonshift check`), scripts/verify/*.lua after the last
    // one (and `moonshift verify`), and ad-hoc scripts (`moonshift run`).
    outcome check();
    outcome verify();
    outcome run_script(const std::string& file, const std::vector<std::string>& args);
    // Repeatable (R__) migrations and their state: [{name, file, state:
    // pending|applied|changed}] (repeatable.cpp).
    // `cat`: the catalog already read (status's), else the folder is read.
    nlohmann::json repeatables_status(const catalog::catalog* cat = nullptr);
    // Backfills (backfill_steps.cpp): `moonshift backfill status|pause|resume`,
    // from any process; no lock (the run that executes them holds it).
    nlohmann::json backfill_status();
    int backfill_pause(const std::string& version, bool pause);
    // Backups by hand (backups.cpp): list and find read; create, restore and
    // prune run under the lock in a recorded run ("backup create", ...).
    // restore's report: {backup, tables: [{table, into, rows, created,
    // reshaped}], duration_ms}.
    std::vector<backup::record> backup_list(int limit);
    std::optional<backup::record> backup_find(long long id);
    backup::record backup_create(const backup_request& rq);
    outcome backup_restore(const backup::record& r, const backup::restore_options& o);
    backup::prune_result backup_prune(bool dry_run);

    const context& ctx() const { return ctx_; }

  private:
    // The engine's own step files that are free functions reach its
    // session and history (the CLI never does).
    friend class run_scope;
    friend nlohmann::json seed::load(engine& e, const seed::source& src,
                                     const std::function<void(const nlohmann::json&)>& loaded);
    friend outcome import_history(engine& e, const import_options& o);
    db::session& session() { return *session_; }
    history::store& store() { return *store_; }
    void emit(const std::string& name, nlohmann::json data);
    outcome up_checked(const up_options& o,
                       std::shared_ptr<const catalog::catalog> cat);  // up after --dry-run
    // The steps of up_checked (engine.cpp): drift and out-of-order refused,
    // what to apply, the gates before the first change (safety gate, Lua
    // preload, project checks, what verification and watch compare with),
    // and the migrations applied (with baseline and repeatables).
    void refuse_drift(run_scope& run, const plan& p, const up_options& o);
    static std::vector<const catalog::migration*> pending_of(const plan& p, const up_options& o);
    static void check_single_transaction(const std::vector<const catalog::migration*>& todo);
    struct before_run {
        nlohmann::json counts, watch;
    };
    before_run before_changes(run_scope& run, safety::guard& guard,
                              const std::vector<const catalog::migration*>& todo);
    int apply_pending(run_scope& run, const std::shared_ptr<const catalog::catalog>& cat,
                      const up_options& o, std::vector<const catalog::migration*>& todo,
                      const before_run& before);
    // A history row for `m` in this run (sql_steps.cpp); the caller sets the duration.
    history::applied applied_row(const catalog::migration& m, long long run_id) const;
    // The statements that record `m` applied and that forget it: moonshift's
    // row, and the row of each tool in [project] keep_history
    // (foreign_history.hpp), committed together (sql_steps.cpp).
    std::string history_add_sql(const catalog::migration& m, const history::applied& row);
    std::string history_remove_sql(const catalog::migration& m, const std::string& version);
    // Before the first change of an up or down: keep_history checked against
    // the catalog and the tools' tables created when missing.
    void prepare_kept_histories(const catalog::catalog& cat);
    void log(const std::string& level, const std::string& message);
    // read_only = true (gate.cpp): every command that writes calls it before
    // it takes the lock or writes anything (run_scope does for its commands);
    // gate.failed and usage_error naming the command.
    void refuse_read_only(const std::string& command);
    // Environment rules before a change (gate.cpp): window, promotion (for
    // up), approval. Refusal: gate.failed, the run finished "refused",
    // error(check_failed).
    void gate(run_scope& run, const std::string& command,
              const std::vector<const catalog::migration*>& todo);
    // The last gate, right before the first change: an environment with
    // approve = true asks ctx.confirm(what).
    void approve(run_scope& run, const std::string& what);
    nlohmann::json promotion_gate(const std::vector<const catalog::migration*>& todo);
    struct source_row {
        std::string checksum;
        long long duration_ms = 0;
        bool verified = false;
    };
    std::map<std::string, source_row> source_history();  // the promotion source's, read-only
    // Built-in verifications (verification.cpp): row counts before a run, and
    // the checks after it: {"ok", "results": [{check, ok, message, items}]}.
    // `skip`: tables the run changes ("schema.name"), whose counts are not compared.
    nlohmann::json count_rows(const std::set<std::string>& skip = {});
    // The tables these migrations change (their statements' facts as `g` found them, their
    // `changes` directive), and whether one changes tables no one knows (a Lua part without
    // `changes`): then row counts are not compared, so not counted either.
    std::pair<std::set<std::string>, bool> changes_of(
        const safety::guard* g, const std::vector<const catalog::migration*>& migrations) const;
    nlohmann::json builtin_verifications(const nlohmann::json& counts_before,
                                         const std::set<std::string>& changed,
                                         bool changes_unknown);
    // After a run's last migration (up): the project's verify scripts and the
    // built-in ones; on success the migrations are marked verified; on failure
    // verify.failed and error(check_failed).
    void verify_after_run(run_scope& run, const nlohmann::json& counts_before,
                          const std::vector<const catalog::migration*>& applied);
    // The watch window (watch.cpp): triggers sampled for env.watch_for; one
    // that fires rolls back `applied` (newest first) and throws
    // error(rolled_back).
    void watch_and_roll_back(run_scope& run, nlohmann::json& baseline,
                             const std::vector<const catalog::migration*>& applied);
    void roll_back_after_trigger(run_scope& run, const nlohmann::json& fired,
                                 const std::vector<const catalog::migration*>& applied);
    nlohmann::json watch_baseline();
    void apply_one(const catalog::migration& m, long long run_id, bool in_outer_transaction);
    void apply_no_transaction(const catalog::migration& m, long long run_id);
    std::size_t resume_point(const catalog::migration& m,
                             const std::vector<sql::statement>& statements, long long run_id);
    // Lua migrations and folders with Lua parts (lua_steps.cpp).
    lua::runtime& lua_runtime();
    bool needs_lua(const catalog::migration& m) const;
    void preload_lua(
        const std::vector<const catalog::migration*>& todo);  // load errors before anything runs
    void apply_lua(const catalog::migration& m, long long run_id, bool in_outer_transaction);
    // The steps of apply_lua: precheck, up (in its transaction), backfills,
    // verify, then the history row; a failure is migration.failed and error.
    struct lua_attempt;
    const lua::script* lua_script_of(const catalog::migration& m);  // null for a folder
    static bool lua_transactional(const catalog::migration& m, const lua::script* s);
    void run_lua_part(const catalog::migration& m, const lua::script* s, lua::phase p,
                      const char* key, const std::string& label, const std::string& lua_src,
                      const std::string& sql_src);
    void run_lua_verify(const catalog::migration& m, const lua::script* s);
    void lua_change(lua_attempt& a, long long run_id, bool transactional,
                    bool in_outer_transaction);
    [[noreturn]] void fail_lua(lua_attempt& a, const std::string& message, const std::string& file,
                               int line, exit_code code, const std::string& hint);
    void record_lua(lua_attempt& a, long long run_id);
    bool lua_can_revert(const catalog::migration& m);
    void revert_lua(const entry& e);
    void run_project_scripts(const std::string& dir, int phase, nlohmann::json& report);
    // Backfills of a Lua migration (backfill_steps.cpp, docs/backfills.md):
    // collected after its up, checked and registered in its DDL transaction
    // (with the "ddl" checkpoint), run once that committed, and found again
    // from the checkpoint on resume without running up again.
    std::vector<lua::backfill_spec> declared_backfills(const catalog::migration& m,
                                                       const lua::script* s);
    void prepare_backfills(const catalog::migration& m, std::vector<lua::backfill_spec>& specs,
                           long long run_id);
    std::vector<lua::backfill_spec> resumed_backfills(const catalog::migration& m,
                                                      const lua::script* s,
                                                      const nlohmann::json& ddl);
    nlohmann::json run_backfills(const catalog::migration& m,
                                 const std::vector<lua::backfill_spec>& specs, long long run_id);
    void revert_one(const entry& e, long long run_id);
    // The steps of down (rollback.cpp): which migrations, newest first; every
    // one reversible before the first runs; then each reverted.
    static std::vector<const entry*> to_revert(const plan& p, const down_options& o);
    void check_reversible(const std::vector<const entry*>& todo, const down_options& o);
    int revert_all(run_scope& run, const std::vector<const entry*>& todo, const down_options& o);
    void check_derived(const entry& e, const down_options& o);
    // The safety net around each migration (safety_steps.cpp): a failure on
    // lock_timeout is rolled back and tried again after a pause (true), up
    // to the environment's lock_retries.
    // `tx` is the migration's transaction: rolled back before the pause;
    // never retried when it joined an outer one.
    bool retry_on_lock_timeout(const catalog::migration& m, const db::sql_failure& f, int attempt,
                               db::transaction& tx);
    // `down --restore-backup` of a migration without a down script: its
    // backup put back and its row forgotten in one transaction.
    void revert_with_backup(const entry& e, long long run_id);
    // The derived reverse (reverse_steps.cpp, docs/rollback.md): the catalog
    // image before a migration, and after it the reverse recorded with its row;
    // `down` of a migration without a down script runs it (then the backup's
    // data, then the rest) in one transaction.
    nlohmann::json image_before(const catalog::migration& m);
    nlohmann::json derive_reverse(const catalog::migration& m, nlohmann::json before);
    // Why `e` (applied, no down script) cannot be rolled back in full; empty when it can.
    std::vector<std::string> why_irreversible(const entry& e);
    // How a pending migration could be rolled back: {"how": "down script" |
    // "down function" | "derived" | "none", "why": [...] when none}.
    nlohmann::json reverse_outlook(const catalog::migration& m);
    // `up` on an environment with a watch window or triggers: every pending
    // migration must be reversible, or the run is refused (exit 3) unless
    // allow_irreversible.
    void preflight_reversible(run_scope& run, const std::vector<const catalog::migration*>& todo,
                              const up_options& o);
    void revert_derived(const entry& e, long long run_id, bool forced);
    // Before a down (hand-written or derived) that drops or rewrites data:
    // the tables it puts at risk backed up against the version, as before a
    // destructive up (unless the backup policy is "never").
    // In a snapshot of its own: before a down script with its own
    // transaction control, and before a derived reverse.
    void backup_before_down(const entry& e, const std::string& sql, const std::string& label,
                            long long run_id);
    // The tables a backup before this down would copy ("schema.name") and
    // the first reason; no tables when none is needed.
    struct down_backup {
        std::vector<std::string> tables;
        std::string reason;
    };
    down_backup down_backup_tables(const std::string& sql, const std::string& label);
    // A down script run in a transaction of moonshift's, with the backup
    // inside it, its tables locked first (rollback.cpp).
    void revert_in_transaction(const entry& e, long long run_id);
    // The backup of those tables (nullopt when there are none), in the
    // caller's transaction when one is open; `on_disk`, `completion`: backup::store::create's.
    std::optional<backup::record> take_down_backup(const entry& e, const down_backup& at_risk,
                                                   long long run_id,
                                                   std::future<void>* on_disk = nullptr,
                                                   std::string* completion = nullptr);
    // A migration with Lua parts in the rehearsal's transaction: precheck,
    // up, verify, no history row. "" when it ran, else why it cannot.
    std::string rehearse_other(const catalog::migration& m);
    // The cleanup of a failing path that holds the migration lock: any open
    // block rolled back, the lock released; never throws.
    void release_lock_on_failure() noexcept;
    // The migration lock (lease.cpp): the session's advisory lock, or through
    // a transaction pooler history/'s lease, renewed by a thread of its own.
    // check_lease() throws error(lock_held) once a renewal found it lost.
    void take_lock();
    void release_lock();
    void check_lease() const;
    // Through a transaction pooler: refuses migrations (or down scripts)
    // that run outside a transaction, naming the file, why, and the direct
    // connection to use instead (usage_error, nothing changed; pooler.cpp).
    void refuse_through_pooler(const std::vector<const catalog::migration*>& todo, bool down);
    backup::store backups();  // the environment's backup store
    // "backup 3 taken before it ran (public.users, 1000 rows)", or "" when there is none.
    std::string backup_offer(const std::string& version);
    // Other tools' formats (repeatable.cpp): Sqitch-style SQL verify scripts,
    // Flyway's baseline (B) and repeatable (R__) migrations.
    void run_sql_verify(const catalog::migration& m, bool in_transaction);
    int apply_baseline_migration(const catalog::catalog& cat, const up_options& o, long long run_id,
                                 nlohmann::json& report);
    int apply_repeatables(const catalog::catalog& cat, const up_options& o, long long run_id,
                          nlohmann::json& report);
    void revert_outside_transaction(const catalog::migration& m);
    // A file's SQL, then `record` (history statements): in one transaction,
    // or statement by statement when the file runs outside one (no
    // checkpoints: for files that start over after a failure).
    void apply_then_record(const catalog::migration& m, std::chrono::steady_clock::time_point t0,
                           const std::function<std::string()>& record);
    // After a change outside a transaction: the verify script, and on its
    // failure the change reverted with its down script (the hint says how it went).
    void verify_outside_transaction(const catalog::migration& m);
    std::string revert_after_failed_verify(const catalog::migration& m);
    // `at`: byte offset of the failing statement when known (positions in
    // the server's error are relative to it).
    [[noreturn]] void fail_migration(const catalog::migration& m, const std::string& label,
                                     const std::string& sql, std::optional<std::size_t> at,
                                     const db::sql_failure& f, long long duration_ms);
    // The server names no position for errors like "table does not exist";
    // replaying the statements one by one in a transaction that is rolled
    // back finds which statement failed. Only runs on the failure path.
    std::optional<std::size_t> locate_failing_statement(const std::string& sql);

    context ctx_;
    // read_catalog_early: the folder as read while connecting; the first
    // read_catalog() takes it (and its error, if reading failed).
    mutable std::future<catalog::catalog> early_catalog_;
    std::unique_ptr<db::session> session_;
    std::unique_ptr<history::store> store_;
    std::unique_ptr<lease_keeper> lease_;  // the lease while a run through a pooler holds it
    // The next migration's commit need not wait for the WAL flush: it is not
    // the run's last and [project] durability = "run" (sql_steps.cpp).
    bool relaxed_commit_ = false;
    // The catalog image after the last migration, with its census and
    // snapshot, which say whether it still holds (reverse_steps.cpp).
    std::optional<nlohmann::json> last_image_;
    safety::guard* guard_ = nullptr;     // during `up`
    std::unique_ptr<lua::runtime> lua_;  // created on first use
    std::map<std::string, std::unique_ptr<lua::script>>
        lua_scripts_;  // loaded .lua migrations, by label
};

// The human form of an SQL failure: "file:line:col: message (SQLSTATE)", the
// source line with a caret, then DETAIL/HINT/CONTEXT lines.
// `at` is the byte offset of the failing statement when known.
std::string describe_failure(const std::string& label, const std::string& sql,
                             std::optional<std::size_t> at, const db::server_error& e);

// The byte offset in `sql` the failure points at: the server's position, the
// line inside a DO block's body that PL/pgSQL names ("inline_code_block line
// N" in CONTEXT), or the failing statement's start; none when nothing is known.
std::optional<std::size_t> failure_offset(const std::string& sql, std::optional<std::size_t> at,
                                          const db::server_error& e);

}  // namespace moonshift::engine
