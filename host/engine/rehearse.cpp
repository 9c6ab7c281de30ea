// `moonshift plan`: rehearsing the pending migrations (host/safety/rehearsal)
// under the migration lock, with the engine's own Lua for migrations that
// have Lua parts.
#include "common/text.hpp"
#include "engine/engine.hpp"
#include "lua/runtime.hpp"
#include "safety/rehearsal.hpp"

namespace moonshift::engine {

rehearsal::result engine::rehearse(const std::vector<const catalog::migration*>& pending) {
    // A Lua migration that does not load stops the plan before anything runs.
    preload_lua(pending);
    auto wait = ctx_.env.lock_wait.value_or(ctx_.cfg.lock_wait);
    // The migration lock, as for a real run: a rehearsal must not interleave with one.
    session_->lock(store_->schema(), wait, [&](const std::string& msg) { log("warn", msg); });
    rehearsal::options o;
    o.history_schema = store_->schema();
    o.apply_other = [this](const catalog::migration& m) { return rehearse_other(m); };
    rehearsal::result r;
    try {
        r = rehearsal::rehearse(*session_, pending, o);
    } catch (...) {
        try {
            session_->unlock(store_->schema());
        } catch (...) {
        }
        throw;
    }
    session_->unlock(store_->schema());
    return r;
}

std::string engine::rehearse_other(const catalog::migration& m) {
    auto& rt = lua_runtime();
    preload_lua({&m});
    const lua::script* s = m.kind == catalog::form::lua ? lua_scripts_[m.up_label].get() : nullptr;
    bool transactional = !m.dir.no_transaction;
    if (s) transactional = s->boolean("transaction").value_or(true);
    if (!transactional)
        return "it runs outside a transaction (transaction = false), so it cannot be rolled back";
    lua::migration_info info{m.version, m.name};
    // The same steps as the real run (lua_steps.cpp), without the history row.
    auto step = [&](lua::phase p, const char* key, const std::string& label,
                    const std::string& lua_src, const std::string& sql_src) {
        if (s) {
            auto r = rt.run_phase(*s, key, p, &info);
            if (r.skipped) log("info", m.up_label + ": " + key + " skipped: " + r.skip_reason);
        } else if (!lua_src.empty()) {
            auto r = rt.run_file(label, lua_src, p);
            if (r.skipped) log("info", label + ": skipped: " + r.skip_reason);
        } else if (!sql_src.empty()) {
            session_->exec_script(sql_src);
        }
    };
    step(lua::phase::precheck, "precheck", m.precheck_label, m.precheck_lua, "");
    step(lua::phase::up, "up", m.up_label, m.up_lua, s ? "" : m.up_sql);
    if (!m.verify_sql.empty() && !s) {
        session_->exec_script("SAVEPOINT moonshift_verify");
        session_->exec_script(m.verify_sql);
        session_->exec_script(
            "ROLLBACK TO SAVEPOINT moonshift_verify; RELEASE SAVEPOINT moonshift_verify");
    } else {
        step(lua::phase::verify, "verify", m.verify_label, m.verify_lua, "");
    }
    return {};
}

}  // namespace moonshift::engine
