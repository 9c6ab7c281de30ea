// `moonshift fleet status` and `fleet plan`: read only. status asks every
// target's own `status --json` (so the two always agree); plan groups the
// targets by their state (the same versions applied, pending, changed) and
// rehearses the first target of each group with `plan`: targets in the same
// state run the same migrations, so one rehearsal speaks for its group.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "cli/fleet.hpp"
#include "common/error.hpp"
#include "common/text.hpp"

namespace moonshift::cli::fleet {
namespace {

using nlohmann::json;

// Every target's status, in list order, into rep's rows.
void read_statuses(const setup& s, report& rep, std::vector<json>& statuses) {
    statuses.assign(s.targets.size(), json());
    std::map<std::size_t, std::size_t> row_of;
    for (std::size_t k = 0; k < rep.targets.size(); ++k)
        for (std::size_t i = 0; i < s.targets.size(); ++i)
            if (s.targets[i].name == rep.targets[k].target) row_of[i] = k;
    run_targets(s.l, s.targets, indexes(0, s.targets.size()), {"status"},
                [&](std::size_t i, const child_result& r) {
                    auto& row = rep.targets[row_of[i]];
                    row.exit_code = r.exit_code;
                    row.duration_ms = r.duration_ms;
                    if (r.last.is_object() && r.last.contains("summary")) {
                        statuses[i] = r.last;
                        row.summary = r.last["summary"];
                        row.head = head_of(r.last);
                        bool pending = row.summary.value("pending", 0) > 0 ||
                                       row.summary.value("out_of_order", 0) > 0;
                        row.outcome = row.summary.value("changed", 0) > 0 ? "changed"
                                      : pending                           ? "pending"
                                                                          : "up to date";
                    } else {
                        row.outcome = "unreadable";
                        row.error = r.error.empty() ? "no status" : r.error;
                    }
                    return true;
                });
}

// What makes two targets run the same plan: each migration's version and state.
std::string state_key(const json& status) {
    std::string key;
    for (const auto& m : status.value("migrations", json::array()))
        key += m.value("version", "") + ":" + m.value("state", "") + ";";
    return key;
}

}  // namespace

int status(const globals& g, const options& o) {
    printer out(g);
    auto s = prepare(g, o);
    auto rep = empty_report(s, "fleet status");
    auto t0 = std::chrono::steady_clock::now();
    std::vector<json> statuses;
    read_statuses(s, rep, statuses);
    rep.duration_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    // The worst: a changed file (5), a target that cannot be read (2), pending work (1, with
    // --exit-code semantics left to each target's own status).
    int code = 0;
    for (const auto& t : rep.targets) {
        if (t.outcome == "changed") code = static_cast<int>(exit_code::drift);
        if (t.outcome == "unreadable" && code == 0) code = static_cast<int>(exit_code::usage);
    }
    rep.outcome = code == 0 ? "ok" : "failed";
    print_table(out, rep, o.all_rows || g.verbose);
    out.json_line({{"result", rep.command}, {"fleet", to_json(rep)}});
    keep_report(g, rep);
    return code;
}

int plan(const globals& g, const options& o) {
    printer out(g);
    auto s = prepare(g, o);
    auto rep = empty_report(s, "fleet plan");
    std::vector<json> statuses;
    read_statuses(s, rep, statuses);
    std::vector<std::pair<std::string, std::vector<std::size_t>>> groups;  // in list order
    for (std::size_t i = 0; i < s.targets.size(); ++i) {
        if (statuses[i].is_null()) continue;
        auto key = state_key(statuses[i]);
        auto it =
            std::find_if(groups.begin(), groups.end(), [&](auto& gr) { return gr.first == key; });
        if (it == groups.end())
            groups.push_back({key, {i}});
        else
            it->second.push_back(i);
    }
    int code = 0;
    auto l = s.l;
    l.json = g.json;
    auto plans = json::array();
    for (const auto& [key, members] : groups) {
        auto first = members.front();
        const auto& st = statuses[first];
        int pending = st["summary"].value("pending", 0);
        out.line(
            out.bold(fmt::format("{} target(s) at {}, {} pending", members.size(),
                                 head_of(st).empty() ? "nothing applied" : head_of(st), pending)) +
            out.dim(" — plan of " + s.targets[first].name));
        json entry = {{"targets", members.size()},
                      {"first", s.targets[first].name},
                      {"head", head_of(st)},
                      {"pending", pending}};
        run_targets(l, s.targets, {first}, {"plan"}, [&](std::size_t, const child_result& r) {
            if (!g.json && !g.quiet) std::fputs(text::redact(r.out).c_str(), stdout);
            if (r.exit_code != 0) {
                code = code ? code : r.exit_code;
                out.warn(out.red("error: ") + s.targets[first].name + ": " + r.error);
                entry["error"] = r.error;
            }
            if (r.last.is_object()) entry["plan"] = r.last;
            return true;
        });
        plans.push_back(entry);
    }
    for (const auto& t : rep.targets)
        if (t.outcome == "unreadable") {
            out.warn(out.red("error: ") + t.target + " cannot be read: " + t.error);
            code = code ? code : static_cast<int>(exit_code::usage);
        }
    out.json_line({{"result", rep.command}, {"fleet", s.f.name}, {"groups", plans}});
    return code;
}

}  // namespace moonshift::cli::fleet
