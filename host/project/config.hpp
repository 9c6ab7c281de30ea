// moonshift.toml: the project's settings and its environments, with ${VAR}
// interpolation from the process environment and .env files.
#pragma once
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace moonshift::project {

struct environment {
    std::string name;
    std::string url;                  // interpolated; empty with local = true or PG* variables
    std::string url_template;         // as written, before ${VAR} interpolation
    int url_line = 0;
    bool local = false;               // use the project's private cluster (moonshift local)
    std::optional<std::chrono::milliseconds> lock_timeout;
    std::optional<std::chrono::milliseconds> statement_timeout;
    std::optional<std::chrono::milliseconds> lock_wait;  // how long to wait for the migration lock
    std::string dotenv;               // extra .env file for this environment
    int line = 0;                     // where [env.NAME] starts in moonshift.toml
};

struct config {
    std::filesystem::path root;       // the project directory
    std::filesystem::path file;       // moonshift.toml, or empty when there is none
    std::string migrations_dir = "migrations";
    std::string schema = "moonshift"; // the history schema
    std::string default_env;
    std::chrono::milliseconds lock_wait{std::chrono::seconds(30)};
    std::map<std::string, environment> envs;

    std::filesystem::path migrations_path() const { return root / migrations_dir; }
};

// Reads `file` (moonshift.toml) or, when it does not exist and was not named
// explicitly, a config with no environments rooted at its directory.
// Unknown keys and bad values throw moonshift::error(usage) naming file:line.
config load(const std::filesystem::path& file, bool explicit_path);

// Picks the environment: `name` (from --env / MOONSHIFT_ENV), else
// default_env, else the only one, else "local"; with no environments at all,
// DATABASE_URL and then libpq's PG* variables.
environment select(const config& cfg, const std::string& name);

// Reads KEY=VALUE lines (comments, `export`, quotes) from a .env file.
std::map<std::string, std::string> read_dotenv(const std::filesystem::path& file);

// Replaces ${VAR} (and ${VAR:-default}) from vars, then the process
// environment. A missing variable throws naming `where` and the variable.
std::string interpolate(const std::string& value, const std::map<std::string, std::string>& vars,
                        const std::string& where);

// The commented starter moonshift.toml written by `moonshift init`.
std::string starter_config();

}  // namespace moonshift::project
