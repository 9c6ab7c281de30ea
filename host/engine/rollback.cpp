// Rolling back: `down` and `redo`.
#include <chrono>
#include <future>
#include <optional>

#include "common/text.hpp"
#include "db/quote.hpp"
#include "db/transaction.hpp"
#include "engine/detail.hpp"
#include "engine/engine.hpp"
#include "engine/run_scope.hpp"

namespace moonshift::engine {
using detail::ms_since;

namespace {

// LOCK TABLE of the tables a backup copies ("schema.name").
std::string lock_sql(const std::vector<std::string>& tables) {
    std::string list;
    for (const auto& t : tables) {
        auto dot = t.find('.');
        list +=
            (list.empty() ? "" : ", ") + db::quote::qualified(t.substr(0, dot), t.substr(dot + 1));
    }
    return ";LOCK TABLE " + list + " IN ACCESS EXCLUSIVE MODE";
}

}  // namespace

void engine::revert_one(const entry& e, long long run_id) {
    const auto& m = *e.file;
    if (needs_lua(m) || !m.down_lua.empty()) {  // lua_steps.cpp
        revert_lua(e);
        return;
    }
    // Each revert starts from the environment's settings, as each apply does (sql_steps.cpp).
    if (m.dir.down_own_transaction) {
        // A down script with its own BEGIN/COMMIT (or statements that cannot run in a
        // transaction) runs outside one, after a backup of its own; the row is forgotten
        // right after.
        backup_before_down(e, m.down_sql, m.down_label, run_id);  // reverse_steps.cpp
        emit("migration.start", {{"version", m.version},
                                 {"name", m.name},
                                 {"direction", "down"},
                                 {"file", m.down_label}});
        auto t0 = std::chrono::steady_clock::now();
        session_->restore_settings();
        revert_outside_transaction(m);
        db::transaction tx(*session_, db::transaction::mode::deferred, "");
        tx.commit(history_remove_sql(m, e.row->version));
        emit("migration.reverted", {{"version", m.version},
                                    {"name", m.name},
                                    {"duration_ms", ms_since(t0)},
                                    {"file", m.down_label}});
        return;
    }
    revert_in_transaction(e, run_id);
}

// The backup of what the down script puts at risk is taken inside its own
// transaction, its tables locked first (ACCESS EXCLUSIVE, the lock a DROP
// takes anyway, taken before any other so that it cannot deadlock on an
// upgrade): no row written between the backup and the change is lost. The
// backup's files are on disk (fsync) before the commit is sent: they are
// synced on a thread while the down script runs, then the backup row's
// completion, the history row's removal and the commit go in one round trip. Without a backup, the
// down script, the removal and the commit go in one. Before the run's last commit, no wait for the
// WAL flush (sql_steps.cpp).
void engine::revert_in_transaction(const entry& e, long long run_id) {
    const auto& m = *e.file;
    auto at_risk = down_backup_tables(m.down_sql, m.down_label);  // reverse_steps.cpp
    const bool backup = !at_risk.tables.empty();
    auto t0 = std::chrono::steady_clock::now();
    auto fail = [&](const db::sql_failure& f, std::optional<std::size_t> at) {
        fail_migration(m, m.down_label, m.down_sql, at, f, ms_since(t0));
    };
    std::optional<db::transaction> tx;
    try {
        tx.emplace(*session_,
                   backup ? db::transaction::mode::begin : db::transaction::mode::deferred,
                   session_->restore_settings_sql() +
                       (relaxed_commit_ ? ";SET LOCAL synchronous_commit = off" : "") +
                       (backup ? lock_sql(at_risk.tables) : ""));
    } catch (const db::sql_failure& f) {  // the lock not granted within lock_timeout: nothing done
        fail(f, std::nullopt);
    }
    std::future<void> on_disk;  // the backup's fsync, while the down script runs
    std::string completion;     // its row marked complete, sent with the commit
    std::optional<backup::record> taken =
        take_down_backup(e, at_risk, run_id, &on_disk, &completion);
    // Sent with the commit: the backup row's completion when create left it there (also when
    // no thread could sync the files: then they are on disk already), the history row's removal.
    const std::string with =
        (completion.empty() ? "" : completion + ";") + history_remove_sql(m, e.row->version);
    emit("migration.start",
         {{"version", m.version}, {"name", m.name}, {"direction", "down"}, {"file", m.down_label}});
    t0 = std::chrono::steady_clock::now();
    bool commit_sent = false;
    try {
        if (on_disk.valid()) {
            session_->exec_script(m.down_sql);
            try {
                on_disk.get();  // what the fsync threw: nothing is committed, the files go
            } catch (...) {
                tx.reset();  // rolled back, quietly (db::transaction's destructor)
                if (taken) backups().discard(*taken);
                throw;
            }
            commit_sent = true;
            tx->commit(with);
        } else {
            tx->commit_script(m.down_sql, with);
        }
    } catch (const db::sql_failure& f) {
        // Rolled back, the backup's row with it: its files go too. The replay
        // that finds the statement runs after it. A commit whose answer was
        // lost with the connection or the server (no SQLSTATE, class 08 or
        // 57) may have committed: its backup's files stay.
        const auto& state = f.info().sqlstate;
        const bool connection = state.empty() || state.rfind("08", 0) == 0;
        const bool maybe_committed = commit_sent && (connection || state.rfind("57", 0) == 0);
        if (on_disk.valid()) on_disk.wait();
        tx.reset();  // the down script failed in the open block: rolled back, quietly
        if (taken && !maybe_committed) backups().discard(*taken);
        // The statement that failed, when the script did (a commit's failure is not its).
        std::optional<std::size_t> at;
        if (!connection && !commit_sent)
            at = f.info().position > 0 ? std::optional<std::size_t>(0)
                                       : locate_failing_statement(m.down_sql);
        fail(f, at);
    }
    emit("migration.reverted", {{"version", m.version},
                                {"name", m.name},
                                {"duration_ms", ms_since(t0)},
                                {"file", m.down_label}});
}

std::vector<const entry*> engine::to_revert(const plan& p, const down_options& o) {
    std::vector<const entry*> todo;
    for (auto* e : p.applied_desc()) {
        if (o.to) {
            if (p.files->compare(e->version, *o.to) <= 0) break;
        } else if (static_cast<int>(todo.size()) >= o.steps) {
            break;
        }
        todo.push_back(e);
    }
    return todo;
}

// A migration without a down script: its derived reverse, or with
// --restore-backup the backup taken before it (safety_steps.cpp).
void engine::check_derived(const entry& e, const down_options& o) {
    auto offer = backup_offer(e.version);
    if (o.restore_backup) {
        if (offer.empty())
            throw usage_error("cannot roll back " + e.file->up_label +
                                  " with --restore-backup: no backup was taken before it",
                              "leave out --restore-backup to use its derived reverse");
        return;
    }
    auto why = why_irreversible(e);
    if (why.empty()) return;
    bool derived = e.row && e.row->reverse.is_object();
    if (o.force && derived) return;
    std::string reasons;
    for (const auto& w : why) reasons += (reasons.empty() ? "" : "; ") + w;
    std::string hint = "write " + e.file->version + "_" + e.file->name + ".down.sql beside it";
    if (derived) hint += ", or run its derived reverse anyway with --force --reason \"...\"";
    if (!offer.empty())
        hint += "; " + offer + ": `moonshift down --restore-backup` puts those tables back";
    throw error(exit_code::check_failed,
                "cannot roll back " + e.file->up_label + ": it has no down script and " + reasons,
                hint);
}

void engine::check_reversible(const std::vector<const entry*>& todo, const down_options& o) {
    // Every step must be reversible before the first one runs.
    for (auto* e : todo) {
        if (!e->file)
            throw usage_error(
                "cannot roll back " + e->version + "_" + e->name + ": its file is missing on disk",
                "restore the migration file (with its .down.sql) first");
        if (e->file->kind == catalog::form::lua || !e->file->down_lua.empty()) {
            if (!lua_can_revert(*e->file))
                throw usage_error(
                    "cannot roll back " + e->file->up_label + ": it has no down function",
                    "add down = function(db, ctx) ... end to its table");
        } else if (e->file->down.empty()) {
            check_derived(*e, o);
        }
        if (!e->file->down.empty() && !e->file->down_has_sql)
            throw usage_error(e->file->down_label + " has no SQL, only comments",
                              "write the statements that undo the migration");
        if (!e->file->down.empty() && !e->file->dir.down_refused.empty())
            throw usage_error(e->file->dir.down_refused, e->file->dir.down_refused_hint);
        if (e->st == state::changed)
            throw error(exit_code::drift,
                        e->file->up_label + " changed on disk since it was applied",
                        "accept it with `moonshift repair --reason \"...\"` before rolling back");
    }
}

outcome engine::down(const down_options& o) {
    if (o.force && o.reason.empty())
        throw usage_error("--force needs --reason \"...\": the reason is recorded with the run");
    // run_scope locks: the lock's session connects while the folder is read.
    if (!o.dry_run) session_->connect_lock_holder_early();
    auto cat_ptr = std::make_shared<const catalog::catalog>(read_catalog());
    if (o.to && !cat_ptr->find(*o.to) && catalog::version_key(*o.to) != "0")
        throw usage_error("version " + *o.to + " is not a migration in " + ctx_.cfg.migrations_dir,
                          "use --to 0 to roll back everything");
    if (o.dry_run) {
        std::vector<history::applied> rows;
        if (store_->present()) rows = store_->list_applied();
        auto p = make_plan(cat_ptr, rows);
        auto todo = to_revert(p, o);
        check_reversible(todo, o);
        outcome out;
        out.report["dry_run"] = true;
        out.report["would_revert"] = nlohmann::json::array();
        for (auto* e : todo) {
            const auto& m = *e->file;
            std::string how = m.kind == catalog::form::lua || !m.down_lua.empty() ? "down function"
                              : !m.down.empty()                                   ? "down script"
                              : o.restore_backup                                  ? "backup"
                                                 : "derived reverse";
            out.report["would_revert"].push_back(
                {{"version", e->version}, {"name", e->name}, {"how", how}});
        }
        out.count = static_cast<int>(todo.size());
        return out;
    }
    run_scope run(*this, "down");
    auto p = make_plan(cat_ptr, store_->list_applied());
    auto todo = to_revert(p, o);
    try {
        check_reversible(todo, o);
        std::vector<const catalog::migration*> files;
        for (auto* e : todo)
            if (e->file) files.push_back(e->file);
        refuse_through_pooler(files, true);  // pooler.cpp
    } catch (const error&) {
        run.finish("refused");
        throw;
    }
    emit("run.planned", {{"run", run.id()}, {"revert", todo.size()}});
    if (!todo.empty()) {
        std::vector<const catalog::migration*> files;
        std::string list;
        for (auto* e : todo) {
            files.push_back(e->file);
            list += (list.empty() ? "" : ", ") + e->version + "_" + e->name;
        }
        gate(run, "down", files);  // gate.cpp
        approve(run, "roll back " + std::to_string(todo.size()) + " migration(s) in " +
                         ctx_.env.name + ": " + list);
    }
    outcome out;
    if (o.force) run.report()["forced"] = {{"reason", o.reason}};
    if (!todo.empty()) prepare_kept_histories(*cat_ptr);
    out.count = revert_all(run, todo, o);
    run.finish("ok");
    out.report = run.report();
    return out;
}

int engine::revert_all(run_scope& run, const std::vector<const entry*>& todo,
                       const down_options& o) {
    int count = 0;
    run.report()["reverted"] = nlohmann::json::array();
    try {
        for (auto* e : todo) {
            // A .lua migration carries its down function; other forms need a down file.
            auto t0 = std::chrono::steady_clock::now();
            if (e->file->down.empty() && e->file->kind != catalog::form::lua && !o.restore_backup)
                revert_derived(*e, run.id(), o.force);  // reverse_steps.cpp
            else if (e->file->down.empty() && e->file->kind != catalog::form::lua)
                revert_with_backup(*e, run.id());
            else {
                relaxed_commit_ = ctx_.cfg.durability == "run" && e != todo.back();
                revert_one(*e, run.id());
                relaxed_commit_ = false;
            }
            run.report()["reverted"].push_back(
                {{"version", e->version}, {"name", e->name}, {"duration_ms", ms_since(t0)}});
            ++count;
        }
    } catch (const error& err) {
        run.report()["error"] = text::redact(err.what());
        run.finish("failed");
        throw;
    }
    return count;
}

outcome engine::redo() {
    down_options d;
    d.steps = 1;
    auto reverted = down(d);
    if (reverted.count == 0) throw usage_error("nothing to redo: no migration is applied");
    up_options u;
    u.to = reverted.report["reverted"][0]["version"].get<std::string>();
    u.out_of_order = true;
    auto applied = up(u);
    applied.report["reverted"] = reverted.report["reverted"];
    return applied;
}

}  // namespace moonshift::engine
