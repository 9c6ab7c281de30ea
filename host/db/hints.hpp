// Hints for the server errors whose cause is known but that PostgreSQL sends without one:
// a missing grant, a missing role, a read-only session, a server that wants SSL.
#pragma once
#include <string>

#include "db/session.hpp"

namespace moonshift::db {

// The hint for a server error (e.hint when the server gave one); role is the connected user.
std::string hint_for(const server_error& e, const std::string& role);
// The hint for a failed connection, from libpq's message.
std::string connect_hint(const std::string& message);

}  // namespace moonshift::db
