// `moonshift status`: what is applied, pending, changed, missing.
#include <fmt/format.h>

#include <optional>
#include <set>

#include "catalog/formats.hpp"
#include "cli/common.hpp"
#include "cli/overview.hpp"
#include "common/text.hpp"

namespace moonshift::cli {
namespace {

using overview::count_states;
using overview::counts;
using overview::env_row;

// Characters, not bytes: a name in UTF-8 lines up too.
std::size_t width_of(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

void print_json(printer& out, const engine::engine& e, const engine::plan& p, const counts& n,
                const nlohmann::json& repeatables) {
    const auto& cat = *p.files;
    out.json_line(
        {{"format", cat.format},
         {"dir", catalog::describe_place(e.ctx().cfg.migrations_path(), e.ctx().cfg.root)},
         {"notes", cat.notes},
         {"repeatables", repeatables},
         {"migrations", overview::migrations_json(p)},
         {"summary",
          {{"applied", n.applied},
           {"unverified", n.unverified},
           {"pending", n.pending},
           {"changed", n.changed},
           {"missing", n.missing},
           {"out_of_order", n.ooo}}}});
}

// The Supabase-style view: what is local (on disk), what is remote. Each column is as wide as
// its widest cell (the colour codes of the state are added after the padding).
void print_table(printer& out, const engine::engine& e, const engine::plan& p, const counts& n,
                 const nlohmann::json& repeatables) {
    const auto& cat = *p.files;
    out.line(out.dim("format: " + cat.format + " (" +
                     catalog::describe_place(e.ctx().cfg.migrations_path(), e.ctx().cfg.root) +
                     ")"));
    struct row {
        std::string local, remote, applied, migration, state;
        engine::state st;
    };
    std::vector<row> rows;
    for (auto& x : p.entries)
        rows.push_back({x.file ? x.version : "", x.row ? x.row->version : "",
                        x.row ? x.row->applied_at : "", x.version + "_" + x.name,
                        engine::state_name(x.st), x.st});
    for (auto& r : repeatables) {
        std::string st = r.value("state", "");
        rows.push_back({"", "", "", "R__" + r.value("name", ""), st,
                        st == "applied"   ? engine::state::applied
                        : st == "pending" ? engine::state::pending
                                          : engine::state::changed});
    }
    std::size_t w[4] = {5, 6, 7, 9};  // the headers' own widths
    for (auto& r : rows) {
        w[0] = std::max(w[0], r.local.size());
        w[1] = std::max(w[1], r.remote.size());
        w[2] = std::max(w[2], r.applied.size());
        w[3] = std::max(w[3], width_of(r.migration));
    }
    auto cells = [&](const std::string& a, const std::string& b, const std::string& c,
                     const std::string& d) {
        std::string pad(w[3] > width_of(d) ? w[3] - width_of(d) : 0, ' ');
        return fmt::format("{:<{}}  {:<{}}  {:<{}}  {}{}  ", a, w[0], b, w[1], c, w[2], d, pad);
    };
    std::string header = cells("LOCAL", "REMOTE", "APPLIED", "MIGRATION") + "STATE";
    out.line(out.dim(header));
    // One write for the whole table (a thousand lines are a thousand writes otherwise).
    std::string table;
    for (auto& r : rows) {
        std::string tag = r.st == engine::state::applied   ? out.green(r.state)
                          : r.st == engine::state::pending ? out.yellow(r.state)
                                                           : out.red(r.state);
        std::string l = cells(r.local, r.remote, r.applied, r.migration) + tag;
        table += (table.empty() ? "" : "\n") + l;
    }
    if (!table.empty()) out.line(table);
    out.line(fmt::format("{} applied, {} pending{}{}{}", n.applied, n.pending,
                         n.changed ? fmt::format(", {} changed", n.changed) : "",
                         n.missing ? fmt::format(", {} missing on disk", n.missing) : "",
                         n.ooo ? fmt::format(", {} out of order", n.ooo) : ""));
    for (auto& note : cat.notes) out.line(out.dim("note: " + note));
}

// The exit code: 5 when an applied file changed (always); with --exit-code also 5 when one
// is missing on disk, and 1 when something is pending (out of order included) or a repeatable
// migration is new or changed.
int exit_status(const counts& n, const nlohmann::json& repeatables, bool exit_code_flag) {
    if (n.changed) return static_cast<int>(exit_code::drift);
    if (!exit_code_flag) return 0;
    if (n.missing) return static_cast<int>(exit_code::drift);
    bool repeatable_due = false;
    for (auto& r : repeatables)
        repeatable_due = repeatable_due || r.value("state", "") != "applied";
    return n.pending || n.ooo || repeatable_due ? 1 : 0;
}

int status(const globals& g, bool exit_code_flag) {
    printer out(g);
    auto ctx = make_context(g, out, true);
    ctx.catalog_summary = true;
    engine::engine e(std::move(ctx));
    auto p = e.status();
    auto repeatables = p.files->repeatables.empty() ? nlohmann::json::array()
                                                    : e.repeatables_status(p.files.get());
    auto n = count_states(p);
    if (out.json())
        print_json(out, e, p, n, repeatables);
    else
        print_table(out, e, p, n, repeatables);
    return exit_status(n, repeatables, exit_code_flag);
}

std::string last_run_cell(const env_row& r) {
    if (!r.last) return "-";
    return r.last->started_at + " " + r.last->command + " " + r.last->outcome + " by " +
           r.last->actor + " (" + std::to_string(r.last->duration_ms) + " ms)";
}

// `status --all`: every environment of moonshift.toml side by side, read only. The exit
// code is the worst of them: 2 when one cannot be read, 5 when a file changed, with
// --exit-code also 1 when something is pending anywhere.
int status_all(const globals& g, bool exit_code_flag) {
    if (!g.url.empty() || !g.env.empty())
        throw usage_error("status --all reads every environment of moonshift.toml",
                          "leave out --env and --url (or drop --all to read one)");
    printer out(g);
    auto cfg = load_config(g);
    if (cfg.envs.empty())
        throw usage_error("status --all: moonshift.toml defines no environments",
                          "add [env.NAME] sections, or run `moonshift status` for DATABASE_URL");
    std::vector<env_row> rows;
    for (const auto& entry : cfg.envs) rows.push_back(overview::read_env(cfg, entry.first));
    std::set<int> codes;
    auto table = nlohmann::json::array();
    std::vector<std::vector<std::string>> cells = {{"ENVIRONMENT", "HEAD", "APPLIED", "UNVERIFIED",
                                                    "PENDING", "CHANGED", "MISSING", "LAST RUN"}};
    for (const auto& r : rows) {
        table.push_back(overview::env_json(r));
        if (!r.error.empty()) {
            codes.insert(static_cast<int>(exit_code::usage));
            cells.push_back({r.name, "-", "-", "-", "-", "-", "-",
                             "unreadable: " + r.error.substr(0, r.error.find('\n'))});
            continue;
        }
        codes.insert(exit_status(r.n, nlohmann::json::array(), exit_code_flag));
        cells.push_back({r.name, r.n.head.empty() ? "-" : r.n.head, std::to_string(r.n.applied),
                         std::to_string(r.n.unverified), std::to_string(r.n.pending),
                         std::to_string(r.n.changed), std::to_string(r.n.missing),
                         last_run_cell(r)});
    }
    // A changed file first, then an environment that cannot be read, then pending work.
    int worst = 0;
    for (int c : {static_cast<int>(exit_code::drift), static_cast<int>(exit_code::usage), 1})
        if (!worst && codes.count(c)) worst = c;
    if (out.json()) {
        out.json_line({{"environments", table}});
        return worst;
    }
    std::vector<std::size_t> w(cells[0].size(), 0);
    for (const auto& row : cells)
        for (std::size_t i = 0; i < row.size(); ++i) w[i] = std::max(w[i], width_of(row[i]));
    std::string text;
    for (std::size_t k = 0; k < cells.size(); ++k) {
        std::string line;
        for (std::size_t i = 0; i < cells[k].size(); ++i) {
            const auto& c = cells[k][i];
            bool last = i + 1 == cells[k].size();
            line += c + (last ? "" : std::string(w[i] - width_of(c) + 2, ' '));
        }
        text += (k ? "\n" : "") + (k == 0 ? out.dim(line) : line);
    }
    out.line(text);
    return worst;
}

}  // namespace

void register_status(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd =
        app.add_subcommand("status", "show applied, pending, changed and missing migrations");
    auto exit_code_flag = std::make_shared<bool>(false);
    auto all = std::make_shared<bool>(false);
    cmd->add_flag(
        "--all", *all,
        "every environment of moonshift.toml side by side: head, applied, unverified, "
        "pending, changed, missing, last run (read only; local clusters are not started)");
    cmd->add_flag("--exit-code", *exit_code_flag,
                  "exit 1 when something is pending, 5 when an applied migration changed or is "
                  "missing on disk (for CI)")
        ->envname("MOONSHIFT_STATUS_EXIT_CODE");
    cmd->callback([&g, &run, exit_code_flag, all] {
        run = [&g, exit_code_flag, all] {
            return *all ? status_all(g, *exit_code_flag) : status(g, *exit_code_flag);
        };
    });
}

}  // namespace moonshift::cli
