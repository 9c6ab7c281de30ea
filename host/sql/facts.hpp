// What a parsed statement does to the database, read from its parse tree:
// the relations it names and how, whether it can lose data (and so needs a
// backup), and which tables it locks strongly enough to block traffic. The
// lint rules, the backups and the lock checks all start from these facts.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sql/sql.hpp"

namespace moonshift::sql {

struct relation {
    std::string schema;  // empty when the statement leaves it to search_path
    std::string name;
    std::size_t location = 0;  // byte offset in the file
    // "created", "dropped", "truncated", "altered", "indexed", "renamed",
    // "written" (UPDATE/DELETE/INSERT/MERGE target), "referenced" (FK target),
    // "vacuumed", "clustered", "reindexed", "granted", "policy", "trigger", "read".
    std::string role;
    std::string qualified() const { return schema.empty() ? name : schema + "." + name; }
};

// PostgreSQL's table lock modes, weakest first.
enum class lock_mode {
    none,
    access_share,
    row_share,
    row_exclusive,
    share_update_exclusive,
    share,
    share_row_exclusive,
    exclusive,
    access_exclusive,
};
const char* lock_mode_name(lock_mode m);            // "ACCESS EXCLUSIVE"
lock_mode lock_mode_from_pg(const std::string& s);  // pg_locks.mode: "AccessExclusiveLock"
bool lock_conflicts(lock_mode a, lock_mode b);

struct locked_table {
    std::string table;  // as written (maybe unqualified)
    lock_mode mode = lock_mode::none;
};

struct facts {
    std::vector<relation> relations;
    // Why the statement can lose data, one phrase each: "DROP TABLE users",
    // "DROP COLUMN users.email", "TRUNCATE orders", "type change of users.id".
    std::vector<std::string> destructive;
    bool changes_rows = false;  // UPDATE, DELETE, MERGE (INSERT adds, it loses nothing)
    // Tables whose current rows the statement can lose (as written).
    std::vector<std::string> at_risk;
    std::vector<std::string> dropped_schemas;  // DROP SCHEMA ... CASCADE loses every table in them
    // Tables locked beyond ROW EXCLUSIVE (DDL), with the strongest mode each.
    std::vector<locked_table> locks;
    std::vector<std::string> created;  // tables the statement creates

    nlohmann::json to_json() const;
};

// The facts of one parsed statement (sql::parse with trees). A statement
// without a tree (split only) has no facts.
facts facts_of(const sql::statement& s);

// Relation name from a RangeVar node ({"schemaname", "relname", "location"}).
relation relation_of(const nlohmann::json& range_var, const std::string& role);

// Name from a list of String nodes: [{"String":{"sval":"s"}},{"String":{"sval":"t"}}] -> "s.t".
std::string dotted_name(const nlohmann::json& items);

}  // namespace moonshift::sql
