// `moonshift backup list|create|restore|prune` through the engine: the
// environment's backup store (host/backup/), with the lock and a recorded
// run around every change, like any other command.
#include "backup/backup.hpp"
#include "common/text.hpp"
#include "engine/engine.hpp"
#include "engine/run_scope.hpp"
#include "safety/guard.hpp"

namespace moonshift::engine {

backup::store engine::backups() {
    return backup::store(*session_, *store_, backup::settings_for(ctx_.cfg, ctx_.env));
}

std::vector<backup::record> engine::backup_list(int limit) { return backups().list(limit); }

std::optional<backup::record> engine::backup_find(long long id) { return backups().find(id); }

backup::record engine::backup_create(const backup_request& rq) {
    run_scope run(*this, "backup create");
    auto store = backups();
    auto reason = rq.reason.empty() ? std::string("by hand") : rq.reason;
    backup::record r;
    if (rq.full) {
        r = store.dump_database(ctx_.url, "", "", reason, run.id());
    } else {
        if (rq.tables.empty())
            throw usage_error(
                "name the tables to back up",
                "moonshift backup create public.users orders (or --full for pg_dump)");
        auto tables = store.resolve(rq.tables, {});
        if (tables.size() < rq.tables.size()) {
            std::string missing;
            for (const auto& t : rq.tables) {
                bool found = false;
                for (const auto& x : tables)
                    found = found || x == t || x.substr(x.find('.') + 1) == t;
                if (!found) missing += (missing.empty() ? "" : ", ") + t;
            }
            run.finish("refused");
            throw usage_error("no such table: " + missing);
        }
        r = store.create(tables, "", "", reason, run.id(), rq.progress);
    }
    run.report()["backup"] = r.to_json();
    run.finish("ok");
    return r;
}

outcome engine::backup_restore(const backup::record& r, const backup::restore_options& o) {
    run_scope run(*this, "backup restore");
    backup::restore_result res;
    try {
        res = backups().restore(r, o);
    } catch (const error& err) {
        run.report()["error"] = text::redact(err.what());
        run.finish("failed");
        throw;
    }
    auto tables = nlohmann::json::array();
    for (const auto& t : res.tables)
        tables.push_back({{"table", t.name},
                          {"into", t.into},
                          {"rows", t.rows},
                          {"created", t.created},
                          {"reshaped", t.reshaped}});
    run.report()["backup"] = r.id;
    run.report()["restored"] = tables;
    run.finish("ok");
    outcome out;
    out.count = static_cast<int>(res.tables.size());
    out.report = {{"backup", r.id}, {"tables", tables}, {"duration_ms", res.duration_ms}};
    return out;
}

backup::prune_result engine::backup_prune(bool dry_run) {
    std::unique_ptr<run_scope> run;
    if (!dry_run) run = std::make_unique<run_scope>(*this, "backup prune");
    auto res = backups().prune(dry_run);
    if (run) {
        auto ids = nlohmann::json::array();
        for (const auto& r : res.pruned) ids.push_back(r.id);
        run->report()["pruned"] = ids;
        run->finish("ok");
    }
    return res;
}

}  // namespace moonshift::engine
