// `moonshift check`, `moonshift verify`, `moonshift run FILE.lua`: the
// project's Lua on its own.
#include "cli/common.hpp"

namespace moonshift::cli {

namespace {

int report_scripts(printer& out, const engine::outcome& r, const char* key, const char* what) {
    for (auto& s : r.report[key])
        out.line(out.green(s.value("outcome", "ok")) + "  " + s.value("script", ""));
    if (r.report[key].empty())
        out.line(std::string("No ") + what + " in scripts/" +
                 (std::string(key) == "checks" ? "checks" : "verify") + "/.");
    out.json_line({{"result", key}, {"count", r.count}, {"report", r.report}});
    return 0;
}

}  // namespace

void register_check(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd =
        app.add_subcommand("check", "run the project's checks (scripts/checks/*.lua), read-only");
    cmd->callback([&g, &run] {
        run = [&g] {
            printer out(g);
            engine::engine e(make_context(g, out));
            return report_scripts(out, e.check(), "checks", "checks");
        };
    });
}

void register_verify(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand("verify",
                                   "run the built-in verifications and the project's "
                                   "(scripts/verify/*.lua); marks the applied migrations verified");
    cmd->callback([&g, &run] {
        run = [&g] {
            printer out(g);
            engine::engine e(make_context(g, out));
            auto r = e.verify();
            for (auto& v : r.report["verification"]["results"])
                out.line((v.value("ok", false) ? out.green("ok") : out.red("failed")) + "  " +
                         v.value("check", "") + out.dim(": " + v.value("message", "")));
            out.line(out.green("Verified") +
                     out.dim(" (" + std::to_string(r.count) + " verification(s))"));
            out.json_line({{"result", "verify"}, {"count", r.count}, {"report", r.report}});
            return 0;
        };
    });
}

void register_run(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd =
        app.add_subcommand("run", "run a Lua script with the db, ctx, json, log and env modules");
    auto file = std::make_shared<std::string>();
    auto args = std::make_shared<std::vector<std::string>>();
    cmd->add_option("FILE", *file, "the script")->required();
    cmd->add_option("ARGS", *args, "passed to the script as ... and ctx.args");
    cmd->callback([&g, &run, file, args] {
        run = [&g, file, args] {
            printer out(g);
            engine::engine e(make_context(g, out));
            auto r = e.run_script(*file, *args);
            out.json_line({{"result", "run"}, {"report", r.report}});
            return 0;
        };
    });
}

}  // namespace moonshift::cli
