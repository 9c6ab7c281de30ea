// `moonshift testdb [--seed] [--keep]`, `testdb drop URL|NAME`, `testdb prune`:
// a fresh database at the project's head for a test (docs/testdb.md). stdout
// carries only the URL (or one JSON line), so `$(moonshift testdb)` is usable.
#include "engine/testdb.hpp"

#include <cstdio>

#include "cli/common.hpp"
#include "common/text.hpp"

namespace moonshift::cli {
namespace {

// The environment, without the announcement line other commands print:
// stdout is the URL alone.
engine::context quiet_context(const globals& g, printer& out) {
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

int create(const globals& g, const testdb::options& o) {
    printer out(g);
    auto ctx = quiet_context(g, out);
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
                       {"kept", o.keep}});
    } else {
        // The result itself, also with -q; never a password (the URL has none).
        std::fputs((text::redact(m.url) + "\n").c_str(), stdout);
    }
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

    cmd->callback([&g, &run, cmd, opts, drop_cmd, prune_cmd] {
        if (cmd->got_subcommand(drop_cmd) || cmd->got_subcommand(prune_cmd)) return;
        run = [&g, opts] { return create(g, *opts); };
    });
}

}  // namespace moonshift::cli
