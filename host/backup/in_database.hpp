// The "database" backup store ([backup] store = "database"): each table of a
// targeted backup becomes a table in a schema of its own in the target
// database (`moonshift_backups` unless [backup] schema says otherwise),
// copied by the server with CREATE TABLE … AS SELECT, never through the
// client. Backups then live as long as the database, not the CI runner.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "db/session.hpp"

namespace moonshift::backup::in_database {

// The record's location for backups kept in `schema`: "database:SCHEMA".
std::string location_of(const std::string& schema);
// Whether a record's location is in the database (else: a directory).
bool holds(const std::string& location);

// Creates the schema when missing and checks the role may create tables in
// it; throws error(usage) naming what is missing otherwise.
void prepare(db::session& s, const std::string& schema);

struct copied {
    std::string table;  // quoted, schema-qualified name of the copy
    long long rows = 0;
    long long bytes = 0;   // the copy's size on disk
    std::string checksum;  // the seal: "rows:N xid:X", the transaction that wrote them
};

// Copies the table `definition` describes into backup `id`'s n-th table of
// `schema`, in the caller's transaction (its snapshot).
copied copy_out(db::session& s, const std::string& schema, long long id, int n,
                const nlohmann::json& definition);

// INSERT … SELECT of `columns` from the copy into `target` (quoted), after
// checking the copy still holds what was recorded (throws otherwise, so the
// caller's transaction rolls back). Returns the rows inserted.
long long copy_in(db::session& s, const std::string& target, const std::string& columns,
                  const std::string& copy, const std::string& checksum);

// Whether the copy is still there.
bool exists(db::session& s, const std::string& copy);

// Drops the copies (quoted names; retention).
void drop(db::session& s, const std::vector<std::string>& copies);

}  // namespace moonshift::backup::in_database
