// The derived reverse in the run lifecycle (docs/rollback.md): recorded with
// a migration's history row from the catalog before and after it ran (in its
// transaction), and run by `down` and the watch window for a migration
// without a down script, with the data the migration destroyed put back from
// the backup taken before it.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <set>

#include "backup/backup.hpp"
#include "common/text.hpp"
#include "db/transaction.hpp"
#include "engine/detail.hpp"
#include "engine/engine.hpp"
#include "engine/run_scope.hpp"
#include "safety/guard.hpp"
#include "schema/reverse.hpp"
#include "sql/facts.hpp"
#include "sql/sql.hpp"

namespace moonshift::engine {
using detail::ms_since;
using json = nlohmann::json;

namespace {

// Statements whose whole effect the catalog image sees (reverse.hpp), or
// that change only rows (judged by their facts). Any other kind is named.
const std::set<std::string>& reversed_kinds() {
    static const std::set<std::string> kinds = {
        "CreateStmt",        "AlterTableStmt",   "IndexStmt",        "DropStmt",
        "RenameStmt",        "CreatePolicyStmt", "AlterPolicyStmt",  "CreateFunctionStmt",
        "CreateTrigStmt",    "CreateEnumStmt",   "AlterEnumStmt",    "ViewStmt",
        "CreateSeqStmt",     "AlterSeqStmt",     "GrantStmt",        "InsertStmt",
        "UpdateStmt",        "DeleteStmt",       "SelectStmt",       "VariableSetStmt",
        "CreateTableAsStmt", "TruncateStmt",     "CreateSchemaStmt", "AlterObjectSchemaStmt"};
    return kinds;
}

std::string statement_name(const std::string& kind) {
    auto name = kind.substr(0, kind.rfind("Stmt"));
    std::string out;
    for (char c : name) {
        if (std::isupper(static_cast<unsigned char>(c)) && !out.empty()) out += ' ';
        out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return out;
}

// What the migration's statements do to rows that the catalog cannot bring
// back: "DROP COLUMN users.email", "UPDATE users". Tables it created itself
// have nothing to lose. `parsed`: the gate's parse of the file, when it made one.
json data_changes(const catalog::migration& m, json& irreversible,
                  const sql::script* parsed = nullptr) {
    json out = json::array();
    std::vector<std::string> created;
    auto is_created = [&](const std::string& t) {
        return std::find(created.begin(), created.end(), t) != created.end();
    };
    try {
        std::optional<sql::script> own;
        if (!parsed) parsed = &own.emplace(sql::parse(m.up_sql, m.up_label));
        for (const auto& st : parsed->statements) {
            if (!st.kind.empty() && !reversed_kinds().count(st.kind))
                irreversible.push_back("line " + std::to_string(st.line) + ": " +
                                       statement_name(st.kind) +
                                       " is outside what a derived reverse restores");
            auto f = sql::facts_of(st);
            bool at_risk = false;
            for (const auto& t : f.at_risk) at_risk = at_risk || !is_created(t);
            if (at_risk || !f.dropped_schemas.empty()) {
                for (const auto& d : f.destructive) out.push_back(d);
                if (f.changes_rows) {
                    std::string what = statement_name(st.kind);
                    for (const auto& t : f.at_risk) what += " " + t;
                    out.push_back(what);
                }
            }
            for (const auto& t : f.created) created.push_back(t);
        }
    } catch (const sql::parse_error&) {
        irreversible.push_back(
            "its SQL does not parse with the bundled parser: what it did to "
            "rows is unknown");
    }
    return out;
}

std::string joined(const json& items, const char* separator) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : separator) + i.get<std::string>();
    return out;
}

}  // namespace

engine::down_backup engine::down_backup_tables(const std::string& sql, const std::string& label) {
    if (safety::policy_for(ctx_.cfg, ctx_.env).backup == "never") return {};
    std::vector<std::string> at_risk, schemas, reasons;
    try {
        for (const auto& st : sql::parse(sql, label).statements) {
            auto f = sql::facts_of(st);
            at_risk.insert(at_risk.end(), f.at_risk.begin(), f.at_risk.end());
            schemas.insert(schemas.end(), f.dropped_schemas.begin(), f.dropped_schemas.end());
            reasons.insert(reasons.end(), f.destructive.begin(), f.destructive.end());
            if (f.changes_rows && !f.at_risk.empty())
                reasons.push_back("changes rows of " + f.at_risk.front());
        }
    } catch (const sql::parse_error&) {
        log("warn", label +
                        " does not parse with the bundled parser: the tables it touches are "
                        "unknown, so no backup is taken before it");
        return {};
    }
    if (reasons.empty()) return {};
    auto tables = backups().resolve(at_risk, schemas);
    if (tables.empty()) return {};
    return {std::move(tables), reasons.front()};
}

void engine::backup_before_down(const entry& e, const std::string& sql, const std::string& label,
                                long long run_id) {
    take_down_backup(e, down_backup_tables(sql, label), run_id);
}

std::optional<backup::record> engine::take_down_backup(const entry& e, const down_backup& at_risk,
                                                       long long run_id, std::future<void>* on_disk,
                                                       std::string* completion) {
    const auto& [tables, reason] = at_risk;
    if (tables.empty()) return std::nullopt;
    auto store = backups();
    store.check_location();
    std::string list;
    for (const auto& t : tables) list += (list.empty() ? "" : ", ") + t;
    log("info", "backing up " + list + " before rolling back " + e.version + "_" + e.name + " (" +
                    reason + ")");
    // "before down:" keeps it apart from the backup taken before the up
    // (history/backups.cpp), which a later derived reverse restores.
    auto rec = store.create(tables, e.version, e.name, "before down: " + reason, run_id, {},
                            on_disk, completion);
    emit("backup.created", rec.to_json());
    return rec;
}

json engine::image_before(const catalog::migration& m) {
    (void)m;
    // The image after the migration before, while nothing it was made from
    // changed since (another session's DDL, a backup's table, a Lua step):
    // one catalog image per run instead of two per migration.
    std::optional<json> kept;
    kept.swap(last_image_);
    if (kept && schema::still_current(*session_, *kept)) return std::move(*kept);
    return schema::image(*session_, {store_->schema(), ctx_.cfg.backup.schema});
}

json engine::derive_reverse(const catalog::migration& m, json before) {
    const std::vector<std::string> left_out{store_->schema(), ctx_.cfg.backup.schema};
    // What the migration wrote, against the image before it: the work
    // follows the migration, not the size of the catalog.
    auto d = schema::image_after(*session_, left_out, std::move(before));
    json j = schema::reverse_of(d.before_part, d.after_part).to_json();
    last_image_ = std::move(d.after);
    j["data"] = data_changes(m, j["irreversible"], guard_ ? guard_->script_of(m.version) : nullptr);
    return j;
}

json engine::reverse_outlook(const catalog::migration& m) {
    if (m.kind == catalog::form::lua || !m.down_lua.empty()) {
        if (lua_can_revert(m)) return {{"how", "down function"}};
        return {{"how", "none"}, {"why", {"it is Lua without a down function"}}};
    }
    if (!m.down.empty()) return {{"how", "down script"}, {"file", m.down_label}};
    if (needs_lua(m) || m.dir.no_transaction || m.dir.own_transaction)
        return {{"how", "none"},
                {"why",
                 {"it runs outside moonshift's transaction, so no image of the catalog before it "
                  "can be taken"}}};
    json why = json::array();
    auto data = data_changes(m, why);
    if (!data.empty() && safety::policy_for(ctx_.cfg, ctx_.env).backup == "never")
        why.push_back("it destroys rows (" + joined(data, ", ") + ") and backup = \"never\"");
    if (!why.empty()) return {{"how", "none"}, {"why", why}};
    json out = {{"how", "derived"}};
    if (!data.empty()) out["data"] = data;
    return out;
}

void engine::preflight_reversible(run_scope& run,
                                  const std::vector<const catalog::migration*>& todo,
                                  const up_options& o) {
    if (todo.empty() || (ctx_.env.watch_for.count() == 0 && ctx_.env.triggers.empty())) return;
    json outlook = json::array();
    std::string refused;
    for (const auto* m : todo) {
        auto r = reverse_outlook(*m);
        r["version"] = m->version;
        r["name"] = m->name;
        if (r["how"] == "none") refused += "\n  " + m->up_label + ": " + joined(r["why"], "; ");
        outlook.push_back(r);
    }
    run.report()["reversible"] = outlook;
    if (refused.empty()) return;
    bool allowed = o.allow_irreversible || ctx_.env.allow_irreversible;
    std::string text = std::string(allowed ? "applying anyway" : "refusing") + ": " +
                       ctx_.env.name +
                       " has a watch window or triggers, and these could not be "
                       "rolled back:" +
                       refused;
    if (allowed) {
        log("warn", text);
        return;
    }
    run.report()["error"] = text::redact(text);
    run.finish("refused");
    throw error(exit_code::check_failed, text,
                "write a down script for them, or accept it with --allow-irreversible or "
                "[env." +
                    ctx_.env.name + "] allow_irreversible = true");
}

std::vector<std::string> engine::why_irreversible(const entry& e) {
    std::vector<std::string> out;
    if (!e.row) return out;
    const auto& rev = e.row->reverse;
    if (!rev.is_object()) {
        if (e.file && needs_lua(*e.file))
            out.push_back("it has Lua parts, and no derived reverse is recorded for those");
        else if (rev.is_string() && rev.get<std::string>() == "down script")
            out.push_back(
                "it had a down script when it was applied, so no reverse was derived: "
                "put its down script back");
        else if (e.row->how == "imported" || e.row->how == "baseline")
            out.push_back("it was recorded by `" +
                          std::string(e.row->how == "imported" ? "import" : "baseline") +
                          "`, so moonshift never saw the catalog before it");
        else
            out.push_back("it was applied before moonshift recorded derived reverses");
        return out;
    }
    for (const auto& i : rev.value("irreversible", json::array()))
        out.push_back(i.get<std::string>());
    auto data = rev.value("data", json::array());
    if (!data.empty() && !backups().latest_for(e.version))
        out.push_back("it destroyed rows (" + joined(data, ", ") +
                      ") and no backup was taken before it");
    return out;
}

void engine::revert_derived(const entry& e, long long run_id, bool forced) {
    const auto& rev = e.row->reverse;
    auto label = e.file ? e.file->up_label : e.version + "_" + e.name;
    auto all = joined(rev.value("sql", json::array()), ";\n");
    auto finish_sql = joined(rev.value("finish", json::array()), ";\n");
    backup_before_down(e, all + (all.empty() || finish_sql.empty() ? "" : ";\n") + finish_sql,
                       "the derived reverse of " + label, run_id);
    emit("migration.start", {{"version", e.version},
                             {"name", e.name},
                             {"direction", "down"},
                             {"file", "derived reverse"}});
    auto t0 = std::chrono::steady_clock::now();
    auto store = backups();
    std::optional<backup::record> rec;
    if (!rev.value("data", json::array()).empty()) rec = store.latest_for(e.version);
    std::string step = "its statements";
    try {
        db::transaction tx(*session_, db::transaction::mode::begin,
                           session_->restore_settings_sql());
        auto sql = joined(rev.value("sql", json::array()), ";\n");
        if (!sql.empty()) session_->exec_script(sql);
        if (rec) {
            step = "restoring backup " + std::to_string(rec->id);
            backup::restore_options ro;
            ro.in_transaction = true;
            store.restore(*rec, ro);
        }
        step = "its constraints, indexes, triggers and policies";
        auto finish = joined(rev.value("finish", json::array()), ";\n");
        if (!finish.empty()) session_->exec_script(finish);
        // The schema comes back and the migration is forgotten together.
        tx.commit(e.file ? history_remove_sql(*e.file, e.version) : store_->remove_sql(e.version));
    } catch (const std::exception& err) {
        emit("migration.failed",
             {{"version", e.version}, {"name", e.name}, {"error", {{"message", err.what()}}}});
        throw error(exit_code::migration_failed,
                    "the derived reverse of " + label + " failed in " + step +
                        "; nothing changed: " + err.what(),
                    "write a down script for it (`moonshift plan` shows the derived SQL to "
                    "start from)");
    }
    json done = {{"version", e.version},
                 {"name", e.name},
                 {"duration_ms", ms_since(t0)},
                 {"file", "derived reverse"},
                 {"forced", forced}};
    if (rec) done["backup"] = rec->id;
    emit("migration.reverted", done);
}

}  // namespace moonshift::engine
