// Applying migrations: `status` and `up`.
#include "engine/engine.hpp"

#include <chrono>
#include <system_error>

#include "common/text.hpp"
#include "db/transaction.hpp"
#include "engine/detail.hpp"
#include "engine/lease.hpp"
#include "engine/run_scope.hpp"
#include "lint/lint.hpp"
#include "lua/runtime.hpp"
#include "safety/guard.hpp"
#include "sql/sql.hpp"

namespace moonshift::engine {
using detail::describe;
using detail::ms_since;

engine::engine(context ctx) : ctx_(std::move(ctx)) {
    if (ctx_.read_catalog_early) {
        try {
            early_catalog_ =
                std::async(std::launch::async, [cfg = ctx_.cfg, summary = ctx_.catalog_summary] {
                    if (summary)
                        return catalog::discover_summary(cfg.migrations_path(), cfg.root,
                                                         cfg.rollbacks_path(),
                                                         catalog::default_cache_dir());
                    return catalog::discover(cfg.migrations_path(), cfg.root, cfg.rollbacks_path());
                });
        } catch (const std::system_error&) {
            // No thread to spare: read_catalog() reads it when asked.
        }
    }
    db::settings s;
    s.url = ctx_.url;
    s.lock_timeout = ctx_.env.lock_timeout;
    s.statement_timeout = ctx_.env.statement_timeout;
    s.pooler = db::parse_pooler_mode(ctx_.env.pooler.value_or(ctx_.cfg.pooler));
    s.lock_holder_early = ctx_.takes_lock;
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
    const auto& cfg = ctx_.cfg;
    auto cat = early_catalog_.valid() ? early_catalog_.get()
               : ctx_.catalog_summary
                   ? catalog::discover_summary(cfg.migrations_path(), cfg.root,
                                               cfg.rollbacks_path(), catalog::default_cache_dir())
                   : catalog::discover(cfg.migrations_path(), cfg.root, cfg.rollbacks_path());
    // The history rows this project reads and writes (several projects in one database).
    std::set<std::string> version_names;
    for (const auto& m : cat.migrations) version_names.insert(m.version + " " + m.name);
    store_->set_project(ctx_.cfg.history_key.value_or(cat.project), std::move(version_names));
    return cat;
}

plan engine::status() {
    // While the folder is still being read (read_catalog_early), the history:
    // its version and the rows under the configured key, which is the
    // project's unless a Sqitch plan names another (then read again below).
    std::optional<bool> present;
    std::optional<std::vector<history::applied>> early;
    const std::string guess = ctx_.cfg.history_key.value_or("");
    if (early_catalog_.valid()) {
        try {
            present = store_->present();
            if (*present) early = store_->list_applied_under(guess);
        } catch (const db::sql_failure&) {
            present.reset();  // asked again below, after the folder's own errors
            early.reset();
        }
    }
    auto cat_ptr = std::make_shared<const catalog::catalog>(read_catalog());
    if (!present) present = store_->present();
    std::vector<history::applied> rows;
    if (*present)
        rows = early && !early->empty() && store_->project() == guess ? std::move(*early)
                                                                      : store_->list_applied();
    return make_plan(cat_ptr, rows);
}

std::vector<history::run> engine::runs(int limit, bool all_environments) {
    if (!store_->present()) return {};
    return store_->list_runs(limit, all_environments ? "" : ctx_.env.name);
}

std::unique_ptr<lint::linter> engine::make_linter() {
    // The engine's Lua state: its env.get reads the environment's .env files.
    return std::make_unique<lint::linter>(ctx_.cfg, session_.get(), &lua_runtime());
}

outcome engine::up(const up_options& o) {
    // run_scope locks: the lock's session connects while the folder is read.
    if (!o.dry_run) session_->connect_lock_holder_early();
    auto cat_ptr = std::make_shared<const catalog::catalog>(read_catalog());
    if (o.dry_run) {
        std::vector<history::applied> rows;
        if (store_->present()) rows = store_->list_applied();
        auto p = make_plan(cat_ptr, rows);
        outcome out;
        out.report["dry_run"] = true;
        out.report["would_apply"] = nlohmann::json::array();
        for (auto* e : p.to_apply(o.out_of_order)) {
            if (o.to && cat_ptr->compare(e->version, *o.to) > 0) continue;
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
    run_scope run(*this, "up");
    auto p = make_plan(cat_ptr, store_->list_applied());
    auto& report = run.report();
    report["applied"] = nlohmann::json::array();
    // Rows recorded when the checksum covered the down script too take the
    // up-only checksum, so that their down scripts can change from now on.
    for (const auto& e : p.entries)
        if (e.st == state::applied && e.file && e.row && e.row->how != "baseline" &&
            !e.file->legacy_checksum.empty() && e.row->checksum == e.file->legacy_checksum)
            store_->update_checksum(e.version, e.file->checksum);
    refuse_drift(run, p, o);
    auto todo = pending_of(p, o);
    if (o.to && !cat_ptr->find(*o.to) && !p.entries.empty())
        throw usage_error("version " + *o.to + " is not a migration in " + ctx_.cfg.migrations_dir);
    if (o.single_transaction) check_single_transaction(todo);
    try {
        refuse_through_pooler(todo, false);  // pooler.cpp
    } catch (const error&) {
        run.finish("refused");
        throw;
    }
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
    if (!o.lint_warn_reason.empty()) guard.let_lint_through(o.lint_warn_reason);
    auto before = before_changes(run, guard, todo);
    preflight_reversible(run, todo, o);  // reverse_steps.cpp
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
    out.count = apply_pending(run, cat_ptr, o, todo, before);
    // The watch window (watch.cpp): a trigger that fires rolls the run back and throws.
    watch_and_roll_back(run, before.watch, todo);
    run.finish("ok");
    out.report = report;
    return out;
}

void engine::refuse_drift(run_scope& run, const plan& p, const up_options& o) {
    auto changed = p.with(state::changed);
    if (!changed.empty()) {
        std::string list;
        for (auto* e : changed)
            list += "\n  " + e->file->up_label + " (applied " + e->row->applied_at + ")";
        run.report()["changed"] = changed.size();
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
}

std::vector<const catalog::migration*> engine::pending_of(const plan& p, const up_options& o) {
    std::vector<const catalog::migration*> todo;
    for (auto* e : p.to_apply(o.out_of_order))
        if (!o.to || p.files->compare(e->version, *o.to) <= 0) todo.push_back(e->file);
    return todo;
}

void engine::check_single_transaction(const std::vector<const catalog::migration*>& todo) {
    for (auto* m : todo)
        if (m->dir.no_transaction || m->dir.own_transaction)
            throw usage_error(m->up_label +
                                  (m->dir.own_transaction ? " has its own BEGIN/COMMIT"
                                                          : " runs outside a transaction") +
                                  " and cannot run in --single-transaction mode",
                              "apply it on its own with `moonshift up`");
}

engine::before_run engine::before_changes(run_scope& run, safety::guard& guard,
                                          const std::vector<const catalog::migration*>& todo) {
    auto& report = run.report();
    try {
        report["safety"] = guard.gate(todo);
    } catch (const error& err) {
        report["error"] = text::redact(err.what());
        run.finish("refused");
        throw;
    }
    // Lua migrations are loaded (syntax, unknown keys) and the project's
    // checks run before anything is applied (lua_steps.cpp).
    before_run before;
    try {
        preload_lua(todo);
        if (!todo.empty())
            run_project_scripts("checks", static_cast<int>(lua::phase::check), report);
        if (!todo.empty()) {
            // What verification and the watch window compare against: the counts of the
            // tables the run does not change, none when it changes tables no one knows.
            auto [changed, unknown] = changes_of(&guard, todo);
            if (!unknown) before.counts = count_rows(changed);
            before.watch = watch_baseline();
        }
    } catch (const error& err) {
        report["error"] = text::redact(err.what());
        run.finish(err.code() == exit_code::check_failed ? "check_failed" : "refused");
        throw;
    }
    return before;
}

int engine::apply_pending(run_scope& run, const std::shared_ptr<const catalog::catalog>& cat_ptr,
                          const up_options& o, std::vector<const catalog::migration*>& todo,
                          const before_run& before) {
    const auto& cat = *cat_ptr;
    auto& report = run.report();
    int count = 0;
    if (!todo.empty()) prepare_kept_histories(cat);  // sql_steps.cpp
    try {
        // Flyway's B files stand in for the versions they cover on an empty history
        // (repeatable.cpp).
        if (int n = apply_baseline_migration(cat, o, run.id(), report); n > 0) {
            count += n;
            todo = pending_of(make_plan(cat_ptr, store_->list_applied()), o);
        }
        {
            // --single-transaction: one block around them all; apply_one joins it.
            std::optional<db::transaction> all;
            if (o.single_transaction && !todo.empty()) all.emplace(*session_);
            for (auto* m : todo) {
                check_lease();  // through a pooler: the lease still this run's (lease.cpp)
                if (auto b = guard_->before(*m, run.id()); b.contains("backup"))
                    report["backups"].push_back(b["backup"]);
                auto t_m = std::chrono::steady_clock::now();
                relaxed_commit_ = ctx_.cfg.durability == "run" && m != todo.back();
                apply_one(*m, run.id(), o.single_transaction);
                relaxed_commit_ = false;
                report["applied"].push_back(
                    {{"version", m->version}, {"name", m->name}, {"duration_ms", ms_since(t_m)}});
                ++count;
            }
            if (all) all->commit();
        }
        count += apply_repeatables(cat, o, run.id(),
                                   report);  // Flyway's R__ files, after the versioned ones
        // The built-in and the project's verifications after the last migration (verification.cpp).
        if (count > 0) verify_after_run(run, before.counts, todo);
    } catch (const error& err) {
        // The --single-transaction block was rolled back when it went out of scope.
        if (o.single_transaction) report["applied"] = nlohmann::json::array();  // all or nothing
        report["error"] = text::redact(err.what());
        bool unverified =
            report.contains("verification") && !report["verification"].value("ok", true);
        run.finish(unverified                              ? "verify_failed"
                   : err.code() == exit_code::check_failed ? "check_failed"
                                                           : "failed");
        throw;
    }
    return count;
}

}  // namespace moonshift::engine
