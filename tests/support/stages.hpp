// Two databases on the test server playing staging and production, in one
// throw-away project whose moonshift.toml names both.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/harness.hpp"

namespace moonshift::test {

struct stages {
    fresh_db staging, production;
    temp_dir dir;

    // production_settings go under [env.production] (after its url);
    // extra is appended to the file (more sections).
    explicit stages(
        const std::string& production_settings = "promote_from = \"staging\"\napprove = true\n",
        const std::string& extra = "");
    void write_config(const std::string& production_settings, const std::string& extra = "") const;
    void migration(const std::string& file, const std::string& sql) const;
    cli_result ms(std::vector<std::string> args, const env_changes& env = {}) const;
    child spawn(std::vector<std::string> args, const env_changes& env = {}) const;
    // A query against one of the two databases.
    std::string scalar(const fresh_db& db, const std::string& sql) const;
    std::vector<std::string> applied(const fresh_db& db) const;
    bool table_exists(const fresh_db& db, const std::string& name) const;
};

// Every JSON line of an output, in order.
std::vector<nlohmann::json> json_lines(const std::string& out);
// The event names among them.
std::vector<std::string> event_names(const std::string& out);

}  // namespace moonshift::test
