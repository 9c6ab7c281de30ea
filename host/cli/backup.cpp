// `moonshift backup list|create|restore|prune`: the targeted backups that
// runs take before destructive migrations, and backups by hand.
#include "backup/backup.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <iostream>

#include "cli/common.hpp"
#include "common/text.hpp"

namespace moonshift::cli {
namespace {

struct backup_options {
    int limit = 50;
    std::vector<std::string> tables;
    std::string reason;
    bool full = false;
    long long id = 0;
    std::string into;
    bool dry_run = false;
};

std::string size_text(long long bytes) {
    if (bytes < 1024) return std::to_string(bytes) + " B";
    if (bytes < 1024 * 1024) return fmt::format("{:.1f} kB", bytes / 1024.0);
    if (bytes < 1024LL * 1024 * 1024) return fmt::format("{:.1f} MB", bytes / 1048576.0);
    return fmt::format("{:.2f} GB", bytes / 1073741824.0);
}

std::string tables_text(const backup::record& r) {
    std::string out;
    for (const auto& t : r.tables)
        out += (out.empty() ? "" : ", ") + (t.table == "*" ? "whole database" : t.table);
    return out;
}

int list(const globals& g, const backup_options& o) {
    printer out(g);
    engine::engine e(make_context(g, out));
    auto all = e.backup_list(o.limit);
    if (out.json()) {
        auto arr = nlohmann::json::array();
        for (const auto& r : all) arr.push_back(r.to_json());
        out.json_line({{"backups", arr}});
        return 0;
    }
    if (all.empty()) {
        out.line("No backups yet.");
        return 0;
    }
    out.line(out.dim(fmt::format("{:>5}  {:<20}  {:<28}  {:>10}  {:>9}  {:<9}  {}", "ID", "CREATED",
                                 "MIGRATION", "ROWS", "SIZE", "STATUS", "TABLES")));
    for (const auto& r : all) {
        std::string mig = r.version.empty() ? "(by hand)" : r.version + "_" + r.migration;
        if (mig.size() > 28) mig = mig.substr(0, 27) + "…";
        std::string status = r.status == "complete" ? out.green(r.status)
                             : r.status == "failed" ? out.red(r.status)
                                                    : out.dim(r.status);
        out.line(fmt::format(
            "{:>5}  {:<20}  {:<28}  {:>10}  {:>9}  {:<9}  {}{}", r.id, r.created_at, mig, r.rows,
            size_text(r.bytes), status, tables_text(r),
            r.restored_at.empty() ? "" : out.dim("  (restored " + r.restored_at + ")")));
    }
    return 0;
}

int create(const globals& g, const backup_options& o) {
    printer out(g);
    engine::engine e(make_context(g, out));
    engine::backup_request rq;
    rq.tables = o.tables;
    rq.full = o.full;
    rq.reason = o.reason;
    rq.progress = [&](const std::string& m) { out.line(out.dim(m + " …")); };
    auto r = e.backup_create(rq);
    out.line(out.green(fmt::format("Backup {}: {} ({} row(s), {}) in {}", r.id, tables_text(r),
                                   r.rows, size_text(r.bytes), r.location)));
    out.json_line({{"result", "backup"}, {"backup", r.to_json()}});
    return 0;
}

// Restoring replaces the rows the tables have now: a person confirms, on a
// terminal, unless --yes or --into. False: nothing is to be restored.
bool confirmed(const globals& g, const backup_options& o, const backup::record& r) {
    if (!o.into.empty() || g.yes) return true;
    std::string what = tables_text(r);
    if (!o.tables.empty()) {
        what.clear();
        for (const auto& t : o.tables) what += (what.empty() ? "" : ", ") + t;
    }
    if (!isatty(STDIN_FILENO))
        throw usage_error(
            "restoring backup " + std::to_string(r.id) + " replaces the current rows of " + what,
            "confirm with --yes, or restore into another schema with --into SCHEMA");
    std::cout << "Restore backup " << r.id << " (" << r.created_at << ") over " << what
              << "? Their current rows are replaced. [y/N] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    return answer == "y" || answer == "yes";
}

int restore(const globals& g, const backup_options& o) {
    printer out(g);
    engine::engine e(make_context(g, out));
    auto r = e.backup_find(o.id);
    if (!r)
        throw usage_error("there is no backup " + std::to_string(o.id),
                          "`moonshift backup list` shows them");
    if (!confirmed(g, o, *r)) {
        out.line("Nothing restored.");
        return 0;
    }
    backup::restore_options ro;
    ro.only = o.tables;
    ro.into_schema = o.into;
    auto res = e.backup_restore(*r, ro);
    const auto& tables = res.report["tables"];
    for (const auto& t : tables) {
        std::string note = t.value("created", false) ? " (recreated)" : "";
        for (const auto& x : t["reshaped"]) note += " (" + x.get<std::string>() + ")";
        out.line(fmt::format("restored {} rows into {}{}", t.value("rows", 0LL),
                             t.value("into", ""), note));
    }
    auto ms = res.report.value("duration_ms", 0LL);
    out.line(out.green(fmt::format("Backup {} restored; row counts verified ({}).", r->id,
                                   text::format_duration(std::chrono::milliseconds(ms)))));
    out.json_line(
        {{"result", "restore"}, {"backup", r->id}, {"tables", tables}, {"duration_ms", ms}});
    return 0;
}

int prune(const globals& g, const backup_options& o) {
    printer out(g);
    engine::engine e(make_context(g, out));
    auto res = e.backup_prune(o.dry_run);
    for (const auto& r : res.pruned)
        out.line((o.dry_run ? "would prune " : "pruned ") + std::to_string(r.id) +
                 out.dim("  " + r.created_at + "  " + tables_text(r)));
    const auto& keep = e.ctx().cfg.backup;
    out.line(fmt::format("{} backup(s) {}, {} kept ({} daily, {} weekly, {} monthly)",
                         res.pruned.size(), o.dry_run ? "would be pruned" : "pruned",
                         res.kept.size(), keep.keep_daily, keep.keep_weekly, keep.keep_monthly));
    auto ids = nlohmann::json::array();
    for (const auto& r : res.pruned) ids.push_back(r.id);
    out.json_line(
        {{"result", "prune"}, {"pruned", ids}, {"kept", res.kept.size()}, {"dry_run", o.dry_run}});
    return 0;
}

}  // namespace

void register_backup(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand("backup", "targeted backups: list, create, restore, prune");
    cmd->require_subcommand(1);
    auto o = std::make_shared<backup_options>();

    auto* ls = cmd->add_subcommand("list", "list backups, newest first");
    ls->add_option("--limit,-n", o->limit, "how many")->check(CLI::PositiveNumber);
    ls->callback([&g, &run, o] { run = [&g, o] { return list(g, *o); }; });

    auto* cr = cmd->add_subcommand(
        "create", "back up tables now (COPY, compressed), or the whole database with --full");
    cr->add_option("tables", o->tables, "tables to back up (schema.name or name)");
    cr->add_option("--reason", o->reason, "why, kept with the backup");
    cr->add_flag("--full", o->full, "a whole-database pg_dump instead");
    cr->callback([&g, &run, o] { run = [&g, o] { return create(g, *o); }; });

    auto* rs = cmd->add_subcommand(
        "restore", "put a backup's tables back (row counts verified), in one transaction");
    rs->add_option("id", o->id, "the backup's id (`moonshift backup list`)")->required();
    rs->add_option("--table", o->tables, "restore only this table (repeatable)");
    rs->add_option("--into", o->into,
                   "load into copies in this schema instead of replacing the originals");
    rs->callback([&g, &run, o] { run = [&g, o] { return restore(g, *o); }; });

    auto* pr = cmd->add_subcommand(
        "prune", "delete backups beyond the retention (7 daily, 4 weekly, 12 monthly)");
    pr->add_flag("--dry-run", o->dry_run, "only say what would be pruned");
    pr->callback([&g, &run, o] { run = [&g, o] { return prune(g, *o); }; });
}

}  // namespace moonshift::cli
