// `moonshift plan`: the pending migrations run for real on the target, in
// one transaction that is always rolled back, and each is measured: time,
// rows affected per statement, the locks it took, and the schema it left
// (a catalog snapshot diffed before and after).
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "db/session.hpp"
#include "schema/reverse.hpp"
#include "schema/schema.hpp"

namespace moonshift::rehearsal {

struct statement_result {
    int line = 1, column = 1;
    std::string command;  // the server's command tag: "UPDATE", "CREATE INDEX", ...
    long long rows = 0;   // rows affected (or returned)
    long long duration_ms = 0;
};

struct lock_taken {
    std::string relation;  // "public.users", or "a dropped relation (oid 1234)"
    std::string mode;      // "AccessExclusiveLock"
};

struct migration_result {
    std::string version, name, file;
    bool rehearsed = false;
    std::string not_rehearsed;  // why, when it was not
    std::string note;           // how it was rehearsed, when not as written
    bool failed = false;
    std::string error;  // "migrations/003_x.sql:4:1: column ... (42703)"
    long long duration_ms = 0;
    long long rows = 0;
    std::vector<statement_result> statements;
    std::vector<lock_taken> locks;
    std::vector<schema::change> changes;
    // The reverse derived from the catalog before and after it (reverse.hpp).
    schema::reverse_plan derived;
    // How it would be rolled back, set by the engine: {"how": "down script" |
    // "down function" | "derived" (with "sql") | "none" (with "why")}.
    nlohmann::json reverse;
    nlohmann::json to_json() const;
};

struct options {
    std::string history_schema = "moonshift";         // left out of the snapshots
    std::string backup_schema = "moonshift_backups";  // so is the backup store
    // Runs a migration that is not plain SQL (a Lua migration, a folder with
    // a Lua precheck or verify) inside the rehearsal's transaction; returns
    // "" when it ran, or why it cannot be rehearsed. When empty, such
    // migrations are not rehearsed.
    std::function<std::string(const catalog::migration&)> apply_other;
    // lock_timeout for the rehearsal when the environment sets none: it
    // takes the same locks as the real run, and must not hold up traffic.
    std::string default_lock_timeout = "5s";
    std::function<void(const std::string&)> progress;
};

struct result {
    std::vector<migration_result> migrations;
    bool failed = false;  // a rehearsed migration failed: the real run would too
    long long duration_ms = 0;
    // What the rollback did not undo: sequences the rehearsal advanced
    // ("public.users_id_seq: 41 → 44"); sequences are never rolled back.
    std::vector<std::string> sequences_advanced;
    nlohmann::json to_json() const;
};

// The caller holds the migration lock. Nothing is committed: the
// transaction is rolled back whatever happens.
result rehearse(db::session& s, const std::vector<const catalog::migration*>& pending,
                const options& o);

}  // namespace moonshift::rehearsal
