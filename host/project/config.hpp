// moonshift.toml: the project's settings and its environments, with ${VAR}
// interpolation from the process environment and .env files.
#pragma once
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace moonshift::project {

// [notify.NAME], or [env.ENV.notify.NAME] over it: one notification hook and
// its settings as written (docs/hooks.md). host/notify/ merges, checks and
// interpolates them for the selected environment.
struct notify_section {
    std::optional<std::string> hook;               // the hook's code, hooks/<hook>.lua; default NAME
    std::optional<bool> enabled, required;
    std::optional<std::vector<std::string>> events;
    nlohmann::json settings = nlohmann::json::object();  // every other key, TOML values as JSON
    std::map<std::string, int> lines;              // the line of each key, for messages
    int line = 0;                                  // where the section starts
};

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
    // Safety (docs/safety.md): when to back up before a migration, where,
    // how often a lock_timeout is retried, how long to wait for sessions
    // that would block DDL. Unset: the [backup] / built-in defaults.
    std::optional<std::string> backup;          // "never" | "destructive" | "always"
    std::optional<std::string> backup_dir;
    std::optional<int> lock_retries;
    std::optional<std::chrono::milliseconds> lock_retry_delay;
    std::optional<std::chrono::milliseconds> blocker_wait;
    std::map<std::string, notify_section> notify;  // [env.NAME.notify.HOOK]: this environment's overrides
};

// [lint]: which rules run and how strictly.
struct lint_settings {
    std::vector<std::string> disable;     // rules turned off
    std::vector<std::string> warn;        // rules whose errors become warnings
    std::vector<std::string> error;       // rules whose warnings become errors
    long long small_table_bytes = 10LL * 1024 * 1024;  // below this, locking rules pass
    // Schemas served by an API, where every table needs RLS. Empty: "public"
    // when the target has Supabase's roles (anon, authenticated), else none.
    std::vector<std::string> exposed_schemas;
};

// [backup]: targeted backups before destructive migrations.
struct backup_settings {
    std::string policy = "destructive";   // default of every environment
    std::string dir = ".moonshift/backups";
    int keep_daily = 7, keep_weekly = 4, keep_monthly = 12;
    bool full = false;                    // policy "always": a whole-database pg_dump
};

struct config {
    std::filesystem::path root;       // the project directory
    std::filesystem::path file;       // moonshift.toml, or empty when there is none
    std::string migrations_dir = "migrations";
    std::string schema = "moonshift"; // the history schema
    std::string default_env;
    std::chrono::milliseconds lock_wait{std::chrono::seconds(30)};
    std::map<std::string, environment> envs;
    lint_settings lint;
    backup_settings backup;
    std::map<std::string, notify_section> notify;  // [notify.NAME]
    std::vector<std::string> http_allow_hosts;     // [http] allow_hosts: hosts Lua's http may reach; empty = any
    // [lua]: time budget of scripts per phase (precheck, up, verify, down,
    // check, hook, run); defaults in engine/lua_steps.cpp. jit = true
    // compiles hot loops (faster; a compiled loop that never calls the host
    // cannot be interrupted).
    std::map<std::string, std::chrono::milliseconds> lua_budgets;
    bool lua_jit = false;

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

// The variables of .env and of the environment's dotenv file, for ${VAR}
// in settings that are interpolated late (notification hooks).
std::map<std::string, std::string> variables(const config& cfg, const environment& env);

// Reads KEY=VALUE lines (comments, `export`, quotes) from a .env file.
std::map<std::string, std::string> read_dotenv(const std::filesystem::path& file);

// Replaces ${VAR} (and ${VAR:-default}) from vars, then the process
// environment. A missing variable throws naming `where` and the variable.
std::string interpolate(const std::string& value, const std::map<std::string, std::string>& vars,
                        const std::string& where);

// The commented starter moonshift.toml written by `moonshift init`.
std::string starter_config();

}  // namespace moonshift::project
