// Hints for the server errors whose cause is known but that PostgreSQL sends without one:
// a missing grant, a missing role, a read-only session, a server that wants SSL.
#pragma once
#include <string>

#include "db/session.hpp"

namespace moonshift::db {

// What the connection says about read-only sessions (libpq's reported parameters).
struct connection_facts {
    std::string role;                // the connected user
    bool standby = false;            // in_hot_standby = on
    bool default_read_only = false;  // default_transaction_read_only = on
};
// The hint for a server error (e.hint when the server gave one). A read-only transaction gets
// one only when the connection explains it: moonshift's own read-only phases are named above.
std::string hint_for(const server_error& e, const connection_facts& c);
// The hint for a failed connection, from libpq's message.
std::string connect_hint(const std::string& message);

}  // namespace moonshift::db
