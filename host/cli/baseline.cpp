// `moonshift baseline V` and `moonshift repair`: adopt and mend history.
#include "cli/common.hpp"

namespace moonshift::cli {

void register_baseline(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand(
        "baseline", "record migrations up to VERSION as applied without running them");
    auto version = std::make_shared<std::string>();
    cmd->add_option("VERSION", *version, "the last migration the database already has")->required();
    cmd->callback([&g, &run, version] {
        run = [&g, version] {
            printer out(g);
            engine::engine e(make_context(g, out));
            auto result = e.baseline(*version);
            out.line(out.green("Recorded " + std::to_string(result.count) +
                               " migration(s) as the baseline (nothing ran)."));
            out.json_line(
                {{"result", "baseline"}, {"count", result.count}, {"report", result.report}});
            return 0;
        };
    });
}

void register_repair(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand("repair",
                                   "accept changed checksums of applied migrations, with a reason");
    auto reason = std::make_shared<std::string>();
    cmd->add_option("--reason", *reason, "why the files changed (recorded in the run)")->required();
    cmd->callback([&g, &run, reason] {
        run = [&g, reason] {
            printer out(g);
            engine::engine e(make_context(g, out));
            auto result = e.repair(*reason);
            for (auto& r : result.report["repaired"])
                out.line("accepted " + r["version"].get<std::string>() + "_" +
                         r["name"].get<std::string>());
            out.line(result.count
                         ? out.green("Repaired " + std::to_string(result.count) + " checksum(s).")
                         : "Nothing to repair: no applied migration changed.");
            out.json_line(
                {{"result", "repair"}, {"count", result.count}, {"report", result.report}});
            return 0;
        };
    });
}

}  // namespace moonshift::cli
