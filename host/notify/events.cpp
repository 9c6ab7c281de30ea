// Completing engine events into the one schema of docs/events.md.
#include "notify/events.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <random>

#include "common/text.hpp"

namespace moonshift::notify {
namespace {

using nlohmann::json;

// Fields of the engine's data that the schema places elsewhere; whatever
// else an event carries goes to `details`.
const char* const placed[] = {"run",         "command",  "environment", "actor", "version",
                              "name",        "checksum", "form",        "file",  "direction",
                              "duration_ms", "error",    "outcome"};

void redact_strings(json& j) {
    if (j.is_string()) {
        auto s = j.get<std::string>();
        auto r = text::redact(s);
        if (r != s) j = r;
    } else if (j.is_structured()) {
        for (auto& v : j) redact_strings(v);
    }
}

json or_null(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json error_of(const json& e) {
    if (e.is_string()) {
        auto text = e.get<std::string>();
        auto nl = text.find('\n');
        json out = {{"message", text.substr(0, nl)}};
        if (nl != std::string::npos) out["text"] = text;
        return out;
    }
    if (!e.is_object()) return nullptr;
    json out = json::object();
    for (auto& [k, v] : e.items())
        if (!(v.is_string() && v.get<std::string>().empty())) out[k] = v;
    if (!out.contains("message")) out["message"] = "unknown error";
    return out;
}

// A fleet's event (docs/fleet.md) carries its own outcome, time and command.
void fleet_fields(json& out, const json& d) {
    out["outcome"] = d.value("outcome", json(nullptr));
    out["duration_ms"] = d.value("duration_ms", json(nullptr));
    out["run"]["command"] = d.value("command", json(nullptr));
}

}  // namespace

// The fleet's own events come last (`moonshift fleet`, docs/fleet.md).
const std::vector<std::string>& event_names() {
    static const std::vector<std::string> names = {
        "run.start",          "run.planned",       "gate.failed",       "backup.created",
        "migration.start",    "migration.retry",   "migration.applied", "migration.failed",
        "migration.reverted", "backfill.progress", "verify.failed",     "trigger.fired",
        "watch.start",        "rollback.start",    "rollback.done",     "run.finish",
        "fleet.wave.start",   "fleet.target.done", "fleet.finish",
    };
    return names;
}

bool is_event(const std::string& name) {
    const auto& n = event_names();
    return std::find(n.begin(), n.end(), name) != n.end();
}

std::string utc_now() {
    auto now = std::chrono::system_clock::now();
    auto t = std::chrono::system_clock::to_time_t(now);
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms));
    return buf;
}

run_state::run_state(std::string environment, origin o)
    : environment_(std::move(environment)), origin_(std::move(o)) {
    std::random_device rd;
    nonce_ = fmt::format("{:08x}", rd());
    json ci = nullptr;
    if (!origin_.ci.empty())
        ci = {{"provider", origin_.ci},
              {"actor", or_null(origin_.ci_actor)},
              {"url", or_null(origin_.ci_url)}};
    run_ = {{"id", nullptr},
            {"command", nullptr},
            {"environment", environment_},
            {"actor", origin_.actor},
            {"user", origin_.user},
            {"ci", ci},
            {"commit", or_null(origin_.commit)},
            {"branch", or_null(origin_.branch)},
            {"commit_url", or_null(origin_.commit_url)},
            {"project_dir", origin_.project_dir},
            {"host", origin_.host},
            {"started_at", nullptr},
            {"test", false}};
}

json run_state::base(const std::string& name, const json& data) {
    ++seq_;
    long long applied = 0, failed = 0, reverted = 0;
    for (const auto& m : migrations_) {
        auto st = m.value("status", "");
        applied += st == "applied";
        failed += st == "failed";
        reverted += st == "reverted";
    }
    json details = json::object();
    if (data.is_object())
        for (auto& [k, v] : data.items())
            if (std::none_of(std::begin(placed), std::end(placed),
                             [&](const char* p) { return k == p; }))
                details[k] = v;
    std::string run_id = run_["id"].is_null() ? std::string("none") : run_["id"].dump();
    return {{"schema", schema_version},
            {"id", environment_ + "-" + run_id + "-" + std::to_string(seq_) + "-" + nonce_},
            {"event", name},
            {"time", utc_now()},
            {"run", run_},
            {"migration", nullptr},
            {"migrations", migrations_},
            {"counts",
             {{"planned", planned_},
              {"applied", applied},
              {"failed", failed},
              {"reverted", reverted},
              {"pending", std::max(0LL, planned_ - applied - failed - reverted)}}},
            {"error", nullptr},
            {"outcome", nullptr},
            {"duration_ms", nullptr},
            {"details", details}};
}

std::optional<json> run_state::complete(const engine::event& e) {
    if (e.name == "log") return std::nullopt;
    const json& d = e.data.is_object() ? e.data : json::object();

    if (e.name == "run.start") {
        run_["id"] = d.value("run", json(nullptr));
        run_["command"] = d.value("command", json(nullptr));
        run_["started_at"] = utc_now();
        migrations_ = json::array();
        last_error_ = nullptr;
        trigger_ = nullptr;
        rollback_ = nullptr;
        planned_ = 0;
    } else if (e.name == "run.planned") {
        planned_ = d.value("pending", d.value("revert", 0LL));
    } else if (e.name == "trigger.fired") {
        trigger_ = d;
    } else if (e.name == "rollback.done") {
        rollback_ = d;
    }

    // The migration this event is about, and its line in `migrations`.
    json migration = nullptr;
    if (d.contains("version") && e.name.rfind("migration.", 0) == 0) {
        std::string direction =
            d.value("direction", e.name == "migration.reverted" ? "down" : "up");
        auto it = std::find_if(migrations_.rbegin(), migrations_.rend(), [&](const json& m) {
            return m["version"] == d["version"] && m["direction"] == direction;
        });
        if (it == migrations_.rend() && !d.contains("direction") && e.name != "migration.start")
            it = std::find_if(migrations_.rbegin(), migrations_.rend(),
                              [&](const json& m) { return m["version"] == d["version"]; });
        if (e.name == "migration.start" || it == migrations_.rend()) {
            migrations_.push_back({{"version", d["version"]},
                                   {"name", d.value("name", json(""))},
                                   {"checksum", d.value("checksum", json(nullptr))},
                                   {"form", d.value("form", json(nullptr))},
                                   {"file", d.value("file", json(nullptr))},
                                   {"direction", direction},
                                   {"status", "running"},
                                   {"duration_ms", nullptr}});
            it = migrations_.rbegin();
        }
        json& m = *it;
        for (const char* k : {"checksum", "form", "file"})
            if (d.contains(k) && m[k].is_null()) m[k] = d[k];
        if (e.name == "migration.applied") m["status"] = "applied";
        if (e.name == "migration.failed") m["status"] = "failed";
        if (e.name == "migration.reverted") m["status"] = "reverted";
        if (d.contains("duration_ms")) m["duration_ms"] = d["duration_ms"];
        migration = m;
    } else if (d.contains("version") && e.name == "backfill.progress") {
        // A backfill belongs to the migration that declared it (still running).
        auto it = std::find_if(migrations_.rbegin(), migrations_.rend(),
                               [&](const json& m) { return m["version"] == d["version"]; });
        if (it != migrations_.rend()) migration = *it;
    }

    json out = base(e.name, d);
    out["migration"] = migration;
    if (migration.is_object() && !migration["duration_ms"].is_null())
        out["duration_ms"] = migration["duration_ms"];
    if (d.contains("error")) {
        out["error"] = error_of(d["error"]);
        if (e.name == "migration.failed") last_error_ = out["error"];
    }
    if (e.name.rfind("fleet.", 0) == 0) fleet_fields(out, d);
    if (e.name == "run.finish") {
        out["outcome"] = d.value("outcome", json(nullptr));
        out["duration_ms"] = d.value("duration_ms", json(nullptr));
        if (auto why = rollback_error(out["outcome"]); !why.is_null())
            out["error"] = why;
        else if (!last_error_.is_null())
            out["error"] = last_error_;
        else if (d.contains("report") && d["report"].contains("error"))
            out["error"] = error_of(d["report"]["error"]);
    }
    redact_strings(out);
    return out;
}

// Why a run rolled back (or tried to): the trigger, its figures (in its
// reason) and, when the rollback stopped, why; null for other runs.
json run_state::rollback_error(const json& outcome) const {
    if (!outcome.is_string() || !trigger_.is_object()) return nullptr;
    auto o = outcome.get<std::string>();
    if (o != "rolled_back" && o != "rollback_failed") return nullptr;
    auto text_of = [](const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
    std::string message = "trigger " + text_of(trigger_.value("trigger", json("?"))) +
                          " fired: " + text_of(trigger_.value("reason", json("no reason given")));
    json out = {{"message", message},
                {"trigger", trigger_.value("trigger", json(nullptr))},
                {"kind", trigger_.value("kind", json(nullptr))},
                {"reason", trigger_.value("reason", json(nullptr))}};
    if (o == "rollback_failed") {
        std::string stopped = rollback_.is_object() ? rollback_.value("stopped", "") : "";
        if (stopped.empty() && last_error_.is_object()) stopped = last_error_.value("message", "");
        out["message"] = message + "; the rollback stopped: " +
                         (stopped.empty() ? std::string("see the run's report") : stopped);
        if (last_error_.is_object()) out["cause"] = last_error_;
    }
    return out;
}

json run_state::sample(const std::string& event_name) {
    run_state s(environment_, origin_);
    bool failing = event_name == "migration.failed";
    std::vector<engine::event> script = {
        {"run.start", {{"run", 0}, {"command", "notify test"}, {"environment", environment_}}},
        {"run.planned", {{"run", 0}, {"pending", 1}, {"applied", 0}, {"missing", 0}}},
        {"migration.start",
         {{"version", "001"},
          {"name", "example"},
          {"checksum", std::string(64, '0')},
          {"form", "sql"},
          {"file", "migrations/001_example.sql"}}},
    };
    if (failing)
        script.push_back(
            {"migration.failed",
             {{"version", "001"},
              {"name", "example"},
              {"duration_ms", 12},
              {"error",
               {{"message", "this is a test of the notification hooks: nothing failed"},
                {"sqlstate", "00000"},
                {"file", "migrations/001_example.sql"},
                {"line", 1},
                {"column", 1}}}}});
    else
        script.push_back(
            {"migration.applied", {{"version", "001"}, {"name", "example"}, {"duration_ms", 12}}});
    script.push_back(
        {"run.finish", {{"run", 0}, {"outcome", failing ? "failed" : "ok"}, {"duration_ms", 34}}});
    s.run_["test"] = true;
    json last;
    for (const auto& ev : script) {
        auto j = s.complete(ev);
        if (ev.name == event_name) return *j;
        last = *j;
    }
    // An event that this made-up run does not have: its name on the last state.
    last["event"] = event_name;
    last["outcome"] = nullptr;
    return last;
}

}  // namespace moonshift::notify
