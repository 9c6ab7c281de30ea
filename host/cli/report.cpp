// The --report collector: the runs a command performed, as the engine reported
// them (run.start / run.finish events, the report amended by notification
// hooks, the command's final result), written as Markdown when it is over.
#include "cli/report.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "common/error.hpp"
#include "common/text.hpp"

namespace moonshift::cli::report {
namespace {

using json = nlohmann::json;

struct collected {
    std::string environment, url;
    json starting = json::object();                            // the run.start of the run under way
    std::vector<json> runs;                                    // finished runs, in order
    std::map<std::string, long long> applied_ms, reverted_ms;  // durations from events, by version
    std::optional<json> result;                                // the command's final report
    std::string result_command;
    std::optional<std::string> document;  // a command's own report (note_document)
};

collected& state() {
    static collected c;
    return c;
}

// Entries without a duration get the one their event carried.
void fill_durations(json& report) {
    auto& c = state();
    auto fill = [](json& list, const std::map<std::string, long long>& ms) {
        if (!list.is_array()) return;
        for (auto& m : list) {
            if (!m.is_object() || m.contains("duration_ms") || !m.contains("version") ||
                !m["version"].is_string())
                continue;
            if (auto it = ms.find(m["version"].get<std::string>()); it != ms.end())
                m["duration_ms"] = it->second;
        }
    };
    if (report.contains("applied")) fill(report["applied"], c.applied_ms);
    if (report.contains("reverted")) fill(report["reverted"], c.reverted_ms);
}

// The run's identity from its run.start event, under what the report says.
json with_identity(json report, const json& start) {
    if (!report.is_object()) report = json::object();
    for (const char* key : {"command", "environment", "actor"})
        if (!report.contains(key) && start.contains(key)) report[key] = start[key];
    if (!report.contains("run") && start.contains("run")) report["run"] = start["run"];
    fill_durations(report);
    return report;
}

}  // namespace

void note_environment(const std::string& name, const std::string& redacted_url) {
    state().environment = name;
    state().url = redacted_url;
}

void note_event(const engine::event& e) {
    auto& c = state();
    auto version = [&] {
        return e.data.is_object() ? e.data.value("version", std::string()) : std::string();
    };
    if (e.name == "run.start") {
        c.starting = e.data;
    } else if (e.name == "run.finish") {
        json report =
            e.data.is_object() && e.data.contains("report") ? e.data["report"] : json::object();
        c.runs.push_back(with_identity(report, c.starting));
    } else if (e.name == "migration.applied" && e.data.contains("duration_ms")) {
        c.applied_ms[version()] = e.data.value("duration_ms", 0LL);
    } else if (e.name == "migration.reverted" && e.data.contains("duration_ms")) {
        c.reverted_ms[version()] = e.data.value("duration_ms", 0LL);
    }
}

void note_close(const json& report) {
    auto& c = state();
    if (!c.runs.empty()) c.runs.back() = with_identity(report, c.starting);
}

void note_result(const std::string& command, const json& report) {
    state().result = report;
    state().result_command = command;
}

void note_document(const std::string& text) { state().document = text; }

void check_destination(const std::string& file) {
    namespace fs = std::filesystem;
    fs::path p(file);
    auto dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw usage_error("--report " + file + ": the directory " + dir.string() +
                              " does not exist; nothing was run",
                          "create it first, or write the report elsewhere");
    if (fs::is_directory(p, ec))
        throw usage_error("--report " + file + ": that is a directory; nothing was run",
                          "name a file, e.g. " + (p / "report.md").string());
}

void write(const std::string& file, const std::string& command, int exit_code,
           const std::string& error) {
    auto& c = state();
    std::vector<json> runs;
    if (c.result && exit_code == 0) {
        // A successful command's own report: for `redo` it holds both halves.
        json r = with_identity(*c.result, c.starting);
        if (!r.contains("command")) r["command"] = command.empty() ? c.result_command : command;
        if (!r.contains("environment") && !c.environment.empty()) r["environment"] = c.environment;
        // The outcome and duration when the result was taken before the run finished.
        if (!c.runs.empty())
            for (auto it = c.runs.back().begin(); it != c.runs.back().end(); ++it)
                if (!r.contains(it.key())) r[it.key()] = *it;
        if (!r.contains("outcome")) r["outcome"] = "ok";
        runs.push_back(r);
    } else if (!c.runs.empty()) {
        runs = c.runs;
        if (!error.empty() && !runs.back().contains("error")) runs.back()["error"] = error;
    } else {
        std::string outcome = exit_code == 0   ? "ok"
                              : !error.empty() ? "failed"
                                               : "exit code " + std::to_string(exit_code);
        json r = {{"command", command}, {"outcome", outcome}};
        if (!c.environment.empty()) r["environment"] = c.environment;
        if (!error.empty()) r["error"] = error;
        runs.push_back(r);
    }
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    if (!out)
        throw usage_error("--report: cannot write " + file,
                          "name a file in a folder that exists and is writable");
    out << (c.document ? *c.document : render_all(runs));
    out.flush();
    if (!out) throw usage_error("--report: cannot write " + file);
}

}  // namespace moonshift::cli::report
