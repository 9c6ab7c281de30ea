// `moonshift history`: the runs recorded in the database.
#include <fmt/format.h>

#include "cli/common.hpp"
#include "common/text.hpp"

namespace moonshift::cli {

void register_history(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand("history", "list recent runs: who, when, what, outcome");
    auto limit = std::make_shared<int>(20);
    cmd->add_option("--limit,-n", *limit, "how many runs")->check(CLI::PositiveNumber);
    cmd->callback([&g, &run, limit] {
        run = [&g, limit] {
            printer out(g);
            engine::engine e(make_context(g, out));
            auto runs = e.runs(*limit);
            if (out.json()) {
                auto arr = nlohmann::json::array();
                for (auto& r : runs)
                    arr.push_back({{"id", r.id}, {"command", r.command}, {"environment", r.environment},
                                   {"actor", r.actor}, {"started_at", r.started_at}, {"finished_at", r.finished_at},
                                   {"outcome", r.outcome}, {"duration_ms", r.duration_ms}, {"report", r.report}});
                out.json_line({{"runs", arr}});
                return 0;
            }
            if (runs.empty()) {
                out.line("No runs recorded yet.");
                return 0;
            }
            out.line(out.dim(fmt::format("{:>5}  {:<21} {:<9} {:<12} {:<20} {}", "RUN", "STARTED", "COMMAND", "OUTCOME",
                                         "WHO", "WHAT")));
            for (auto& r : runs) {
                std::string what;
                for (const char* key : {"applied", "reverted", "baselined", "repaired"})
                    if (r.report.contains(key) && r.report[key].is_array())
                        for (auto& m : r.report[key])
                            what += (what.empty() ? "" : ", ") + m.value("version", "") + "_" + m.value("name", "");
                std::string outcome = r.outcome == "ok" ? out.green(r.outcome) : out.red(r.outcome);
                out.line(fmt::format("{:>5}  {:<21} {:<9} {:<21} {:<20} {}", r.id, r.started_at, r.command,
                                     outcome + std::string(r.outcome.size() < 12 ? 12 - r.outcome.size() : 0, ' '),
                                     r.actor, what.empty() ? "-" : what));
            }
            return 0;
        };
    });
}

void register_wait(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand("wait", "wait until the database accepts connections (for CI)");
    auto timeout = std::make_shared<std::string>("60s");
    cmd->add_option("--timeout", *timeout, "give up after this long")->envname("MOONSHIFT_WAIT_TIMEOUT");
    cmd->callback([&g, &run, timeout] {
        run = [&g, timeout] {
            printer out(g);
            auto p = load_project(g, out);
            std::chrono::milliseconds t;
            try {
                t = text::parse_duration(*timeout);
            } catch (const std::exception& e) {
                throw usage_error(std::string("--timeout: ") + e.what());
            }
            db::wait_until_ready(p.url, t);
            out.line("The database accepts connections.");
            out.json_line({{"result", "wait"}, {"ready", true}});
            return 0;
        };
    });
}

}  // namespace moonshift::cli
