// The history schema (default "moonshift"): applied migrations, runs and
// checkpoints. Created and upgraded by the host's own embedded migrations.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "db/session.hpp"

namespace moonshift::history {

struct applied {
    std::string version, name, checksum, form = "sql", how = "applied";
    std::string applied_at, applied_by, environment;
    // Below 0 in record_sql: measured by the server, from the arrival of the
    // statement that carries the row (the migration and its row in one message).
    long long duration_ms = 0;
    long long run_id = 0;
    std::string verified_at;  // "" until the verifications after it passed
    // The derived reverse recorded when it was applied (migrations/0006_reverse.sql);
    // null when none was recorded (applied before, imported, baselined); the
    // string "down script" when the file had a down script, which reverts it.
    nlohmann::json reverse;
};

struct run {
    long long id = 0;
    std::string command, environment, actor, started_at, finished_at, outcome;
    long long duration_ms = 0;
    nlohmann::json report;
};

class store {
  public:
    store(db::session& s, std::string schema);

    const std::string& schema() const { return schema_; }
    std::string table(const char* name) const;  // quoted "schema".name

    // The version of the host's bookkeeping schema in the database; 0 when
    // the schema is not there yet.
    int host_version();
    // Whether the bookkeeping schema is there (host_version() > 0) in one
    // round trip, for the commands that only read it (status, history).
    bool present();
    static int latest_host_version();
    // A SHA-256 of every embedded host migration (number, name and text):
    // changes whenever a moonshift brings a different bookkeeping schema
    // (`moonshift testdb` names its templates after it).
    static std::string host_schema_digest();
    // Applies the embedded migrations/ the database does not have yet, each
    // in its own transaction. The caller holds the migration lock.
    void ensure();

    // The project whose migrations this store reads and writes: the
    // catalog's key (Sqitch's %project; "" for every other layout), and its
    // migrations as "version name", which rows recorded before projects were
    // keyed (or under another layout's key) must match to count as its own
    // (migrations/0008_project.sql).
    void set_project(std::string key, std::set<std::string> version_names);
    // Under the migration lock, after ensure(): when this project has no
    // rows, those of the one other key that all match its migrations become
    // its own (a history from before keys, a Sqitch plan converted to native).
    void adopt_unkeyed_rows();

    std::vector<applied> list_applied();  // this project's, ordered by version
    // The rows recorded under `key`, nothing adopted: list_applied() when the
    // project's key is `key` and it has rows. For reading while the folder
    // that decides the key is still being read.
    std::vector<applied> list_applied_under(const std::string& key);
    const std::string& project() const { return project_; }
    // Every applied migration not verified yet is marked verified now; the
    // caller runs it after the verifications passed. Returns how many.
    int mark_verified();
    // Statements that record or forget a migration, for the caller to run in
    // the migration's own transaction.
    std::string record_sql(const applied& a) const;
    std::string remove_sql(const std::string& version) const;
    void update_checksum(const std::string& version, const std::string& checksum);

    long long open_run(const std::string& command, const std::string& environment,
                       const std::string& actor);
    void finish_run(long long id, const std::string& outcome, const nlohmann::json& report);
    // The report of a finished run, amended (notification deliveries).
    void update_report(long long id, const nlohmann::json& report);
    // Runs left "running" by a process that died (kill -9) become "aborted".
    // Only called by the holder of the migration lock. Through a transaction
    // pooler (`leased`) a run's server process says nothing: every run still
    // "running" belongs to a run that died (the caller has no row yet).
    int close_abandoned_runs(bool leased = false);
    std::vector<run> list_runs(int limit, const std::string& environment = {});

    std::optional<nlohmann::json> checkpoint(const std::string& version, const std::string& kind);
    void save_checkpoint(const std::string& version, const std::string& kind,
                         const nlohmann::json& position, long long run_id);
    // The same as save_checkpoint, as SQL to send with a statement in one
    // transaction (one simple query, or before the COMMIT of a file's own block).
    std::string save_checkpoint_sql(const std::string& version, const std::string& kind,
                                    const nlohmann::json& position, long long run_id) const;
    std::string clear_checkpoint_sql(const std::string& version, const std::string& kind) const;

  private:
    // When this project has no rows: the one other key whose rows all match
    // its migrations by version and name (see set_project), if exactly one does.
    std::optional<std::string> key_to_adopt();
    std::vector<applied> read_rows(const std::string& where, const std::string& project);
    bool keyed();  // the history has the project column (host migration 8)

    db::session& s_;
    std::string schema_;
    std::string quoted_;
    std::string project_;
    std::set<std::string> version_names_;
    std::optional<bool> keyed_;
};

// Who runs this: the OS user, and the CI actor when there is one.
std::string current_actor();

}  // namespace moonshift::history
