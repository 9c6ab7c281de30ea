// `moonshift fleet`: the pieces of the command (fleet.cpp) — the targets run
// as child processes (fleet_run.cpp) and the fleet's report (fleet_report.cpp).
// Private to host/cli/.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/common.hpp"
#include "engine/fleet.hpp"

namespace moonshift::notify {
class dispatcher;
}

namespace moonshift::cli::fleet {

// How a target's child is started: this binary, moonshift.toml, the
// environment whose settings apply; its URL goes in MOONSHIFT_URL, never argv.
struct launch {
    std::string exe;
    std::string config;
    std::string env;
    std::string migrations_dir;
    bool yes = false;
    bool json = true;     // the child prints JSON lines (false: its lines for people, for plan)
    int jobs = 4;         // targets at once
    int per_server = 10;  // targets at once on one server (the connections budget)
};

// What one child did: its exit, its last JSON line (the result, or {error}).
struct child_result {
    int exit_code = -1;
    nlohmann::json last;  // the command's result line, or {"error": ...}
    std::string error;    // a one-paragraph reason when exit_code != 0, redacted
    long long duration_ms = 0;
    std::string out;  // everything it printed on stdout
};

// Runs `moonshift ARGS --json` for each target in `which` (indexes into
// targets), at most l.jobs at once and l.per_server on one server, in the
// order given. done(i, result) is called once per finished target (from a
// worker thread, one call at a time); when it returns false, or a signal
// arrives, no further target starts (running ones finish; on a signal they
// are asked to stop with SIGTERM). Targets never started have no result.
using on_done = std::function<bool(std::size_t index, const child_result& r)>;
void run_targets(const launch& l, const std::vector<engine::fleet_target>& targets,
                 const std::vector<std::size_t>& which, const std::vector<std::string>& args,
                 const on_done& done, const std::function<void(std::size_t)>& started = {});

// One target in the report.
struct target_row {
    std::string target, server;
    int wave = 0;
    std::string outcome = "not run";  // applied, up to date, failed, rolled back, not run, ...
    int applied = 0;
    std::string head;        // status: the newest applied version
    nlohmann::json summary;  // status: the target's own summary
    int exit_code = -1;
    long long duration_ms = 0;
    std::string error;
};

struct report {
    std::string fleet, command, outcome = "ok";
    long long duration_ms = 0;
    int waves = 0;
    std::string failed_target;
    std::vector<target_row> targets;
    nlohmann::json notifications;
};

nlohmann::json to_json(const report& r);
std::string to_markdown(const report& r);
// The console table (one line per target; a long fleet shows the targets
// that did not end well and a count of the others).
void print_table(printer& out, const report& r, bool all_rows);

// Progress on a TTY: one line redrawn (done, running, failed, ETA); nothing
// elsewhere.
class progress {
  public:
    progress(const globals& g, std::size_t total);
    void update(std::size_t done, std::size_t running, std::size_t failed, int wave, int waves);
    void clear();

  private:
    bool on_ = false;
    std::size_t total_;
    std::chrono::steady_clock::time_point t0_;
};

// The command line of one fleet command.
struct options {
    std::string name, to;
    int jobs = 0, connections = 0, steps = 0;
    bool all_rows = false;
};

// The fleet, its targets and how their children start; nothing is touched yet.
struct setup {
    project::config cfg;
    project::fleet_section f;
    std::vector<engine::fleet_target> targets;
    std::vector<std::pair<std::size_t, std::size_t>> waves;  // [begin, end) into targets
    launch l;
};
// Reads moonshift.toml and resolves the fleet; usage errors before anything runs.
setup prepare(const globals& g, const options& o);

// The fleet's events: to the hooks (one dispatcher for the fleet, as for
// one run) and, with --json, as lines.
class events {
  public:
    events(const setup& s, printer& out);
    ~events();
    void emit(const std::string& name, nlohmann::json data);
    // The deliveries, for the report; a required hook that failed throws.
    nlohmann::json close(const std::string& outcome);

  private:
    printer& out_;
    std::unique_ptr<notify::dispatcher> hooks_;
};

// A report with a row per target (in wave order), nothing run yet.
report empty_report(const setup& s, const std::string& command);
// --report FILE: the fleet's report (JSON when FILE ends in .json, else Markdown).
void keep_report(const globals& g, const report& r);
std::vector<std::size_t> indexes(std::size_t begin, std::size_t end);
// The newest applied version in a `status --json` line ("" when none).
std::string head_of(const nlohmann::json& status);

// The commands (fleet_up.cpp, fleet_status.cpp); each returns the exit code.
int up_or_down(const globals& g, const options& o, bool down);
int status(const globals& g, const options& o);
int plan(const globals& g, const options& o);

}  // namespace moonshift::cli::fleet
