// Resuming a no-transaction migration after a crash: a statement that cannot
// run in a transaction block (CREATE INDEX CONCURRENTLY, DROP INDEX
// CONCURRENTLY, CREATE DATABASE, ...) cannot commit with its checkpoint, so
// the run records that it started it; the next run asks the catalog whether
// it took effect before running it again (docs/safety.md, "Exactly once").
#pragma once
#include <optional>
#include <string>

#include "db/session.hpp"

namespace moonshift::safety {

// What the catalog says of a statement a dead run started:
//   done: it took effect (the index exists and is valid, the database
//         exists, the dropped object is gone): skip it;
//   redo: it did not, or it is safe to run again (VACUUM, REINDEX, ALTER
//         SYSTEM); an invalid index it left is dropped by the guard first;
//   unknown: the catalog cannot tell (an index without a name, SQL the
//         bundled parser does not know): it runs again, and says so.
enum class effect { done, redo, unknown };

struct resume_check {
    effect verdict = effect::unknown;
    std::string note;  // a sentence for the log
};

resume_check took_effect(db::session& s, const std::string& statement_sql);

}  // namespace moonshift::safety
