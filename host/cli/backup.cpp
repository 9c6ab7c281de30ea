// `moonshift backup list|create|restore|prune`: the targeted backups that
// runs take before destructive migrations, and backups by hand.
#include "backup/backup.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <iostream>

#include "cli/common.hpp"
#include "common/text.hpp"
#include "engine/run_scope.hpp"
#include "safety/guard.hpp"

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

backup::store make_store(engine::engine& e) {
    auto p = safety::policy_for(e.ctx().cfg, e.ctx().env);
    backup::settings s;
    s.dir = p.backup_dir;
    s.environment = e.ctx().env.name;
    s.keep_daily = e.ctx().cfg.backup.keep_daily;
    s.keep_weekly = e.ctx().cfg.backup.keep_weekly;
    s.keep_monthly = e.ctx().cfg.backup.keep_monthly;
    return backup::store(e.session(), e.store(), s);
}

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
    auto store = make_store(e);
    auto all = store.list(o.limit);
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
    engine::run_scope run(e, "backup create");
    auto store = make_store(e);
    backup::record r;
    if (o.full) {
        r = store.dump_database(e.ctx().url, "", "", o.reason.empty() ? "by hand" : o.reason,
                                run.id());
    } else {
        if (o.tables.empty())
            throw usage_error(
                "name the tables to back up",
                "moonshift backup create public.users orders (or --full for pg_dump)");
        auto tables = store.resolve(o.tables, {});
        if (tables.size() < o.tables.size()) {
            std::string missing;
            for (const auto& t : o.tables) {
                bool found = false;
                for (const auto& x : tables)
                    found = found || x == t || x.substr(x.find('.') + 1) == t;
                if (!found) missing += (missing.empty() ? "" : ", ") + t;
            }
            run.finish("refused");
            throw usage_error("no such table: " + missing);
        }
        r = store.create(tables, "", "", o.reason.empty() ? "by hand" : o.reason, run.id(),
                         [&](const std::string& m) { out.line(out.dim(m + " …")); });
    }
    run.report()["backup"] = r.to_json();
    run.finish("ok");
    out.line(out.green(fmt::format("Backup {}: {} ({} row(s), {}) in {}", r.id, tables_text(r),
                                   r.rows, size_text(r.bytes), r.location)));
    out.json_line({{"result", "backup"}, {"backup", r.to_json()}});
    return 0;
}

int restore(const globals& g, const backup_options& o) {
    printer out(g);
    engine::engine e(make_context(g, out));
    auto store = make_store(e);
    auto r = store.find(o.id);
    if (!r)
        throw usage_error("there is no backup " + std::to_string(o.id),
                          "`moonshift backup list` shows them");
    std::string what = o.tables.empty() ? tables_text(*r) : [&] {
        std::string s;
        for (const auto& t : o.tables) s += (s.empty() ? "" : ", ") + t;
        return s;
    }();
    if (o.into.empty() && !g.yes) {
        // Restoring replaces the rows the tables have now: a person confirms.
        if (!isatty(STDIN_FILENO))
            throw usage_error(
                "restoring backup " + std::to_string(r->id) + " replaces the current rows of " +
                    what,
                "confirm with --yes, or restore into another schema with --into SCHEMA");
        std::cout << "Restore backup " << r->id << " (" << r->created_at << ") over " << what
                  << "? Their current rows are replaced. [y/N] " << std::flush;
        std::string answer;
        std::getline(std::cin, answer);
        if (answer != "y" && answer != "yes") {
            out.line("Nothing restored.");
            return 0;
        }
    }
    engine::run_scope run(e, "backup restore");
    backup::restore_options ro;
    ro.only = o.tables;
    ro.into_schema = o.into;
    backup::restore_result res;
    try {
        res = store.restore(*r, ro);
    } catch (const error& err) {
        run.report()["error"] = text::redact(err.what());
        run.finish("failed");
        throw;
    }
    auto tables = nlohmann::json::array();
    for (const auto& t : res.tables) {
        tables.push_back({{"table", t.name},
                          {"into", t.into},
                          {"rows", t.rows},
                          {"created", t.created},
                          {"reshaped", t.reshaped}});
        std::string note = t.created ? " (recreated)" : "";
        for (const auto& x : t.reshaped) note += " (" + x + ")";
        out.line(fmt::format("restored {} rows into {}{}", t.rows, t.into, note));
    }
    run.report()["backup"] = r->id;
    run.report()["restored"] = tables;
    run.finish("ok");
    out.line(
        out.green(fmt::format("Backup {} restored; row counts verified ({}).", r->id,
                              text::format_duration(std::chrono::milliseconds(res.duration_ms)))));
    out.json_line({{"result", "restore"},
                   {"backup", r->id},
                   {"tables", tables},
                   {"duration_ms", res.duration_ms}});
    return 0;
}

int prune(const globals& g, const backup_options& o) {
    printer out(g);
    engine::engine e(make_context(g, out));
    std::unique_ptr<engine::run_scope> run;
    if (!o.dry_run) run = std::make_unique<engine::run_scope>(e, "backup prune");
    auto store = make_store(e);
    auto res = store.prune(o.dry_run);
    for (const auto& r : res.pruned)
        out.line((o.dry_run ? "would prune " : "pruned ") + std::to_string(r.id) +
                 out.dim("  " + r.created_at + "  " + tables_text(r)));
    out.line(fmt::format("{} backup(s) {}, {} kept ({} daily, {} weekly, {} monthly)",
                         res.pruned.size(), o.dry_run ? "would be pruned" : "pruned",
                         res.kept.size(), store.config().keep_daily, store.config().keep_weekly,
                         store.config().keep_monthly));
    auto ids = nlohmann::json::array();
    for (const auto& r : res.pruned) ids.push_back(r.id);
    if (run) {
        run->report()["pruned"] = ids;
        run->finish("ok");
    }
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
