// `moonshift up`: apply pending migrations.
#include "cli/common.hpp"
#include "common/text.hpp"

namespace moonshift::cli {

void register_up(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand("up", "apply pending migrations");
    auto opts = std::make_shared<engine::up_options>();
    auto to = std::make_shared<std::string>();
    cmd->add_option("--to", *to, "apply up to and including this version");
    cmd->add_flag("--single-transaction", opts->single_transaction,
                  "all pending migrations in one transaction")
        ->envname("MOONSHIFT_SINGLE_TRANSACTION");
    cmd->add_flag("--out-of-order", opts->out_of_order,
                  "also apply pending versions older than the newest applied")
        ->envname("MOONSHIFT_OUT_OF_ORDER");
    cmd->add_flag("--dry-run", opts->dry_run, "show what would be applied, change nothing")
        ->envname("MOONSHIFT_DRY_RUN");
    auto lint = std::make_shared<std::string>("error");
    auto reason = std::make_shared<std::string>();
    cmd->add_option("--lint", *lint,
                    "error (default): lint errors stop the run; warn: this run only, they are "
                    "warnings (needs --reason, which the run's report records)")
        ->check(CLI::IsMember({"error", "warn"}));
    cmd->add_option("--reason", *reason, "why lint errors may pass this run (with --lint=warn)");
    cmd->add_flag("--allow-irreversible", opts->allow_irreversible,
                  "with a watch window or triggers: apply migrations that could not be rolled back")
        ->envname("MOONSHIFT_ALLOW_IRREVERSIBLE");
    cmd->callback([&g, &run, opts, to, lint, reason] {
        run = [&g, opts, to, lint, reason] {
            if (!to->empty()) opts->to = *to;
            if (*lint == "warn" && text::trim(*reason).empty())
                throw usage_error(
                    "up --lint=warn needs --reason \"...\": the run's report "
                    "records why lint errors were let through",
                    "e.g. --lint=warn --reason \"adopting moonshift on the "
                    "existing history\"");
            if (*lint == "warn") opts->lint_warn_reason = text::trim(*reason);
            printer out(g);
            auto ctx = make_context(g, out, true);
            ctx.takes_lock = !opts->dry_run;
            if (!opts->dry_run) attach_promotion(ctx, g, out, "");
            engine::engine e(std::move(ctx));
            auto result = e.up(*opts);
            if (opts->dry_run) {
                for (auto& m : result.report["would_apply"])
                    out.line("would apply " + m["version"].get<std::string>() + "_" +
                             m["name"].get<std::string>());
                out.line(std::to_string(result.count) +
                         " migration(s) would be applied (dry run, nothing changed)");
            } else if (result.count == 0) {
                out.line("Nothing to apply: the database is up to date.");
            } else {
                out.line(out.green("Applied " + std::to_string(result.count) + " migration(s)") +
                         out.dim(" in " + text::format_duration(std::chrono::milliseconds(
                                              result.report.value("duration_ms", 0LL)))));
            }
            out.json_line({{"result", "up"}, {"count", result.count}, {"report", result.report}});
            return 0;
        };
    });
}

void register_redo(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand("redo", "roll back the newest migration and apply it again");
    cmd->callback([&g, &run] {
        run = [&g] {
            printer out(g);
            auto ctx = make_context(g, out, true);
            ctx.takes_lock = true;
            engine::engine e(std::move(ctx));
            auto result = e.redo();
            out.line(out.green("Redone."));
            out.json_line({{"result", "redo"}, {"count", result.count}, {"report", result.report}});
            return 0;
        };
    });
}

}  // namespace moonshift::cli
