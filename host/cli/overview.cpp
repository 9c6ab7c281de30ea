// The reader behind `status --all` and `moonshift dashboard`: every environment's counts, last
// run and (for the dashboard) its migrations, runs and backups, read only.
#include "cli/overview.hpp"

#include "cli/report.hpp"
#include "common/error.hpp"
#include "common/text.hpp"
#include "engine/fleet.hpp"
#include "local/cluster.hpp"

namespace moonshift::cli::overview {
namespace {

using json = nlohmann::json;

std::string ids(const json& list) {
    std::string out;
    if (!list.is_array()) return out;
    for (const auto& m : list)
        if (m.is_object())
            out += (out.empty() ? "" : ", ") + m.value("version", "") + "_" + m.value("name", "");
    return out;
}

json run_json(const history::run& r) {
    json j = {{"id", r.id},           {"command", r.command},        {"environment", r.environment},
              {"by", r.actor},        {"started_at", r.started_at},  {"finished_at", r.finished_at},
              {"outcome", r.outcome}, {"duration_ms", r.duration_ms}};
    if (auto e = error_of(r.report); !e.empty()) j["error"] = e;
    return j;
}

// A run for the drill-down: its identity, what it did, its report and that report as the
// Markdown `--report FILE` writes.
json run_detail(const history::run& r) {
    json j = run_json(r);
    j["what"] = what_of(r.report);
    j["report"] = r.report;
    json doc = r.report.is_object() ? r.report : json::object();
    doc["command"] = r.command;
    doc["environment"] = r.environment;
    doc["actor"] = r.actor;
    doc["run"] = r.id;
    doc["outcome"] = r.outcome;
    doc["duration_ms"] = r.duration_ms;
    j["report_markdown"] = report::render(doc);
    return j;
}

void read_detail(engine::engine& e, const engine::plan& p, env_row& r, const detail& d) {
    if (d.migrations) r.migrations = migrations_json(p);
    if (d.runs > 0) {
        r.runs = json::array();
        for (const auto& run : e.runs(d.runs)) r.runs.push_back(run_detail(run));
    }
    if (d.backups > 0) {
        r.backups = json::array();
        for (const auto& b : e.backup_list(d.backups))
            if (b.environment.empty() || b.environment == r.name) r.backups.push_back(b.to_json());
    }
}

}  // namespace

counts count_states(const engine::plan& p) {
    counts n;
    for (auto& x : p.entries) {
        switch (x.st) {
            case engine::state::applied:
                ++n.applied;
                if (x.row && x.row->verified_at.empty()) ++n.unverified;
                n.head = x.version;
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

namespace {

// One database's counts and last run, read with env's settings; a fleet's
// target (any_run) shows its last run whichever environment name it ran under.
void read_at(const project::config& cfg, const project::environment& env, env_row& r,
             const detail& d, bool any_run = false) {
    engine::context ctx;
    ctx.cfg = cfg;
    ctx.env = env;
    ctx.url = env.url;
    ctx.catalog_summary = true;
    if (env.local) {  // read, never start: reading changes nothing
        auto st = local::cluster(cfg.root / ".moonshift" / "local").status();
        if (!st.running) {
            r.error = "the local cluster is not running (moonshift local start)";
            return;
        }
        ctx.url = st.url;
    }
    r.where = ctx.url.empty() ? "PG* variables" : text::redact(ctx.url);
    engine::engine e(ctx);
    auto p = e.status();
    r.n = count_states(p);
    auto runs = e.runs(1, any_run);
    if (!runs.empty()) r.last = runs.front();
    read_detail(e, p, r, d);
}

}  // namespace

env_row read_env(const project::config& cfg, const std::string& name, const detail& d) {
    env_row r;
    r.name = name;
    try {
        auto env = project::select(cfg, name);  // the url interpolated, as a command sees it
        r.production = env.is_production();
        read_at(cfg, env, r, d);
    } catch (const error& ex) {
        r.error = text::redact(ex.what());
    }
    return r;
}

json fleet_json(const project::config& cfg, const engine::fleet_listing& f) {
    json j = {{"fleet", f.name}};
    if (!f.error.empty()) {
        j["error"] = text::redact(f.error);
        return j;
    }
    project::environment base;
    try {
        const auto& section = engine::find_fleet(cfg, f.name);
        if (!section.env.empty()) base = project::select(cfg, section.env);
    } catch (const error& ex) {
        j["error"] = text::redact(ex.what());
        return j;
    }
    auto targets = json::array();
    int at_head = 0, pending = 0, unreachable = 0, failed = 0;
    for (const auto& t : f.targets) {
        env_row r;
        r.name = t.name;
        try {
            auto env = base;
            env.name = base.name.empty() ? t.name : base.name;
            env.url = t.url;
            env.local = false;
            r.production = env.is_production();
            read_at(cfg, env, r, {}, true);
        } catch (const error& ex) {
            r.error = text::redact(ex.what());
        }
        if (!r.error.empty())
            ++unreachable;
        else if (r.n.pending > 0)
            ++pending;
        else
            ++at_head;
        if (r.error.empty() && r.last && r.last->outcome != "ok" && r.last->outcome != "running")
            ++failed;
        auto row = env_json(r);
        row["server"] = t.server;
        targets.push_back(row);
    }
    j["summary"] = {{"targets", f.targets.size()},
                    {"at_head", at_head},
                    {"pending", pending},
                    {"unreachable", unreachable},
                    {"last_run_failed", failed}};
    j["targets"] = targets;
    return j;
}

json env_json(const env_row& r) {
    json j = {{"environment", r.name}, {"production", r.production}};
    if (!r.error.empty()) {
        j["error"] = r.error;
        return j;
    }
    j["where"] = r.where;
    j["head"] = r.n.head.empty() ? json() : json(r.n.head);
    j["summary"] = {{"applied", r.n.applied}, {"unverified", r.n.unverified},
                    {"pending", r.n.pending}, {"changed", r.n.changed},
                    {"missing", r.n.missing}, {"out_of_order", r.n.ooo}};
    if (r.last) j["last_run"] = run_json(*r.last);
    if (!r.migrations.is_null()) j["migrations"] = r.migrations;
    if (!r.runs.is_null()) j["runs"] = r.runs;
    if (!r.backups.is_null()) j["backups"] = r.backups;
    return j;
}

json gather(const project::config& cfg, const detail& d) {
    auto envs = json::array();
    for (const auto& entry : cfg.envs) envs.push_back(env_json(read_env(cfg, entry.first, d)));
    json out = {{"environments", envs}};
    // Every [fleet.NAME]: each target's counts and last run (docs/fleet.md).
    auto fleets = json::array();
    for (const auto& f : engine::list_fleets(cfg)) fleets.push_back(fleet_json(cfg, f));
    if (!fleets.empty()) out["fleets"] = fleets;
    return out;
}

json migrations_json(const engine::plan& p) {
    auto arr = json::array();
    for (const auto& x : p.entries) {
        json j = {{"version", x.version},
                  {"name", x.name},
                  {"state", engine::state_name(x.st)},
                  {"local", x.file != nullptr},
                  {"remote", x.row.has_value()}};
        if (x.row) {
            j["applied_at"] = x.row->applied_at;
            j["duration_ms"] = x.row->duration_ms;
            j["verified"] = !x.row->verified_at.empty();
            if (!x.row->verified_at.empty()) j["verified_at"] = x.row->verified_at;
        }
        if (x.file) j["file"] = x.file->up_label;
        arr.push_back(j);
    }
    return arr;
}

std::string error_of(const json& report) {
    if (!report.is_object() || !report.contains("error")) return "";
    const auto& e = report["error"];
    if (e.is_string()) return e.get<std::string>();
    if (e.is_object() && e.contains("message") && e["message"].is_string())
        return e["message"].get<std::string>();
    return "";
}

std::string what_of(const json& report) {
    std::vector<std::string> parts;
    auto add = [&](const std::string& verb, const json& list) {
        if (auto s = ids(list); !s.empty()) parts.push_back(verb + " " + s);
    };
    if (!report.is_object()) return "-";
    if (report.contains("promotion") && report["promotion"].is_object()) {
        // What was applied, else (an older report) what the promotion allowed.
        const auto& p = report["promotion"];
        auto from =
            p.contains("from") && p["from"].is_string() ? p["from"].get<std::string>() : "?";
        bool applied = report.contains("applied") && report["applied"].is_array();
        add("promoted from " + from + ":",
            applied ? report["applied"] : p.value("migrations", json()));
    } else {
        add("applied", report.value("applied", json()));
    }
    add("reverted", report.value("reverted", json()));
    add("rolled back", report.value("rolled_back", json()));
    add("baselined", report.value("baselined", json()));
    add("repaired", report.value("repaired", json()));
    if (auto seeds = report.value("seeds", json()); seeds.is_array() && !seeds.empty()) {
        std::string files;
        for (const auto& f : seeds) files += (files.empty() ? "" : ", ") + f.value("file", "");
        parts.push_back("seeded " + files);
    }
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
    return out.empty() ? "-" : out;
}

}  // namespace moonshift::cli::overview
