// A throw-away moonshift project for CLI tests: a temp dir with a
// moonshift.toml pointing at a fresh database, and helpers to look inside it.
#pragma once
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "support/harness.hpp"

namespace moonshift::test {

struct project : fresh_db {
    temp_dir dir;
    explicit project(const std::string& extra_env_settings = "");

    // Writes migrations/<name> (relative to the migrations directory).
    void migration(const std::string& file, const std::string& sql) const;
    cli_result ms(std::vector<std::string> args, const env_changes& env = {}) const;
    child spawn(std::vector<std::string> args, const env_changes& env = {}) const;

    // Queries against the project's database.
    std::string scalar(const std::string& sql) const;
    long long count(const std::string& sql) const;
    bool table_exists(const std::string& name) const;
    std::vector<std::string> applied_versions() const;
    // A fingerprint of everything in the database (schemas, tables, columns,
    // rows of moonshift.*), to prove a failed command wrote nothing.
    std::string fingerprint() const;
};

// The last line of output that parses as JSON.
nlohmann::json last_json(const std::string& out);

}  // namespace moonshift::test
