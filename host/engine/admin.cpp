// Adopting and repairing history: `baseline` and `repair`.
#include "common/text.hpp"
#include "engine/engine.hpp"
#include "engine/run_scope.hpp"

namespace moonshift::engine {

void wait_until_ready(const std::string& url, std::chrono::milliseconds timeout) {
    db::wait_until_ready(url, timeout);
}

outcome engine::baseline(const std::string& version) {
    auto cat_ptr = std::make_shared<const catalog::catalog>(read_catalog());
    const auto& cat = *cat_ptr;
    if (!cat.find(version))
        throw usage_error(
            "version " + version + " is not a migration in " + ctx_.cfg.migrations_dir,
            "baseline names the last migration the database already has");
    run_scope run(*this, "baseline");
    auto p = make_plan(cat_ptr, store_->list_applied());
    if (!p.applied_desc().empty()) {
        run.finish("refused");
        throw usage_error(
            "the database already has applied migrations; baseline adopts a database without "
            "history",
            "see `moonshift status`");
    }
    gate(run, "baseline", {});  // gate.cpp: read-only, window
    approve(run, "record migrations up to " + version + " as applied in " + ctx_.env.name +
                     " without running them");
    std::string sql;
    outcome out;
    run.report()["baselined"] = nlohmann::json::array();
    for (auto& m : cat.migrations) {
        if (catalog::compare_versions(m.version, version) > 0) break;
        auto row = applied_row(m, run.id());
        row.form = catalog::form_name(m.kind);
        row.how = "baseline";
        sql += (sql.empty() ? "" : ";") + store_->record_sql(row);
        run.report()["baselined"].push_back({{"version", m.version}, {"name", m.name}});
        ++out.count;
    }
    // One simple query: the rows commit together (or none does).
    if (!sql.empty()) session_->exec_script(sql);
    run.finish("ok");
    out.report = run.report();
    return out;
}

outcome engine::repair(const std::string& reason) {
    if (text::trim(reason).empty())
        throw usage_error("repair needs a reason",
                          "moonshift repair --reason \"fixed a comment in 003\"");
    auto cat_ptr = std::make_shared<const catalog::catalog>(read_catalog());
    run_scope run(*this, "repair");
    auto p = make_plan(cat_ptr, store_->list_applied());
    outcome out;
    auto& rep = run.report();
    rep["reason"] = reason;
    rep["repaired"] = nlohmann::json::array();
    if (!p.with(state::changed).empty()) {
        gate(run, "repair", {});
        approve(run, "accept " + std::to_string(p.with(state::changed).size()) +
                         " changed checksum(s) in " + ctx_.env.name + " (" + reason + ")");
    }
    for (auto* e : p.with(state::changed)) {
        store_->update_checksum(e->row->version, e->file->checksum);
        rep["repaired"].push_back({{"version", e->version},
                                   {"name", e->name},
                                   {"old_checksum", e->row->checksum},
                                   {"new_checksum", e->file->checksum}});
        ++out.count;
    }
    run.finish("ok");
    out.report = rep;
    return out;
}

}  // namespace moonshift::engine
