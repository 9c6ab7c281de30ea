// `moonshift plan`: rehearsing the pending migrations (host/safety/rehearsal)
// under the migration lock, with the engine's own Lua for migrations that
// have Lua parts.
#include <algorithm>

#include "common/interrupt.hpp"
#include "common/text.hpp"
#include "engine/engine.hpp"
#include "lua/runtime.hpp"
#include "safety/rehearsal.hpp"

namespace moonshift::engine {

rehearsal::result engine::rehearse(const std::vector<const catalog::migration*>& pending) {
    // It runs the migrations' statements (rolled back, but a sequence
    // advanced or a session terminated stays so): not on a read-only environment.
    refuse_read_only("plan");
    // A Lua migration that does not load stops the plan before anything runs.
    preload_lua(pending);
    // The migration lock, as for a real run: a rehearsal must not interleave with one.
    take_lock();
    rehearsal::options o;
    o.history_schema = store_->schema();
    o.backup_schema = ctx_.cfg.backup.schema;
    o.apply_other = [this](const catalog::migration& m) { return rehearse_other(m); };
    rehearsal::result r;
    try {
        r = rehearsal::rehearse(*session_, pending, o);
    } catch (...) {
        release_lock_on_failure();
        throw;
    }
    release_lock();
    // How each would be rolled back (reverse_steps.cpp), with the derived SQL
    // the rehearsal saw.
    for (auto& mr : r.migrations) {
        auto it = std::find_if(pending.begin(), pending.end(), [&](const catalog::migration* m) {
            return m->version == mr.version;
        });
        if (it == pending.end()) continue;
        mr.reverse = reverse_outlook(**it);
        if (mr.reverse["how"] != "derived") continue;
        if (!mr.rehearsed || mr.failed) {
            mr.reverse["sql"] = nlohmann::json::array();
            continue;
        }
        auto sql = nlohmann::json(mr.derived.statements);
        for (const auto& f : mr.derived.finish) sql.push_back(f);
        mr.reverse["sql"] = sql;
        if (!mr.derived.irreversible.empty()) {
            mr.reverse["how"] = "none";
            mr.reverse["why"] = mr.derived.irreversible;
        }
    }
    return r;
}

void engine::release_lock_on_failure() noexcept {
    interrupt::cleanup allowed;  // after a signal too
    session_->rollback_open();   // a failed block would refuse the unlock
    try {
        release_lock();
    } catch (const std::exception&) {
        // The connection is gone, and the server released the lock with it.
    }
}

std::string engine::rehearse_other(const catalog::migration& m) {
    const lua::script* s = lua_script_of(m);
    if (!lua_transactional(m, s))
        return "it runs outside a transaction (transaction = false), so it cannot be rolled back";
    // The same steps as the real run (lua_steps.cpp), without the history row.
    run_lua_part(m, s, lua::phase::precheck, "precheck", m.precheck_label, m.precheck_lua, "");
    run_lua_part(m, s, lua::phase::up, "up", m.up_label, m.up_lua, s ? "" : m.up_sql);
    run_lua_verify(m, s);
    return {};
}

}  // namespace moonshift::engine
