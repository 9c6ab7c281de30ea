// `moonshift diff ENV_A ENV_B`: the live schemas of two environments, compared.
// Exit 0 when they are the same, 5 (drift) when they differ, 2 when an
// environment is unknown or unreachable.
#include <fmt/format.h>

#include "cli/common.hpp"
#include "cli/compare.hpp"
#include "common/text.hpp"
#include "engine/drift.hpp"
#include "schema/schema.hpp"

namespace moonshift::cli {
namespace {

struct live_schema {
    std::string name, where;
    nlohmann::json snapshot;
};

live_schema read_environment(const globals& g, const std::string& name, printer& out) {
    globals one = g;
    one.env = name;
    auto p = load_project(one, out);
    live_schema s;
    s.name = p.env.name;
    s.where = p.url.empty() ? "PG* variables" : text::redact(p.url);
    s.snapshot = drift::live_schema(p.cfg, p.env, p.url);
    return s;
}

}  // namespace

void register_diff(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand(
        "diff", "compare the live schemas of two environments (exit 5 when they differ)");
    auto a = std::make_shared<std::string>();
    auto b = std::make_shared<std::string>();
    cmd->add_option("ENV_A", *a, "the environment compared from (e.g. staging)")->required();
    cmd->add_option("ENV_B", *b, "the environment compared with (e.g. production)")->required();
    cmd->callback([&g, &run, a, b] {
        run = [&g, a, b] {
            printer out(g);
            auto left = read_environment(g, *a, out);
            auto right = read_environment(g, *b, out);
            auto changes = schema::diff(left.snapshot, right.snapshot);
            out.line(out.bold(left.name) + out.dim("  " + left.where) + "  →  " +
                     out.bold(right.name) + out.dim("  " + right.where));
            print_changes(out, changes, "only in " + right.name, "only in " + left.name);
            if (changes.empty())
                out.line(out.green("The schemas are the same."));
            else
                out.line(out.yellow(fmt::format("{} difference(s) between {} and {}.",
                                                changes.size(), left.name, right.name)));
            out.json_line({{"result", "diff"},
                           {"a", {{"environment", left.name}, {"url", left.where}}},
                           {"b", {{"environment", right.name}, {"url", right.where}}},
                           {"same", changes.empty()},
                           {"changes", schema::to_json(changes)}});
            return changes.empty() ? 0 : static_cast<int>(exit_code::drift);
        };
    });
}

}  // namespace moonshift::cli
