// The "database" backup store: server-side copies in a schema of their own.
#include "backup/in_database.hpp"

#include "backup/io.hpp"
#include "common/error.hpp"
#include "db/quote.hpp"

namespace moonshift::backup::in_database {
namespace {

constexpr const char* prefix = "database:";

// The seal of a copy: its row count and the transaction that wrote every
// row ("rows:N xid:X"). A row updated, inserted or reloaded by hand carries
// another transaction's id and a deleted one lowers the count, so a copy
// changed in any way is refused, as a damaged file is; checking it is one
// scan of a system column, not a hash of every row's text.
std::string seal(long long rows, const std::string& xid) {
    return "rows:" + std::to_string(rows) + " xid:" + xid;
}

}  // namespace

std::string location_of(const std::string& schema) { return prefix + schema; }

bool holds(const std::string& location) { return location.rfind(prefix, 0) == 0; }

void prepare(db::session& s, const std::string& schema) {
    auto r = s.query(
        "SELECT to_regnamespace($1) IS NOT NULL,"
        "       has_database_privilege(current_database(), 'CREATE'),"
        "       CASE WHEN to_regnamespace($1) IS NULL THEN false"
        "            ELSE has_schema_privilege($2, 'CREATE') END",
        db::quote::ident(schema), schema);
    bool exists = r[0][0].as<bool>();
    if (!exists && !r[0][1].as<bool>())
        throw usage_error(
            "backups are kept in schema " + schema + " ([backup] store = \"database\"), which " +
                "does not exist, and this role may not create schemas in the database",
            "create it once as its owner: CREATE SCHEMA " + db::quote::ident(schema) +
                " AUTHORIZATION <this role>; or set [backup] store = \"files\"");
    if (exists && !r[0][2].as<bool>())
        throw usage_error(
            "backups are kept in schema " + schema + ", where this role may not create tables",
            "GRANT CREATE ON SCHEMA " + db::quote::ident(schema) +
                " TO <this role>; or set [backup] schema to one it owns");
    if (!exists) s.exec_script("CREATE SCHEMA IF NOT EXISTS " + db::quote::ident(schema));
}

copied copy_out(db::session& s, const std::string& schema, long long id, int n,
                const nlohmann::json& definition) {
    // b<id>_<n>_<name>: unique per backup, readable in psql, within 63 bytes.
    std::string name = "b" + std::to_string(id) + "_" + std::to_string(n) + "_" +
                       definition.value("name", std::string("table"));
    if (name.size() > 63) name.resize(63);
    copied c;
    c.table = db::quote::qualified(schema, name);
    c.rows = s.query("CREATE TABLE " + c.table + " AS SELECT " + io::copy_columns(definition) +
                     " FROM " + definition.value("quoted", std::string()))
                 .affected_rows();
    // Every row of the copy has this transaction's id as its xmin.
    auto r = s.query("SELECT pg_total_relation_size(to_regclass($1)), (SELECT xmin::text FROM " +
                         c.table + " LIMIT 1)",
                     c.table);
    c.bytes = r[0][0].as<long long>();
    c.checksum = seal(c.rows, r[0][1].is_null() ? "" : r[0][1].c_str());
    return c;
}

long long copy_in(db::session& s, const std::string& target, const std::string& columns,
                  const std::string& copy, const std::string& checksum) {
    auto xid = checksum.substr(checksum.find(" xid:") + 5);
    auto r = s.query("SELECT count(*), count(*) FILTER (WHERE NOT xmin = $1::xid) FROM " + copy,
                     xid.empty() ? std::string("0") : xid);
    auto now = seal(r[0][0].as<long long>(), xid);
    if (r[0][1].as<long long>() > 0)
        now += " (" + std::string(r[0][1].c_str()) + " rows rewritten)";
    if (now != checksum)
        throw error(exit_code::migration_failed,
                    "the backup copy " + copy + " no longer holds what was saved (" + now +
                        ", recorded " + checksum +
                        "): it was changed by hand; nothing was restored");
    auto inserted = s.query("INSERT INTO " + target + " (" + columns +
                            ") OVERRIDING SYSTEM VALUE SELECT " + columns + " FROM " + copy);
    return inserted.affected_rows();
}

bool exists(db::session& s, const std::string& copy) {
    return s.query("SELECT to_regclass($1) IS NOT NULL", copy)[0][0].as<bool>();
}

void drop(db::session& s, const std::vector<std::string>& copies) {
    std::string names;
    for (const auto& name : copies) names += (names.empty() ? "" : ", ") + name;
    if (!names.empty()) s.exec_script("DROP TABLE IF EXISTS " + names);
}

}  // namespace moonshift::backup::in_database
