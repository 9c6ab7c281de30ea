// What every command shares: global options, the project and environment,
// and the printer that turns engine events into output.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "project/config.hpp"

namespace moonshift::cli {

struct globals {
    std::string env;
    std::string config = "moonshift.toml";
    bool config_given = false;
    bool json = false;
    bool yes = false;
    bool verbose = false;
    bool quiet = false;  // -q: no lines for people on stdout (errors, warnings, --json stay)
    std::string url;     // --url / MOONSHIFT_URL: wins over the environment's url
    std::string migrations_dir;  // --migrations-dir / MOONSHIFT_MIGRATIONS_DIR
    bool no_color = false;
    std::string report;  // --report FILE: a Markdown report of the run (report.hpp)
};

class printer {
  public:
    explicit printer(const globals& g);
    bool json() const { return json_; }
    // Colour helpers (empty strings without a TTY or with --no-color).
    std::string bold(const std::string& s) const;
    std::string green(const std::string& s) const;
    std::string red(const std::string& s) const;
    std::string yellow(const std::string& s) const;
    std::string dim(const std::string& s) const;

    void line(const std::string& s) const;  // a line for people (stdout); silent with --json
    void json_line(
        const nlohmann::json& j) const;       // one JSON object per line (stdout); only with --json
    void warn(const std::string& s) const;    // stderr
    void on_event(const engine::event& e);    // renders engine events
    void on_log(const nlohmann::json& data);  // "log" events
    void on_backfill_progress(const nlohmann::json& data);

  private:
    bool json_, color_, verbose_, quiet_;
    bool open_line_ = false;
    bool progress_line_ = false;  // a backfill's progress line is being redrawn (TTY)
    bool tty_;
};

struct project_env {
    project::config cfg;
    project::environment env;
    std::string url;
};

// Every string in j redacted (text::redact), for JSON that leaves the process.
nlohmann::json redacted_json(nlohmann::json j);

// moonshift.toml with --migrations-dir applied; the environment --env names, with --url applied.
project::config load_config(const globals& g);
project::environment select_env(const globals& g, const project::config& cfg);
// Loads moonshift.toml and picks the environment; starts the local cluster
// for `local = true` environments.
project_env load_project(const globals& g, printer& out);
// reads_catalog: the command reads the migrations folder, which is then read
// on a second thread while the connection is made (engine::context).
engine::context make_context(const globals& g, printer& out, bool reads_catalog = false);
// Wires the environment's notification hooks next to the printer (notify.cpp).
void attach_notifications(engine::context& ctx, printer& out);

// The connection URL of an environment; starts the local cluster for local = true.
std::string connection_url(const project::config& cfg, const project::environment& env,
                           printer& out);
// `up` on an environment with promote_from, and `promote --from`: the source
// whose verified history bounds what is applied.
void attach_promotion(engine::context& ctx, const globals& g, printer& out,
                      const std::string& from);

// Announces the environment before a command does anything to it.
void announce(const project_env& p, printer& out);

using command_fn = std::function<int()>;
// Each command file provides one of these; main.cpp lists them all.
void register_init(CLI::App& app, globals& g, command_fn& run);
void register_new(CLI::App& app, globals& g, command_fn& run);
void register_status(CLI::App& app, globals& g, command_fn& run);
void register_up(CLI::App& app, globals& g, command_fn& run);
void register_down(CLI::App& app, globals& g, command_fn& run);
void register_redo(CLI::App& app, globals& g, command_fn& run);
void register_baseline(CLI::App& app, globals& g, command_fn& run);
void register_repair(CLI::App& app, globals& g, command_fn& run);
void register_history(CLI::App& app, globals& g, command_fn& run);
void register_wait(CLI::App& app, globals& g, command_fn& run);
void register_local(CLI::App& app, globals& g, command_fn& run);
void register_check(CLI::App& app, globals& g, command_fn& run);
void register_verify(CLI::App& app, globals& g, command_fn& run);
void register_run(CLI::App& app, globals& g, command_fn& run);
void register_lint(CLI::App& app, globals& g, command_fn& run);
void register_plan(CLI::App& app, globals& g, command_fn& run);
void register_backup(CLI::App& app, globals& g, command_fn& run);
void register_promote(CLI::App& app, globals& g, command_fn& run);
void register_import(CLI::App& app, globals& g, command_fn& run);
void register_convert(CLI::App& app, globals& g, command_fn& run);
void register_notify(CLI::App& app, globals& g, command_fn& run);
void register_diff(CLI::App& app, globals& g, command_fn& run);
void register_drift(CLI::App& app, globals& g, command_fn& run);
void register_seed(CLI::App& app, globals& g, command_fn& run);
void register_backfill(CLI::App& app, globals& g, command_fn& run);
void register_testdb(CLI::App& app, globals& g, command_fn& run);
void register_dashboard(CLI::App& app, globals& g, command_fn& run);
void register_fleet(CLI::App& app, globals& g, command_fn& run);
void register_help(CLI::App& app, command_fn& run);

// A child's argv and environment for execve, made before fork so that the
// child allocates nothing: this process's environment without the variables
// whose "NAME=" prefix is in `drop`, then `extra`. Not copied or moved: the
// pointers point into its strings.
class exec_args {
  public:
    exec_args(std::vector<std::string> argv, std::initializer_list<const char*> drop,
              std::vector<std::string> extra);
    exec_args(const exec_args&) = delete;
    exec_args& operator=(const exec_args&) = delete;
    char* const* argv() const { return av_.data(); }
    char* const* envp() const { return ev_.data(); }

  private:
    std::vector<std::string> args_, env_;
    std::vector<char*> av_, ev_;
};

// usage.cpp: the global options at the foot of every command's --help; a parse error as a
// message that suggests the command or option meant and repeats no value typed.
void add_global_footer(CLI::App& app);
int parse_failure(CLI::App& app, const CLI::ParseError& e, int argc, char** argv);
// The candidate closest to word ("status" for "stauts"), or "" when none is close.
std::string closest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace moonshift::cli
