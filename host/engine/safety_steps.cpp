// The engine's side of the safety net (host/safety/): retrying a migration
// that lost a lock_timeout, and undoing a migration without a down script
// from the backup taken before it ran.
#include <chrono>
#include <thread>

#include "backup/backup.hpp"
#include "common/text.hpp"
#include "db/transaction.hpp"
#include "engine/engine.hpp"
#include "safety/guard.hpp"

namespace moonshift::engine {

bool engine::retry_on_lock_timeout(const catalog::migration& m, const db::sql_failure& f,
                                   int attempt, db::transaction& tx) {
    // In --single-transaction mode the earlier migrations would be lost with
    // the rollback: no retry there.
    if (tx.joined() || !guard_ || !safety::is_lock_timeout(f.info().sqlstate) ||
        attempt > guard_->lock_retries())
        return false;
    try {
        tx.rollback();
    } catch (const db::sql_failure&) {
        return false;  // the connection is gone: the failure stands
    }
    auto delay = guard_->retry_delay(attempt);
    log("warn", m.up_label + ": " + f.info().message +
                    " (lock_timeout): rolled back so that traffic is not held up; "
                    "trying again in " +
                    text::format_duration(delay) + " (retry " + std::to_string(attempt) + " of " +
                    std::to_string(guard_->lock_retries()) + ")");
    emit("migration.retry", {{"version", m.version},
                             {"name", m.name},
                             {"attempt", attempt},
                             {"delay_ms", delay.count()},
                             {"reason", "lock_timeout"}});
    std::this_thread::sleep_for(delay);
    return true;
}

std::string engine::backup_offer(const std::string& version) {
    auto store = backups();
    auto rec = store.latest_for(version);
    if (!rec) return {};
    std::string tables;
    for (const auto& t : rec->tables) tables += (tables.empty() ? "" : ", ") + t.table;
    return "backup " + std::to_string(rec->id) + " taken before it ran holds " + tables + " (" +
           std::to_string(rec->rows) + " rows)";
}

void engine::revert_with_backup(const entry& e, long long run_id) {
    (void)run_id;
    const auto& m = *e.file;
    auto store = backups();
    auto rec = store.latest_for(m.version);
    if (!rec) throw usage_error("no backup of " + m.up_label + " to restore");
    emit("migration.start", {{"version", m.version},
                             {"name", m.name},
                             {"direction", "down"},
                             {"file", "backup " + std::to_string(rec->id)}});
    auto t0 = std::chrono::steady_clock::now();
    try {
        db::transaction tx(*session_);
        backup::restore_options ro;
        ro.in_transaction = true;
        store.restore(*rec, ro);
        // The tables come back and the migration is forgotten together.
        tx.commit(history_remove_sql(m, e.row->version));
    } catch (const std::exception& err) {
        // The transaction was rolled back when `tx` went out of scope.
        emit("migration.failed",
             {{"version", m.version}, {"name", m.name}, {"error", {{"message", err.what()}}}});
        throw error(exit_code::migration_failed, "restoring backup " + std::to_string(rec->id) +
                                                     " for " + m.up_label +
                                                     " failed; nothing changed: " + err.what());
    }
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    emit("migration.reverted", {{"version", m.version},
                                {"name", m.name},
                                {"duration_ms", ms},
                                {"backup", rec->id},
                                {"file", "backup " + std::to_string(rec->id)}});
}

}  // namespace moonshift::engine
