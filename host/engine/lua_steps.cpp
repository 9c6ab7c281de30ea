// Lua in the run lifecycle: Lua migrations and migration folders with Lua
// parts, the project's checks and verifications, and `moonshift run`.
#include <algorithm>
#include <chrono>
#include <filesystem>

#include "backfill/control.hpp"
#include "common/text.hpp"
#include "db/quote.hpp"
#include "db/transaction.hpp"
#include "engine/detail.hpp"
#include "engine/engine.hpp"
#include "engine/run_scope.hpp"
#include "lua/backfill_spec.hpp"
#include "lua/runtime.hpp"
#include "project/config.hpp"

namespace moonshift::engine {
namespace fs = std::filesystem;
using detail::describe;
using detail::ms_since;

namespace {

// Default budgets: read-only phases are meant to be quick; migrations and
// ad-hoc scripts are bounded by PostgreSQL's statement_timeout instead.
std::chrono::milliseconds budget(const project::config& cfg, lua::phase p) {
    auto it = cfg.lua_budgets.find(lua::phase_name(p));
    if (it != cfg.lua_budgets.end()) return it->second;
    switch (p) {
        case lua::phase::precheck:
        case lua::phase::verify:
        case lua::phase::check:
            return std::chrono::minutes(5);
        case lua::phase::hook:
            return std::chrono::seconds(30);
        default:
            return std::chrono::milliseconds(0);
    }
}

std::vector<fs::path> lua_files(const fs::path& dir) {
    std::vector<fs::path> out;
    if (!fs::is_directory(dir)) return out;
    for (auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file() && e.path().extension() == ".lua") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

std::string label_of(const fs::path& p, const fs::path& root) {
    auto rel = p.lexically_relative(root);
    return rel.empty() || rel.native()[0] == '.' ? p.string() : rel.string();
}

}  // namespace

lua::runtime& engine::lua_runtime() {
    if (!lua_) {
        lua::options o;
        o.project_root = ctx_.cfg.root;
        o.env_name = ctx_.env.name;
        o.jit = ctx_.cfg.lua_jit;
        o.memory_limit = static_cast<std::size_t>(ctx_.cfg.lua_memory);
        o.load_budget = ctx_.cfg.lua_budget("load", o.load_budget);
        o.http_allow_hosts = ctx_.cfg.http_allow_hosts;
        // A script's own lines (print, log.*, ctx:log) are output, not the host's chatter:
        // "script" tells the printer to show them without -v (log.debug still needs -v).
        o.log = [this](const lua::log_line& l) {
            emit("log", {{"level", l.level},
                         {"message", (l.source.empty() ? "" : l.source + ": ") + l.message},
                         {"source", l.source},
                         {"script", true}});
        };
        o.variables = project::variables(ctx_.cfg, ctx_.env);  // env.get reads .env
        lua_ = std::make_unique<lua::runtime>(session_.get(), o);
    }
    return *lua_;
}

bool engine::needs_lua(const catalog::migration& m) const {
    return m.kind == catalog::form::lua || !m.up_lua.empty() || !m.verify_lua.empty() ||
           !m.precheck_lua.empty() || !m.backfill_lua.empty();
}

void engine::preload_lua(const std::vector<const catalog::migration*>& todo) {
    for (auto* m : todo) {
        if (m->kind != catalog::form::lua || lua_scripts_.count(m->up_label)) continue;
        // Syntax errors, unknown keys (`verfiy`) and values of the wrong type
        // stop the run here, before any migration runs.
        auto s = lua_runtime().load_migration(m->up_label, m->lua_source);
        lua_scripts_[m->up_label] = std::make_unique<lua::script>(std::move(s));
    }
}

// A Lua migration on its way (apply_lua): its script, its transaction,
// and the backfills it declared.
struct engine::lua_attempt {
    lua_attempt(const catalog::migration& migration, const lua::script* script)
        : m(migration), s(script) {}
    const catalog::migration& m;
    const lua::script* s;  // a .lua migration's table; null for a folder's parts
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    std::optional<db::transaction> tx;  // joined when --single-transaction
    std::vector<lua::backfill_spec> backfills;
    bool in_backfill = false;
    nlohmann::json backfilled;
};

const lua::script* engine::lua_script_of(const catalog::migration& m) {
    preload_lua({&m});
    return m.kind == catalog::form::lua ? lua_scripts_[m.up_label].get() : nullptr;
}

bool engine::lua_transactional(const catalog::migration& m, const lua::script* s) {
    return s ? s->boolean("transaction").value_or(true) : !m.dir.no_transaction;
}

void engine::run_lua_part(const catalog::migration& m, const lua::script* s, lua::phase p,
                          const char* key, const std::string& label, const std::string& lua_src,
                          const std::string& sql_src) {
    auto& rt = lua_runtime();
    lua::migration_info info{m.version, m.name};
    if (s) {
        auto r = rt.run_phase(*s, key, p, &info);
        if (r.skipped) log("info", m.up_label + ": " + key + " skipped: " + r.skip_reason);
    } else if (!lua_src.empty()) {
        auto r = rt.run_file(label, lua_src, p);
        if (r.skipped) log("info", label + ": skipped: " + r.skip_reason);
    } else if (!sql_src.empty()) {
        session_->exec_script(sql_src);
    }
}

void engine::run_lua_verify(const catalog::migration& m, const lua::script* s) {
    if (!m.verify_sql.empty() && !s) {
        // Inside the change's transaction; what the script itself did is undone.
        db::savepoint sp(*session_, "moonshift_verify");
        session_->exec_script(m.verify_sql);
        sp.rollback();
    } else {
        run_lua_part(m, s, lua::phase::verify, "verify", m.verify_label, m.verify_lua, "");
    }
}

namespace {

std::string check_failure_hint(lua::phase ph, bool rolled_back) {
    if (ph == lua::phase::verify)
        return "nothing of this migration was applied; fix it and run `moonshift up` again";
    if (ph == lua::phase::precheck)
        return "nothing was applied; the precheck says the database is not ready for it";
    return rolled_back ? "the migration stopped itself with ctx:fail; its transaction was rolled "
                         "back and nothing of it remains"
                       : "the migration stopped itself with ctx:fail; it runs outside a "
                         "transaction, so what it changed before that call stays";
}

}  // namespace

void engine::apply_lua(const catalog::migration& m, long long run_id, bool in_outer_transaction) {
    lua_attempt a(m, lua_script_of(m));
    bool transactional = lua_transactional(m, a.s);
    if (!transactional && in_outer_transaction)
        throw usage_error(m.up_label +
                              " runs outside a transaction (transaction = false) and cannot run in "
                              "--single-transaction mode",
                          "apply it on its own with `moonshift up`");
    try {
        lua_change(a, run_id, transactional, in_outer_transaction);
    } catch (const lua::check_failure& f) {
        auto ph = f.in_phase();
        bool rolled_back = a.tx && a.tx->open();
        fail_lua(a,
                 std::string(ph == lua::phase::verify     ? "Verification"
                             : ph == lua::phase::precheck ? "Precheck"
                                                          : "Migration") +
                     " of " + m.version + "_" + m.name + " failed: " + f.what(),
                 f.file(), f.line(), exit_code::check_failed, check_failure_hint(ph, rolled_back));
    } catch (const lua::script_error& e) {
        std::string msg = e.what();
        if (!e.traceback().empty()) msg += "\n" + e.traceback();
        bool open = a.tx && a.tx->open();
        fail_lua(a, msg, e.file(), e.line(), exit_code::migration_failed,
                 a.in_backfill
                     ? "the backfill's checkpoint is at the last good batch; fix the cause and "
                       "run `moonshift up` "
                       "again to resume"
                 : open ? "the migration's transaction was rolled back; nothing of it remains"
                        : "");
    } catch (const db::sql_failure& f) {
        // SQL parts of a folder (up.sql, verify.sql).
        a.tx.reset();  // rolled back (a joined one is the outer guard's)
        fail_migration(m, m.up_label, m.up_sql,
                       f.info().position > 0 ? std::optional<std::size_t>(0) : std::nullopt, f,
                       ms_since(a.t0));
    } catch (const error& e) {
        // A backfill that does not check out, or a failed batch (backfill/).
        fail_lua(a, e.what(), m.up_label, 0, e.code(), e.hint());
    }
    record_lua(a, run_id);
}

void engine::lua_change(lua_attempt& a, long long run_id, bool transactional,
                        bool in_outer_transaction) {
    const auto& m = a.m;
    auto& rt = lua_runtime();
    auto part = [&](lua::phase p, const char* key, const std::string& label,
                    const std::string& lua_src, const std::string& sql_src) {
        rt.set_deadline(budget(ctx_.cfg, p));
        run_lua_part(m, a.s, p, key, label, lua_src, sql_src);
    };
    // Backfills (backfill_steps.cpp): a "ddl" checkpoint means the DDL
    // committed in an earlier run; only the batches are left.
    if (auto ddl = store_->checkpoint(m.version, "ddl")) {
        a.backfills = resumed_backfills(m, a.s, *ddl);
    } else {
        // precheck: read-only, before the change; a failure applies nothing.
        part(lua::phase::precheck, "precheck", m.precheck_label, m.precheck_lua, "");
        if (transactional)
            a.tx.emplace(*session_, in_outer_transaction ? db::transaction::mode::join
                                                         : db::transaction::mode::begin);
        rt.take_backfills();  // nothing left from a rehearsal
        part(lua::phase::up, "up", m.up_label, m.up_lua, a.s ? "" : m.up_sql);
        a.backfills = declared_backfills(m, a.s);
        if (!a.backfills.empty()) {
            if (in_outer_transaction)
                throw usage_error(
                    m.up_label +
                        " has a backfill, which runs in batches of its own and cannot run in "
                        "--single-transaction mode",
                    "apply it on its own with `moonshift up`");
            // Checked before any row is touched; a bad spec rolls the DDL back too.
            prepare_backfills(m, a.backfills, run_id);
            if (a.tx) a.tx->commit();
            a.tx.reset();
        }
    }
    if (!a.backfills.empty()) {
        a.in_backfill = true;
        a.backfilled = run_backfills(m, a.backfills, run_id);
        a.in_backfill = false;
        // verify, the history row and the end of the checkpoints commit together.
        a.tx.emplace(*session_);
    }
    // verify runs inside the same transaction: a failed verification
    // rolls the change back with it.
    rt.set_deadline(budget(ctx_.cfg, lua::phase::verify));
    run_lua_verify(m, a.s);
}

void engine::fail_lua(lua_attempt& a, const std::string& message, const std::string& file, int line,
                      exit_code code, const std::string& hint) {
    a.tx.reset();  // rolled back (a joined one is the outer guard's)
    auto j = describe(a.m);
    j["duration_ms"] = ms_since(a.t0);
    j["error"] = {{"message", text::redact(message)}, {"file", file}, {"line", line}};
    emit("migration.failed", j);
    throw error(code, message, hint);
}

void engine::record_lua(lua_attempt& a, long long run_id) {
    const auto& m = a.m;
    auto row = applied_row(m, run_id);
    row.form = catalog::form_name(m.kind);
    row.duration_ms = ms_since(a.t0);
    if (!a.backfills.empty()) {
        auto version = db::quote::literal(m.version);
        a.tx->commit(history_add_sql(m, row) + ";DELETE FROM " + store_->table("checkpoints") +
                     " WHERE version = " + version + ";DELETE FROM " + store_->table("backfills") +
                     " WHERE version = " + version);
    } else if (a.tx) {
        a.tx->commit(history_add_sql(m, row));
    } else {
        session_->exec_script(history_add_sql(m, row));  // transaction = false: the row on its own
    }
    auto applied = describe(m);
    applied["duration_ms"] = row.duration_ms;
    if (!a.backfills.empty()) applied["backfills"] = a.backfilled;
    emit("migration.applied", applied);
}

bool engine::lua_can_revert(const catalog::migration& m) {
    // Before-images of a backfill (keep_before = true) are a way back too.
    if (backfill::has_before(*session_, db::quote::ident(ctx_.cfg.schema), m.version)) return true;
    if (m.kind != catalog::form::lua) return !m.down_lua.empty() || !m.down_sql.empty();
    preload_lua({&m});
    return lua_scripts_[m.up_label]->has("down");
}

void engine::revert_lua(const entry& e) {
    const auto& m = *e.file;
    auto& rt = lua_runtime();
    emit("migration.start", {{"version", m.version},
                             {"name", m.name},
                             {"direction", "down"},
                             {"file", m.down_label.empty() ? m.up_label : m.down_label}});
    auto t0 = std::chrono::steady_clock::now();
    lua::migration_info info{m.version, m.name};
    rt.set_deadline(budget(ctx_.cfg, lua::phase::down));
    // From the environment's settings, as every migration (sql_steps.cpp).
    db::transaction tx(*session_, db::transaction::mode::begin, session_->restore_settings_sql());
    try {
        // Old values a backfill kept (keep_before = true) go back first, in
        // the same transaction as the down script.
        if (auto n =
                backfill::restore_before(*session_, db::quote::ident(ctx_.cfg.schema), m.version);
            n > 0)
            log("info", m.up_label + ": restored the values of " + std::to_string(n) +
                            " row(s) its backfill changed");
        if (m.kind == catalog::form::lua) {
            preload_lua({&m});
            rt.run_phase(*lua_scripts_[m.up_label], "down", lua::phase::down, &info);
        } else if (!m.down_lua.empty()) {
            rt.run_file(m.down_label, m.down_lua, lua::phase::down);
        } else {
            session_->exec_script(m.down_sql);
        }
    } catch (const lua::script_error& err) {
        session_->rollback_open();  // before anyone hears of the failure
        emit("migration.failed", {{"version", m.version},
                                  {"name", m.name},
                                  {"direction", "down"},
                                  {"error",
                                   {{"message", text::redact(err.what())},
                                    {"file", err.file()},
                                    {"line", err.line()}}}});
        throw error(exit_code::migration_failed, std::string(err.what()) + "\n" + err.traceback(),
                    "the rollback was undone; the migration stays applied");
    } catch (const db::sql_failure& f) {
        session_->rollback_open();
        fail_migration(m, m.down_label, m.down_sql,
                       f.info().position > 0 ? std::optional<std::size_t>(0) : std::nullopt, f,
                       ms_since(t0));
    }
    tx.commit(history_remove_sql(m, e.row->version));
    emit("migration.reverted", {{"version", m.version},
                                {"name", m.name},
                                {"duration_ms", ms_since(t0)},
                                {"file", m.down_label.empty() ? m.up_label : m.down_label}});
}

void engine::run_project_scripts(const std::string& dir, int phase_number, nlohmann::json& report) {
    auto p = static_cast<lua::phase>(phase_number);
    auto files = lua_files(ctx_.cfg.root / "scripts" / dir);
    auto& list = report[dir == "checks" ? "checks" : "verifications"];
    list = nlohmann::json::array();
    if (files.empty()) return;
    auto& rt = lua_runtime();
    rt.set_deadline(budget(ctx_.cfg, p));
    std::vector<std::string> failures;
    for (auto& f : files) {
        auto label = label_of(f, ctx_.cfg.root);
        auto t0 = std::chrono::steady_clock::now();
        try {
            auto r = rt.run_file(label, text::read_file(f), p);
            list.push_back({{"script", label},
                            {"outcome", r.skipped ? "skipped" : "ok"},
                            {"duration_ms", ms_since(t0)}});
            if (r.skipped) log("info", label + ": skipped: " + r.skip_reason);
        } catch (const lua::check_failure& e) {
            failures.push_back(e.what());
            list.push_back(
                {{"script", label}, {"outcome", "failed"}, {"message", text::redact(e.what())}});
        }
    }
    if (!failures.empty()) {
        std::string all;
        for (auto& f : failures) all += "\n  " + f;
        bool checks = p == lua::phase::check;
        // verify.failed comes from the caller, with the built-in verifications too.
        if (checks)
            emit("gate.failed",
                 {{"gate", "checks"}, {"failures", failures.size()}, {"report", list}});
        throw error(exit_code::check_failed,
                    std::to_string(failures.size()) +
                        (checks ? " project check(s) failed:" : " verification(s) failed:") + all,
                    checks ? "nothing was applied"
                           : "the migrations are applied; fix what the verifications report");
    }
}

outcome engine::check() {
    outcome out;
    run_project_scripts("checks", static_cast<int>(lua::phase::check), out.report);
    out.count = static_cast<int>(out.report["checks"].size());
    return out;
}

outcome engine::run_script(const std::string& file, const std::vector<std::string>& args) {
    refuse_read_only("run");  // a script of its own may write anything
    fs::path p = fs::absolute(file);
    if (!fs::exists(p)) throw usage_error("script " + file + " does not exist");
    auto label = label_of(p, ctx_.cfg.root);
    auto& rt = lua_runtime();
    rt.set_deadline(budget(ctx_.cfg, lua::phase::run));
    auto r = rt.run_file(label, text::read_file(p), lua::phase::run, args);
    outcome out;
    out.report = {{"script", label}, {"skipped", r.skipped}};
    if (r.skipped) out.report["skip_reason"] = r.skip_reason;
    return out;
}

}  // namespace moonshift::engine
