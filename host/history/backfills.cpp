// The backfills' bookkeeping in the history schema (backfills.hpp).
#include "history/backfills.hpp"

#include <fmt/format.h>

#include "db/quote.hpp"

namespace moonshift::history {
namespace {

std::string kind_of(int part) { return "backfill:" + std::to_string(part); }

std::string in(const std::string& schema_quoted, const char* name) {
    return schema_quoted + "." + name;
}

std::vector<std::string> json_names(const db::field& f) {
    if (f.is_null()) return {};
    return nlohmann::json::parse(f.view()).get<std::vector<std::string>>();
}

}  // namespace

backfills::backfills(db::session& s, std::string schema_quoted)
    : s_(s), schema_(std::move(schema_quoted)) {}

bool backfills::present() {
    return s_.query("SELECT to_regclass($1) IS NOT NULL", table("backfills"))[0][0].as<bool>();
}

std::string backfills::register_sql(const std::string& schema_quoted, const std::string& version,
                                    int part, const std::string& tbl, long long run_id) {
    return "INSERT INTO " + in(schema_quoted, "backfills") +
           " (version, part, table_name, run_id, backend_pid) VALUES (" +
           db::quote::literal(version) + ", " + std::to_string(part) + ", " +
           db::quote::literal(tbl) + ", " + std::to_string(run_id) +
           ", pg_backend_pid()) ON CONFLICT (version, part) DO NOTHING";
}

std::string backfills::ddl_checkpoint_sql(const std::string& schema_quoted,
                                          const std::string& version,
                                          const nlohmann::json& position, long long run_id) {
    return "INSERT INTO " + in(schema_quoted, "checkpoints") +
           " (version, kind, position, run_id) VALUES (" + db::quote::literal(version) +
           ", 'ddl', " + db::quote::literal(position.dump()) + "::jsonb, " +
           std::to_string(run_id) +
           ") ON CONFLICT (version, kind) DO UPDATE SET position = EXCLUDED.position";
}

std::optional<nlohmann::json> backfills::position(const std::string& version, int part) {
    auto r = s_.query(
        "SELECT position::text FROM " + table("checkpoints") + " WHERE version = $1 AND kind = $2",
        version, kind_of(part));
    if (r.empty()) return std::nullopt;
    return nlohmann::json::parse(r[0][0].view());
}

void backfills::start(const std::string& version, int part, const std::string& tbl,
                      long long run_id) {
    s_.query(register_sql(schema_, version, part, tbl, run_id));
    s_.query("UPDATE " + table("backfills") +
                 " SET state = 'running', message = NULL, run_id = $3, "
                 "backend_pid = pg_backend_pid(), updated_at = clock_timestamp() "
                 "WHERE version = $1 AND part = $2",
             version, part, run_id);
}

void backfills::set_total(const std::string& version, int part, long long rows_total) {
    s_.query(
        "UPDATE " + table("backfills") + " SET rows_total = $3 WHERE version = $1 AND part = $2",
        version, part, rows_total);
}

void backfills::set_state(const std::string& version, int part, const std::string& state,
                          const std::string& message) {
    s_.query("UPDATE " + table("backfills") +
                 " SET state = $3, message = nullif($4, ''), updated_at = clock_timestamp() "
                 "WHERE version = $1 AND part = $2",
             version, part, state, message);
}

bool backfills::pause_requested(const std::string& version, int part) {
    auto r = s_.query(
        "SELECT pause_requested FROM " + table("backfills") + " WHERE version = $1 AND part = $2",
        version, part);
    return !r.empty() && r[0][0].as<bool>(false);
}

batch_saved backfills::save_batch(const std::string& version, int part,
                                  const nlohmann::json& position, long long run_id,
                                  long long rows_done, double rows_per_second,
                                  long long batch_size) {
    auto r = s_.query(
        "WITH cp AS (INSERT INTO " + table("checkpoints") +
            " (version, kind, position, run_id) VALUES ($1, $2, $3::jsonb, $4)"
            " ON CONFLICT (version, kind) DO UPDATE SET position = EXCLUDED.position,"
            " run_id = EXCLUDED.run_id, updated_at = clock_timestamp() RETURNING 1),"
            " st AS (UPDATE " +
            table("backfills") +
            " SET rows_done = $5, rows_per_second = $6, batch_size = $7, state = 'running',"
            " message = NULL, updated_at = clock_timestamp(), backend_pid = pg_backend_pid()"
            " WHERE version = $1 AND part = $8 RETURNING pause_requested)"
            " SELECT (SELECT count(*) FROM cp), coalesce((SELECT pause_requested FROM st), false),"
            " (SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND pg_backend_pid() = ANY(pg_blocking_pids(pid)))",
        version, kind_of(part), position.dump(), run_id, rows_done,
        fmt::format("{:.1f}", rows_per_second), batch_size, part);
    return {r[0][1].as<bool>(), r[0][2].as<long long>()};
}

std::string backfills::keep_before_sql(const std::string& schema_quoted, const std::string& version,
                                       int part, const std::string& tbl,
                                       const std::string& key_json, const std::string& before_json,
                                       const std::string& from) {
    return "INSERT INTO " + in(schema_quoted, "backfill_before") +
           " (version, part, table_name, key, before) SELECT " + db::quote::literal(version) +
           ", " + std::to_string(part) + ", " + db::quote::literal(tbl) + ", " + key_json + ", " +
           before_json + " " + from + " ON CONFLICT DO NOTHING";
}

std::string backfills::finish_sql(const std::string& schema_quoted, const std::string& version) {
    return "DELETE FROM " + in(schema_quoted, "checkpoints") +
           " WHERE version = " + db::quote::literal(version) + ";DELETE FROM " +
           in(schema_quoted, "backfills") + " WHERE version = " + db::quote::literal(version);
}

std::vector<backfill_row> backfills::list() {
    auto r = s_.query(
        "SELECT b.version, b.part, b.table_name, b.state, b.pause_requested, b.rows_done, "
        "b.rows_total, b.rows_per_second, b.batch_size, coalesce(b.message, ''), "
        "EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = b.backend_pid), "
        "to_char(b.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM " +
        table("backfills") + " b ORDER BY b.version, b.part");
    std::vector<backfill_row> out;
    for (const auto& row : r) {
        backfill_row b;
        b.version = row[0].as<std::string>();
        b.part = row[1].as<int>();
        b.table = row[2].as<std::string>();
        b.state = row[3].as<std::string>();
        b.pause_requested = row[4].as<bool>();
        b.rows_done = row[5].as<long long>();
        b.rows_total = row[6].get<long long>();
        b.rows_per_second = row[7].as<double>(0);
        b.batch_size = row[8].as<long long>(0);
        b.message = row[9].as<std::string>();
        b.alive = row[10].as<bool>();
        b.updated_at = row[11].as<std::string>();
        out.push_back(std::move(b));
    }
    return out;
}

int backfills::set_paused(const std::string& version, bool paused) {
    auto r = s_.query("UPDATE " + table("backfills") +
                          " SET pause_requested = $1, updated_at = clock_timestamp() "
                          "WHERE ($2 = '' OR version = $2) AND pause_requested <> $1",
                      paused, version);
    return static_cast<int>(r.affected_rows());
}

bool backfills::has_before(const std::string& version) {
    return s_
        .query("SELECT EXISTS (SELECT 1 FROM " + table("backfill_before") + " WHERE version = $1)",
               version)[0][0]
        .as<bool>();
}

std::vector<before_images> backfills::before(const std::string& version) {
    const std::string bt = table("backfill_before");
    auto r = s_.query(
        "SELECT part, table_name, (SELECT array_to_json(array_agg(DISTINCT k))::text FROM " + bt +
            " x, jsonb_object_keys(x.key) k WHERE x.version = b.version AND x.part = b.part), "
            "(SELECT array_to_json(array_agg(DISTINCT k))::text FROM " +
            bt +
            " x, jsonb_object_keys(x.before) k WHERE x.version = b.version AND x.part = b.part) "
            "FROM " +
            bt + " b WHERE version = $1 GROUP BY version, part, table_name ORDER BY part DESC",
        version);
    std::vector<before_images> out;
    for (const auto& row : r)
        out.push_back(
            {row[0].as<int>(), row[1].as<std::string>(), json_names(row[2]), json_names(row[3])});
    return out;
}

void backfills::forget_before(const std::string& version) {
    s_.query("DELETE FROM " + table("backfill_before") + " WHERE version = $1", version);
}

}  // namespace moonshift::history
