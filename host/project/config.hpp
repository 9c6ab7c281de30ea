// moonshift.toml: the project's settings and its environments, with ${VAR}
// interpolation from the process environment and .env files.
#pragma once
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "project/fleet.hpp"

namespace moonshift::project {

// [notify.NAME], or [env.ENV.notify.NAME] over it: one notification hook and
// its settings as written (docs/hooks.md). host/notify/ merges, checks and
// interpolates them for the selected environment.
struct notify_section {
    std::optional<std::string> hook;  // the hook's code, hooks/<hook>.lua; default NAME
    std::optional<bool> enabled, required, unchanged;
    std::optional<std::vector<std::string>> events, on;
    nlohmann::json settings = nlohmann::json::object();  // every other key, TOML values as JSON
    std::map<std::string, int> lines;                    // the line of each key, for messages
    int line = 0;                                        // where the section starts
};

// `window = "22:00-06:00"` or `"Sat,Sun 00:00-24:00 UTC"`: when changes may
// run. Days (Mon..Sun, ranges like Mon-Fri) are optional; times are local
// unless the window says UTC; a window may wrap past midnight.
struct time_window {
    std::string text;      // as written
    unsigned days = 0x7f;  // bit 0 = Monday ... bit 6 = Sunday
    int start_min = 0, end_min = 24 * 60;
    bool utc = false;
};

// [env.NAME.triggers.T]: a built-in rollback probe (docs/environments.md).
// kind "http": url, error_rate (percentage points above the baseline,
// default 5), latency (percent above the baseline, default 50), timeout;
// kind "sql": query, max and/or min; kind "pg_stat_statements": top, latency.
struct trigger_section {
    std::string name;
    std::string kind;
    nlohmann::json settings = nlohmann::json::object();  // every key but kind, as JSON
    int line = 0;
};

struct environment {
    std::string name;
    std::string url;           // interpolated; empty with local = true or PG* variables
    std::string url_template;  // as written, before ${VAR} interpolation
    int url_line = 0;
    bool local = false;  // use the project's private cluster (moonshift local)
    std::optional<std::chrono::milliseconds> lock_timeout;
    std::optional<std::chrono::milliseconds> statement_timeout;
    std::optional<std::chrono::milliseconds> lock_wait;  // how long to wait for the migration lock
    std::optional<std::string> pooler;  // "auto" | "transaction" | "none"; unset: [project] pooler
    std::string dotenv;                 // extra .env file for this environment
    int line = 0;                       // where [env.NAME] starts in moonshift.toml
    // Safety (docs/safety.md): when to back up before a migration, where,
    // how often a lock_timeout is retried, how long to wait for sessions
    // that would block DDL. Unset: the [backup] / built-in defaults.
    std::optional<std::string> backup;  // "never" | "destructive" | "always"
    std::optional<std::string> backup_dir;
    std::optional<std::string> backup_store;  // "files" | "database"
    std::optional<int> lock_retries;
    std::optional<std::chrono::milliseconds> lock_retry_delay;
    std::optional<std::chrono::milliseconds> blocker_wait;
    std::map<std::string, notify_section>
        notify;  // [env.NAME.notify.HOOK]: this environment's overrides
    // Promotion and guard rails (docs/environments.md).
    bool approve = false;             // a typed confirmation on a TTY, or --yes
    std::optional<bool> production;   // unset: approve, or the name production/prod
    std::string promote_from;         // changes must be applied and verified there first
    std::vector<time_window> window;  // allowed hours; empty: any time
    bool read_only = false;           // refuses every command that changes the database
    // Watch window after `up`: rollback triggers evaluated every `watch_every`
    // for `watch_seconds`; 0 = no watch.
    std::chrono::milliseconds watch_for{0}, watch_every{std::chrono::seconds(10)};
    std::map<std::string, trigger_section> triggers;
    // With a watch window or triggers, `up` refuses migrations that could
    // not be rolled back unless this is true (docs/rollback.md, "Preflight").
    bool allow_irreversible = false;
    std::vector<std::string> critical_tables;  // added to [verify] critical_tables

    bool is_production() const {
        return production ? *production : approve || name == "production" || name == "prod";
    }
};

// [verify]: the built-in verifications after every `up` and in `moonshift verify`.
struct verify_settings {
    std::vector<std::string> critical_tables;  // must exist ("schema.table" or "table" in public)
    bool rls = true;           // RLS and a policy on every table of the exposed schemas
    bool indexes = true;       // no invalid indexes
    bool foreign_keys = true;  // no NOT VALID foreign keys left behind
    bool row_counts = true;    // tables no migration declared it changes keep their row count
    long long row_count_limit = 1000000;  // tables larger (by estimate) are not counted
    // [verify] row_count_tolerance: how many rows a table the run does not
    // change may lose while the application keeps writing — "1%" (the
    // default) of its count before the run, or a number of rows. Growth is
    // never a failure.
    double row_count_tolerance_percent = 1.0;
    long long row_count_tolerance_rows = -1;  // >= 0: a count instead of the percentage
};

// [lint]: which rules run and how strictly.
struct lint_settings {
    std::vector<std::string> disable;                  // rules turned off
    std::vector<std::string> warn;                     // rules whose errors become warnings
    std::vector<std::string> error;                    // rules whose warnings become errors
    long long small_table_bytes = 10LL * 1024 * 1024;  // below this, locking rules pass
    // Schemas served by an API, where every table needs RLS. Empty: "public"
    // when the target has Supabase's roles (anon, authenticated), else none.
    std::vector<std::string> exposed_schemas;
    // The findings `moonshift lint --baseline` recorded, which no later lint
    // reports again; relative to moonshift.toml (default lint-baseline.json).
    std::string baseline = "lint-baseline.json";
};

// [backup]: targeted backups before destructive migrations.
struct backup_settings {
    std::string policy = "destructive";  // default of every environment
    std::string dir = ".moonshift/backups";
    // Where targeted backups go: "files" (gzip files under dir) or "database"
    // (tables in `schema` of the target database, copied by the server).
    std::string store = "files";
    std::string schema = "moonshift_backups";
    bool dir_set = false;  // dir was written in moonshift.toml
    int keep_daily = 7, keep_weekly = 4, keep_monthly = 12;
    bool full = false;  // policy "always": a whole-database pg_dump
};

struct config {
    std::filesystem::path root;  // the project directory
    std::filesystem::path file;  // moonshift.toml, or empty when there is none
    std::string migrations_dir = "migrations";
    // Down scripts in a runbook's layout, NNN_rollback_name.sql ([project]
    // rollbacks); "" means the folder "rollbacks" beside the migrations.
    std::string rollbacks_dir;
    std::string schema = "moonshift";  // the history schema
    // [project] keep_history: the other tools whose history table `up` and
    // `down` keep current beside moonshift's ("drizzle", "prisma", "supabase").
    std::vector<std::string> keep_history;
    // [project] supabase_schemas: with the Supabase layout, whether diff and
    // drift compare Supabase's own schemas and extensions ("include") or leave
    // them out ("exclude", the default).
    std::string supabase_schemas = "exclude";
    std::string default_env;
    std::chrono::milliseconds lock_wait{std::chrono::seconds(30)};
    // Transaction-mode poolers (docs/poolers.md): "auto" detects one,
    // "transaction" assumes one, "none" a direct connection; the lease that
    // locks a run through one expires this long after its last renewal.
    std::string pooler = "auto";
    // The key of this project's rows in the history, when several projects
    // share one database and history schema (docs/formats.md); unset: the
    // catalog's own (Sqitch's %project, else "").
    std::optional<std::string> history_key;
    std::chrono::milliseconds pooler_lease{std::chrono::seconds(60)};
    // When a migration's commit waits for the WAL flush (docs/safety.md,
    // "Durability"): "run" — only the run's last (the ones before commit with
    // synchronous_commit off, and the WAL keeps their order); "migration" — each.
    std::string durability = "run";
    // [local] supabase: whether the private local cluster's databases get the
    // Supabase shape (roles, auth, storage; engine/local_shape.cpp); unset:
    // when the project is a Supabase one.
    std::optional<bool> local_supabase;
    // [testdb] spares: clones of the template `moonshift testdb` keeps ready,
    // each later call claiming one by a rename (docs/testdb.md); 0: none.
    int testdb_spares = 2;
    std::map<std::string, environment> envs;
    std::map<std::string, fleet_section> fleets;  // [fleet.NAME] (fleet.hpp)
    lint_settings lint;
    backup_settings backup;
    verify_settings verify;
    std::map<std::string, notify_section> notify;  // [notify.NAME]
    std::vector<std::string>
        http_allow_hosts;  // [http] allow_hosts: hosts Lua's http may reach; empty = any
    // [lua]: time budget of scripts per phase (precheck, up, verify, down,
    // check, hook, run); defaults in engine/lua_steps.cpp. jit = true
    // compiles hot loops (faster; a compiled loop that never calls the host
    // cannot be interrupted).
    // load: a file's top-level code while it loads; lint: project and
    // built-in lint rules, per statement. memory: bytes of a Lua state.
    std::map<std::string, std::chrono::milliseconds> lua_budgets;
    bool lua_jit = false;
    long long lua_memory = 512LL << 20;  // [lua] memory; 0 = no limit

    // The [lua] budget named `key`, or `fallback` when the file sets none.
    std::chrono::milliseconds lua_budget(const std::string& key,
                                         std::chrono::milliseconds fallback) const {
        auto it = lua_budgets.find(key);
        return it == lua_budgets.end() ? fallback : it->second;
    }

    std::filesystem::path migrations_path() const { return root / migrations_dir; }
    std::filesystem::path rollbacks_path() const {
        return rollbacks_dir.empty()
                   ? migrations_path().lexically_normal().parent_path() / "rollbacks"
                   : root / rollbacks_dir;
    }
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
// Those of the project's .env alone, where no environment is chosen (`lint` offline).
std::map<std::string, std::string> variables(const config& cfg);

// Whether `window` allows a change at `now` (true when empty).
bool in_window(const std::vector<time_window>& window, std::chrono::system_clock::time_point now);

// Parses a window ("22:00-06:00", "Mon-Fri 01:00-05:00 UTC"); throws
// std::invalid_argument with what is wrong.
time_window parse_window(const std::string& text);

// Reads KEY=VALUE lines (comments, `export`, quotes) from a .env file.
std::map<std::string, std::string> read_dotenv(const std::filesystem::path& file);

// Replaces ${VAR} (and ${VAR:-default}) from vars, then the process
// environment. A missing variable throws naming `where` and the variable.
// The value of a variable with a secret name (text::is_secret_name) is
// registered as a secret; with `url` true, so are the URL's password and
// every variable that makes up part of it (docs/configuration.md).
std::string interpolate(const std::string& value, const std::map<std::string, std::string>& vars,
                        const std::string& where, bool url = false);

// The commented starter moonshift.toml written by `moonshift init`.
std::string starter_config();

}  // namespace moonshift::project
