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

// True while nothing image() reads changed since `image` was taken (its
// census and snapshot, kept in it): it can stand for an image taken now.
bool still_current(db::session& s, const nlohmann::json& image);

// The image after a migration from the one before it (taken in the same
// session, nothing but the migration in between: see still_current), read
// only where this transaction, or a newer one, wrote, and where objects
// went: O(what changed) on the server, where image() is O(the catalog).
// before_part and after_part hold what changed (and, unchanged on both
// sides, the tables of changed parts): reverse_of(before_part, after_part)
// is reverse_of(before, after) without the unchanged rest.
struct image_delta {
    nlohmann::json after, before_part, after_part;
};
image_delta image_after(db::session& s, const std::vector<std::string>& exclude_schemas,
                        nlohmann::json before);

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
