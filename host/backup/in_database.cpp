// The "database" backup store: server-side copies in a schema of their own.
#include "backup/in_database.hpp"

#include "backup/io.hpp"
#include "common/error.hpp"
#include "db/quote.hpp"

namespace moonshift::backup::in_database {
namespace {

constexpr const char* prefix = "database:";

// Row count and an order-independent sum of the rows' hashes, in one scan:
// what restore checks the copy still holds (a copy edited, emptied or
// refilled by hand is refused, as a damaged file is).
std::string checksum_of(db::session& s, const std::string& copy) {
    auto r =
        s.query("SELECT count(*), coalesce(sum(hashtext(b::text)::bigint), 0) FROM " + copy + " b");
    return std::string("rows:") + r[0][0].c_str() + " sum:" + r[0][1].c_str();
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
    s.exec_script("CREATE TABLE " + c.table + " AS SELECT " + io::copy_columns(definition) +
                  " FROM " + definition.value("quoted", std::string()));
    c.checksum = checksum_of(s, c.table);
    c.rows = std::stoll(c.checksum.substr(5));
    c.bytes =
        s.query("SELECT pg_total_relation_size(to_regclass($1))", c.table)[0][0].as<long long>();
    return c;
}

long long copy_in(db::session& s, const std::string& target, const std::string& columns,
                  const std::string& copy, const std::string& checksum) {
    auto now = checksum_of(s, copy);
    if (now != checksum)
        throw error(exit_code::migration_failed,
                    "the backup copy " + copy + " no longer holds what was saved (" + now +
                        ", recorded " + checksum +
                        "): it was changed by hand; nothing was restored");
    auto r = s.query("INSERT INTO " + target + " (" + columns +
                     ") OVERRIDING SYSTEM VALUE SELECT " + columns + " FROM " + copy);
    return r.affected_rows();
}

bool exists(db::session& s, const std::string& copy) {
    return s.query("SELECT to_regclass($1) IS NOT NULL", copy)[0][0].as<bool>();
}

void drop(db::session& s, const nlohmann::json& copies) {
    std::string names;
    for (const auto& t : copies) {
        auto name = t.value("file", std::string());
        if (!name.empty()) names += (names.empty() ? "" : ", ") + name;
    }
    if (!names.empty()) s.exec_script("DROP TABLE IF EXISTS " + names);
}

}  // namespace moonshift::backup::in_database
