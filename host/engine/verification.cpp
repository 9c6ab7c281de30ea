// The built-in verifications (DESIGN.md, step "verify"): critical tables
// exist, RLS and a policy on every table of the exposed schemas, no invalid
// indexes, no foreign keys left NOT VALID, and row counts unchanged for
// tables no migration of the run changes. Then `moonshift verify`.
#include <fmt/format.h>

#include <optional>

#include "common/text.hpp"
#include "db/quote.hpp"
#include "engine/engine.hpp"
#include "engine/run_scope.hpp"
#include "lua/runtime.hpp"
#include "safety/guard.hpp"

namespace moonshift::engine {

using json = nlohmann::json;

namespace {

json result(const std::string& check, const std::vector<std::string>& items,
            const std::string& ok_message, const std::string& failed_message) {
    return {{"check", check},
            {"ok", items.empty()},
            {"message",
             items.empty() ? ok_message : fmt::format("{} ({})", failed_message, items.size())},
            {"items", items}};
}

// "users" -> "public.users" (migrations name tables as written; the default
// search_path puts them in public).
std::string qualified(const std::string& name) {
    return name.find('.') == std::string::npos ? "public." + name : name;
}

}  // namespace

json engine::count_rows(const std::set<std::string>& skip) {
    json counts = json::object();
    if (!ctx_.cfg.verify.row_counts) return counts;
    auto& db = *session_;
    // Tables small enough to count exactly; never-analysed ones by their size.
    auto tables = db.query(
        "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), n.nspname || '.' || "
        "c.relname, "
        "greatest(c.reltuples, 0)::bigint "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema', $1) AND n.nspname NOT LIKE "
        "'pg\\_%' "
        "AND (c.reltuples BETWEEN 0 AND $2 OR (c.reltuples < 0 AND pg_relation_size(c.oid) < 64 * "
        "1024 * 1024)) "
        "ORDER BY 3, 2",
        ctx_.cfg.schema, ctx_.cfg.verify.row_count_limit);
    if (tables.empty()) return counts;
    // Smallest first, up to ten times the per-table limit in all: counting
    // twice per run must stay cheap next to the migrations.
    std::string sql;
    long long budget = 10 * ctx_.cfg.verify.row_count_limit, planned = 0;
    for (const auto& t : tables) {
        if (skip.count(t[1].c_str())) continue;  // a backfill's million rows, counted for nothing
        planned += t[2].as<long long>();
        if (planned > budget) break;
        sql += (sql.empty() ? "" : " UNION ALL ") + std::string("SELECT ") +
               db::quote::literal(t[1].c_str()) + ", count(*) FROM " + t[0].c_str();
    }
    if (sql.empty()) return counts;
    for (const auto& row : db.query(sql)) counts[row[0].c_str()] = row[1].as<long long>();
    return counts;
}

namespace {

json critical_tables(db::session& db, const std::vector<std::string>& critical) {
    std::vector<std::string> missing;
    for (auto& t : critical)
        if (!db.query("SELECT to_regclass($1) IS NOT NULL", t)[0][0].as<bool>())
            missing.push_back(t + " does not exist");
    return result("critical_tables", missing,
                  std::to_string(critical.size()) + " critical table(s) exist",
                  "critical tables are missing");
}

// Tables of the exposed schemas without RLS or a policy; nullopt when no
// schema is exposed.
std::optional<json> rls(db::session& db, std::vector<std::string> exposed) {
    if (exposed.empty() && db.query("SELECT (SELECT count(*) FROM pg_roles WHERE rolname IN "
                                    "('anon', 'authenticated')) = 2 "
                                    "AND to_regnamespace('auth') IS NOT NULL")[0][0]
                               .as<bool>())
        exposed = {"public"};  // Supabase: the API serves public
    if (exposed.empty()) return std::nullopt;
    std::vector<std::string> items;
    for (const auto& row :
         db.query("SELECT n.nspname || '.' || c.relname, c.relrowsecurity, "
                  "EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid) "
                  "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                  "WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($1) ORDER BY 1",
                  db::quote::array(exposed))) {
        if (!row[1].as<bool>())
            items.push_back(std::string(row[0].c_str()) + ": row level security is off");
        else if (!row[2].as<bool>())
            items.push_back(std::string(row[0].c_str()) +
                            ": RLS on but no policy (nobody can read it)");
    }
    std::string schemas;
    for (auto& s : exposed) schemas += (schemas.empty() ? "" : ", ") + s;
    return result("rls", items, "every table of " + schemas + " has RLS and a policy",
                  "tables of " + schemas + " without RLS or a policy");
}

json invalid_indexes(db::session& db) {
    std::vector<std::string> items;
    for (const auto& row :
         db.query("SELECT i.indexrelid::regclass::text, i.indrelid::regclass::text FROM pg_index i "
                  "WHERE NOT i.indisvalid ORDER BY 1"))
        items.push_back(std::string(row[0].c_str()) + " on " + row[1].c_str() +
                        " is invalid (a failed CREATE INDEX CONCURRENTLY?)");
    return result("indexes", items, "no invalid indexes", "invalid indexes");
}

json unvalidated_foreign_keys(db::session& db) {
    std::vector<std::string> items;
    for (const auto& row : db.query("SELECT conrelid::regclass::text, conname FROM pg_constraint "
                                    "WHERE contype = 'f' AND NOT convalidated ORDER BY 1, 2"))
        items.push_back(std::string(row[0].c_str()) + ": foreign key " + row[1].c_str() +
                        " is NOT VALID (run ALTER TABLE … VALIDATE CONSTRAINT)");
    return result("foreign_keys", items, "every foreign key is validated",
                  "foreign keys not validated");
}

// Tables the run does not change lose no rows beyond the tolerance; the
// application may write to them meanwhile, so growth is never a failure.
json row_counts(const json& before_counts, const json& after, const std::set<std::string>& changed,
                bool changes_unknown, const project::verify_settings& v) {
    if (changes_unknown)
        return {{"check", "row_counts"},
                {"ok", true},
                {"skipped", true},
                {"message",
                 "skipped: a migration of the run is not SQL, so the tables it changes are "
                 "unknown"},
                {"items", json::array()}};
    bool by_rows = v.row_count_tolerance_rows >= 0;
    std::string tolerance = by_rows ? std::to_string(v.row_count_tolerance_rows) + " row(s)"
                                    : fmt::format("{:g}%", v.row_count_tolerance_percent);
    std::vector<std::string> items;
    int compared = 0;
    for (auto& [table, before] : before_counts.items()) {
        if (changed.count(table)) continue;
        ++compared;
        if (!after.contains(table)) {
            items.push_back(table + ": gone (no migration of the run names it)");
            continue;
        }
        auto b = before.get<long long>(), a = after[table].get<long long>();
        long long allowed =
            by_rows ? v.row_count_tolerance_rows
                    : static_cast<long long>(double(b) * v.row_count_tolerance_percent / 100.0);
        if (b - a > allowed)
            items.push_back(fmt::format(
                "{}: {} rows before, {} after (lost {}, more than the tolerance of {}), and no "
                "migration of the run changes it",
                table, b, a, b - a, tolerance));
    }
    return result("row_counts", items,
                  std::to_string(compared) +
                      " table(s) the run does not change lost no rows beyond " + tolerance,
                  "rows disappeared");
}

}  // namespace

json engine::builtin_verifications(const json& counts_before, const std::set<std::string>& changed,
                                   bool changes_unknown) {
    const auto& v = ctx_.cfg.verify;
    json results = json::array();
    bool count =
        v.row_counts && counts_before.is_object() && !counts_before.empty() && !changes_unknown;
    json after = count ? count_rows(changed) : json::object();
    auto& db = *session_;

    std::vector<std::string> critical = v.critical_tables;
    critical.insert(critical.end(), ctx_.env.critical_tables.begin(),
                    ctx_.env.critical_tables.end());
    if (!critical.empty()) results.push_back(critical_tables(db, critical));
    if (v.rls)
        if (auto r = rls(db, ctx_.cfg.lint.exposed_schemas)) results.push_back(*r);
    if (v.indexes) results.push_back(invalid_indexes(db));
    if (v.foreign_keys) results.push_back(unvalidated_foreign_keys(db));
    if (v.row_counts && counts_before.is_object() && (changes_unknown || !counts_before.empty()))
        results.push_back(row_counts(counts_before, after, changed, changes_unknown, v));
    bool ok = true;
    for (auto& r : results) ok = ok && r["ok"].get<bool>();
    return {{"ok", ok}, {"results", results}};
}

std::pair<std::set<std::string>, bool> engine::changes_of(
    const safety::guard* g, const std::vector<const catalog::migration*>& migrations) const {
    std::set<std::string> changed;
    bool unknown = false;
    for (auto* m : migrations) {
        for (auto& name : m->dir.changes) changed.insert(qualified(name));
        auto t = g ? g->touched(m->version) : std::nullopt;
        if (!t && !m->dir.changes.empty()) continue;  // declared: enough for a Lua part
        if (!t) {
            unknown = true;
            continue;
        }
        for (auto& name : *t) changed.insert(qualified(name));
    }
    return {std::move(changed), unknown};
}

void engine::verify_after_run(run_scope& run, const json& counts_before,
                              const std::vector<const catalog::migration*>& applied) {
    auto& report = run.report();
    std::string script_failure;
    try {
        run_project_scripts("verify", static_cast<int>(lua::phase::verify), report);
    } catch (const error& e) {
        if (e.code() != exit_code::check_failed) throw;
        script_failure = e.what();
    }
    auto [changed, unknown] = changes_of(guard_, applied);
    auto v = builtin_verifications(counts_before, changed, unknown);
    for (auto& s : report["verifications"])
        v["results"].push_back({{"check", "script " + s.value("script", "")},
                                {"ok", s.value("outcome", "ok") != "failed"},
                                {"message", s.value("message", s.value("outcome", "ok"))},
                                {"items", json::array()}});
    if (!script_failure.empty()) v["ok"] = false;
    report["verification"] = v;
    if (!v["ok"].get<bool>()) {
        std::string list;
        for (auto& r : v["results"]) {
            if (r["ok"].get<bool>()) continue;
            list += "\n  " + r.value("check", "") + ": " + r.value("message", "");
            for (auto& i : r["items"]) list += "\n    " + i.get<std::string>();
        }
        emit("verify.failed", {{"verification", v}});
        throw error(exit_code::check_failed, "verification failed after the migrations:" + list,
                    "the migrations are applied but not verified, so they cannot be promoted; fix "
                    "the cause "
                    "(or roll back with `moonshift down`), then run `moonshift verify`");
    }
    store_->mark_verified();
}

outcome engine::verify() {
    run_scope run(*this, "verify");
    outcome out;
    try {
        // Row counts need a "before": only after a run.
        verify_after_run(run, json::object(), {});
    } catch (const error& err) {
        run.report()["error"] = text::redact(err.what());
        run.finish(err.code() == exit_code::check_failed ? "verify_failed" : "failed");
        throw;
    }
    out.report = run.report();
    out.count = static_cast<int>(out.report["verification"]["results"].size());
    run.finish("ok");
    return out;
}

}  // namespace moonshift::engine
