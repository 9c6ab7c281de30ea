// Status, pause/resume and before-images of backfills (control.hpp).
#include "backfill/control.hpp"

#include <cmath>
#include <cstdlib>

#include "backfill/target.hpp"
#include "db/pq.hpp"

namespace moonshift::backfill {
namespace {

bool has_tables(PGconn* c, const std::string& schema_quoted) {
    auto r = db::pq::exec(c, "SELECT to_regclass($1) IS NOT NULL", {schema_quoted + ".backfills"});
    return PQgetvalue(r.get(), 0, 0)[0] == 't';
}

}  // namespace

nlohmann::json status(db::session& s, const std::string& schema_quoted) {
    PGconn* c = s.raw();
    auto out = nlohmann::json::array();
    if (!has_tables(c, schema_quoted)) return out;
    auto r = db::pq::exec(
        c,
        "SELECT b.version, b.part, b.table_name, b.state, b.pause_requested, b.rows_done, "
        "b.rows_total, "
        "b.rows_per_second, b.batch_size, coalesce(b.message, ''), "
        "EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = b.backend_pid), "
        "to_char(b.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM " +
            schema_quoted + ".backfills b ORDER BY b.version, b.part");
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        auto v = [&](int col) { return std::string(PQgetvalue(r.get(), i, col)); };
        bool alive = v(10) == "t";
        std::string state = v(3);
        if (!alive && state != "failed") state = "interrupted";
        nlohmann::json j = {{"version", v(0)},
                            {"part", std::atoi(v(1).c_str())},
                            {"table", v(2)},
                            {"state", state},
                            {"pause_requested", v(4) == "t"},
                            {"rows_done", std::atoll(v(5).c_str())},
                            {"alive", alive},
                            {"updated_at", v(11)},
                            {"message", v(9)}};
        j["rows_total"] = PQgetisnull(r.get(), i, 6) ? nlohmann::json(nullptr)
                                                     : nlohmann::json(std::atoll(v(6).c_str()));
        double rate = PQgetisnull(r.get(), i, 7) ? 0 : std::atof(v(7).c_str());
        j["rows_per_second"] = std::round(rate);
        j["batch_size"] = PQgetisnull(r.get(), i, 8) ? 0 : std::atoll(v(8).c_str());
        if (!j["rows_total"].is_null() && rate > 0 && alive)
            j["eta_s"] = std::round(std::max(
                0.0, (j["rows_total"].get<double>() - j["rows_done"].get<double>()) / rate));
        else
            j["eta_s"] = nullptr;
        out.push_back(j);
    }
    return out;
}

int set_paused(db::session& s, const std::string& schema_quoted, const std::string& version,
               bool paused) {
    PGconn* c = s.raw();
    if (!has_tables(c, schema_quoted)) return 0;
    auto r = db::pq::exec(c,
                          "UPDATE " + schema_quoted +
                              ".backfills SET pause_requested = $1, updated_at = clock_timestamp() "
                              "WHERE ($2 = '' OR version = $2) AND pause_requested <> $1",
                          {paused ? "true" : "false", version});
    return static_cast<int>(r.affected_rows());
}

bool has_before(db::session& s, const std::string& schema_quoted, const std::string& version) {
    PGconn* c = s.raw();
    if (!has_tables(c, schema_quoted)) return false;
    auto r = db::pq::exec(
        c, "SELECT EXISTS (SELECT 1 FROM " + schema_quoted + ".backfill_before WHERE version = $1)",
        {version});
    return PQgetvalue(r.get(), 0, 0)[0] == 't';
}

long long restore_before(db::session& s, const std::string& schema_quoted,
                         const std::string& version) {
    PGconn* c = s.raw();
    if (!has_tables(c, schema_quoted)) return 0;
    const std::string bt = schema_quoted + ".backfill_before";
    // Newest backfill first, so an older image of the same row wins at the end.
    auto parts = db::pq::exec(
        c,
        "SELECT part, table_name, (SELECT array_to_json(array_agg(DISTINCT k))::text FROM " + bt +
            " x, jsonb_object_keys(x.key) k WHERE x.version = b.version AND x.part = b.part), "
            "(SELECT array_to_json(array_agg(DISTINCT k))::text FROM " +
            bt +
            " x, jsonb_object_keys(x.before) k WHERE x.version = b.version AND x.part = b.part) "
            "FROM " +
            bt + " b WHERE version = $1 GROUP BY version, part, table_name ORDER BY part DESC",
        {version});
    long long restored = 0;
    for (int i = 0; i < PQntuples(parts.get()); ++i) {
        std::string part = PQgetvalue(parts.get(), i, 0), table = PQgetvalue(parts.get(), i, 1);
        auto keys = nlohmann::json::parse(PQgetvalue(parts.get(), i, 2));
        auto cols = nlohmann::json::parse(PQgetvalue(parts.get(), i, 3));
        auto types =
            db::pq::exec(c,
                         "SELECT attname, quote_ident(attname), format_type(atttypid, atttypmod) "
                         "FROM pg_attribute "
                         "WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
                         {table});
        auto type_of = [&](const std::string& name, std::string& quoted) -> std::string {
            for (int r = 0; r < PQntuples(types.get()); ++r)
                if (name == PQgetvalue(types.get(), r, 0)) {
                    quoted = PQgetvalue(types.get(), r, 1);
                    return PQgetvalue(types.get(), r, 2);
                }
            throw error(
                exit_code::migration_failed,
                "cannot restore the before-image of " + table + ": column \"" + name + "\" is gone",
                "restore it before the column is dropped (down runs the restore first)");
        };
        std::string sets, join;
        for (auto& col : cols) {
            std::string q, ty = type_of(col.get<std::string>(), q);
            sets += (sets.empty() ? "" : ", ") + q + " = (b.before ->> " +
                    literal(c, col.get<std::string>()) + ")::" + ty;
        }
        for (auto& k : keys) {
            std::string q, ty = type_of(k.get<std::string>(), q);
            join +=
                " AND t." + q + " = (b.key ->> " + literal(c, k.get<std::string>()) + ")::" + ty;
        }
        auto r = db::pq::exec(c,
                              "UPDATE " + table + " t SET " + sets + " FROM " + bt +
                                  " b WHERE b.version = $1 AND b.part = $2::int" + join,
                              {version, part});
        restored += r.affected_rows();
    }
    db::pq::exec(c, "DELETE FROM " + bt + " WHERE version = $1", {version});
    return restored;
}

}  // namespace moonshift::backfill
