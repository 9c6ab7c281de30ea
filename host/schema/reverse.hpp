// The derived reverse of a migration: what the catalog held before it ran
// (its "image", keyed by object identity so that a rename is seen as a
// rename) compared with what it holds after, turned into the SQL that takes
// the schema back. Read-only: the engine runs the SQL and history/ records it.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "db/session.hpp"

namespace moonshift::schema {

// Tables, views, columns (by attnum), indexes, constraints, policies,
// triggers, functions, sequences, enum types and table grants of every
// schema but the system ones and those excluded, keyed by oid. One round trip.
nlohmann::json image(db::session& s, const std::vector<std::string>& exclude_schemas);

// A short text that changes whenever anything image() reads changes: an
// image taken earlier still holds while the fingerprint is the same. Much
// cheaper than an image (no definitions are printed).
std::string fingerprint(db::session& s);

struct reverse_plan {
    // Run first, in order: drops what was added, restores what was altered,
    // re-creates what was dropped (columns nullable, without constraints).
    std::vector<std::string> statements;
    // Run after the data came back (from a backup): NOT NULL, constraints,
    // indexes, triggers, policies, grants of what was re-created.
    std::vector<std::string> finish;
    // What the reverse cannot restore from the catalog, one phrase each.
    std::vector<std::string> irreversible;

    bool empty() const { return statements.empty() && finish.empty(); }
    nlohmann::json to_json() const;
};

// The SQL that turns the catalog `after` back into `before` (both image()).
// only_ours: objects that appeared without being created by the current
// transaction (another session's, meanwhile) are left alone; false where the
// migration ran in a savepoint (the rehearsal), whose objects carry the
// subtransaction's id.
reverse_plan reverse_of(const nlohmann::json& before, const nlohmann::json& after,
                        bool only_ours = true);

}  // namespace moonshift::schema
