// Runs one declared backfill to its end: keyset batches, each in its own
// short transaction with lock_timeout that also writes the checkpoint and
// the status row; adaptive batch size; throttling by rows per second and by
// database health between batches; pause/resume through the status row;
// rate-limited progress. Resumes from the checkpoint it finds.
#pragma once
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "backfill/target.hpp"
#include "db/session.hpp"
#include "lua/backfill_spec.hpp"

namespace moonshift::lua {
class runtime;
}

namespace moonshift::backfill {

struct job {
    db::session* session = nullptr;
    lua::runtime* lua = nullptr;  // for transforms and pause_when
    std::string schema_quoted;    // "moonshift"
    std::string version, name;    // the migration
    int part = 0;                 // its nth backfill
    long long run_id = 0;
    std::optional<std::chrono::milliseconds> lock_timeout;  // the environment's
    // Events: "backfill.progress" (at most one a second, and one at the end)
    // and "log" lines {level, message} for waits, retries and pauses.
    std::function<void(const std::string&, nlohmann::json)> emit;
};

struct outcome {
    long long rows = 0;     // rows changed in all runs of it
    long long batches = 0;  // in this run
    long long ms = 0;
};

// Registers the status row (idempotent), for the migration's DDL transaction.
std::string register_sql(const job& j, const target& t);

outcome run(const job& j, const lua::backfill_spec& s, target& t);

// Health sampled between batches (health.cpp).
struct health {
    double replication_lag_s = 0;
    double longest_transaction_s = 0;
    bool autovacuum = false;
    long long lock_waits = 0;  // sessions the last batch made wait
    nlohmann::json to_json() const;
};
health sample(db::session& db, unsigned table_oid);
// Why to wait ("" = go on), from the spec's throttle thresholds.
std::string wait_reason(const lua::backfill_spec& s, const health& h);

}  // namespace moonshift::backfill
