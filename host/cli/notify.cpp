// Notifications on the command line: the hooks wired next to the printer of
// every command that runs (make_context), and `moonshift notify test|list`.
#include <cstdlib>
#include <memory>

#include "cli/common.hpp"
#include "common/error.hpp"
#include "notify/dispatcher.hpp"

namespace moonshift::cli {
namespace {

void print_note(printer& out, const notify::note& n) {
    using kind = notify::note::kind;
    if (out.json()) {
        const char* what = n.what == kind::output    ? "hook.output"
                           : n.what == kind::warning ? "hook.warning"
                                                     : "notify.failed";
        out.json_line({{"event", what}, {"hook", n.hook}, {"message", n.message}});
        return;
    }
    if (n.what == kind::output)
        out.line(n.message);
    else
        out.warn(out.yellow("warning: ") + n.message);
}

notify::dispatcher_options options_for(const project::config& cfg, const project::environment& env,
                                       const std::string& url, printer& out) {
    notify::dispatcher_options o;
    o.cfg = cfg;
    o.env = env;
    o.url = url;
    o.print = [&out](const notify::note& n) { print_note(out, n); };
    return o;
}

}  // namespace

void attach_notifications(engine::context& ctx, printer& out) {
    // A target of `moonshift fleet`: the fleet tells the hooks, once a wave (docs/fleet.md).
    if (const char* target = std::getenv("MOONSHIFT_FLEET_TARGET"); target && *target) return;
    auto hooks = std::make_shared<notify::dispatcher>(options_for(ctx.cfg, ctx.env, ctx.url, out));
    if (hooks->empty()) return;
    auto print_event = ctx.on_event;
    ctx.on_event = [hooks, print_event](const engine::event& e) {
        // What hooks printed goes out between the printer's lines, never
        // inside an open "Applying 003_x … ok".
        if (e.name == "run.start" || e.name == "run.planned" || e.name == "migration.start")
            hooks->flush();
        if (print_event) print_event(e);
        hooks->on_event(e);
    };
    ctx.on_close = [hooks](const std::string& outcome, nlohmann::json& report) {
        hooks->close_run(outcome, report);
    };
}

namespace {

int notify_test(const globals& g, const std::string& hook) {
    printer out(g);
    auto cfg = load_config(g);
    auto env = select_env(g, cfg);
    out.line(out.bold("▶ " + env.name) + out.dim("  notification test: nothing is applied"));
    auto o = options_for(cfg, env, "", out);
    o.connect = false;  // a test event needs no database
    o.print = [&out](const notify::note& n) {
        if (n.what != notify::note::kind::failure) print_note(out, n);  // failures: the lines below
    };
    notify::dispatcher d(o);
    if (d.empty())
        throw usage_error("environment \"" + env.name + "\" has no notification hooks",
                          "enable one, e.g. [notify.console] in moonshift.toml, or add "
                          "hooks/NAME.lua (docs/hooks.md)");
    auto results = d.send_test(hook);
    int failed = 0;
    for (const auto& r : results) {
        if (r.ok && r.skipped)
            out.line("  " + out.yellow("skipped") + " " + r.hook + " " + out.dim(r.event) + ": " +
                     r.message + " — nothing was sent");
        else if (r.ok)
            out.line("  " + out.green("ok") + "      " + r.hook + " " +
                     out.dim(r.event + " (" + std::to_string(r.duration_ms) + " ms)"));
        else
            out.line("  " + out.red("failed") + "  " + r.hook + " " + out.dim(r.event) + ": " +
                     r.message);
        out.json_line({{"result", "notify test"},
                       {"hook", r.hook},
                       {"event", r.event},
                       {"ok", r.ok},
                       {"sent", r.ok && !r.skipped},
                       {"message", r.message},
                       {"duration_ms", r.duration_ms},
                       {"required", r.required}});
        failed += !r.ok;
    }
    if (failed > 0)
        throw error(exit_code::check_failed,
                    std::to_string(failed) + " of " + std::to_string(results.size()) +
                        " notification hook(s) failed the test",
                    "the messages above say why; settings are in [notify.NAME] of moonshift.toml");
    return 0;
}

int notify_list(const globals& g) {
    printer out(g);
    auto cfg = load_config(g);
    auto env = select_env(g, cfg);
    auto o = options_for(cfg, env, "", out);
    o.connect = false;
    o.background = false;
    notify::dispatcher d(o);
    if (d.empty()) out.line("No notification hooks in environment \"" + env.name + "\".");
    for (const auto& h : d.hooks()) {
        std::string events;
        for (const auto& e : h.events) events += (events.empty() ? "" : ", ") + e;
        out.line(out.bold(h.name) + (h.required ? " (required)" : "") + out.dim("  " + h.label) +
                 "\n  " + events);
        out.json_line(
            {{"hook", h.name}, {"file", h.label}, {"required", h.required}, {"events", h.events}});
    }
    return 0;
}

}  // namespace

void register_notify(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand("notify", "notification hooks: send a test event, list them");
    cmd->require_subcommand(1);

    auto* test =
        cmd->add_subcommand("test", "send a made-up event through the hooks of the environment");
    auto hook = std::make_shared<std::string>();
    test->add_option("--hook", *hook, "only this hook ([notify.NAME])")
        ->envname("MOONSHIFT_NOTIFY_HOOK");
    test->callback([&g, &run, hook] { run = [&g, hook] { return notify_test(g, *hook); }; });

    auto* list =
        cmd->add_subcommand("list", "the hooks of the environment and the events each receives");
    list->callback([&g, &run] { run = [&g] { return notify_list(g); }; });
}

}  // namespace moonshift::cli
