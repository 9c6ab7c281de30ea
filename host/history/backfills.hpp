// The bookkeeping of backfills in the history schema (migrations/0004 and
// the checkpoints of 0001): one status row per backfill of a migration,
// which `moonshift backfill status|pause|resume` reads and steers from
// another terminal; the position each batch saves in its own transaction;
// and the before-images of keep_before = true, which `down` writes back.
// backfill/ decides what to do; this is the only code that writes it down.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "db/session.hpp"

namespace moonshift::history {

// One status row, as `moonshift backfill status` shows it.
struct backfill_row {
    std::string version;
    int part = 0;
    std::string table, state;
    bool pause_requested = false;
    long long rows_done = 0;
    std::optional<long long> rows_total;
    double rows_per_second = 0;
    long long batch_size = 0;
    std::string message;
    bool alive = false;      // its backend is still connected
    std::string updated_at;  // UTC, ISO 8601
};

// What saving a batch reads back in the same statement.
struct batch_saved {
    bool pause_requested = false;
    long long lock_waits = 0;  // sessions waiting behind the batch's locks
};

// The before-images of one backfill of a migration.
struct before_images {
    int part = 0;
    std::string table;                 // as the backfill named it (quoted, qualified)
    std::vector<std::string> keys;     // key columns of the images
    std::vector<std::string> columns;  // columns whose old values were kept
};

class backfills {
  public:
    // schema_quoted: the history schema as an identifier ("moonshift").
    backfills(db::session& s, std::string schema_quoted);

    // The tables are there (the history schema is recent enough).
    bool present();

    // ---- one backfill (version, part), for the run that executes it ----

    // Registers the status row (idempotent), for the migration's DDL
    // transaction. Static, like the other *_sql: statements for the
    // caller's transaction need no session.
    static std::string register_sql(const std::string& schema_quoted, const std::string& version,
                                    int part, const std::string& table, long long run_id);
    // The migration's "ddl" checkpoint (the backfills it declared), for the
    // same transaction: a resume finds it and goes straight to the batches.
    static std::string ddl_checkpoint_sql(const std::string& schema_quoted,
                                          const std::string& version,
                                          const nlohmann::json& position, long long run_id);
    // Where the last run stopped; nullopt when it never started.
    std::optional<nlohmann::json> position(const std::string& version, int part);
    // Registers the row when it is not there yet and marks it running in this run.
    void start(const std::string& version, int part, const std::string& table, long long run_id);
    void set_total(const std::string& version, int part, long long rows_total);
    void set_state(const std::string& version, int part, const std::string& state,
                   const std::string& message);
    bool pause_requested(const std::string& version, int part);
    // Inside the batch's transaction, so the position commits with its rows:
    // saves the position and the status row and reads the pause flag back.
    batch_saved save_batch(const std::string& version, int part, const nlohmann::json& position,
                           long long run_id, long long rows_done, double rows_per_second,
                           long long batch_size);
    // An INSERT … SELECT of before-images, for the batch's own statement:
    // key_json and before_json are jsonb expressions over the rows of `from`
    // ("FROM … t WHERE …"); the first image of a row wins.
    static std::string keep_before_sql(const std::string& schema_quoted, const std::string& version,
                                       int part, const std::string& table,
                                       const std::string& key_json, const std::string& before_json,
                                       const std::string& from);
    // Forgets the checkpoints and status rows of `version`'s backfills, for
    // the transaction that records the migration as applied.
    static std::string finish_sql(const std::string& schema_quoted, const std::string& version);

    // ---- from outside the run ----

    std::vector<backfill_row> list();  // by version and part
    // Sets pause_requested on the backfills of `version` (all when empty);
    // returns how many rows it changed.
    int set_paused(const std::string& version, bool paused);
    bool has_before(const std::string& version);
    std::vector<before_images> before(const std::string& version);  // newest part first
    // The images' table, to join in the UPDATE that writes them back.
    std::string before_table() const { return schema_ + ".backfill_before"; }
    // Forgets the images of `version`, in the caller's transaction.
    void forget_before(const std::string& version);

  private:
    std::string table(const char* name) const { return schema_ + "." + name; }
    db::session& s_;
    std::string schema_;
};

}  // namespace moonshift::history
