// `moonshift drift`: an environment's live schema against the schema its
// recorded migrations produce when they are applied, by the normal engine, to
// a throw-away database.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "schema/schema.hpp"

namespace moonshift::drift {

struct options {
    // A server where moonshift may CREATE DATABASE (any database of it); empty:
    // the project's private local cluster (.moonshift/local), started if needed.
    std::string scratch_url;
    // Events of the scratch run (migration.start, migration.applied, log, ...).
    engine::sink on_event;
    // Called once before the scratch database is built: {"scratch": redacted
    // server, "migrations": n, "started_cluster": bool}.
    std::function<void(const nlohmann::json&)> on_rebuild;
};

// A recorded migration that cannot be replayed as it ran.
struct file_problem {
    std::string version, name;
    std::string state;  // "missing" (no file on disk) or "changed" (another checksum)
    std::string file;   // the file's label when there is one
    std::string recorded_checksum, disk_checksum;
};

struct result {
    std::vector<file_problem> problems;   // when not empty, nothing was rebuilt
    std::vector<schema::change> changes;  // turn the migrations' schema into the environment's
    int recorded = 0;                     // migrations recorded in the environment
    bool same() const { return problems.empty() && changes.empty(); }
};

// Connects to the environment (its history and its schema), then builds the
// scratch database, applies the recorded migrations there and compares. The
// scratch database is dropped on every path out, errors included.
result compare(const project::config& cfg, const project::environment& env, const std::string& url,
               const options& o);

nlohmann::json to_json(const file_problem& p);

// Connects and disconnects: an unreachable environment is a usage error
// (exit 2) naming it (its URL redacted), before anything else is done.
void check_reachable(const project::environment& env, const std::string& url);

// The live schema of an environment, the history schema left out (`moonshift
// diff`); unreachable: as check_reachable.
nlohmann::json live_schema(const project::config& cfg, const project::environment& env,
                           const std::string& url);

}  // namespace moonshift::drift
