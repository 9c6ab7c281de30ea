// `moonshift seed`: seed data for non-production environments, from
// seeds/ENV/*.sql when that folder exists, else seeds/*.sql; with no seeds/
// folder, the seed file of the migrations' layout (supabase/seed.sql).
#pragma once
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/engine.hpp"

namespace moonshift::seed {

struct source {
    std::filesystem::path dir;                 // the folder the files come from
    std::vector<std::filesystem::path> files;  // *.sql, sorted by name
};

// Where the environment's seeds are. Throws error(usage) when there is no
// seeds/ folder (nor a layout's seed file) or it has no .sql files for this environment.
source find(const project::config& cfg, const std::string& env_name);

// Refuses production and read-only environments (error(usage)), before
// anything connects.
void check_allowed(const project::environment& env);

// Loads each file in its own transaction, in a recorded run (command "seed")
// under the migration lock. A failing file is rolled back and named
// file:line:col; the files before it stay loaded. `loaded` is called after
// each file with {"file", "duration_ms"}. Returns the run's report.
nlohmann::json load(engine::engine& e, const source& src,
                    const std::function<void(const nlohmann::json&)>& loaded);

}  // namespace moonshift::seed
