// Targeted backups: COPY of exactly the tables a migration puts at risk,
// gzip-compressed into files under the backup location, with each table's
// definition, recorded in the history schema's `backups` table against the
// migration's version. Restore recreates or reshapes the tables, loads the
// rows back and verifies the counts, all in one transaction.
#pragma once
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "db/session.hpp"
#include "history/backups.hpp"
#include "history/history.hpp"
#include "project/config.hpp"

namespace moonshift::backup {

struct table_copy {
    std::string table;  // "schema.name"
    long long rows = 0;
    long long bytes = 0;        // compressed file size
    std::string file;           // relative to the backup's directory; the copy's table
    std::string sha256;         // of the rows; "rows:N xid:X" for a copy in the database
    nlohmann::json definition;  // columns, constraints, indexes, sequences, policies, ...
};

struct record {
    long long id = 0;
    std::string version, migration, environment, kind = "tables", reason, location, status;
    std::string created_by, created_at, keep_until, restored_at;
    long long rows = 0, bytes = 0, duration_ms = 0, run_id = 0;
    std::vector<table_copy> tables;
    nlohmann::json to_json() const;
};

struct settings {
    std::filesystem::path dir;    // the backup location (absolute)
    std::string store = "files";  // or "database": tables in `schema` of the target
    std::string schema = "moonshift_backups";
    std::string environment;
    int keep_daily = 7, keep_weekly = 4, keep_monthly = 12;
};

// The environment's backup settings with the project's defaults filled in:
// its store, its directory made absolute, retention.
settings settings_for(const project::config& cfg, const project::environment& env);

struct restore_options {
    std::vector<std::string> only;  // restore only these tables ("schema.name" or "name")
    std::string into_schema;        // load into copies in this schema instead of the originals
    bool in_transaction = false;    // the caller has a transaction open (down with a backup)
};

struct restore_result {
    struct table {
        std::string name, into;
        long long rows = 0;
        bool created = false;               // recreated from its definition
        std::vector<std::string> reshaped;  // columns added back or retyped
    };
    std::vector<table> tables;
    long long duration_ms = 0;
};

struct prune_result {
    std::vector<record> pruned, kept;
};

using progress = std::function<void(const std::string&)>;

class store {
  public:
    store(db::session& s, history::store& h, settings cfg);

    const settings& config() const { return cfg_; }

    // The location exists (it is created) and a file can be written in it;
    // throws error(usage) naming the directory otherwise. Called before any
    // migration of a run that will need a backup.
    void check_location() const;

    // Resolves names as written in migrations (maybe without schema) and the
    // tables of dropped schemas to existing tables "schema.name"; names that
    // do not exist (yet) are left out.
    std::vector<std::string> resolve(const std::vector<std::string>& names,
                                     const std::vector<std::string>& schemas);

    // Copies the tables in one REPEATABLE READ snapshot. Throws on failure,
    // after marking the row failed and removing its files.
    // `on_disk`, given inside the caller's transaction: the files' fsync runs
    // on a thread and *on_disk says when it is done, so the caller's next
    // statements overlap it; the caller waits for it (get(), which throws
    // what the fsync threw) before it commits, and discards the backup when
    // it fails. Without it, or outside a transaction, or when no thread can
    // be had, create returns with the files on disk. `completion`, given with
    // on_disk inside the caller's transaction: the UPDATE that marks the row
    // complete is not sent but left there, for the caller to send with its
    // commit (one round trip less; the row is complete only once the files
    // are on disk).
    record create(const std::vector<std::string>& tables, const std::string& version,
                  const std::string& migration, const std::string& reason, long long run_id,
                  const progress& on_progress = {}, std::future<void>* on_disk = nullptr,
                  std::string* completion = nullptr);
    // A whole-database pg_dump (custom format) into the location; throws
    // error(usage) when pg_dump is not on PATH.
    record dump_database(const std::string& url, const std::string& version,
                         const std::string& migration, const std::string& reason, long long run_id);

    std::vector<record> list(int limit = 100);
    std::optional<record> find(long long id);
    std::optional<record> latest_for(const std::string& version);

    restore_result restore(const record& r, const restore_options& o);

    // Retention by age: keeps the newest backup of each day of the last
    // keep_daily days, of each week of the last keep_weekly weeks, of each
    // month of the last keep_monthly months, the newest of all, and any with
    // keep_until in the future; the others lose their files (or copies) and
    // are marked pruned.
    prune_result prune(bool dry_run);

  private:
    record open_record(const std::string& kind, const std::string& version,
                       const std::string& migration, const std::string& reason, long long run_id);
    table_copy copy_table(const std::string& table, const std::filesystem::path& dir, long long id,
                          int n, const progress& on_progress);
    void mark_failed(long long id) noexcept;

  public:
    // The files of a backup whose row was rolled back with the caller's
    // transaction (the down it was taken for failed); copies in the database
    // went with the transaction. Never throws.
    void discard(const record& r) noexcept;

  private:
    db::session& s_;
    history::backups rows_;
    settings cfg_;
};

// The first statement-level reason a migration needs a backup under the
// "destructive" policy, or "" when it does not.
std::string destructive_reason(const std::vector<std::string>& destructive, bool changes_rows,
                               bool has_down);

}  // namespace moonshift::backup
