// Database health between batches: replication lag, long transactions,
// autovacuum on the table; and the thresholds of a backfill's throttle.
#include <cstdio>
#include <cstdlib>

#include "backfill/runner.hpp"

namespace moonshift::backfill {

nlohmann::json health::to_json() const {
    return {{"replication_lag", replication_lag_s},
            {"longest_transaction", longest_transaction_s},
            {"autovacuum", autovacuum},
            {"lock_waits", lock_waits}};
}

health sample(db::session& db, unsigned table_oid) {
    auto r = db.query(
        "SELECT (SELECT coalesce(max(extract(epoch FROM replay_lag)), 0) FROM "
        "pg_stat_replication), "
        "(SELECT coalesce(max(extract(epoch FROM clock_timestamp() - "
        "xact_start)), 0) FROM pg_stat_activity "
        "  WHERE pid <> pg_backend_pid() AND xact_start IS NOT NULL AND "
        "backend_type = 'client backend' "
        "    AND state <> 'idle'), "
        "EXISTS (SELECT 1 FROM pg_stat_progress_vacuum WHERE relid = $1::oid)",
        table_oid);
    health h;
    h.replication_lag_s = r[0][0].as<double>();
    h.longest_transaction_s = r[0][1].as<double>();
    h.autovacuum = r[0][2].as<bool>();
    return h;
}

std::string wait_reason(const lua::backfill_spec& s, const health& h) {
    char buf[160];
    if (s.max_replication_lag.count() > 0 &&
        h.replication_lag_s * 1000 > s.max_replication_lag.count()) {
        std::snprintf(buf, sizeof buf, "replication lag %.1f s is above %.1f s",
                      h.replication_lag_s, s.max_replication_lag.count() / 1000.0);
        return buf;
    }
    if (s.max_transaction_age.count() > 0 &&
        h.longest_transaction_s * 1000 > s.max_transaction_age.count()) {
        std::snprintf(buf, sizeof buf, "a transaction has been open for %.0f s (above %.0f s)",
                      h.longest_transaction_s, s.max_transaction_age.count() / 1000.0);
        return buf;
    }
    if (s.pause_during_autovacuum && h.autovacuum) return "autovacuum is running on the table";
    return {};
}

}  // namespace moonshift::backfill
