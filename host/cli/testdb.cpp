// `moonshift testdb [--seed] [--keep]`, `testdb drop URL|NAME`, `testdb prune`:
// a fresh database at the project's head for a test (docs/testdb.md). stdout
// carries only the URL (or one JSON line), so `$(moonshift testdb)` is usable.
#include "engine/testdb.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "cli/common.hpp"
#include "common/text.hpp"
#include "db/preload.hpp"

namespace moonshift::cli {
namespace {

// Starts `moonshift testdb refill` detached (its own session, stdio on
// /dev/null; posix_spawn, which does not copy this process's page tables as
// fork does: 5 ms of a call) and returns at once: the spares are made off
// the caller's clock. This process ends right after, so the refill is
// adopted by init and never waits as a zombie. The URL goes in
// MOONSHIFT_URL, never on the command line. A refill that cannot start is
// no failure of this call: the next call clones.
void start_refill(const globals& g, const engine::context& ctx, const testdb::options& o) {
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return;
    std::vector<std::string> argv = {exe.string(), "testdb", "--spares", std::to_string(o.spares)};
    if (o.seed) argv.push_back("--seed");
    argv.insert(argv.end(), {"refill", "--no-color"});
    if (g.config_given) argv.insert(argv.end(), {"--config", g.config});
    if (!g.env.empty()) argv.insert(argv.end(), {"--env", g.env});
    if (!g.migrations_dir.empty()) argv.insert(argv.end(), {"--migrations-dir", g.migrations_dir});
    // The refill gets the URL from the call; the call's output and testdb
    // settings are not its own (its flags say them). DATABASE_URL stays:
    // moonshift.toml may name it in an environment's url.
    const exec_args child(std::move(argv),
                          {"MOONSHIFT_URL=", "MOONSHIFT_JSON=", "MOONSHIFT_REPORT=",
                           "MOONSHIFT_QUIET=", "MOONSHIFT_VERBOSE=", "MOONSHIFT_TESTDB_SEED=",
                           "MOONSHIFT_TESTDB_KEEP=", "MOONSHIFT_TESTDB_SPARES="},
                          {"MOONSHIFT_URL=" + ctx.url});
    std::fflush(nullptr);
    posix_spawn_file_actions_t files;
    posix_spawnattr_t attr;
    if (posix_spawn_file_actions_init(&files) != 0) return;
    if (posix_spawnattr_init(&attr) != 0) {
        posix_spawn_file_actions_destroy(&files);
        return;
    }
    for (int fd = 0; fd <= 2; ++fd)
        posix_spawn_file_actions_addopen(&files, fd, "/dev/null", O_RDWR, 0);
    posix_spawn_file_actions_addclosefrom_np(&files, 3);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    pid_t pid = 0;
    posix_spawn(&pid, child.argv()[0], &files, &attr, child.argv(), child.envp());
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&files);
}

// The environment, without the announcement line other commands print:
// stdout is the URL alone.
engine::context quiet_context(const globals& g, printer& out) {
    db::load_libpq_in_background();
    auto p = load_project(g, out);
    engine::context ctx;
    ctx.cfg = p.cfg;
    ctx.env = p.env;
    ctx.url = p.url;
    // The template's `up`: warnings always, progress with -v, all on stderr.
    ctx.on_event = [&g, &out](const engine::event& e) {
        if (e.name == "log") {
            auto level = e.data.value("level", "info");
            if (level == "warn" || level == "error" || (g.verbose && level == "info"))
                out.warn((level == "info"   ? ""
                          : level == "warn" ? "warning: "
                                            : "error: ") +
                         e.data.value("message", ""));
        } else if (g.verbose && e.name == "migration.applied") {
            out.warn(
                "  applied " + e.data.value("version", "") + "_" + e.data.value("name", "") + " (" +
                text::format_duration(std::chrono::milliseconds(e.data.value("duration_ms", 0LL))) +
                ")");
        }
    };
    return ctx;
}

int create(const globals& g, testdb::options o, std::optional<int> spares) {
    printer out(g);
    auto ctx = quiet_context(g, out);
    o.spares = spares.value_or(ctx.cfg.testdb_spares);
    auto m = testdb::create(ctx, o, [&g, &out](const std::string& line) {
        if (g.verbose) out.warn(line);
    });
    for (const auto& w : m.warnings) out.warn("warning: " + w);
    if (m.built && (g.verbose || !g.quiet))
        out.warn("Built template " + m.template_name + " (" + std::to_string(m.migrations) +
                 " migration(s), " + text::format_duration(std::chrono::milliseconds(m.build_ms)) +
                 ")" +
                 (m.dropped_templates.empty()
                      ? ""
                      : "; dropped " + std::to_string(m.dropped_templates.size()) +
                            " older template(s)"));
    if (g.json) {
        out.json_line({{"result", "testdb"},
                       {"database", m.database},
                       {"url", m.url},
                       {"password_omitted", m.password_omitted},
                       {"template", m.template_name},
                       {"template_built", m.built},
                       {"migrations", m.migrations},
                       {"dropped_templates", m.dropped_templates},
                       {"build_ms", m.build_ms},
                       {"clone_ms", m.clone_ms},
                       {"spare_claimed", m.spare_claimed},
                       {"kept", o.keep}});
    } else {
        // The result itself, also with -q; never a password (the URL has none).
        std::fputs((text::redact(m.url) + "\n").c_str(), stdout);
    }
    if (o.spares > 0 && m.spares_left < o.spares) start_refill(g, ctx, o);
    return 0;
}

// The detached refill: prints nothing (its stdio is /dev/null); a failure
// (the server gone) only ends it, with the failure's exit code.
int refill(const globals& g, testdb::options o, std::optional<int> spares) {
    printer out(g);
    auto ctx = quiet_context(g, out);
    o.spares = spares.value_or(ctx.cfg.testdb_spares);
    ctx.on_event = nullptr;
    testdb::refill(ctx, o);
    return 0;
}

int drop(const globals& g, const std::string& what) {
    printer out(g);
    auto ctx = quiet_context(g, out);
    std::string name;
    bool existed = testdb::drop(ctx, what, name);
    out.line(existed ? "Dropped " + name + "." : name + " does not exist; nothing to drop.");
    out.json_line({{"result", "testdb drop"}, {"database", name}, {"dropped", existed}});
    return 0;
}

int prune(const globals& g, const testdb::prune_options& o) {
    printer out(g);
    auto ctx = quiet_context(g, out);
    auto r = testdb::prune(ctx, o);
    for (const auto& n : r.dropped) out.line((o.dry_run ? "would drop " : "dropped ") + n);
    for (const auto& n : r.in_use) out.warn("skipped " + n + ": a session is connected to it");
    out.line(std::to_string(r.dropped.size()) + " database(s) " +
             (o.dry_run ? "would be dropped (dry run, nothing changed)" : "dropped") +
             (r.in_use.empty() ? "" : ", " + std::to_string(r.in_use.size()) + " in use"));
    out.json_line({{"result", "testdb prune"},
                   {"dropped", r.dropped},
                   {"in_use", r.in_use},
                   {"dry_run", o.dry_run}});
    return 0;
}

}  // namespace

void register_testdb(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand(
        "testdb", "a fresh database migrated to head for a test, cloned from a template");
    auto opts = std::make_shared<testdb::options>();
    cmd->add_flag("--seed", opts->seed, "the template also holds the environment's seeds")
        ->envname("MOONSHIFT_TESTDB_SEED");
    cmd->add_flag("--keep", opts->keep,
                  "name it so that `testdb prune` leaves it (only `testdb drop` removes it)")
        ->envname("MOONSHIFT_TESTDB_KEEP");
    auto spares = std::make_shared<std::optional<int>>();
    cmd->add_option("--spares", *spares,
                    "spare clones of the template to keep ready (default [testdb] spares, 2; "
                    "0: none)")
        ->check(CLI::Range(0, 100))
        ->envname("MOONSHIFT_TESTDB_SPARES");
    // The detached child a call starts to make spares; not for people.
    auto* refill_cmd = cmd->add_subcommand("refill", "make spares up to --spares, then exit");
    refill_cmd->group("");
    refill_cmd->fallthrough();
    refill_cmd->callback([&g, &run, opts, spares] {
        run = [&g, opts, spares] { return refill(g, *opts, *spares); };
    });

    auto* drop_cmd = cmd->add_subcommand("drop", "drop a database testdb made");
    auto target = std::make_shared<std::string>();
    drop_cmd->add_option("database", *target, "its URL (as testdb printed it) or its name")
        ->required();
    drop_cmd->callback([&g, &run, target] { run = [&g, target] { return drop(g, *target); }; });

    auto* prune_cmd = cmd->add_subcommand(
        "prune", "drop this project's test databases older than --older-than minutes");
    auto po = std::make_shared<testdb::prune_options>();
    auto minutes = std::make_shared<int>(60);
    prune_cmd->add_option("--older-than", *minutes, "minutes (default 60; 0: all)")
        ->check(CLI::NonNegativeNumber)
        ->envname("MOONSHIFT_TESTDB_OLDER_THAN");
    prune_cmd->add_flag("--kept", po->kept, "also the databases made with --keep");
    prune_cmd->add_flag("--templates", po->templates,
                        "also the project's templates (the next testdb builds one again)");
    prune_cmd->add_flag("--dry-run", po->dry_run, "list what would be dropped, change nothing")
        ->envname("MOONSHIFT_DRY_RUN");
    prune_cmd->callback([&g, &run, po, minutes] {
        run = [&g, po, minutes] {
            po->older_than = std::chrono::minutes(*minutes);
            return prune(g, *po);
        };
    });

    cmd->callback([&g, &run, cmd, opts, spares, drop_cmd, prune_cmd, refill_cmd] {
        if (cmd->got_subcommand(drop_cmd) || cmd->got_subcommand(prune_cmd) ||
            cmd->got_subcommand(refill_cmd))
            return;
        run = [&g, opts, spares] { return create(g, *opts, *spares); };
    });
}

}  // namespace moonshift::cli
