// `moonshift fleet up|down|status|plan [NAME]`: many databases migrated as
// one (docs/fleet.md). Each target runs as its own `moonshift up` child
// (fleet_run.cpp), in waves; the first failure stops the waves after it.
#include "cli/fleet.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "cli/report.hpp"
#include "common/error.hpp"
#include "common/interrupt.hpp"
#include "common/text.hpp"
#include "notify/dispatcher.hpp"

namespace moonshift::cli {
namespace fleet {
namespace {

using nlohmann::json;

std::string self_exe() {
    std::error_code ec;
    auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) throw error(exit_code::migration_failed, "fleet: cannot find the moonshift binary");
    return p.string();
}

}  // namespace

setup prepare(const globals& g, const options& o) {
    if (!g.url.empty() || !g.env.empty())
        throw usage_error("fleet reads its targets from [fleet.NAME] in moonshift.toml",
                          "leave out --env and --url; a fleet names its environment with env = ");
    setup s;
    s.cfg = load_config(g);
    s.f = engine::find_fleet(s.cfg, o.name);
    try {
        project::select(s.cfg, s.f.env);  // the settings every target's `up` will run with
    } catch (const error& e) {
        throw usage_error(std::string(e.what()) + " (for the targets of [fleet." + s.f.name + "])",
                          "add env = \"NAME\" to [fleet." + s.f.name +
                              "]: its targets run with that environment's settings");
    }
    s.targets = engine::fleet_targets(s.cfg, s.f);
    s.waves = engine::fleet_waves(s.f, s.targets.size());
    s.l.exe = self_exe();
    s.l.config = std::filesystem::absolute(s.cfg.file).string();
    s.l.env = s.f.env;
    if (!g.migrations_dir.empty())
        s.l.migrations_dir = std::filesystem::absolute(g.migrations_dir).string();
    s.l.yes = g.yes;
    s.l.jobs = o.jobs > 0 ? o.jobs : s.f.jobs > 0 ? s.f.jobs : 4;
    s.l.per_server = o.connections > 0 ? o.connections : s.f.connections > 0 ? s.f.connections : 10;
    return s;
}

events::events(const setup& s, printer& out) : out_(out) {
    notify::dispatcher_options o;
    o.cfg = s.cfg;
    if (!s.f.env.empty()) o.env = project::select(s.cfg, s.f.env);
    o.env.name = s.f.env.empty() ? "fleet." + s.f.name : s.f.env;
    o.connect = false;  // a fleet has no one database for project hooks to read
    o.print = [&out](const notify::note& n) {
        if (n.what == notify::note::kind::output)
            out.line(n.message);
        else
            out.warn(out.yellow("warning: ") + n.message);
    };
    hooks_ = std::make_unique<notify::dispatcher>(o);
}

events::~events() = default;

void events::emit(const std::string& name, json data) {
    json line = {{"event", name}};
    line.update(data);
    out_.json_line(line);
    hooks_->on_event({name, data});
}

json events::close(const std::string& outcome) {
    json r = json::object();
    hooks_->close_run(outcome, r);
    return r.value("notifications", json());
}

report empty_report(const setup& s, const std::string& command) {
    report r;
    r.fleet = s.f.name;
    r.command = command;
    r.waves = static_cast<int>(s.waves.size());
    for (std::size_t w = 0; w < s.waves.size(); ++w)
        for (auto i = s.waves[w].first; i < s.waves[w].second; ++i) {
            target_row row;
            row.target = s.targets[i].name;
            row.server = s.targets[i].server;
            row.wave = static_cast<int>(w) + 1;
            r.targets.push_back(row);
        }
    return r;
}

void keep_report(const globals& g, const report& r) {
    if (g.report.empty()) return;
    auto& f = g.report;
    bool as_json = f.size() >= 5 && f.compare(f.size() - 5, 5, ".json") == 0;
    cli::report::note_document(as_json ? to_json(r).dump(2) + "\n" : to_markdown(r));
}

std::vector<std::size_t> indexes(std::size_t begin, std::size_t end) {
    std::vector<std::size_t> v;
    for (auto i = begin; i < end; ++i) v.push_back(i);
    return v;
}

// The newest applied version of a target from its `status --json`.
std::string head_of(const json& status) {
    std::string head;
    for (const auto& m : status.value("migrations", json::array()))
        if (m.value("state", "") == "applied") head = m.value("version", "");
    return head;
}

}  // namespace fleet

void register_fleet(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand(
        "fleet", "many databases as one: up, down, status or plan over a [fleet.NAME]");
    cmd->require_subcommand(1);
    auto add = [&](const char* name, const char* help) {
        auto* sub = cmd->add_subcommand(name, help);
        auto o = std::make_shared<fleet::options>();
        sub->add_option("NAME", o->name, "the fleet ([fleet.NAME]); may be left out with one");
        sub->add_option("-j,--jobs", o->jobs, "targets at once (default: the fleet's jobs, else 4)")
            ->check(CLI::PositiveNumber)
            ->envname("MOONSHIFT_FLEET_JOBS");
        sub->add_option("--connections", o->connections,
                        "targets at once on one server (default: the fleet's connections, else 10)")
            ->check(CLI::PositiveNumber)
            ->envname("MOONSHIFT_FLEET_CONNECTIONS");
        sub->add_flag(
            "--all-targets", o->all_rows,
            "list every target in the table (default: past 20, only those that need a look)");
        return std::pair{sub, o};
    };
    auto [up, up_o] = add("up", "apply pending migrations on every target, wave by wave");
    up->add_option("--to", up_o->to, "apply up to and including this version");
    auto [down, down_o] = add("down", "roll back migrations on every target, wave by wave");
    auto* steps = down->add_option("--steps,-n", down_o->steps, "how many to roll back (default 1)")
                      ->check(CLI::PositiveNumber);
    down->add_option("--to", down_o->to, "roll back every migration after this version (0: all)")
        ->excludes(steps);
    auto [st, st_o] = add("status", "where every target stands, as its own `status` says");
    auto [pl, pl_o] = add("plan", "rehearse the pending migrations once per distinct state");
    up->callback(
        [&g, &run, o = up_o] { run = [&g, o] { return fleet::up_or_down(g, *o, false); }; });
    down->callback(
        [&g, &run, o = down_o] { run = [&g, o] { return fleet::up_or_down(g, *o, true); }; });
    st->callback([&g, &run, o = st_o] { run = [&g, o] { return fleet::status(g, *o); }; });
    pl->callback([&g, &run, o = pl_o] { run = [&g, o] { return fleet::plan(g, *o); }; });
}

}  // namespace moonshift::cli
