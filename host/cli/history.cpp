// `moonshift history`: the runs recorded in the database.
#include <fmt/format.h>

#include "cli/common.hpp"
#include "cli/overview.hpp"
#include "common/text.hpp"

namespace moonshift::cli {

void register_history(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand("history",
                                   "list recent runs of the environment: who, when, what, outcome");
    auto limit = std::make_shared<int>(20);
    auto all = std::make_shared<bool>(false);
    cmd->add_option("--limit,-n", *limit, "how many runs")
        ->check(CLI::PositiveNumber)
        ->envname("MOONSHIFT_HISTORY_LIMIT");
    cmd->add_flag("--all", *all,
                  "runs of every environment recorded in this database, not only the selected one")
        ->envname("MOONSHIFT_HISTORY_ALL");
    cmd->callback([&g, &run, limit, all] {
        run = [&g, limit, all] {
            printer out(g);
            engine::engine e(make_context(g, out));
            auto runs = e.runs(*limit, *all);
            if (out.json()) {
                auto arr = nlohmann::json::array();
                for (auto& r : runs)
                    arr.push_back({{"id", r.id},
                                   {"command", r.command},
                                   {"environment", r.environment},
                                   {"actor", r.actor},
                                   {"started_at", r.started_at},
                                   {"finished_at", r.finished_at},
                                   {"outcome", r.outcome},
                                   {"duration_ms", r.duration_ms},
                                   {"what", overview::what_of(r.report)},
                                   {"report", r.report}});
                out.json_line({{"runs", arr}});
                return 0;
            }
            if (runs.empty()) {
                out.line(*all ? "No runs recorded yet."
                              : "No runs of " + e.ctx().env.name + " recorded yet" +
                                    " (`moonshift history --all` shows every environment's).");
                return 0;
            }
            auto pad = [](const std::string& s, std::size_t n) {
                return s.size() < n ? std::string(n - s.size(), ' ') : std::string(" ");
            };
            std::string env_head = *all ? fmt::format("{:<14}", "ENV") : "";
            out.line(out.dim(fmt::format("{:>5}  {:<21} {}{:<9} {:<12} {:<20} {}", "RUN", "STARTED",
                                         env_head, "COMMAND", "OUTCOME", "WHO", "WHAT")));
            for (auto& r : runs) {
                std::string outcome = r.outcome == "ok"        ? out.green(r.outcome)
                                      : r.outcome == "running" ? out.yellow(r.outcome)
                                                               : out.red(r.outcome);
                std::string env = *all ? fmt::format("{:<14}", r.environment) : "";
                out.line(fmt::format("{:>5}  {:<21} {}{:<9} {}{}{:<20} {}", r.id, r.started_at, env,
                                     r.command, outcome, pad(r.outcome, 13), r.actor,
                                     overview::what_of(r.report)));
            }
            return 0;
        };
    });
}

void register_wait(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand("wait", "wait until the database accepts connections (for CI)");
    auto timeout = std::make_shared<std::string>("60s");
    cmd->add_option("--timeout", *timeout, "give up after this long")
        ->envname("MOONSHIFT_WAIT_TIMEOUT");
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
            engine::wait_until_ready(p.url, t);
            out.line("The database accepts connections.");
            out.json_line({{"result", "wait"}, {"ready", true}});
            return 0;
        };
    });
}

}  // namespace moonshift::cli
