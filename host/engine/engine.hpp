// The run lifecycle (DESIGN.md): open, plan, apply or roll back, close.
// The engine never prints: everything a person should see is an event.
#pragma once
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "catalog/catalog.hpp"
#include "db/session.hpp"
#include "engine/plan.hpp"
#include "history/history.hpp"
#include "project/config.hpp"

namespace moonshift::engine {

// run.start, run.planned, migration.start, migration.applied,
// migration.failed, migration.reverted, run.finish, and "log" lines
// ({level, message}) for progress that is not an event of the lifecycle.
struct event {
    std::string name;
    nlohmann::json data;
};
using sink = std::function<void(const event&)>;

struct context {
    project::config cfg;
    project::environment env;
    std::string url;        // resolved connection string (local cluster, interpolated url, ...)
    sink on_event;
};

struct up_options {
    std::optional<std::string> to;    // apply up to and including this version
    bool single_transaction = false;  // all pending in one transaction
    bool out_of_order = false;        // also apply pending versions older than the newest applied
    bool dry_run = false;             // show what would run, change nothing
};

struct down_options {
    int steps = 1;
    std::optional<std::string> to;    // roll back everything after this version
    bool dry_run = false;
};

struct outcome {
    int count = 0;                    // migrations applied / reverted / recorded
    nlohmann::json report = nlohmann::json::object();
};

class engine {
public:
    explicit engine(context ctx);
    ~engine();

    catalog::catalog read_catalog() const;
    plan status();                    // read-only, no lock
    outcome up(const up_options& o);
    outcome down(const down_options& o);
    outcome redo();
    outcome baseline(const std::string& version);
    outcome repair(const std::string& reason);
    std::vector<history::run> runs(int limit);
    // Repeatable (R__) migrations and their state: [{name, file, state:
    // pending|applied|changed}] (repeatable.cpp).
    nlohmann::json repeatables_status();

    db::session& session() { return *session_; }
    history::store& store() { return *store_; }
    const context& ctx() const { return ctx_; }

private:
    friend class run_scope;
    void emit(const std::string& name, nlohmann::json data);
    void log(const std::string& level, const std::string& message);
    void apply_one(const catalog::migration& m, long long run_id, bool in_outer_transaction);
    void apply_no_transaction(const catalog::migration& m, long long run_id);
    void revert_one(const entry& e, long long run_id);
    // Other tools' formats (repeatable.cpp): Sqitch-style SQL verify scripts,
    // Flyway's baseline (B) and repeatable (R__) migrations.
    void run_sql_verify(const catalog::migration& m, bool in_transaction);
    int apply_baseline_migration(const catalog::catalog& cat, const up_options& o, long long run_id,
                                 nlohmann::json& report);
    int apply_repeatables(const catalog::catalog& cat, const up_options& o, long long run_id, nlohmann::json& report);
    void revert_outside_transaction(const catalog::migration& m);
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
    std::unique_ptr<db::session> session_;
    std::unique_ptr<history::store> store_;
};

// The human form of an SQL failure: "file:line:col: message (SQLSTATE)", the
// source line with a caret, then DETAIL/HINT/CONTEXT lines.
// `at` is the byte offset of the failing statement when known.
std::string describe_failure(const std::string& label, const std::string& sql,
                             std::optional<std::size_t> at, const db::server_error& e);

}  // namespace moonshift::engine
