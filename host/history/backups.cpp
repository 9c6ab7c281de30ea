// Reading and writing the rows of the backups table.
#include "history/backups.hpp"

#include "db/quote.hpp"

namespace moonshift::history {
namespace {

using json = nlohmann::json;

const char* const select_columns =
    "id, coalesce(version, ''), coalesce(migration, ''), environment, coalesce(run_id, 0), kind, "
    "reason, location, "
    "tables::text, rows, bytes, status, created_by, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), duration_ms, "
    "coalesce(to_char(keep_until AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
    "coalesce(to_char(restored_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')";

backup_row read_row(const db::row& row) {
    backup_row r;
    r.id = row[0].as<long long>();
    r.version = row[1].c_str();
    r.migration = row[2].c_str();
    r.environment = row[3].c_str();
    r.run_id = row[4].as<long long>();
    r.kind = row[5].c_str();
    r.reason = row[6].c_str();
    r.location = row[7].c_str();
    r.tables = json::parse(row[8].c_str());
    r.rows = row[9].as<long long>();
    r.bytes = row[10].as<long long>();
    r.status = row[11].c_str();
    r.created_by = row[12].c_str();
    r.created_at = row[13].c_str();
    r.duration_ms = row[14].as<long long>();
    r.keep_until = row[15].c_str();
    r.restored_at = row[16].c_str();
    return r;
}

}  // namespace

backups::backups(db::session& s, store& h) : s_(s), h_(h) {}

// Prepared (once per connection): a run with many backups, a down of a hundred steps, plans them
// once.
void backups::open(backup_row& r) {
    using db::to_param;
    auto res = s_.query_prepared(
        "moonshift_backup_open",
        "INSERT INTO " + h_.table("backups") +
            " (version, migration, environment, run_id, kind, reason, location, created_by) "
            "VALUES (NULLIF($1, ''), NULLIF($2, ''), $3, NULLIF($4, 0), $5, $6, '', $7) "
            "RETURNING id, to_char(created_at AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
        {to_param(r.version), to_param(r.migration), to_param(r.environment), to_param(r.run_id),
         to_param(r.kind), to_param(r.reason), to_param(r.created_by)});
    r.id = res[0][0].as<long long>();
    r.created_at = res[0][1].c_str();
    r.status = "running";
}

void backups::complete(long long id, const std::string& location, const json& tables,
                       long long rows, long long bytes, long long duration_ms) {
    s_.query(complete_sql(id, location, tables, rows, bytes, duration_ms));
}

std::string backups::complete_sql(long long id, const std::string& location, const json& tables,
                                  long long rows, long long bytes, long long duration_ms) const {
    using db::quote::literal;
    return "UPDATE " + h_.table("backups") +
           " SET status = 'complete', location = " + literal(location) +
           ", tables = " + literal(tables.dump()) + "::jsonb, rows = " + std::to_string(rows) +
           ", bytes = " + std::to_string(bytes) + ", duration_ms = " + std::to_string(duration_ms) +
           " WHERE id = " + std::to_string(id);
}

void backups::mark_failed(long long id) {
    s_.query("UPDATE " + h_.table("backups") + " SET status = 'failed' WHERE id = $1", id);
}

void backups::mark_restored(long long id) {
    s_.query("UPDATE " + h_.table("backups") + " SET restored_at = clock_timestamp() WHERE id = $1",
             id);
}

void backups::mark_pruned(long long id) {
    s_.query("UPDATE " + h_.table("backups") +
                 " SET status = 'pruned', pruned_at = clock_timestamp() WHERE id = $1",
             id);
}

bool backups::table_exists() {
    if (!h_.present()) return false;
    return s_.query("SELECT to_regclass($1) IS NOT NULL", h_.table("backups"))[0][0].as<bool>();
}

std::vector<backup_row> backups::list(int limit) {
    if (!table_exists()) return {};
    auto r = s_.query(std::string("SELECT ") + select_columns + " FROM " + h_.table("backups") +
                          " ORDER BY id DESC LIMIT $1",
                      limit);
    std::vector<backup_row> out;
    for (const auto& row : r) out.push_back(read_row(row));
    return out;
}

std::optional<backup_row> backups::find(long long id) {
    auto r = s_.query(
        std::string("SELECT ") + select_columns + " FROM " + h_.table("backups") + " WHERE id = $1",
        id);
    if (r.empty()) return std::nullopt;
    return read_row(r[0]);
}

std::optional<backup_row> backups::latest_complete(const std::string& version) {
    if (!table_exists()) return std::nullopt;
    auto r = s_.query(std::string("SELECT ") + select_columns + " FROM " + h_.table("backups") +
                          " WHERE version = $1 AND status = 'complete' AND kind = 'tables'"
                          " AND reason NOT LIKE 'before down:%'"
                          " ORDER BY id DESC LIMIT 1",
                      version);
    if (r.empty()) return std::nullopt;
    return read_row(r[0]);
}

std::vector<backup_age> backups::complete_newest_first() {
    auto r = s_.query(std::string("SELECT ") + select_columns +
                      ", to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),"
                      " to_char(created_at AT TIME ZONE 'UTC', 'IYYY-IW'),"
                      " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM'),"
                      " coalesce(keep_until > now(), false),"
                      " extract(epoch FROM now() - created_at) / 86400,"
                      " (extract(year FROM age(now(), created_at)) * 12"
                      "  + extract(month FROM age(now(), created_at)))::int"
                      " FROM " +
                      h_.table("backups") +
                      " WHERE status = 'complete' ORDER BY created_at DESC, id DESC");
    std::vector<backup_age> out;
    for (const auto& row : r) {
        backup_age a;
        a.row = read_row(row);
        a.day = row[17].c_str();
        a.week = row[18].c_str();
        a.month = row[19].c_str();
        a.pinned = row[20].as<bool>();
        a.age_days = row[21].as<double>();
        a.age_months = row[22].as<int>();
        out.push_back(std::move(a));
    }
    return out;
}

}  // namespace moonshift::history
