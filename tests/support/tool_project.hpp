// A project that another tool wrote (tests/fixtures/<name>, copied as it is
// into a temp directory), on a fresh database: for the drop-in suites
// (dropin_drizzle, dropin_prisma, dropin_supabase).
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/project.hpp"

namespace moonshift::test {

struct tool_project : project {
    // Copies tests/fixtures/<fixture> into the project (its bootstrap.sql, when
    // it has one, is run on the database: what the platform has before the
    // first migration) and writes moonshift.toml with `project_lines` in [project].
    tool_project(const std::string& fixture, const std::string& project_lines);

    void file(const std::string& rel, const std::string& content) const;
    std::string read(const std::string& rel) const;
    void sql(const std::string& text) const;
    // Runs moonshift and requires the exit code; the output is in the failure message.
    cli_result must(const std::vector<std::string>& args, int exit_code = 0) const;
    nlohmann::json json(std::vector<std::string> args, int exit_code = 0) const;
    // Rows of a query, each row's columns joined by "|".
    std::vector<std::string> rows(const std::string& sql) const;
};

// sha256 hex of a file's bytes, computed here independently of the host.
std::string sha256_of_file(const std::filesystem::path& p);

}  // namespace moonshift::test
