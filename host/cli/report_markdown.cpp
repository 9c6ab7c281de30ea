// A run's report as Markdown for a pull request. Every section reads its keys
// defensively: a report from an older or newer moonshift, or one cut short by
// an error, still renders.
#include <fmt/format.h>

#include <chrono>
#include <set>

#include "cli/report.hpp"
#include "common/text.hpp"

namespace moonshift::cli::report {
namespace {

using json = nlohmann::json;

// Any scalar as text; "" for null, objects and arrays.
std::string str(const json& j, const char* key) {
    if (!j.is_object() || !j.contains(key)) return {};
    const auto& v = j[key];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
    if (v.is_number()) return v.dump();
    return {};
}

bool has(const json& j, const char* key) {
    return j.is_object() && j.contains(key) && !j[key].is_null();
}

bool flag(const json& j, const char* key) {
    return has(j, key) && j[key].is_boolean() && j[key].get<bool>();
}

const json& list(const json& j, const char* key) {
    static const json empty = json::array();
    return j.is_object() && j.contains(key) && j[key].is_array() ? j[key] : empty;
}

// Table cells: no pipes or line breaks that would end the cell.
std::string cell(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '|')
            out += "\\|";
        else if (c == '\n')
            out += "<br>";
        else if (c != '\r')
            out += c;
    }
    return out.empty() ? "–" : out;
}

std::string code(const std::string& s) { return s.empty() ? "–" : "`" + s + "`"; }

std::string duration(const json& j, const char* key) {
    if (!has(j, key) || !j[key].is_number()) return "–";
    return text::format_duration(std::chrono::milliseconds(j[key].get<long long>()));
}

std::string id_of(const json& m) {
    auto v = str(m, "version"), n = str(m, "name");
    if (n.empty()) n = str(m, "migration");
    return v.empty() ? n : n.empty() ? v : v + "_" + n;
}

std::string mark(bool ok) { return ok ? "✅" : "❌"; }

std::string outcome_icon(const std::string& outcome) {
    if (outcome == "ok") return "✅";
    if (outcome == "rolled_back") return "↩️";
    if (outcome.empty()) return "ℹ️";
    return "❌";
}

void migrations(std::string& md, const json& r) {
    const auto& applied = list(r, "applied");
    const auto& reverted = list(r, "reverted");
    const auto& would_apply = list(r, "would_apply");
    const auto& would_revert = list(r, "would_revert");
    const auto& reps = list(r, "repeatables");
    if (applied.empty() && reverted.empty() && would_apply.empty() && would_revert.empty() &&
        reps.empty())
        return;
    md += "\n### Migrations\n";
    if (!applied.empty() || !reverted.empty() || !would_apply.empty() || !would_revert.empty()) {
        md += "\n| Migration | Direction | Duration |\n|---|---|---|\n";
        auto rows = [&](const json& items, const char* what) {
            for (const auto& m : items)
                md += "| " + code(id_of(m)) + " | " + what + " | " + duration(m, "duration_ms") +
                      " |\n";
        };
        rows(reverted, "reverted");
        rows(applied, "applied");
        rows(would_revert, "would revert (dry run)");
        rows(would_apply, "would apply (dry run)");
    }
    if (!reps.empty()) {
        md += "\nRepeatable migrations re-applied:";
        for (const auto& x : reps)
            md += " " + code(x.is_string() ? x.get<std::string>() : x.dump());
        md += "\n";
    }
}

void promotion(std::string& md, const json& r) {
    if (!has(r, "promotion") || !r["promotion"].is_object()) return;
    const auto& p = r["promotion"];
    md += "\n### Promotion\n\nFrom **" + cell(str(p, "from")) +
          "**, applied and verified there with the same checksum:\n";
    const auto& ms = list(p, "migrations");
    const auto& missing = list(p, "missing");
    if (!missing.empty()) {
        md += "\nNot promotable:\n\n";
        for (const auto& m : missing) md += "- " + code(id_of(m)) + ": " + str(m, "why") + "\n";
    }
    if (ms.empty()) {
        if (missing.empty()) md += "\nNothing to promote.\n";
        return;
    }
    md += "\n| Migration | Checksum | Duration in " + cell(str(p, "from")) + " |\n|---|---|---|\n";
    for (const auto& m : ms)
        md += "| " + code(id_of(m)) + " | " + code(str(m, "checksum").substr(0, 12)) + " | " +
              duration(m, "source_duration_ms") + " |\n";
}

void lint(std::string& md, const json& r) {
    const json* l = nullptr;
    if (has(r, "safety") && has(r["safety"], "lint"))
        l = &r["safety"]["lint"];
    else if (has(r, "lint"))
        l = &r["lint"];
    if (!l || !l->is_object()) return;
    const auto& findings = list(*l, "findings");
    md +=
        "\n### Lint\n\n" + fmt::format("{} error(s), {} warning(s), {} allowed on purpose.\n",
                                       str(*l, "errors").empty() ? "0" : str(*l, "errors"),
                                       str(*l, "warnings").empty() ? "0" : str(*l, "warnings"),
                                       str(*l, "suppressed").empty() ? "0" : str(*l, "suppressed"));
    if (findings.empty()) return;
    md += "\n| Where | Rule | Severity | Message |\n|---|---|---|---|\n";
    for (const auto& f : findings) {
        std::string where = str(f, "file") + ":" + str(f, "line") + ":" + str(f, "column");
        std::string severity =
            flag(f, "suppressed") ? "allowed: " + str(f, "reason") : str(f, "severity");
        md += "| " + code(where) + " | " + code(str(f, "rule")) + " | " + cell(severity) + " | " +
              cell(str(f, "message")) + " |\n";
    }
}

void scripts(std::string& md, const json& r, const char* key, const char* title) {
    const auto& items = list(r, key);
    if (items.empty()) return;
    md += std::string("\n### ") + title +
          "\n\n| Script | Outcome | Duration | Message |\n|---|---|---|---|\n";
    for (const auto& s : items) {
        auto outcome = str(s, "outcome");
        md += "| " + code(str(s, "script")) + " | " +
              (outcome == "ok"       ? "✅ ok"
               : outcome == "failed" ? "❌ failed"
                                     : cell(outcome)) +
              " | " + duration(s, "duration_ms") + " | " + cell(str(s, "message")) + " |\n";
    }
}

void backups(std::string& md, const json& r) {
    const auto& items = list(r, "backups");
    if (items.empty()) return;
    md += "\n### Backups\n\n| Backup | Before | Tables | Rows | Reason |\n|---|---|---|---|---|\n";
    for (const auto& b : items) {
        std::string tables;
        for (const auto& t : list(b, "tables"))
            tables += (tables.empty() ? "" : ", ") +
                      (t.is_string() ? t.get<std::string>() : str(t, "table"));
        if (tables == "*") tables = "the whole database";
        md += "| " + cell(str(b, "id").empty() ? "–" : "#" + str(b, "id")) + " | " +
              code(id_of(b)) + " | " + cell(tables) + " | " + cell(str(b, "rows")) + " | " +
              cell(str(b, "reason")) + " |\n";
    }
}

void verification(std::string& md, const json& r) {
    if (!has(r, "verification") || !r["verification"].is_object()) return;
    const auto& v = r["verification"];
    bool ok = flag(v, "ok");
    md += "\n### Verification\n\n" + mark(ok) +
          (ok ? " All verifications passed.\n" : " Verification failed.\n");
    const auto& results = list(v, "results");
    if (results.empty()) return;
    md += "\n| Check | Result | Message |\n|---|---|---|\n";
    std::string details;
    for (const auto& x : results) {
        bool passed = flag(x, "ok");
        md += "| " + code(str(x, "check")) + " | " + mark(passed) + " | " +
              cell(str(x, "message")) + " |\n";
        const auto& items = list(x, "items");
        if (items.empty()) continue;
        details += "\n**" + str(x, "check") + "**\n\n";
        for (const auto& i : items)
            details += "- " + (i.is_string() ? i.get<std::string>() : i.dump()) + "\n";
    }
    md += details;
}

void watch(std::string& md, const json& r) {
    if (!has(r, "watch") || !r["watch"].is_object()) return;
    const auto& w = r["watch"];
    md +=
        "\n### Watch window\n\n" + fmt::format("Watched for {} s, every {} s ({} sample(s)).\n",
                                               str(w, "seconds").empty() ? "?" : str(w, "seconds"),
                                               str(w, "every").empty() ? "?" : str(w, "every"),
                                               str(w, "samples").empty() ? "0" : str(w, "samples"));
    if (has(r, "trigger") && r["trigger"].is_object())
        md += "\n🔥 Trigger **" + cell(str(r["trigger"], "name")) + "** (" +
              cell(str(r["trigger"], "kind")) + ") fired: " + cell(str(r["trigger"], "reason")) +
              "\n";
    const auto& triggers = list(w, "triggers");
    if (triggers.empty()) return;
    md += "\n| Trigger | Kind | Fired | Reason | Baseline | Last |\n|---|---|---|---|---|---|\n";
    auto value = [](const json& t, const char* key) {
        if (!has(t, key)) return std::string("–");
        return cell(t[key].is_string() ? t[key].get<std::string>() : t[key].dump());
    };
    for (const auto& t : triggers) {
        bool fired = flag(t, "fired");
        md += "| " + code(str(t, "name")) + " | " + cell(str(t, "kind")) + " | " +
              (fired ? "🔥 yes" : "no") + " | " + cell(str(t, "reason")) + " | " +
              value(t, "baseline") + " | " + value(t, "last") + " |\n";
    }
}

void rollback(std::string& md, const json& r) {
    const auto& items = list(r, "rolled_back");
    if (!has(r, "rolled_back")) return;
    md += "\n### Rollback\n\n";
    if (items.empty()) {
        md += "Nothing needed rolling back.\n";
        return;
    }
    md += "| Migration | How |\n|---|---|\n";
    for (const auto& m : items) md += "| " + code(id_of(m)) + " | " + cell(str(m, "how")) + " |\n";
}

void notifications(std::string& md, const json& r) {
    if (!has(r, "notifications") || !r["notifications"].is_object()) return;
    const auto& n = r["notifications"];
    md += "\n### Notifications\n\n" +
          fmt::format("{} delivered, {} failed.\n",
                      str(n, "delivered").empty() ? "0" : str(n, "delivered"),
                      str(n, "failed").empty() ? "0" : str(n, "failed"));
    for (const auto& f : list(n, "failures"))
        md += "- " + code(str(f, "hook")) + " on " + code(str(f, "event")) + ": " +
              str(f, "message") + "\n";
}

void seeds(std::string& md, const json& r) {
    const auto& items = list(r, "seeds");
    if (items.empty()) return;
    md += "\n### Seeds\n\n| File | Duration |\n|---|---|\n";
    for (const auto& s : items)
        md += "| " + code(str(s, "file")) + " | " + duration(s, "duration_ms") + " |\n";
}

// Keys rendered above, or too small to need a section.
const std::set<std::string>& known_keys() {
    static const std::set<std::string> keys = {
        "command",     "environment",  "actor",   "run",         "outcome",
        "duration_ms", "error",        "applied", "reverted",    "repeatables",
        "promotion",   "safety",       "lint",    "checks",      "verifications",
        "backups",     "verification", "watch",   "rolled_back", "notifications",
        "seeds",       "seed_dir",     "dry_run", "would_apply", "would_revert",
        "trigger",     "gate",         "changed"};
    return keys;
}

}  // namespace

std::string render(const json& in) {
    const json r = in.is_object() ? in : json::object();
    std::string command = str(r, "command"), env = str(r, "environment"),
                outcome = str(r, "outcome");
    std::string md = "## " + outcome_icon(outcome) + " moonshift " +
                     (command.empty() ? "run" : command) + (env.empty() ? "" : " on " + env) +
                     (outcome.empty() ? "" : ": " + outcome) + "\n\n";
    md += "| | |\n|---|---|\n";
    if (!env.empty()) md += "| Environment | " + cell(env) + " |\n";
    if (!command.empty()) md += "| Command | " + code("moonshift " + command) + " |\n";
    if (!str(r, "run").empty()) md += "| Run | #" + str(r, "run") + " |\n";
    if (!str(r, "actor").empty()) md += "| Actor | " + cell(str(r, "actor")) + " |\n";
    md += "| Outcome | " + cell(outcome.empty() ? "unknown" : outcome) + " |\n";
    if (has(r, "duration_ms")) md += "| Duration | " + duration(r, "duration_ms") + " |\n";
    if (flag(r, "dry_run")) md += "| Dry run | nothing was changed |\n";

    if (has(r, "gate") && r["gate"].is_object())
        md += "\nRefused by the **" + cell(str(r["gate"], "gate")) + "** gate.\n";
    migrations(md, r);
    promotion(md, r);
    lint(md, r);
    scripts(md, r, "checks", "Checks");
    backups(md, r);
    verification(md, r);
    // The built-in verification lists the project's scripts among its results.
    if (!has(r, "verification")) scripts(md, r, "verifications", "Project verifications");
    watch(md, r);
    rollback(md, r);
    seeds(md, r);
    notifications(md, r);
    if (auto e = str(r, "error"); !e.empty()) md += "\n### Error\n\n```text\n" + e + "\n```\n";

    json other = json::object();
    if (r.is_object())
        for (auto it = r.begin(); it != r.end(); ++it)
            if (!known_keys().count(it.key())) other[it.key()] = *it;
    if (!other.empty())
        md += "\n<details><summary>More details</summary>\n\n```json\n" + other.dump(2) +
              "\n```\n\n</details>\n";
    return text::redact(md);
}

std::string render_all(const std::vector<json>& runs) {
    std::string md;
    for (const auto& r : runs) md += (md.empty() ? "" : "\n---\n\n") + render(r);
    return md;
}

}  // namespace moonshift::cli::report
