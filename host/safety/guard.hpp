// The safety net of a run, as the engine sees it: the gate before the first
// migration (parse, lint, backup location), and the steps around each
// migration (blocking sessions, backup, lock_timeout retries, leftovers of a
// failed concurrent index build).
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "db/session.hpp"
#include "history/history.hpp"
#include "project/config.hpp"
#include "sql/sql.hpp"

namespace moonshift::lua {
class runtime;
}

namespace moonshift::safety {

// The settings of the environment with the project's defaults filled in.
struct policy {
    std::string backup = "destructive";  // never | destructive | always
    std::filesystem::path backup_dir;    // absolute
    bool full_dump = false;
    int lock_retries = 3;
    std::chrono::milliseconds lock_retry_delay{1000};  // doubles with each retry
    std::chrono::milliseconds blocker_wait{10000};
};
policy policy_for(const project::config& cfg, const project::environment& env);

class guard {
  public:
    // name and data of an engine event ("log" with {level, message}, "lint", "backup.created",
    // ...).
    using emit_fn = std::function<void(const std::string&, const nlohmann::json&)>;

    guard(const project::config& cfg, const project::environment& env, std::string url,
          db::session& s, history::store& h, emit_fn emit, lua::runtime* runtime = nullptr);
    ~guard();
    guard(const guard&) = delete;
    guard& operator=(const guard&) = delete;

    // Before anything runs: parses each pending SQL migration once (SQL that
    // does not parse throws sql::parse_error at file:line:col), lints them
    // (errors throw error(check_failed) listing every finding), and checks
    // the backup location when one of them will need a backup (throws
    // error(usage)). Returns the report: findings, suppressions with their
    // reasons, which migrations will be backed up.
    nlohmann::json gate(const std::vector<const catalog::migration*>& todo);
    // For this run, lint errors are warnings (`up --lint=warn`); the reason
    // goes into the gate's report as lint.let_through.
    void let_lint_through(std::string reason);

    // Right before migration m runs: waits for the sessions that would block
    // its DDL (or throws error(lock_held) naming them), then takes its backup
    // when the policy asks for one. Returns what it did, for the report.
    nlohmann::json before(const catalog::migration& m, long long run_id);

    // How many times a migration that failed on lock_timeout is tried again,
    // and how long to wait before attempt n (1-based).
    int lock_retries() const { return policy_.lock_retries; }
    std::chrono::milliseconds retry_delay(int attempt) const;

    // Before a statement of a no-transaction migration runs (again): drops
    // the invalid index that a failed CREATE INDEX CONCURRENTLY of the same
    // name left behind. Returns a sentence for the log, or "".
    std::string before_statement(const std::string& statement_sql);

    const policy& settings() const { return policy_; }

    // The tables migration `version` writes to or changes, as written
    // (maybe unqualified); nullopt when unknown (not SQL, not parsed).
    // Verification leaves their row counts alone.
    std::optional<std::vector<std::string>> touched(const std::string& version) const;
    // The gate's parse of migration `version` (with trees), for the steps
    // after it to read instead of parsing the file again; nullptr when the gate
    // did not parse it (not SQL).
    const sql::script* script_of(const std::string& version) const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
    policy policy_;
};

// True for SQLSTATE 55P03 (lock_not_available): lock_timeout fired.
bool is_lock_timeout(const std::string& sqlstate);

}  // namespace moonshift::safety
