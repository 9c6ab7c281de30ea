// `moonshift backfill status|pause|resume`: the backfills of a running (or
// interrupted) `up`, seen and steered from another terminal through their
// status rows in the database.
#include <fmt/format.h>

#include "cli/common.hpp"

namespace moonshift::cli {
namespace {

std::string rows_text(const nlohmann::json& b) {
    std::string s = fmt::format("{} rows", b.value("rows_done", 0LL));
    if (b["rows_total"].is_number()) {
        auto total = b["rows_total"].get<long long>();
        s = fmt::format("{}/{} rows ({:.0f}%)", b.value("rows_done", 0LL), total,
                        total > 0 ? 100.0 * b.value("rows_done", 0LL) / total : 100.0);
    }
    return s;
}

int show_status(const globals& g) {
    printer out(g);
    engine::engine e(make_context(g, out));
    auto list = e.backfill_status();
    out.json_line({{"backfills", list}});
    if (list.empty()) out.line("No backfill is running, paused or interrupted.");
    for (auto& b : list) {
        std::string state = b.value("state", "");
        if (b.value("pause_requested", false) && state == "running") state = "pausing";
        std::string line = b.value("version", "") + " " + b.value("table", "") + ": " + state +
                           ", " + rows_text(b);
        if (b.value("rows_per_second", 0.0) > 0 && b.value("alive", false))
            line += fmt::format(", {:.0f} rows/s", b.value("rows_per_second", 0.0));
        if (b["eta_s"].is_number()) line += fmt::format(", ETA {:.0f} s", b["eta_s"].get<double>());
        if (!b.value("message", "").empty()) line += " — " + b.value("message", "");
        if (state == "interrupted") line += " (its run is gone; `moonshift up` resumes it)";
        out.line(line);
    }
    return 0;
}

int set_paused(const globals& g, const std::string& version, bool pause) {
    printer out(g);
    engine::engine e(make_context(g, out));
    int n = e.backfill_pause(version, pause);
    out.json_line({{"result", pause ? "pause" : "resume"}, {"changed", n}});
    if (n == 0 && e.backfill_status().empty())
        throw usage_error(std::string("no backfill to ") + (pause ? "pause" : "resume") +
                              (version.empty() ? "" : " for version " + version),
                          "`moonshift backfill status` lists them");
    out.line(pause ? fmt::format(
                         "Pause requested for {} backfill(s); it stops after its current batch.", n)
                   : fmt::format("Resumed {} backfill(s).", n));
    return 0;
}

}  // namespace

void register_backfill(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd =
        app.add_subcommand("backfill", "see, pause and resume the backfills of a running up");
    cmd->require_subcommand(1);
    auto* status = cmd->add_subcommand("status", "rows done, rate, ETA and state of each backfill");
    status->callback([&g, &run] { run = [&g] { return show_status(g); }; });
    auto version = std::make_shared<std::string>();
    auto* pause = cmd->add_subcommand(
        "pause", "pause after the current batch (the run waits, holding its place)");
    pause->add_option("version", *version, "only this migration's backfills");
    pause->callback(
        [&g, &run, version] { run = [&g, version] { return set_paused(g, *version, true); }; });
    auto* resume = cmd->add_subcommand("resume", "continue paused backfills");
    resume->add_option("version", *version, "only this migration's backfills");
    resume->callback(
        [&g, &run, version] { run = [&g, version] { return set_paused(g, *version, false); }; });
}

}  // namespace moonshift::cli
