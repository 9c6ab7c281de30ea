// `moonshift promote --from staging --to production`: apply to the target
// only what is applied and verified in the source with the same checksum.
#include "cli/common.hpp"
#include "common/text.hpp"

namespace moonshift::cli {

void register_promote(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand(
        "promote",
        "apply to an environment what another one has applied and verified (same checksums)");
    auto from = std::make_shared<std::string>();
    auto to = std::make_shared<std::string>();
    auto version = std::make_shared<std::string>();
    cmd->add_option("--from", *from,
                    "the environment the migrations were verified in (default: promote_from)");
    cmd->add_option("--to", *to, "the environment to change (default: --env)");
    cmd->add_option("--version", *version, "promote up to and including this version");
    cmd->callback([&g, &run, from, to, version] {
        run = [&g, from, to, version] {
            if (!to->empty()) g.env = *to;
            printer out(g);
            auto ctx = make_context(g, out);
            ctx.takes_lock = true;  // its `up`
            if (from->empty() && ctx.env.promote_from.empty())
                throw usage_error(
                    "promote needs --from, or promote_from in [env." + ctx.env.name + "]",
                    "moonshift promote --from staging --to " + ctx.env.name);
            attach_promotion(ctx, g, out, *from);
            auto source = ctx.promote_from->name;
            engine::engine e(std::move(ctx));
            engine::up_options o;
            if (!version->empty()) o.to = *version;
            o.to_source_head = true;  // what the source has applied, no further
            auto result = e.up(o);
            if (result.count == 0)
                out.line("Nothing to promote: " + e.ctx().env.name + " has everything " + source +
                         " has applied.");
            else
                out.line(out.green("Promoted " + std::to_string(result.count) +
                                   " migration(s) from " + source + " to " + e.ctx().env.name) +
                         out.dim(" in " + text::format_duration(std::chrono::milliseconds(
                                              result.report.value("duration_ms", 0LL)))));
            out.json_line(
                {{"result", "promote"}, {"count", result.count}, {"report", result.report}});
            return 0;
        };
    });
}

}  // namespace moonshift::cli
