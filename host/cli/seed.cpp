// `moonshift seed`: loads seeds/ENV/*.sql (or seeds/*.sql) into a
// non-production environment, each file in its own transaction.
#include "engine/seed.hpp"

#include "cli/common.hpp"
#include "common/text.hpp"

namespace moonshift::cli {

void register_seed(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand("seed",
                                   "load seeds/ENV/*.sql (or seeds/*.sql) into a non-production "
                                   "environment, one transaction per file");
    auto dry_run = std::make_shared<bool>(false);
    cmd->add_flag("--dry-run", *dry_run, "list the files that would be loaded, change nothing")
        ->envname("MOONSHIFT_DRY_RUN");
    cmd->callback([&g, &run, dry_run] {
        run = [&g, dry_run] {
            printer out(g);
            // Refused before anything connects.
            auto cfg = load_config(g);
            auto env = select_env(g, cfg);
            seed::check_allowed(env);
            auto src = seed::find(cfg, env.name);
            if (*dry_run) {
                auto files = nlohmann::json::array();
                for (const auto& f : src.files) {
                    auto label = std::filesystem::relative(f, cfg.root).string();
                    files.push_back(label);
                    out.line("would load " + label);
                }
                out.line(std::to_string(src.files.size()) + " seed file(s) would be loaded into " +
                         env.name + " (dry run, nothing changed)");
                out.json_line({{"result", "seed"},
                               {"dry_run", true},
                               {"environment", env.name},
                               {"files", files}});
                return 0;
            }
            engine::engine e(make_context(g, out));
            auto report = seed::load(e, src, [&out](const nlohmann::json& j) {
                out.line("Loaded " + out.bold(j.value("file", "")) +
                         out.dim(" (" +
                                 text::format_duration(
                                     std::chrono::milliseconds(j.value("duration_ms", 0LL))) +
                                 ")"));
            });
            out.line(out.green("Seeded " + env.name + " with " +
                               std::to_string(report["seeds"].size()) + " file(s)."));
            out.json_line(
                {{"result", "seed"}, {"count", report["seeds"].size()}, {"report", report}});
            return 0;
        };
    });
}

}  // namespace moonshift::cli
