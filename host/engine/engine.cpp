// Applying migrations: `status` and `up`.
#include "engine/engine.hpp"

#include <libpq-fe.h>

#include <chrono>

#include "common/text.hpp"
#include "engine/run_scope.hpp"
#include "lua/runtime.hpp"
#include "safety/guard.hpp"
#include "sql/sql.hpp"

namespace moonshift::engine {
namespace {

long long ms_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t)
        .count();
}

nlohmann::json describe(const catalog::migration& m) {
    return {{"version", m.version},
            {"name", m.name},
            {"checksum", m.checksum},
            {"form", catalog::form_name(m.kind)},
            {"file", m.up_label}};
}

}  // namespace

engine::engine(context ctx) : ctx_(std::move(ctx)) {
    db::settings s;
    s.url = ctx_.url;
    s.lock_timeout = ctx_.env.lock_timeout;
    s.statement_timeout = ctx_.env.statement_timeout;
    session_ = std::make_unique<db::session>(s);
    store_ = std::make_unique<history::store>(*session_, ctx_.cfg.schema);
}

engine::~engine() = default;

void engine::emit(const std::string& name, nlohmann::json data) {
    if (ctx_.on_event) ctx_.on_event(event{name, std::move(data)});
}

void engine::log(const std::string& level, const std::string& message) {
    emit("log", {{"level", level}, {"message", message}});
}

catalog::catalog engine::read_catalog() const {
    return catalog::discover(ctx_.cfg.migrations_path(), ctx_.cfg.root);
}

plan engine::status() {
    auto cat_ptr = std::make_shared<const catalog::catalog>(read_catalog());
    std::vector<history::applied> rows;
    if (store_->host_version() > 0) rows = store_->list_applied();
    return make_plan(cat_ptr, rows);
}

std::vector<history::run> engine::runs(int limit) {
    if (store_->host_version() == 0) return {};
    return store_->list_runs(limit, ctx_.env.name);
}

std::optional<std::size_t> engine::locate_failing_statement(const std::string& sql) {
    std::vector<sql::statement> statements;
    try {
        statements = sql::split(sql);
    } catch (...) {
        return std::nullopt;
    }
    if (statements.empty()) return std::nullopt;
    if (statements.size() == 1) return statements[0].offset;
    std::optional<std::size_t> found;
    try {
        session_->exec_script("BEGIN");
        for (const auto& st : statements) {
            try {
                session_->exec_script(st.text);
            } catch (const db::sql_failure&) {
                found = st.offset;
                break;
            }
        }
        session_->exec_script("ROLLBACK");
    } catch (...) {
        return found;
    }
    return found;
}

void engine::fail_migration(const catalog::migration& m, const std::string& label,
                            const std::string& sql, std::optional<std::size_t> at,
                            const db::sql_failure& f, long long duration_ms) {
    std::size_t base_offset = at.value_or(0);
    std::string text = describe_failure(label, sql, at, f.info());
    auto j = describe(m);
    j["duration_ms"] = duration_ms;
    j["error"] = {{"message", f.info().message},
                  {"sqlstate", f.info().sqlstate},
                  {"detail", f.info().detail},
                  {"hint", f.info().hint},
                  {"file", label}};
    if (f.info().position > 0 || at) {
        auto off = base_offset +
                   (f.info().position > 0
                        ? text::char_to_byte_offset(std::string_view(sql).substr(base_offset),
                                                    f.info().position - 1)
                        : 0);
        auto pos = text::position_of(sql, off);
        j["error"]["line"] = pos.line;
        j["error"]["column"] = pos.column;
    }
    emit("migration.failed", j);
    throw error(exit_code::migration_failed, text);
}

void engine::apply_one(const catalog::migration& m, long long run_id, bool in_outer_transaction) {
    emit("migration.start", describe(m));
    if (needs_lua(m)) {  // a .lua migration, or a folder with Lua parts (lua_steps.cpp)
        apply_lua(m, run_id, in_outer_transaction);
        return;
    }
    auto t0 = std::chrono::steady_clock::now();
    // A file with its own BEGIN/COMMIT runs as it is, outside moonshift's
    // transaction (never nested in it), like a no-transaction one.
    if (m.dir.no_transaction || m.dir.own_transaction) {
        apply_no_transaction(m, run_id);
        return;
    }
    history::applied row;
    row.version = m.version;
    row.name = m.name;
    row.checksum = m.checksum;
    row.applied_by = history::current_actor();
    row.environment = ctx_.env.name;
    row.run_id = run_id;
    for (int attempt = 1;; ++attempt) {
        if (!in_outer_transaction) session_->exec_script("BEGIN");
        try {
            session_->exec_script(m.up_sql);
            break;
        } catch (const db::sql_failure& f) {
            // lock_timeout fired: rolled back, and tried again after a pause (safety_steps.cpp).
            if (retry_on_lock_timeout(m, f, attempt, in_outer_transaction)) continue;
            std::optional<std::size_t> at;
            if (f.info().position > 0) at = 0;  // positions count from the start of the file
            if (!in_outer_transaction) {
                try {
                    session_->exec_script("ROLLBACK");
                } catch (...) {
                }
                bool connected =
                    !f.info().sqlstate.empty() && f.info().sqlstate.rfind("08", 0) != 0;
                if (!at && connected) at = locate_failing_statement(m.up_sql);
            }
            fail_migration(m, m.up_label, m.up_sql, at, f, ms_since(t0));
        }
    }
    if (!m.verify_sql.empty()) run_sql_verify(m, true);  // a failure rolls the change back
    row.duration_ms = ms_since(t0);
    // The history row commits with the change (dbmate's habit): both or neither.
    session_->exec_script(store_->record_sql(row) + (in_outer_transaction ? "" : ";COMMIT"));
    auto j = describe(m);
    j["duration_ms"] = row.duration_ms;
    emit("migration.applied", j);
}

void engine::apply_no_transaction(const catalog::migration& m, long long run_id) {
    auto t0 = std::chrono::steady_clock::now();
    auto statements = sql::split(m.up_sql);
    std::size_t done = 0;
    if (auto cp = store_->checkpoint(m.version, "statements");
        cp && cp->value("checksum", "") == m.checksum) {
        done = cp->value("done", 0);
        log("info", m.up_label + ": resuming after statement " + std::to_string(done) + " of " +
                        std::to_string(statements.size()));
    }
    // The server says whether a statement left the file's own transaction
    // (BEGIN … COMMIT) open.
    auto in_file_transaction = [&] { return PQtransactionStatus(session_->raw()) != PQTRANS_IDLE; };
    for (std::size_t i = done; i < statements.size(); ++i) {
        const auto& st = statements[i];
        // An invalid index left by a failed CREATE INDEX CONCURRENTLY goes first.
        if (guard_)
            if (auto note = guard_->before_statement(st.text); !note.empty())
                log("info", m.up_label + ": " + note);
        try {
            session_->exec_script(st.text);
        } catch (const db::sql_failure& f) {
            if (in_file_transaction()) try {
                    session_->exec_script("ROLLBACK");
                } catch (...) {
                }
            fail_migration(m, m.up_label, m.up_sql, std::optional<std::size_t>(st.offset), f,
                           ms_since(t0));
        }
        // Each completed statement is recorded, so a failure or a kill
        // resumes at the statement that did not finish. Inside the file's own
        // transaction it waits for the COMMIT: a rollback undoes the
        // statements, and the resume starts again at their BEGIN.
        if (!in_file_transaction())
            store_->save_checkpoint(m.version, "statements",
                                    {{"done", i + 1}, {"checksum", m.checksum}}, run_id);
    }
    if (in_file_transaction()) {
        try {
            session_->exec_script("ROLLBACK");
        } catch (...) {
        }
        throw error(exit_code::migration_failed,
                    m.up_label +
                        ": the file ends inside a transaction it opened (BEGIN without COMMIT); "
                        "rolled back",
                    "end the file's transaction with COMMIT");
    }
    if (!m.verify_sql.empty()) run_sql_verify(m, false);
    // The last checkpoint says every statement ran: if the process dies
    // before the history row below commits, the next `up` resumes past the
    // end and only records the row. The window without either is the time
    // between the last statement's commit and its checkpoint.
    history::applied row;
    row.version = m.version;
    row.name = m.name;
    row.checksum = m.checksum;
    row.applied_by = history::current_actor();
    row.environment = ctx_.env.name;
    row.run_id = run_id;
    row.duration_ms = ms_since(t0);
    session_->exec_script("BEGIN;" + store_->record_sql(row) + ";" +
                          store_->clear_checkpoint_sql(m.version, "statements") + ";COMMIT");
    auto j = describe(m);
    j["duration_ms"] = row.duration_ms;
    j["no_transaction"] = true;
    emit("migration.applied", j);
}

outcome engine::up(const up_options& o) {
    auto cat_ptr = std::make_shared<const catalog::catalog>(read_catalog());
    if (o.dry_run) {
        std::vector<history::applied> rows;
        if (store_->host_version() > 0) rows = store_->list_applied();
        auto p = make_plan(cat_ptr, rows);
        outcome out;
        out.report["dry_run"] = true;
        out.report["would_apply"] = nlohmann::json::array();
        for (auto* e : p.to_apply(o.out_of_order)) {
            if (o.to && catalog::compare_versions(e->version, *o.to) > 0) continue;
            out.report["would_apply"].push_back(describe(*e->file));
            ++out.count;
        }
        return out;
    }
    auto opts = o;
    if (o.to_source_head && ctx_.promote_from && !o.to) {
        // `promote`: what the source has, no further (gate.cpp checks each one).
        std::string head;
        for (auto& [version, _] : source_history())
            if (head.empty() || catalog::compare_versions(version, head) > 0) head = version;
        if (head.empty()) {
            outcome none;
            none.report["promotion"] = {{"from", ctx_.promote_from->name},
                                        {"migrations", nlohmann::json::array()}};
            return none;
        }
        opts.to = head;
    }
    return up_checked(opts, cat_ptr);
}

outcome engine::up_checked(const up_options& o, std::shared_ptr<const catalog::catalog> cat_ptr) {
    const auto& cat = *cat_ptr;
    run_scope run(*this, "up");
    auto p = make_plan(cat_ptr, store_->list_applied());
    auto& report = run.report();
    report["applied"] = nlohmann::json::array();

    auto changed = p.with(state::changed);
    if (!changed.empty()) {
        std::string list;
        for (auto* e : changed)
            list += "\n  " + e->file->up_label + " (applied " + e->row->applied_at + ")";
        report["changed"] = changed.size();
        run.finish("drift");
        throw error(exit_code::drift,
                    std::to_string(changed.size()) +
                        " applied migration(s) changed on disk since they ran:" + list,
                    "restore the files, or accept them with `moonshift repair --reason \"...\"`");
    }
    auto ooo = p.with(state::out_of_order);
    if (!ooo.empty() && !o.out_of_order) {
        std::string list;
        for (auto* e : ooo) list += "\n  " + e->file->up_label;
        run.finish("refused");
        throw error(
            exit_code::usage,
            std::to_string(ooo.size()) +
                " pending migration(s) are older than the newest applied one:" + list,
            "apply them anyway with `moonshift up --out-of-order`, or give them newer versions");
    }
    std::vector<const catalog::migration*> todo;
    for (auto* e : p.to_apply(o.out_of_order)) {
        if (o.to && catalog::compare_versions(e->version, *o.to) > 0) continue;
        todo.push_back(e->file);
    }
    if (o.to && !cat.find(*o.to) && !p.entries.empty())
        throw usage_error("version " + *o.to + " is not a migration in " + ctx_.cfg.migrations_dir);
    if (o.single_transaction)
        for (auto* m : todo)
            if (m->dir.no_transaction || m->dir.own_transaction)
                throw usage_error(m->up_label +
                                      (m->dir.own_transaction ? " has its own BEGIN/COMMIT"
                                                              : " runs outside a transaction") +
                                      " and cannot run in --single-transaction mode",
                                  "apply it on its own with `moonshift up`");
    emit("run.planned", {{"run", run.id()},
                         {"pending", todo.size()},
                         {"applied", p.with(state::applied).size()},
                         {"missing", p.with(state::missing).size()}});
    for (auto* e : p.with(state::missing))
        log("warn", "applied migration " + e->version + "_" + e->name + " is missing on disk");
    // The environment's rules (gate.cpp): read-only, window, promotion.
    if (!todo.empty()) gate(run, "up", todo);

    // The safety net (host/safety/guard.hpp): every pending file parsed and
    // linted before anything runs; around each migration, blocking sessions,
    // its backup and lock_timeout retries.
    // The lint rules run in the run's one Lua state.
    safety::guard guard(
        ctx_.cfg, ctx_.env, ctx_.url, *session_, *store_,
        [this](const std::string& n, const nlohmann::json& d) { emit(n, d); }, &lua_runtime());
    try {
        report["safety"] = guard.gate(todo);
    } catch (const error& err) {
        report["error"] = text::redact(err.what());
        run.finish("refused");
        throw;
    }
    // Lua migrations are loaded (syntax, unknown keys) and the project's
    // checks run before anything is applied (lua_steps.cpp).
    nlohmann::json counts_before, watch_base;
    try {
        preload_lua(todo);
        if (!todo.empty())
            run_project_scripts("checks", static_cast<int>(lua::phase::check), report);
        if (!todo.empty()) {
            // What verification and the watch window compare against.
            counts_before = count_rows();
            watch_base = watch_baseline();
        }
    } catch (const error& err) {
        report["error"] = text::redact(err.what());
        run.finish(err.code() == exit_code::check_failed ? "check_failed" : "refused");
        throw;
    }
    if (!todo.empty()) {
        std::string list;
        for (auto* m : todo) list += (list.empty() ? "" : ", ") + m->version + "_" + m->name;
        approve(run, "apply " + std::to_string(todo.size()) + " migration(s) to " + ctx_.env.name +
                         ": " + list);
    }
    guard_ = &guard;
    struct forget_guard {
        engine* e;
        ~forget_guard() { e->guard_ = nullptr; }
    } forget{this};

    outcome out;
    try {
        // Flyway's B files stand in for the versions they cover on an empty history
        // (repeatable.cpp).
        if (int n = apply_baseline_migration(cat, o, run.id(), report); n > 0) {
            out.count += n;
            p = make_plan(cat_ptr, store_->list_applied());
            todo.clear();
            for (auto* e : p.to_apply(o.out_of_order))
                if (!o.to || catalog::compare_versions(e->version, *o.to) <= 0)
                    todo.push_back(e->file);
        }
        if (o.single_transaction && !todo.empty()) session_->exec_script("BEGIN");
        for (auto* m : todo) {
            if (auto b = guard.before(*m, run.id()); b.contains("backup"))
                report["backups"].push_back(b["backup"]);
            auto t_m = std::chrono::steady_clock::now();
            apply_one(*m, run.id(), o.single_transaction);
            report["applied"].push_back(
                {{"version", m->version}, {"name", m->name}, {"duration_ms", ms_since(t_m)}});
            ++out.count;
        }
        if (o.single_transaction && !todo.empty()) session_->exec_script("COMMIT");
        out.count += apply_repeatables(cat, o, run.id(),
                                       report);  // Flyway's R__ files, after the versioned ones
        // The built-in and the project's verifications after the last migration (verification.cpp).
        if (out.count > 0) verify_after_run(run, counts_before, todo);
    } catch (const error& err) {
        if (o.single_transaction) {
            try {
                session_->exec_script("ROLLBACK");
            } catch (...) {
            }
            report["applied"] = nlohmann::json::array();  // all or nothing
        }
        report["error"] = text::redact(err.what());
        bool unverified =
            report.contains("verification") && !report["verification"].value("ok", true);
        run.finish(unverified                              ? "verify_failed"
                   : err.code() == exit_code::check_failed ? "check_failed"
                                                           : "failed");
        throw;
    }
    // The watch window (watch.cpp): a trigger that fires rolls the run back and throws.
    watch_and_roll_back(run, watch_base, todo);
    run.finish("ok");
    out.report = report;
    return out;
}

}  // namespace moonshift::engine
