// The fleet's one report: a console table, the same as JSON (--json and
// --report FILE.json) or Markdown (--report FILE), and the progress line.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "cli/fleet.hpp"
#include "common/text.hpp"

namespace moonshift::cli::fleet {
namespace {

std::size_t width_of(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

std::string ms_text(long long ms) { return text::format_duration(std::chrono::milliseconds(ms)); }

nlohmann::json counts(const report& r) {
    nlohmann::json c = nlohmann::json::object();
    for (const auto& t : r.targets) c[t.outcome] = c.value(t.outcome, 0) + 1;
    c["targets"] = r.targets.size();
    return c;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

nlohmann::json to_json(const report& r) {
    auto targets = nlohmann::json::array();
    for (const auto& t : r.targets) {
        nlohmann::json j = {{"target", t.target},       {"server", t.server},
                            {"wave", t.wave},           {"outcome", t.outcome},
                            {"exit_code", t.exit_code}, {"duration_ms", t.duration_ms}};
        if (r.command == "fleet up" || r.command == "fleet down") j["count"] = t.applied;
        if (!t.summary.is_null()) {
            j["head"] = t.head.empty() ? nlohmann::json() : nlohmann::json(t.head);
            j["summary"] = t.summary;
        }
        if (!t.error.empty()) j["error"] = text::redact(t.error);
        targets.push_back(j);
    }
    nlohmann::json j = {{"fleet", r.fleet},     {"command", r.command},
                        {"outcome", r.outcome}, {"duration_ms", r.duration_ms},
                        {"waves", r.waves},     {"summary", counts(r)},
                        {"targets", targets}};
    if (!r.failed_target.empty()) j["failed_target"] = r.failed_target;
    if (!r.notifications.is_null()) j["notifications"] = r.notifications;
    return j;
}

std::string to_markdown(const report& r) {
    std::string md =
        fmt::format("## moonshift {} — fleet {}: {}\n\n", r.command, r.fleet, r.outcome);
    std::string sum;
    auto c = counts(r);  // items() of a temporary would dangle
    for (auto& [k, v] : c.items())
        if (k != "targets") sum += (sum.empty() ? "" : ", ") + v.dump() + " " + k;
    md += fmt::format("{} targets in {} wave(s), {}: {}.\n\n", r.targets.size(), r.waves,
                      ms_text(r.duration_ms), sum);
    if (!r.failed_target.empty())
        md += "**Stopped at " + r.failed_target + "**: later waves were not started.\n\n";
    md += "| target | server | wave | outcome | migrations | time | error |\n";
    md += "|---|---|---|---|---|---|---|\n";
    for (const auto& t : r.targets) {
        std::string err = first_line(text::redact(t.error));
        for (auto& c : err)
            if (c == '|') c = '/';
        md += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", t.target, t.server, t.wave,
                          t.outcome, t.summary.is_null() ? std::to_string(t.applied) : t.head,
                          t.exit_code < 0 ? "" : ms_text(t.duration_ms), err);
    }
    return text::redact(md);
}

void print_table(printer& out, const report& r, bool all_rows) {
    bool status = r.command == "fleet status";
    std::vector<std::vector<std::string>> cells;
    if (status)
        cells.push_back({"TARGET", "HEAD", "APPLIED", "UNVERIFIED", "PENDING", "CHANGED", "ERROR"});
    else
        cells.push_back({"TARGET", "WAVE", "OUTCOME", "MIGRATIONS", "TIME", "ERROR"});
    std::size_t hidden = 0;
    for (const auto& t : r.targets) {
        bool plain = t.outcome == "applied" || t.outcome == "up to date";
        if (!all_rows && plain && r.targets.size() > 20) {
            ++hidden;
            continue;
        }
        std::string err = first_line(text::redact(t.error));
        auto n = [&](const char* key) {  // an unreadable target has no summary
            return t.summary.is_object() ? std::to_string(t.summary.value(key, 0)) : "-";
        };
        if (status)
            cells.push_back({t.target, t.head.empty() ? "-" : t.head, n("applied"), n("unverified"),
                             n("pending"), n("changed"), err});
        else
            cells.push_back({t.target, std::to_string(t.wave), t.outcome, std::to_string(t.applied),
                             t.exit_code < 0 ? "-" : ms_text(t.duration_ms), err});
    }
    std::vector<std::size_t> w(cells[0].size(), 0);
    for (const auto& row : cells)
        for (std::size_t i = 0; i < row.size(); ++i) w[i] = std::max(w[i], width_of(row[i]));
    std::string text;
    for (std::size_t k = 0; k < cells.size(); ++k) {
        std::string line;
        for (std::size_t i = 0; i < cells[k].size(); ++i) {
            bool last = i + 1 == cells[k].size();
            line += cells[k][i] + (last ? "" : std::string(w[i] - width_of(cells[k][i]) + 2, ' '));
        }
        text += (k ? "\n" : "") + (k == 0 ? out.dim(line) : line);
    }
    out.line(text);
    std::string sum;
    auto c = counts(r);  // items() of a temporary would dangle
    for (auto& [k, v] : c.items())
        if (k != "targets") sum += (sum.empty() ? "" : ", ") + v.dump() + " " + k;
    if (hidden)
        sum += fmt::format(" ({} unremarkable target(s) not listed; --verbose lists them)", hidden);
    std::string head = fmt::format("fleet {}: {} targets, {}", r.fleet, r.targets.size(), sum);
    if (!status) head += " in " + ms_text(r.duration_ms);
    out.line(r.outcome == "ok" ? out.green(head) : out.red(head));
    if (!r.failed_target.empty())
        out.line(out.red("Stopped: " + r.failed_target + " failed") +
                 (r.waves > 1 ? "; the waves after it were not started." : "."));
}

progress::progress(const globals& g, std::size_t total)
    : on_(!g.json && !g.quiet && isatty(STDOUT_FILENO)),
      total_(total),
      t0_(std::chrono::steady_clock::now()) {}

void progress::update(std::size_t done, std::size_t running, std::size_t failed, int wave,
                      int waves) {
    if (!on_) return;
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - t0_)
                       .count();
    std::string eta = "?";
    if (done > 0 && done < total_)
        eta =
            ms_text(elapsed * static_cast<long long>(total_ - done) / static_cast<long long>(done));
    else if (done >= total_)
        eta = "0 s";
    std::string line = fmt::format("wave {}/{} · {}/{} done · {} running · {} failed · ETA {}",
                                   wave, waves, done, total_, running, failed, eta);
    std::fputs(("\r\033[K" + line).c_str(), stdout);
    std::fflush(stdout);
}

void progress::clear() {
    if (!on_) return;
    std::fputs("\r\033[K", stdout);
    std::fflush(stdout);
}

}  // namespace moonshift::cli::fleet
