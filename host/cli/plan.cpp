// `moonshift plan`: rehearse the pending migrations on the target in a
// transaction that is rolled back, and show what each did: time, rows,
// locks, schema changes. Exit code 1 when one of them fails (it would fail
// for real too).
#include <fmt/format.h>

#include "cli/common.hpp"
#include "common/text.hpp"
#include "safety/rehearsal.hpp"
#include "sql/facts.hpp"

namespace moonshift::cli {
namespace {

struct plan_options {
    std::string to;
};

// How it would be rolled back: its down script, the derived SQL, or why not.
void print_reverse(printer& out, const nlohmann::json& r) {
    if (!r.is_object()) return;
    auto how = r.value("how", "");
    if (how == "down script") {
        out.line("  reverse: down script " + r.value("file", ""));
    } else if (how == "down function") {
        out.line("  reverse: its down function");
    } else if (how == "derived") {
        out.line("  reverse: derived" +
                 std::string(r.contains("data") ? ", with the rows from the backup taken before it"
                                                : "") +
                 ":");
        for (const auto& s : r.value("sql", nlohmann::json::array()))
            out.line(out.dim("    " + s.get<std::string>() + ";"));
    } else {
        std::string why;
        for (const auto& w : r.value("why", nlohmann::json::array()))
            why += (why.empty() ? "" : "; ") + w.get<std::string>();
        out.line("  reverse: " + out.yellow("none") + out.dim(": " + why));
    }
}

void print(printer& out, const rehearsal::migration_result& m, bool verbose) {
    auto id = m.version + "_" + m.name;
    if (!m.rehearsed) {
        out.line(out.bold(id) + "  " + out.yellow("not rehearsed") +
                 out.dim(": " + m.not_rehearsed));
        print_reverse(out, m.reverse);
        return;
    }
    if (m.failed) {
        out.line(
            out.bold(id) + "  " + out.red("fails") +
            out.dim(" after " + text::format_duration(std::chrono::milliseconds(m.duration_ms))));
        out.line("  " + m.error);
        return;
    }
    // Lua migrations run as one step: their rows are not counted per statement.
    auto took = text::format_duration(std::chrono::milliseconds(m.duration_ms));
    out.line(out.bold(id) + "  " + out.green("ok") +
             out.dim(m.statements.empty()
                         ? fmt::format(" ({})", took)
                         : fmt::format(" ({}, {} row(s) affected)", took, m.rows)));
    if (!m.note.empty()) out.line("  " + out.dim(m.note));
    if (verbose || m.statements.size() <= 12) {
        for (const auto& s : m.statements)
            out.line(out.dim(fmt::format(
                "  {:>4}:{:<3} {:<22} {:>9} row(s) {:>8}", s.line, s.column, s.command, s.rows,
                text::format_duration(std::chrono::milliseconds(s.duration_ms)))));
    } else {
        out.line(
            out.dim(fmt::format("  {} statements (--verbose lists them)", m.statements.size())));
    }
    if (!m.locks.empty()) {
        std::string locks;
        for (const auto& l : m.locks)
            locks += (locks.empty() ? "" : ", ") +
                     std::string(sql::lock_mode_name(sql::lock_mode_from_pg(l.mode))) + " on " +
                     l.relation;
        out.line("  locks: " + locks);
    }
    print_reverse(out, m.reverse);
    if (m.changes.empty()) {
        out.line(out.dim("  schema: no change"));
    } else {
        out.line("  schema:");
        for (const auto& c : m.changes) {
            auto line = schema::describe(c);
            out.line("    " + (c.action == "added"     ? out.green(line)
                               : c.action == "removed" ? out.red(line)
                                                       : out.yellow(line)));
        }
    }
}

int run_plan(const globals& g, const plan_options& o) {
    printer out(g);
    engine::engine e(make_context(g, out, true));
    auto p = e.status();
    std::vector<const catalog::migration*> pending;
    for (auto* entry : p.to_apply(true)) {
        if (!o.to.empty() && catalog::compare_versions(entry->version, o.to) > 0) continue;
        pending.push_back(entry->file);
    }
    if (pending.empty()) {
        out.line("Nothing to rehearse: no pending migration.");
        out.json_line(
            {{"result", "plan"}, {"migrations", nlohmann::json::array()}, {"failed", false}});
        return 0;
    }
    auto r = e.rehearse(pending);
    out.line(out.dim(r.sequences_advanced.empty()
                         ? "Rehearsed in one transaction, rolled back: nothing was changed."
                         : "Rehearsed in one transaction, rolled back: nothing was changed but "
                           "the sequences below (a rollback never undoes nextval)."));
    for (const auto& m : r.migrations) print(out, m, g.verbose);
    for (const auto& seq : r.sequences_advanced) out.line(out.yellow("  sequence advanced ") + seq);
    int rehearsed = 0, skipped = 0;
    for (const auto& m : r.migrations) (m.rehearsed ? rehearsed : skipped)++;
    std::string summary =
        fmt::format("{} migration(s) rehearsed in {}{}", rehearsed,
                    text::format_duration(std::chrono::milliseconds(r.duration_ms)),
                    skipped ? fmt::format(", {} not rehearsed", skipped) : "");
    out.line(r.failed ? out.red(summary + "; the run would fail") : out.green(summary));
    auto j = r.to_json();
    j["result"] = "plan";
    out.json_line(j);
    return r.failed ? static_cast<int>(exit_code::migration_failed) : 0;
}

}  // namespace

void register_plan(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand("plan",
                                   "rehearse pending migrations in a transaction that is rolled "
                                   "back: time, rows, locks, schema changes");
    auto o = std::make_shared<plan_options>();
    cmd->add_option("--to", o->to, "rehearse up to and including this version");
    cmd->callback([&g, &run, o] { run = [&g, o] { return run_plan(g, *o); }; });
}

}  // namespace moonshift::cli
