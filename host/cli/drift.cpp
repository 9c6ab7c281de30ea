// `moonshift drift`: an environment against the schema its recorded migrations
// produce on a scratch database. Exit 0 when they are the same, 5 when they
// differ or a recorded migration's file is missing or changed.
#include "engine/drift.hpp"

#include <fmt/format.h>

#include "cli/common.hpp"
#include "cli/compare.hpp"
#include "common/text.hpp"

namespace moonshift::cli {

namespace {

// Rebuilding: the scratch server, and what had to be created on it.
void on_rebuild(printer& out, const nlohmann::json& j) {
    if (j.value("started_cluster", false))
        out.warn(
            "started the local PostgreSQL cluster (.moonshift/local) for the scratch database");
    std::string roles;
    for (const auto& r : j.value("roles_created", nlohmann::json::array()))
        roles += (roles.empty() ? "" : ", ") + r.get<std::string>();
    if (!roles.empty())
        out.warn("created the environment's roles " + roles +
                 " (NOLOGIN) on the local cluster, for migrations that grant to them");
    out.line(out.dim(fmt::format("Rebuilding {} recorded migration(s) on a scratch database ({}) …",
                                 j.value("migrations", 0), j.value("scratch", ""))));
}

int print_problems(printer& out, const drift::result& r, const std::string& env) {
    out.line(out.red(fmt::format(
        "{} recorded migration(s) of {} cannot be replayed as they ran:", r.problems.size(), env)));
    for (const auto& x : r.problems) {
        auto id = x.version + "_" + x.name;
        if (x.state == "missing")
            out.line("  missing  " + id +
                     out.dim(" (no file on disk; recorded checksum " +
                             x.recorded_checksum.substr(0, 12) + ")"));
        else
            out.line("  changed  " + x.file +
                     out.dim(" (recorded checksum " + x.recorded_checksum.substr(0, 12) +
                             ", on disk " + x.disk_checksum.substr(0, 12) + ")"));
    }
    out.line(
        out.dim("Restore the files as they were applied (git history), or accept a changed one "
                "with `moonshift repair --reason \"...\"`; then run drift again."));
    return static_cast<int>(exit_code::drift);
}

int drift_command(const globals& g, const std::string& scratch) {
    printer out(g);
    auto p = load_project(g, out);
    announce(p, out);
    drift::check_reachable(p.env, p.url);  // unreachable: exit 2 before anything else
    drift::options o;
    o.scratch_url = scratch;
    if (g.verbose && !g.json) o.on_event = [&out](const engine::event& e) { out.on_event(e); };
    o.on_rebuild = [&out](const nlohmann::json& j) { on_rebuild(out, j); };
    auto r = drift::compare(p.cfg, p.env, p.url, o);

    auto problems = nlohmann::json::array();
    for (const auto& x : r.problems) problems.push_back(drift::to_json(x));
    out.json_line({{"result", "drift"},
                   {"environment", p.env.name},
                   {"url", p.url.empty() ? "PG* variables" : text::redact(p.url)},
                   {"recorded", r.recorded},
                   {"same", r.same()},
                   {"problems", problems},
                   {"changes", schema::to_json(r.changes)}});
    if (!r.problems.empty()) return print_problems(out, r, p.env.name);
    print_changes(out, r.changes, "only in " + p.env.name, "only in what its migrations produce");
    if (r.changes.empty()) {
        out.line(out.green(fmt::format("No drift: {} matches its {} recorded migration(s).",
                                       p.env.name, r.recorded)));
        return 0;
    }
    out.line(
        out.yellow(fmt::format("{} difference(s): {} has drifted from its recorded migrations.",
                               r.changes.size(), p.env.name)));
    return static_cast<int>(exit_code::drift);
}

}  // namespace

void register_drift(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand("drift",
                                   "compare an environment with the schema its recorded migrations "
                                   "produce (exit 5 when they differ)");
    auto scratch = std::make_shared<std::string>();
    cmd->add_option("--scratch", *scratch,
                    "a server where moonshift may CREATE DATABASE for the throw-away copy "
                    "(default: the project's "
                    "local cluster)")
        ->envname("MOONSHIFT_SCRATCH_URL");
    cmd->callback(
        [&g, &run, scratch] { run = [&g, scratch] { return drift_command(g, *scratch); }; });
}

}  // namespace moonshift::cli
