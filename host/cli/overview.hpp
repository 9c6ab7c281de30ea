// Where every environment of moonshift.toml stands, read only: what `status --all` prints and
// `moonshift dashboard` serves. One reader, so the table and the page never disagree.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "engine/engine.hpp"
#include "project/config.hpp"

namespace moonshift::cli::overview {

struct counts {
    int pending = 0, changed = 0, missing = 0, ooo = 0, applied = 0;
    int unverified = 0;  // applied, its verifications not passed yet
    std::string head;    // the newest applied version
};
counts count_states(const engine::plan& p);
// Every migration of the plan: version, name, state, local, remote, applied_at, duration_ms,
// verified, verified_at, file (`status --json` and the dashboard).
nlohmann::json migrations_json(const engine::plan& p);

// How much beyond the counts and the last run to read (the dashboard's drill-down).
struct detail {
    bool migrations = false;  // every migration with its state and verification
    int runs = 0;             // the newest runs with their reports
    int backups = 0;          // the newest backups of the environment
};

// One environment: its counts and last run, or why it could not be read (redacted).
struct env_row {
    std::string name, where, error;
    bool production = false;
    counts n;
    std::optional<history::run> last;
    nlohmann::json migrations, runs, backups;  // null unless the detail asked for them
};

// Reads one environment; never starts a local cluster and never throws for an environment
// that cannot be read (its error says why).
env_row read_env(const project::config& cfg, const std::string& name, const detail& d = {});
nlohmann::json env_json(const env_row& r);

// {"environments": [...], "fleets": [...]}: every environment of cfg, by
// name, and every [fleet.NAME] with each target's counts and last run (no
// "fleets" when none is defined). The dashboard's data.
nlohmann::json gather(const project::config& cfg, const detail& d = {});

// What a run did, in a few words: "applied 001_a, 002_b; rolled back 002_b".
std::string what_of(const nlohmann::json& report);
// A run's error message from its report, or "".
std::string error_of(const nlohmann::json& report);

}  // namespace moonshift::cli::overview
