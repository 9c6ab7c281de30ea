// Transaction-mode poolers (PgBouncer, Supavisor): detection, private to
// host/db/ (session.hpp carries the mode and what was found).
#pragma once
#include <string>

#include "db/session.hpp"

namespace moonshift::db {

// Why the connection `c` (opened from `conninfo`) goes through a
// transaction-mode pooler, or "" when it does not. `automatic` looks at the
// host (Supabase's pooler on port 6543), then, when a middleman stands
// between client and server, probes with a second connection; the answer is
// kept for the process.
std::string detect_pooler(pg_conn* c, const std::string& conninfo, pooler_mode mode);

}  // namespace moonshift::db
