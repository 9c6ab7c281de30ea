// `moonshift fleet up` and `fleet down`: wave by wave, each target its own
// `up` (or `down`); a wave is over when every target in it is applied and
// verified (its `up` exited 0, which it does only once its verifications
// passed and marked the migrations verified); the first failure starts no
// more targets and no later wave, and with on_failure = "rollback" the wave
// is rolled back to where each of its targets stood.
#include <fmt/format.h>

#include <map>

#include "cli/fleet.hpp"
#include "common/error.hpp"
#include "common/interrupt.hpp"
#include "common/text.hpp"

namespace moonshift::cli::fleet {
namespace {

using nlohmann::json;

std::vector<std::string> names_of(const setup& s, const std::vector<std::size_t>& which) {
    std::vector<std::string> out;
    for (auto i : which) out.push_back(s.targets[i].name);
    return out;
}

// Where each target of the wave stands before it runs (for on_failure = "rollback").
std::map<std::size_t, std::string> heads_before(const setup& s,
                                                const std::vector<std::size_t>& which) {
    std::map<std::size_t, std::string> heads;
    run_targets(s.l, s.targets, which, {"status"}, [&](std::size_t i, const child_result& r) {
        if (r.last.is_object() && r.last.contains("migrations")) heads[i] = head_of(r.last);
        return true;
    });
    return heads;
}

// The failed wave put back: `down --to` where each target stood before it.
void roll_back_wave(const setup& s, const std::vector<std::size_t>& which,
                    const std::map<std::size_t, std::string>& heads, report& rep,
                    std::map<std::size_t, std::size_t>& row_of, printer& out) {
    out.line(out.yellow(fmt::format("Rolling back wave {} ({} target(s)) …",
                                    rep.targets[row_of[which.front()]].wave, which.size())));
    for (auto i : which) {
        auto& row = rep.targets[row_of[i]];
        if (row.outcome == "not run" || !heads.count(i)) continue;
        auto head = heads.at(i);
        run_targets(s.l, s.targets, {i}, {"down", "--to", head.empty() ? "0" : head},
                    [&](std::size_t, const child_result& r) {
                        if (r.exit_code == 0) {
                            int n = r.last.value("count", 0);
                            if (n > 0 || row.outcome != "failed") row.outcome = "rolled back";
                        } else {
                            row.outcome = "rollback failed";
                            row.error += (row.error.empty() ? "" : "\n") + r.error;
                        }
                        return true;
                    });
    }
}

struct wave_state {
    std::size_t done = 0, running = 0, failed = 0;
};

}  // namespace

// long: the wave loop reads best in one piece (start, run, stop or roll back, finish)
int up_or_down(const globals& g, const options& o, bool down) {
    printer out(g);
    auto s = prepare(g, o);
    std::vector<std::string> args = {down ? "down" : "up"};
    if (!o.to.empty()) args.insert(args.end(), {"--to", o.to});
    if (down && o.steps > 0) args.insert(args.end(), {"--steps", std::to_string(o.steps)});
    auto rep = empty_report(s, down ? "fleet down" : "fleet up");
    std::map<std::size_t, std::size_t> row_of;  // target index → report row
    for (std::size_t w = 0, k = 0; w < s.waves.size(); ++w)
        for (auto i = s.waves[w].first; i < s.waves[w].second; ++i) row_of[i] = k++;
    events ev(s, out);
    out.line(out.bold("▶ fleet " + s.f.name) +
             out.dim(fmt::format("  {} targets, {} wave(s), {} at once, {} per server",
                                 s.targets.size(), s.waves.size(), s.l.jobs, s.l.per_server)));
    auto t0 = std::chrono::steady_clock::now();
    progress bar(g, s.targets.size());
    wave_state st;
    int code = 0;
    for (std::size_t w = 0; w < s.waves.size() && code == 0; ++w) {
        auto which = indexes(s.waves[w].first, s.waves[w].second);
        int wave = static_cast<int>(w) + 1;
        ev.emit("fleet.wave.start", {{"fleet", s.f.name},
                                     {"command", rep.command},
                                     {"wave", wave},
                                     {"waves", s.waves.size()},
                                     {"count", which.size()},
                                     {"done_before", st.done},
                                     {"total", s.targets.size()},
                                     {"targets", names_of(s, which)}});
        bar.clear();
        out.line(fmt::format("Wave {}/{}: {} target(s){}", wave, s.waves.size(), which.size(),
                             which.size() == 1 ? " (" + s.targets[which[0]].name + ")" : ""));
        std::map<std::size_t, std::string> heads;
        if (s.f.on_failure == "rollback" && !down) heads = heads_before(s, which);
        run_targets(
            s.l, s.targets, which, args,
            [&](std::size_t i, const child_result& r) {
                auto& row = rep.targets[row_of[i]];
                row.exit_code = r.exit_code;
                row.duration_ms = r.duration_ms;
                row.applied = r.last.value("count", 0);
                row.error = r.error;
                --st.running;
                ++st.done;
                if (r.exit_code == 0)
                    row.outcome = row.applied > 0 ? (down ? "reverted" : "applied")
                                                  : (down ? "nothing to roll back" : "up to date");
                else if (interrupt::received())
                    row.outcome = "interrupted";
                else
                    row.outcome = "failed";
                if (r.exit_code != 0 && rep.failed_target.empty() && row.outcome == "failed") {
                    rep.failed_target = row.target;
                    code = r.exit_code;
                }
                st.failed += r.exit_code != 0;
                ev.emit("fleet.target.done",
                        {{"fleet", s.f.name},
                         {"command", rep.command},
                         {"wave", wave},
                         {"target", row.target},
                         {"server", row.server},
                         {"outcome", row.outcome},
                         {"count", row.applied},
                         {"exit_code", r.exit_code},
                         {"duration_ms", r.duration_ms},
                         {"error", row.error.empty() ? json() : json(row.error)}});
                bar.update(st.done, st.running, st.failed, wave, static_cast<int>(s.waves.size()));
                return r.exit_code == 0;
            },
            [&](std::size_t) {
                ++st.running;
                bar.update(st.done, st.running, st.failed, wave, static_cast<int>(s.waves.size()));
            });
        bar.clear();
        if (interrupt::received()) {
            rep.outcome = "interrupted";
            code = code ? code : interrupt::exit_status(interrupt::received());
            break;
        }
        if (code != 0) {
            rep.outcome = "failed";
            if (!heads.empty()) {
                roll_back_wave(s, which, heads, rep, row_of, out);
                rep.outcome = "rolled back";
            }
        }
    }
    rep.duration_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    json fin = to_json(rep);
    fin.erase("targets");
    ev.emit("fleet.finish", fin);
    rep.notifications = ev.close(rep.outcome == "ok" ? "ok" : "failed");
    print_table(out, rep, o.all_rows || g.verbose);
    out.json_line({{"result", rep.command}, {"fleet", to_json(rep)}});
    keep_report(g, rep);
    if (!rep.failed_target.empty()) {
        const target_row* bad = &rep.targets.front();
        for (const auto& t : rep.targets)
            if (t.target == rep.failed_target) bad = &t;
        out.warn(out.red("error: ") + "fleet " + s.f.name + " stopped at wave " +
                 std::to_string(bad->wave) + ": " + bad->target + " failed: " + bad->error);
        out.warn("hint: fix it and run `moonshift fleet " + std::string(down ? "down" : "up") +
                 "` again: it carries on where every target stands");
    }
    return code;
}

}  // namespace moonshift::cli::fleet
