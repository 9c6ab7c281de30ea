// Flyway's repeatable (R__) migrations in the history schema: the table
// `repeatables` (migrations/0002_repeatables.sql) is read and written here
// only. A repeatable is applied again whenever its checksum differs from the
// one recorded.
#pragma once
#include <map>
#include <string>

#include "db/session.hpp"
#include "history/history.hpp"

namespace moonshift::history {

struct repeatable {
    std::string name, checksum;
    std::string how = "applied";  // "applied", or "imported" from another tool's history
    std::string applied_by, environment;
    long long duration_ms = 0;
    long long run_id = 0;
};

// name → checksum of every recorded repeatable; empty before the table exists.
std::map<std::string, std::string> recorded_repeatables(db::session& s, const store& st);

// The statement that records `r`, for the caller to run in the transaction
// of its change (or of an import). "applied" replaces an earlier row of the
// same name; "imported" leaves one that is there alone.
std::string record_repeatable_sql(const store& st, const repeatable& r);

}  // namespace moonshift::history
