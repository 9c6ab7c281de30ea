// Through a transaction-mode pooler (docs/poolers.md): what cannot run there
// is refused before anything changes, with the connection to use instead.
#include "engine/engine.hpp"

namespace moonshift::engine {

void engine::refuse_through_pooler(const std::vector<const catalog::migration*>& todo, bool down) {
    if (!session_->pooled()) return;
    for (const auto* m : todo) {
        std::string label;
        if (!down && m->dir.no_transaction)
            label = m->up_label;
        else if (!down && needs_lua(*m) && !lua_transactional(*m, lua_script_of(*m)))
            label = m->up_label;
        else if (down && m->dir.down_own_transaction && m->kind == catalog::form::sql)
            label = m->down_label;
        if (label.empty()) continue;
        throw usage_error(
            label +
                " runs outside a transaction, and this connection goes through a "
                "transaction-mode pooler (" +
                session_->pooled_because() +
                "): there each statement may reach another server session, so moonshift can "
                "neither keep the run's lock on it nor tell after a failure which of its "
                "statements took effect; nothing was changed",
            "run it over a direct connection: for Supabase the database host (db.<project>."
            "supabase.co, port 5432) or the session pooler (the same pooler host, port 5432); "
            "for PgBouncer the server's own host and port, or a pool with pool_mode = session. "
            "Set pooler = \"none\" only when the connection is not pooled after all");
    }
}

}  // namespace moonshift::engine
