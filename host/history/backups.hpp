// The backups table of the history schema: one row per targeted backup or
// pg_dump (what was saved where, for which migration, until when). The
// files themselves are backup/'s business; this is the only writer of the rows.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "db/session.hpp"
#include "history/history.hpp"

namespace moonshift::history {

struct backup_row {
    long long id = 0;
    std::string version, migration, environment, kind = "tables", reason, location, status;
    std::string created_by, created_at, keep_until, restored_at;  // timestamps "…T…Z" or ""
    long long rows = 0, bytes = 0, duration_ms = 0, run_id = 0;
    nlohmann::json tables = nlohmann::json::array();  // per table: rows, file, sha256, definition
};

// A complete backup and the periods retention counts it in.
struct backup_age {
    backup_row row;
    std::string day, week, month;  // "2026-12-04", "2026-49", "2026-12" (UTC)
    bool pinned = false;           // keep_until is in the future
    double age_days = 0;           // now() - created_at, in days (the server's clock)
    int age_months = 0;            // whole calendar months since created_at
};

class backups {
  public:
    backups(db::session& s, store& h);

    // A new row in status "running" from the row's version, migration,
    // environment, run_id, kind, reason and created_by; fills id and created_at.
    void open(backup_row& r);
    void complete(long long id, const std::string& location, const nlohmann::json& tables,
                  long long rows, long long bytes, long long duration_ms);
    // The same UPDATE as SQL text, for a caller that sends it with its commit.
    std::string complete_sql(long long id, const std::string& location,
                             const nlohmann::json& tables, long long rows, long long bytes,
                             long long duration_ms) const;
    void mark_failed(long long id);
    // In the caller's transaction, so it commits with the restore.
    void mark_restored(long long id);
    void mark_pruned(long long id);

    // Newest first; empty when the history schema has no backups table yet.
    std::vector<backup_row> list(int limit);
    std::optional<backup_row> find(long long id);
    // The newest complete table backup taken for migration `version` before it
    // ran (not one taken before a down of it).
    std::optional<backup_row> latest_complete(const std::string& version);
    // Every complete backup, newest first.
    std::vector<backup_age> complete_newest_first();

  private:
    bool table_exists();
    db::session& s_;
    store& h_;
};

}  // namespace moonshift::history
