// The watch window (DESIGN.md, step "watch"): after the last migration and
// its verification, rollback triggers are sampled every `every` for
// `seconds`; the first one that fires rolls the run back, newest migration
// first (down scripts, or the backup taken before it), and the run exits 6.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/text.hpp"
#include "engine/engine.hpp"
#include "engine/run_scope.hpp"
#include "lua/runtime.hpp"
#include "net/http.hpp"

namespace moonshift::engine {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

using clock = std::chrono::steady_clock;

// 5, 5.0 or "5%".
double percent_of(const json& settings, const char* key, double fallback) {
    if (!settings.contains(key)) return fallback;
    const auto& v = settings[key];
    if (v.is_number()) return v.get<double>();
    if (v.is_string()) {
        try {
            return std::stod(v.get<std::string>());
        } catch (const std::exception&) {
        }
    }
    throw usage_error("trigger setting \"" + std::string(key) +
                      "\" must be a percentage such as 5 or \"5%\"");
}

std::chrono::milliseconds duration_setting(const json& settings, const char* key,
                                           std::chrono::milliseconds fallback) {
    if (!settings.contains(key)) return fallback;
    if (settings[key].is_number_integer())
        return std::chrono::seconds(settings[key].get<long long>());
    return text::parse_duration(settings[key].get<std::string>());
}

// Requests to a health endpoint: how many failed (transport errors and 5xx),
// and how long each took.
struct http_stats {
    int requests = 0, errors = 0;
    std::vector<double> ms;

    double error_rate() const { return requests ? 100.0 * errors / requests : 0; }
    double median() const {
        if (ms.empty()) return 0;
        auto v = ms;
        std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
        return v[v.size() / 2];
    }
    json to_json() const {
        return {{"requests", requests},
                {"errors", errors},
                {"error_rate", error_rate()},
                {"median_ms", median()}};
    }
};

void sample_http(const json& settings, int count, http_stats& st) {
    net::http_request rq;
    rq.url = settings.value("url", "");
    rq.timeout = duration_setting(settings, "timeout", std::chrono::seconds(5));
    rq.retries = 0;
    rq.accept_any_status = true;
    for (int i = 0; i < count; ++i) {
        auto t0 = clock::now();
        bool ok = false;
        try {
            ok = net::send(rq).status < 500;
        } catch (const net::delivery_error&) {
        }
        ++st.requests;
        if (!ok) ++st.errors;
        st.ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    }
}

// pg_stat_statements: calls and total time per query id of the busiest queries.
std::optional<json> statements(db::session& s, int top) {
    try {
        if (s.query("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'").empty())
            return std::nullopt;
        json out = json::object();
        for (const auto& row :
             s.query("SELECT queryid::text, calls, total_exec_time FROM pg_stat_statements "
                     "WHERE queryid IS NOT NULL AND dbid = (SELECT oid FROM pg_database "
                     "WHERE datname = current_database()) ORDER BY calls DESC LIMIT $1",
                     top))
            out[row[0].c_str()] = {row[1].as<long long>(), row[2].as<double>()};
        return out;
    } catch (const std::exception&) {
        return std::nullopt;  // not preloaded (shared_preload_libraries), or not readable
    }
}

const std::vector<lua::field>& trigger_fields() {
    static const std::vector<lua::field> f = {{"baseline", lua::value_type::function},
                                              {"check", lua::value_type::function},
                                              {"description", lua::value_type::string}};
    return f;
}

std::vector<fs::path> trigger_files(const fs::path& root) {
    std::vector<fs::path> out;
    auto dir = root / "scripts" / "triggers";
    if (!fs::is_directory(dir)) return out;
    for (auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file() && e.path().extension() == ".lua") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

json engine::watch_baseline() {
    const auto& env = ctx_.env;
    json base = {{"http", json::object()}, {"statements", json::object()}, {"lua", json::object()}};
    if (env.watch_for.count() <= 0) return base;
    for (auto& [name, t] : env.triggers) {
        if (t.kind == "http") {
            http_stats st;
            sample_http(t.settings, 2 * t.settings.value("requests", 5), st);
            base["http"][name] = st.to_json();
            if (st.errors == st.requests)
                log("warn", "trigger " + name + ": every request to " +
                                net::display_url(t.settings.value("url", "")) +
                                " failed before the run, so its error rate cannot climb; is the "
                                "URL right?");
            base["http"][name]["samples"] = st.ms;
        } else if (t.kind == "pg_stat_statements") {
            auto s = statements(*session_, t.settings.value("top", 10));
            if (!s)
                log("warn", "trigger " + name + ": pg_stat_statements is not available on " +
                                env.name +
                                " (CREATE EXTENSION pg_stat_statements, and "
                                "shared_preload_libraries); it will not fire");
            base["statements"][name] = s ? *s : json(nullptr);
        }
    }
    auto& rt = lua_runtime();
    for (auto& f : trigger_files(ctx_.cfg.root)) {
        auto label = f.lexically_relative(ctx_.cfg.root).string();
        auto key = "trigger:" + label;
        if (!lua_scripts_.count(key))
            lua_scripts_[key] =
                std::make_unique<lua::script>(rt.load(label, text::read_file(f), trigger_fields()));
        auto& s = *lua_scripts_[key];
        if (!s.has("check"))
            throw usage_error(label + " has no check function",
                              "return { check = function(baseline) return { fired = false } end }");
        rt.set_deadline(std::chrono::seconds(30));
        base["lua"][label] = rt.call(s, "baseline", lua::phase::check, {});
    }
    return base;
}

namespace {

// A trigger's state after one sample: {name, kind, fired, baseline, last},
// with "reason" when it fired.
json http_state(const std::string& name, const project::trigger_section& t, const json& baseline,
                http_stats& w) {
    json state = {{"name", name}, {"kind", t.kind}, {"fired", false}};
    sample_http(t.settings, t.settings.value("requests", 5), w);
    const auto& b = baseline["http"][name];
    double base_err = b.value("error_rate", 0.0), base_ms = b.value("median_ms", 0.0);
    double err_up = percent_of(t.settings, "error_rate", 5),
           lat_up = percent_of(t.settings, "latency", 50);
    double min_ms = static_cast<double>(
        duration_setting(t.settings, "min_latency", std::chrono::milliseconds(25)).count());
    state["baseline"] = {{"error_rate", base_err}, {"median_ms", base_ms}};
    state["last"] = w.to_json();
    auto url = net::display_url(t.settings.value("url", ""));
    if (w.error_rate() - base_err > err_up)
        state["reason"] = fmt::format(
            "error rate of {} is {:.1f}% over the window, {:.1f}% before the run "
            "(allowed: {:.0f} points more)",
            url, w.error_rate(), base_err, err_up);
    else if (w.median() > base_ms * (1 + lat_up / 100) && w.median() - base_ms > min_ms)
        state["reason"] = fmt::format(
            "response time of {} is {:.0f} ms (median) over the window, {:.0f} ms before the run "
            "(allowed: {:.0f}% more)",
            url, w.median(), base_ms, lat_up);
    return state;
}

json sql_state(db::session& s, const std::string& name, const project::trigger_section& t) {
    json state = {{"name", name}, {"kind", t.kind}, {"fired", false}};
    auto r = s.query(t.settings.value("query", ""));
    if (r.empty() || r[0][0].is_null()) return state;
    double v = r[0][0].as<double>();
    state["last"] = v;
    if (t.settings.contains("max") && v > t.settings["max"].get<double>())
        state["reason"] =
            fmt::format("{} returned {} (max {})", name, v, t.settings["max"].get<double>());
    if (t.settings.contains("min") && v < t.settings["min"].get<double>())
        state["reason"] =
            fmt::format("{} returned {} (min {})", name, v, t.settings["min"].get<double>());
    return state;
}

json statements_state(db::session& s, const std::string& name, const project::trigger_section& t,
                      const json& baseline) {
    json state = {{"name", name}, {"kind", t.kind}, {"fired", false}};
    const auto& b = baseline["statements"][name];
    if (b.is_null()) return state;
    auto now = statements(s, t.settings.value("top", 10) * 4);
    long long base_calls = 0, calls = 0;
    double base_time = 0, time = 0;
    for (auto& [id, v] : b.items()) {
        base_calls += v[0].get<long long>();
        base_time += v[1].get<double>();
        if (now && now->contains(id)) {
            calls += (*now)[id][0].get<long long>() - v[0].get<long long>();
            time += (*now)[id][1].get<double>() - v[1].get<double>();
        }
    }
    double base_mean = base_calls ? base_time / base_calls : 0, mean = calls ? time / calls : 0;
    double lat_up = percent_of(t.settings, "latency", 50);
    state["baseline"] = {{"mean_ms", base_mean}};
    state["last"] = {{"mean_ms", mean}, {"calls", calls}};
    if (calls >= t.settings.value("min_calls", 20) && base_mean > 0 &&
        mean > base_mean * (1 + lat_up / 100))
        state["reason"] = fmt::format(
            "mean time of the top queries is {:.2f} ms since the run, {:.2f} ms before "
            "(allowed: {:.0f}% more)",
            mean, base_mean, lat_up);
    return state;
}

// The project's Lua triggers (scripts/triggers/*.lua), until one fires.
void sample_lua(lua::runtime& rt, std::map<std::string, std::unique_ptr<lua::script>>& scripts,
                const json& baseline, json& states, json& fired) {
    for (auto& [label, base] : baseline["lua"].items()) {
        if (!fired.is_null()) break;
        rt.set_deadline(std::chrono::seconds(30));
        auto r = rt.call(*scripts["trigger:" + label], "check", lua::phase::check, {base});
        json state = {
            {"name", label}, {"kind", "lua"}, {"fired", false}, {"baseline", base}, {"last", r}};
        if (r.is_object() && r.value("fired", false)) {
            std::string reason = r.contains("reason") && r["reason"].is_string()
                                     ? r["reason"].get<std::string>()
                                     : "fired";
            state["fired"] = true;
            state["reason"] = reason;
            fired = {{"name", label}, {"kind", "lua"}, {"reason", reason}};
        }
        states[label] = state;
    }
}

}  // namespace

void engine::watch_and_roll_back(run_scope& run, json& baseline,
                                 const std::vector<const catalog::migration*>& applied) {
    const auto& env = ctx_.env;
    if (env.watch_for.count() <= 0 || applied.empty()) return;
    json watch = {{"seconds", env.watch_for.count() / 1000.0},
                  {"every", env.watch_every.count() / 1000.0},
                  {"samples", 0},
                  {"triggers", json::array()}};
    std::map<std::string, http_stats> windows;  // http triggers: requests since the watch began
    std::size_t count = env.triggers.size() + baseline["lua"].size();
    emit("watch.start", {{"environment", env.name},
                         {"seconds", watch["seconds"]},
                         {"every", watch["every"]},
                         {"triggers", count}});
    auto start = clock::now(), end = start + env.watch_for;
    json fired;  // {name, kind, reason}
    json states = json::object();
    while (fired.is_null()) {
        std::this_thread::sleep_until(std::min(end, clock::now() + env.watch_every));
        watch["samples"] = watch["samples"].get<int>() + 1;
        for (auto& [name, t] : env.triggers) {
            json state = t.kind == "http"  ? http_state(name, t, baseline, windows[name])
                         : t.kind == "sql" ? sql_state(*session_, name, t)
                         : t.kind == "pg_stat_statements"
                             ? statements_state(*session_, name, t, baseline)
                             : json{{"name", name}, {"kind", t.kind}, {"fired", false}};
            if (state.contains("reason")) {
                state["fired"] = true;
                if (fired.is_null())
                    fired = {{"name", name}, {"kind", t.kind}, {"reason", state["reason"]}};
            }
            states[name] = state;
        }
        if (!baseline["lua"].empty())
            sample_lua(lua_runtime(), lua_scripts_, baseline, states, fired);
        log("info",
            fmt::format("watch: {} of {}, {}",
                        text::format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(
                            clock::now() - start)),
                        text::format_duration(env.watch_for),
                        fired.is_null() ? "all quiet" : "a trigger fired"));
        if (clock::now() >= end) break;
    }
    for (auto& [_, s] : states.items()) watch["triggers"].push_back(s);
    run.report()["watch"] = watch;
    if (fired.is_null()) {
        log("notice", "watch window over: no trigger fired");
        return;
    }
    roll_back_after_trigger(run, fired, applied);
}

void engine::roll_back_after_trigger(run_scope& run, const json& fired,
                                     const std::vector<const catalog::migration*>& applied) {
    auto& report = run.report();
    report["trigger"] = fired;
    emit("trigger.fired",
         {{"trigger", fired["name"]}, {"kind", fired["kind"]}, {"reason", fired["reason"]}});
    json versions = json::array();
    for (auto it = applied.rbegin(); it != applied.rend(); ++it) versions.push_back((*it)->version);
    emit("rollback.start", {{"versions", versions}, {"reason", fired["reason"]}});
    auto cat_ptr = std::make_shared<const catalog::catalog>(read_catalog());
    auto p = make_plan(cat_ptr, store_->list_applied());
    json rolled = json::array();
    std::string stopped;
    for (auto it = applied.rbegin(); it != applied.rend(); ++it) {
        const auto* m = *it;
        auto e = std::find_if(p.entries.begin(), p.entries.end(), [&](const entry& x) {
            return x.version == m->version && x.row && x.file;
        });
        if (e == p.entries.end()) continue;
        try {
            bool lua_down = m->kind == catalog::form::lua || !m->down_lua.empty();
            std::string how;
            if (lua_down ? lua_can_revert(*m) : !m->down.empty()) {
                revert_one(*e, run.id());
                how = "down";
            } else if (!lua_down && why_irreversible(*e).empty()) {
                revert_derived(*e, run.id(), false);  // reverse_steps.cpp
                how = "derived";
            } else if (!backup_offer(m->version).empty()) {
                revert_with_backup(*e, run.id());
                how = "backup";
            } else {
                auto why = lua_down ? std::vector<std::string>{} : why_irreversible(*e);
                stopped = m->up_label + " has no down script, no derived reverse" +
                          (why.empty() ? std::string() : " (" + why.front() + ")") +
                          " and no backup";
                break;
            }
            rolled.push_back({{"version", m->version}, {"name", m->name}, {"how", how}});
        } catch (const error& err) {
            stopped = text::redact(err.what());
            break;
        }
    }
    report["rolled_back"] = rolled;
    emit("rollback.done",
         {{"reverted", rolled}, {"complete", stopped.empty()}, {"stopped", stopped}});
    run.finish(stopped.empty() ? "rolled_back" : "rollback_failed");
    std::string message = "trigger " + fired["name"].get<std::string>() +
                          " fired: " + fired["reason"].get<std::string>() + "; rolled back " +
                          std::to_string(rolled.size()) + " of " + std::to_string(applied.size()) +
                          " migration(s)";
    if (!stopped.empty()) message += ", then stopped: " + stopped;
    throw error(stopped.empty() ? exit_code::rolled_back : exit_code::migration_failed, message,
                stopped.empty()
                    ? "the database is as it was before the run; find the cause before trying again"
                    : "finish the rollback by hand (`moonshift down`), then find the cause");
}

}  // namespace moonshift::engine
