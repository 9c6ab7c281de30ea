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
// kept for the process. Asked while `c` is inside a transaction block (where
// a pooler keeps its server), a middleman cannot be probed: it is taken for a
// transaction pooler, which is safe on any connection, and not kept.
std::string detect_pooler(pg_conn* c, const std::string& conninfo, pooler_mode mode, bool in_block);

}  // namespace moonshift::db
