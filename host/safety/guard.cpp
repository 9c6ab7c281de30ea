// The gate and the steps around each migration.
#include "safety/guard.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>
#include <thread>

#include "backup/backup.hpp"
#include "backup/io.hpp"
#include "common/error.hpp"
#include "common/text.hpp"
#include "db/quote.hpp"
#include "lint/baseline.hpp"
#include "lint/lint.hpp"
#include "safety/locks.hpp"
#include "sql/facts.hpp"

namespace moonshift::safety {
namespace {

using sql::facts_of;
using sql::lock_mode;
using sql::locked_table;

using json = nlohmann::json;

// What a whole migration does, from the facts of its statements.
struct migration_facts {
    std::vector<std::string> destructive;
    bool changes_rows = false;
    std::vector<std::string> at_risk;  // tables whose rows it can lose
    std::vector<std::string> touched;  // tables it changes in any way (policy "always")
    std::vector<std::string> dropped_schemas;
    std::vector<locked_table> locks;  // existing tables it locks beyond ROW EXCLUSIVE
};

void add_unique(std::vector<std::string>& v, const std::string& s) {
    if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

migration_facts summarize(const sql::script& script) {
    migration_facts out;
    std::set<std::string> created;
    for (const auto& st : script.statements) {
        auto f = facts_of(st);
        for (const auto& d : f.destructive) out.destructive.push_back(d);
        out.changes_rows = out.changes_rows || f.changes_rows;
        // A table created earlier in the same migration has nothing to lose
        // and nobody to block.
        for (const auto& t : f.at_risk)
            if (!created.count(t)) add_unique(out.at_risk, t);
        for (const auto& r : f.relations)
            if ((r.role == "altered" || r.role == "dropped" || r.role == "truncated" ||
                 r.role == "written" || r.role == "renamed") &&
                !created.count(r.qualified()))
                add_unique(out.touched, r.qualified());
        for (const auto& s : f.dropped_schemas) add_unique(out.dropped_schemas, s);
        for (const auto& l : f.locks) {
            if (created.count(l.table)) continue;
            auto it = std::find_if(out.locks.begin(), out.locks.end(),
                                   [&](const locked_table& x) { return x.table == l.table; });
            if (it == out.locks.end())
                out.locks.push_back(l);
            else
                it->mode = std::max(it->mode, l.mode);
        }
        for (const auto& c : f.created) created.insert(c);
    }
    return out;
}

bool is_sql_form(const catalog::migration& m) {
    auto ends_with = [](const std::string& s, const char* suffix) {
        std::string x(suffix);
        return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
    };
    return !m.up_sql.empty() && ends_with(m.up_label, ".sql");
}

}  // namespace

policy policy_for(const project::config& cfg, const project::environment& env) {
    policy p;
    p.backup = env.backup.value_or(cfg.backup.policy);
    p.backup_dir = backup::settings_for(cfg, env).dir;
    p.full_dump = cfg.backup.full;
    if (env.lock_retries) p.lock_retries = *env.lock_retries;
    if (env.lock_retry_delay) p.lock_retry_delay = *env.lock_retry_delay;
    if (env.blocker_wait) p.blocker_wait = *env.blocker_wait;
    return p;
}

bool is_lock_timeout(const std::string& sqlstate) { return sqlstate == "55P03"; }

struct guard::impl {
    const project::config& cfg;
    const project::environment& env;
    std::string url;
    db::session& session;
    history::store& history;
    emit_fn emit;
    lua::runtime* runtime;
    std::map<std::string, std::unique_ptr<sql::script>> scripts;  // by version
    std::map<std::string, migration_facts> facts;                 // by version
    std::map<std::string, std::string> backup_reasons;            // by version; "" = none
    std::unique_ptr<backup::store> backups;

    impl(const project::config& c, const project::environment& e, std::string u, db::session& s,
         history::store& h, emit_fn em, lua::runtime* rt)
        : cfg(c),
          env(e),
          url(std::move(u)),
          session(s),
          history(h),
          emit(std::move(em)),
          runtime(rt) {}

    void log(const std::string& level, const std::string& message) {
        if (emit) emit("log", {{"level", level}, {"message", message}});
    }
    backup::store& backup_store() {
        if (!backups) {
            backups =
                std::make_unique<backup::store>(session, history, backup::settings_for(cfg, env));
        }
        return *backups;
    }

    // One parse per pending SQL file, with trees: lint, backups and lock
    // checks all read this one.
    std::vector<lint::file> parse(const std::vector<const catalog::migration*>& todo) {
        std::vector<lint::file> files;
        for (const auto* mig : todo) {
            if (!is_sql_form(*mig)) continue;
            auto script = std::make_unique<sql::script>(sql::parse(mig->up_sql, mig->up_label));
            facts[mig->version] = summarize(*script);
            files.push_back({mig->up_label, mig->up_sql, script.get(),
                             mig->dir.no_transaction || mig->dir.own_transaction});
            scripts[mig->version] = std::move(script);
        }
        return files;
    }

    // The built-in transaction check and the rules, findings in file order.
    lint::result lint_all(const std::vector<lint::file>& files) {
        lint::result result;
        if (files.empty()) return result;
        for (const auto& f : files)
            for (auto& x : lint::transaction_findings(f)) result.findings.push_back(std::move(x));
        lint::linter linter(cfg, &session, runtime);
        auto found = linter.run(files);
        for (auto& x : found.findings) result.findings.push_back(std::move(x));
        std::stable_sort(result.findings.begin(), result.findings.end(),
                         [&](const lint::finding& a, const lint::finding& b) {
                             if (a.file != b.file) {
                                 for (const auto& f : files) {
                                     if (f.label == a.file) return true;
                                     if (f.label == b.file) return false;
                                 }
                             }
                             return a.offset < b.offset;
                         });
        // What the project accepted when it adopted moonshift (lint --baseline).
        lint::apply_baseline(result.findings, files, lint::load_baseline(cfg));
        for (const auto& x : result.findings) {
            if (x.suppressed)
                ++result.suppressed;
            else if (x.severity == "error")
                ++result.errors;
            else
                ++result.warnings;
        }
        return result;
    }

    // Logs what was allowed and the warnings; errors stop the run
    // (error(check_failed) listing each).
    std::string lint_through;  // up --lint=warn: why errors pass this run

    void enforce_lint(const lint::result& result) {
        for (const auto& x : result.findings)
            if (x.suppressed) log("info", "allowed: " + lint::format(x));
        if (result.errors > 0 && !lint_through.empty()) {
            log("warn", "lint: " + std::to_string(result.errors) +
                            " error(s) let through for this run (--lint=warn): " + lint_through);
            for (const auto& x : result.findings)
                if (!x.suppressed && x.severity == "error") log("warn", lint::format(x));
        } else if (result.errors > 0) {
            std::string list;
            json errors = json::array();
            for (const auto& x : result.findings) {
                if (x.suppressed || x.severity != "error") continue;
                list += "\n  " + lint::format(x);
                if (!x.hint.empty()) list += "\n      hint: " + x.hint;
                errors.push_back(lint::to_json(x));
            }
            if (emit) emit("gate.failed", {{"gate", "lint"}, {"errors", errors}});
            throw error(exit_code::check_failed,
                        "lint stopped the run before any migration: " +
                            std::to_string(result.errors) + " error(s)" + list,
                        "fix them, or allow one on purpose with `-- moonshift:allow RULE reason` "
                        "above the statement "
                        "(the reason is recorded); `moonshift lint` shows every finding");
        }
        if (result.warnings > 0) {
            log("warn", "lint: " + std::to_string(result.warnings) +
                            " warning(s) in the pending migrations (`moonshift lint` lists them)");
            for (const auto& x : result.findings)
                if (!x.suppressed && x.severity != "error") log("info", lint::format(x));
        }
    }

    // Which migrations get a backup; the location must take it before
    // anything runs. Returns them for the report.
    json plan_backups(const std::vector<const catalog::migration*>& todo, const policy& p) {
        json planned = json::array();
        for (const auto* mig : todo) {
            std::string reason;
            if (p.backup == "always") {
                reason = "backup policy \"always\"";
            } else if (p.backup == "destructive") {
                auto it = facts.find(mig->version);
                if (it != facts.end())
                    reason = backup::destructive_reason(
                        it->second.destructive, it->second.changes_rows, !mig->down.empty());
            }
            if (reason.empty()) continue;
            backup_reasons[mig->version] = reason;
            planned.push_back({{"version", mig->version}, {"name", mig->name}, {"reason", reason}});
        }
        if (planned.empty()) return planned;
        auto& store = backup_store();
        store.check_location();
        if (store.config().store == "files" && !cfg.backup.dir_set && !env.backup_dir &&
            !p.full_dump && std::getenv("CI") != nullptr)
            log("warning", "backups go to " + store.config().dir.string() +
                               " on this CI runner, which is gone when the job ends: set [backup] "
                               "store = \"database\" (or dir), or upload it as an artifact");
        return planned;
    }
};

guard::guard(const project::config& cfg, const project::environment& env, std::string url,
             db::session& s, history::store& h, emit_fn emit, lua::runtime* runtime)
    : impl_(std::make_unique<impl>(cfg, env, std::move(url), s, h, std::move(emit), runtime)),
      policy_(policy_for(cfg, env)) {}

guard::~guard() = default;

std::chrono::milliseconds guard::retry_delay(int attempt) const {
    auto d = policy_.lock_retry_delay;
    for (int i = 1; i < attempt && d < std::chrono::minutes(1); ++i) d *= 2;
    return d;
}

json guard::gate(const std::vector<const catalog::migration*>& todo) {
    auto& m = *impl_;
    json report = json::object();
    std::vector<lint::file> files;
    try {
        files = m.parse(todo);
    } catch (const sql::parse_error& e) {
        // The gate's verdict, as `moonshift lint` gives it: exit 3, nothing applied.
        throw error(exit_code::check_failed, e.what(),
                    e.hint().empty() ? "nothing was applied; `moonshift lint` lists every file "
                                       "that does not parse"
                                     : e.hint());
    }
    auto result = m.lint_all(files);
    report["lint"] = result.to_json();
    if (!m.lint_through.empty() && result.errors > 0)
        report["lint"]["let_through"] = {{"reason", m.lint_through}, {"errors", result.errors}};
    m.enforce_lint(result);
    report["backups_planned"] = m.plan_backups(todo, policy_);
    return report;
}

void guard::let_lint_through(std::string reason) { impl_->lint_through = std::move(reason); }

std::optional<std::vector<std::string>> guard::touched(const std::string& version) const {
    auto it = impl_->facts.find(version);
    if (it == impl_->facts.end()) return std::nullopt;
    return it->second.touched;
}

const sql::script* guard::script_of(const std::string& version) const {
    auto it = impl_->scripts.find(version);
    return it == impl_->scripts.end() ? nullptr : it->second.get();
}

json guard::before(const catalog::migration& mig, long long run_id) {
    auto& m = *impl_;
    json out = json::object();
    auto facts = m.facts.find(mig.version);
    if (facts != m.facts.end() && !facts->second.locks.empty()) {
        locks::wait_for_blockers(m.session, facts->second.locks, policy_.blocker_wait, mig.up_label,
                                 [&](const std::string& msg) { m.log("warn", msg); });
    }
    auto reason = m.backup_reasons.find(mig.version);
    if (reason == m.backup_reasons.end()) return out;
    auto& store = m.backup_store();
    bool full = policy_.backup == "always" && policy_.full_dump;
    if (full) {
        // A whole-database dump when pg_dump is there; else the touched tables.
        if (!backup::io::find_program("pg_dump").empty()) {
            m.log("info", "dumping the whole database before " + mig.up_label + " (pg_dump) …");
            auto rec = store.dump_database(m.url, mig.version, mig.name, reason->second, run_id);
            if (m.emit) m.emit("backup.created", rec.to_json());
            out["backup"] = rec.to_json();
            return out;
        }
        m.log("warn", "[backup] full = true, but pg_dump is not on PATH: backing up the tables " +
                          mig.up_label + " touches instead");
    }
    if (facts == m.facts.end()) {
        m.log("info", mig.up_label +
                          ": not SQL, so the tables it touches are unknown; [backup] full = true "
                          "dumps the whole database (pg_dump) before such migrations");
        return out;
    }
    const auto& f = facts->second;
    const auto& names = policy_.backup == "always" ? f.touched : f.at_risk;
    auto tables = store.resolve(names, f.dropped_schemas);
    if (tables.empty()) {
        m.log("info", mig.up_label + ": no existing table to back up");
        return out;
    }
    std::string list;
    for (const auto& t : tables) list += (list.empty() ? "" : ", ") + t;
    m.log("info", "backing up " + list + " before " + mig.up_label + " (" + reason->second + ")");
    auto rec = store.create(tables, mig.version, mig.name, reason->second, run_id);
    if (m.emit) m.emit("backup.created", rec.to_json());
    m.log("info", "backup " + std::to_string(rec.id) + ": " + std::to_string(rec.rows) +
                      " row(s), " + std::to_string(rec.bytes) + " bytes compressed, " +
                      std::to_string(rec.duration_ms) + " ms");
    out["backup"] = rec.to_json();
    return out;
}

std::string guard::before_statement(const std::string& statement_sql) {
    // Cheap filter first: only a concurrent index build leaves an invalid index.
    std::string lower = statement_sql;
    for (auto& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("concurrently") == std::string::npos || lower.find("index") == std::string::npos)
        return {};
    sql::script s;
    try {
        s = sql::parse(statement_sql, "");
    } catch (const sql::parse_error&) {
        return {};
    }
    if (s.statements.size() != 1 || s.statements[0].kind != "IndexStmt") return {};
    const auto& n = s.statements[0].tree["IndexStmt"];
    if (!n.value("concurrent", false) || !n.contains("idxname")) return {};
    std::string schema = n.contains("relation") ? n["relation"].value("schemaname", "") : "";
    std::string name = db::quote::qualified(schema, n.value("idxname", ""));
    auto r = impl_->session.query(
        "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)", name);
    if (r.empty() || !r[0][0].as<bool>()) return {};
    impl_->session.exec_script("DROP INDEX CONCURRENTLY IF EXISTS " + name);
    return "dropped the invalid index " + n.value("idxname", "") +
           " that a failed CREATE INDEX CONCURRENTLY left behind, before building it again";
}

}  // namespace moonshift::safety
