// `moonshift down`: roll back applied migrations with their down scripts,
// or the reverse derived when they were applied (docs/rollback.md).
#include "cli/common.hpp"

namespace moonshift::cli {

void register_down(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand("down", "roll back the newest migrations (default: one)");
    auto opts = std::make_shared<engine::down_options>();
    auto to = std::make_shared<std::string>();
    auto* steps = cmd->add_option("--steps,-n", opts->steps, "how many migrations to roll back")
                      ->check(CLI::PositiveNumber);
    cmd->add_option("--to", *to, "roll back every migration after this version (0: all)")
        ->excludes(steps);
    cmd->add_flag("--dry-run", opts->dry_run, "show what would be rolled back, change nothing");
    cmd->add_flag("--restore-backup", opts->restore_backup,
                  "for a migration without a down script: put back the backup taken before it ran");
    cmd->add_flag("--force", opts->force,
                  "roll back a migration whose derived reverse cannot restore everything "
                  "(needs --reason)");
    cmd->add_option("--reason", opts->reason, "why --force: recorded with the run")
        ->envname("MOONSHIFT_FORCE_REASON");
    cmd->callback([&g, &run, opts, to] {
        run = [&g, opts, to] {
            if (!to->empty()) opts->to = *to;
            printer out(g);
            auto ctx = make_context(g, out, true);
            ctx.takes_lock = !opts->dry_run;
            engine::engine e(std::move(ctx));
            auto result = e.down(*opts);
            if (opts->dry_run) {
                for (auto& m : result.report["would_revert"])
                    out.line("would roll back " + m["version"].get<std::string>() + "_" +
                             m["name"].get<std::string>() + " (" + m.value("how", "") + ")");
            } else if (result.count == 0) {
                out.line("Nothing to roll back.");
            } else {
                out.line(
                    out.green("Rolled back " + std::to_string(result.count) + " migration(s)."));
            }
            out.json_line({{"result", "down"}, {"count", result.count}, {"report", result.report}});
            return 0;
        };
    });
}

}  // namespace moonshift::cli
