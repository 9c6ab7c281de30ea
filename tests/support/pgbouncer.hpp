// A real PgBouncer in transaction mode in front of the test server, for the
// pooler tests (docs/poolers.md): the Debian package's /usr/sbin/pgbouncer,
// started by the test on 127.0.0.1 and a free port, with its configuration,
// socket and log in a temporary directory, stopped by its PID.
#pragma once
#include <string>

#include "support/harness.hpp"

namespace moonshift::test {

// "" when this machine has /usr/sbin/pgbouncer (and, as root, a `postgres`
// user to run it as), else why not: for skip_when.
std::string pgbouncer_missing();

struct pgbouncer {
    // Starts it in front of the server of `server_url` (its host, port, user
    // and password; every database name passes through) and waits until it
    // accepts connections. Throws std::runtime_error with its log when it
    // does not start.
    explicit pgbouncer(const std::string& server_url);
    ~pgbouncer();  // SIGTERM to its PID, and waits for it
    pgbouncer(const pgbouncer&) = delete;
    pgbouncer& operator=(const pgbouncer&) = delete;

    // A URL that reaches `dbname` through it (no password: auth_type = trust).
    std::string url(const std::string& dbname) const;
    std::string log() const;

    temp_dir dir;
    std::string user;  // the server's user, which clients log in as
    int port = 0;
    child process;
};

}  // namespace moonshift::test
