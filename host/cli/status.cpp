// `moonshift status`: what is applied, pending, changed, missing.
#include <fmt/format.h>

#include "catalog/formats.hpp"
#include "cli/common.hpp"

namespace moonshift::cli {
namespace {

struct counts {
    int pending = 0, changed = 0, missing = 0, ooo = 0, applied = 0;
};

counts count_states(const engine::plan& p) {
    counts n;
    for (auto& x : p.entries) {
        switch (x.st) {
            case engine::state::applied:
                ++n.applied;
                break;
            case engine::state::pending:
                ++n.pending;
                break;
            case engine::state::changed:
                ++n.changed;
                break;
            case engine::state::missing:
                ++n.missing;
                break;
            case engine::state::out_of_order:
                ++n.ooo;
                break;
        }
    }
    return n;
}

void print_json(printer& out, const engine::engine& e, const engine::plan& p, const counts& n,
                const nlohmann::json& repeatables) {
    const auto& cat = *p.files;
    auto arr = nlohmann::json::array();
    for (auto& x : p.entries) {
        nlohmann::json j = {{"version", x.version},
                            {"name", x.name},
                            {"state", engine::state_name(x.st)},
                            {"local", x.file != nullptr},
                            {"remote", x.row.has_value()}};
        if (x.row) {
            j["applied_at"] = x.row->applied_at;
            j["duration_ms"] = x.row->duration_ms;
        }
        if (x.file) j["file"] = x.file->up_label;
        arr.push_back(j);
    }
    out.json_line(
        {{"format", cat.format},
         {"dir", catalog::describe_place(e.ctx().cfg.migrations_path(), e.ctx().cfg.root)},
         {"notes", cat.notes},
         {"repeatables", repeatables},
         {"migrations", arr},
         {"summary",
          {{"applied", n.applied},
           {"pending", n.pending},
           {"changed", n.changed},
           {"missing", n.missing},
           {"out_of_order", n.ooo}}}});
}

// The Supabase-style view: what is local (on disk), what is remote.
void print_table(printer& out, const engine::engine& e, const engine::plan& p, const counts& n,
                 const nlohmann::json& repeatables) {
    const auto& cat = *p.files;
    out.line(out.dim("format: " + cat.format + " (" +
                     catalog::describe_place(e.ctx().cfg.migrations_path(), e.ctx().cfg.root) +
                     ")"));
    out.line(
        out.dim(fmt::format("{:<16} {:<16} {:<22} {}", "LOCAL", "REMOTE", "APPLIED", "MIGRATION")));
    // One write for the whole table (a thousand lines are a thousand writes otherwise).
    std::string table;
    for (auto& x : p.entries) {
        std::string state = engine::state_name(x.st);
        std::string tag = x.st == engine::state::applied   ? out.green(state)
                          : x.st == engine::state::pending ? out.yellow(state)
                                                           : out.red(state);
        table += (table.empty() ? "" : "\n") +
                 fmt::format("{:<16} {:<16} {:<22} {}  {}", x.file ? x.version : "",
                             x.row ? x.row->version : "", x.row ? x.row->applied_at : "",
                             x.version + "_" + x.name, tag);
    }
    if (!table.empty()) out.line(table);
    out.line(fmt::format("{} applied, {} pending{}{}{}", n.applied, n.pending,
                         n.changed ? fmt::format(", {} changed", n.changed) : "",
                         n.missing ? fmt::format(", {} missing on disk", n.missing) : "",
                         n.ooo ? fmt::format(", {} out of order", n.ooo) : ""));
    for (auto& r : repeatables)
        out.line(fmt::format("{:<16} {:<16} {:<22} R__{}  {}", "", "", "",
                             r["name"].get<std::string>(), r["state"].get<std::string>()));
    for (auto& note : cat.notes) out.line(out.dim("note: " + note));
}

int status(const globals& g) {
    printer out(g);
    engine::engine e(make_context(g, out));
    auto p = e.status();
    auto repeatables =
        p.files->repeatables.empty() ? nlohmann::json::array() : e.repeatables_status();
    auto n = count_states(p);
    if (out.json())
        print_json(out, e, p, n, repeatables);
    else
        print_table(out, e, p, n, repeatables);
    return n.changed ? static_cast<int>(exit_code::drift) : 0;
}

}  // namespace

void register_status(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd =
        app.add_subcommand("status", "show applied, pending, changed and missing migrations");
    cmd->callback([&g, &run] { run = [&g] { return status(g); }; });
}

}  // namespace moonshift::cli
