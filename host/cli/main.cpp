// moonshift's entry point: global options, the list of commands, and the one
// place where errors become messages and exit codes.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string_view>

#include "cli/common.hpp"
#include "cli/report.hpp"
#include "common/error.hpp"
#include "common/interrupt.hpp"
#include "common/text.hpp"
#include "db/preload.hpp"

using namespace moonshift;

namespace {

// Every command, in the order `moonshift --help` lists them.
void register_commands(CLI::App& app, cli::globals& g, cli::command_fn& run) {
    cli::register_init(app, g, run);
    cli::register_new(app, g, run);
    cli::register_status(app, g, run);
    cli::register_up(app, g, run);
    cli::register_down(app, g, run);
    cli::register_redo(app, g, run);
    cli::register_baseline(app, g, run);
    cli::register_repair(app, g, run);
    cli::register_history(app, g, run);
    cli::register_wait(app, g, run);
    cli::register_local(app, g, run);
    cli::register_check(app, g, run);
    cli::register_verify(app, g, run);
    cli::register_run(app, g, run);
    cli::register_lint(app, g, run);
    cli::register_plan(app, g, run);
    cli::register_backup(app, g, run);
    cli::register_promote(app, g, run);
    cli::register_import(app, g, run);
    cli::register_convert(app, g, run);
    cli::register_notify(app, g, run);
    cli::register_diff(app, g, run);
    cli::register_drift(app, g, run);
    cli::register_seed(app, g, run);
    cli::register_backfill(app, g, run);
    cli::register_testdb(app, g, run);
    cli::register_dashboard(app, g, run);
    cli::register_fleet(app, g, run);
    cli::register_help(app, run);
}

// The options every command takes, before or after its name; each has an environment variable.
void add_global_options(CLI::App& app, cli::globals& g) {
    app.add_option("--env,-e", g.env, "environment from moonshift.toml")->envname("MOONSHIFT_ENV");
    app.add_option("--config,-c", g.config, "path of moonshift.toml")->envname("MOONSHIFT_CONFIG");
    app.add_flag("--json", g.json, "machine-readable output, one JSON object per line")
        ->envname("MOONSHIFT_JSON");
    app.add_flag("--yes,-y", g.yes, "answer yes to confirmations")->envname("MOONSHIFT_YES");
    app.add_option("--url", g.url, "database URL; wins over the environment's url and DATABASE_URL")
        ->envname("MOONSHIFT_URL");
    app.add_option("--migrations-dir", g.migrations_dir,
                   "migrations directory; wins over moonshift.toml's migrations")
        ->envname("MOONSHIFT_MIGRATIONS_DIR");
    app.add_flag("--verbose,-v", g.verbose, "more detail")->envname("MOONSHIFT_VERBOSE");
    app.add_flag("--quiet,-q", g.quiet, "only errors and warnings (and --json lines)")
        ->envname("MOONSHIFT_QUIET");
    app.add_flag("--no-color", g.no_color, "no colours")->envname("MOONSHIFT_NO_COLOR");
    app.add_option("--report", g.report,
                   "write a Markdown report of the run to this file (for a pull request)")
        ->envname("MOONSHIFT_REPORT");
}

// True when the command line names, as its command, one that connects first
// thing (read from argv before CLI11 builds its tree, 2 ms of a call): libpq
// and its libraries (10 ms) then load while the rest starts. A guess only:
// any command that connects loads them anyway, on first use.
bool connects_first(int argc, char** argv) {
    static constexpr std::string_view valued[] = {
        "--env", "-e", "--config", "-c", "--url", "--migrations-dir", "--report"};
    static constexpr std::string_view connecting[] = {
        "status", "up", "down", "redo", "testdb", "history", "drift", "verify", "backfill", "plan"};
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--help" || a == "-h" || a == "--version") return false;
        if (!a.empty() && a[0] == '-') {
            for (auto v : valued)
                if (a == v) ++i;  // its value is the next word
            continue;
        }
        for (auto c : connecting)
            if (a == c) return true;
        return false;
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    interrupt::install();  // SIGINT/SIGTERM stop a run cleanly; SIGPIPE never does
    if (connects_first(argc, argv)) db::load_libpq_in_background();
    cli::globals g;
    CLI::App app{"moonshift — PostgreSQL migrations with scripted safety", "moonshift"};
    app.set_version_flag("--version", std::string("moonshift ") + MOONSHIFT_VERSION);
    app.require_subcommand(1);
    app.fallthrough();  // global flags may follow the command: `moonshift up --json`
    add_global_options(app, g);
    cli::command_fn run;
    register_commands(app, g, run);
    cli::add_global_footer(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        return cli::parse_failure(app, e, argc, argv);  // never echoes a value typed
    }
    g.config_given = app.get_option("--config")->count() > 0 || std::getenv("MOONSHIFT_CONFIG");

    std::string failure;  // the error's message, for --report
    auto report = [&](const std::string& message, const std::string& hint, int code) {
        std::string text = text::redact(message);
        failure = text;
        std::fprintf(stderr, "error: %s\n", text.c_str());
        if (!hint.empty()) std::fprintf(stderr, "hint: %s\n", text::redact(hint).c_str());
        if (g.json) {
            nlohmann::json j = {{"error", text}, {"exit_code", code}};
            if (!hint.empty()) j["hint"] = text::redact(hint);
            std::printf("%s\n", j.dump().c_str());
        }
        return code;
    };
    auto execute = [&]() -> int {
        try {
            return run ? run() : 0;
        } catch (const error& e) {
            return report(e.what(), e.hint(), static_cast<int>(e.code()));
        } catch (const std::exception& e) {
            return report(e.what(), "", 1);
        }
    };
    if (!g.report.empty()) {
        try {
            cli::report::check_destination(g.report);
        } catch (const error& e) {
            return report(e.what(), e.hint(), static_cast<int>(e.code()));
        }
    }
    int code = execute();
    if (int sig = interrupt::received(); sig != 0 && code != 0) {
        // The error that stopped the run was the signal's doing: say so, with its code.
        failure = interrupt::describe();
        std::fprintf(stderr,
                     "%s: nothing more was started, an open transaction was rolled back, a run "
                     "in progress is recorded as interrupted and its lock released\n",
                     interrupt::describe());
        code = interrupt::exit_status(sig);
    }
    if (!g.report.empty()) {
        std::string command =
            app.get_subcommands().empty() ? "" : app.get_subcommands().front()->get_name();
        try {
            cli::report::write(g.report, command, code, failure);
        } catch (const error& e) {
            int rc = report(e.what(), e.hint(), static_cast<int>(e.code()));
            if (code == 0) code = rc;
        }
    }
    // What the command owned ended with it; left are memory and the libraries' cleanup (CLI11's
    // tree, OpenSSL, the modules: 5-10 ms of a 60 ms command). The output flushed, it ends here.
    std::fflush(nullptr);
    std::_Exit(code);
}
