// The libpq calls under db::session (and, until they move to it, of the Lua db module) on the
// session's connection: one statement with bound text parameters, plain commands, and the COPY
// protocol. Every server error becomes db::sql_failure with all of libpq's fields.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "db/pq_lazy.hpp"
#include "db/session.hpp"

namespace moonshift::db::pq {

struct result_deleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using owned_result = std::unique_ptr<PGresult, result_deleter>;
using result = db::result;
using params = db::params;

// Runs one statement with the extended protocol. On failure the error names
// `shown` as the query, with the error position moved back by `prefix`
// characters (the DECLARE ... FOR that db:each puts in front).
result exec(PGconn* c, const std::string& sql, const params& p, const std::string& shown,
            int prefix = 0);
inline result exec(PGconn* c, const std::string& sql, const params& p = {}) {
    return exec(c, sql, p, sql);
}

// A named prepared statement: prepared on first use, planned once for the
// connection (the caller knows it is not pooled).
result exec_prepared(PGconn* c, const std::string& name, const std::string& sql, bool prepare,
                     const params& p = {});

// `script` (statements for the simple protocol) and then the named
// prepared statement without parameters, in one round trip: the result of
// the statement. Prepares it first when `prepare` (a round trip of its own);
// without a name, `sql` itself follows the script.
result exec_prepared_after(PGconn* c, const std::string& name, const std::string& sql, bool prepare,
                           const std::string& script);

// Runs host SQL (savepoints, BEGIN/COMMIT) with the simple protocol.
// `prefix`: characters the host put before the user's script, taken off the
// error position so that it counts from the script's start.
void command(PGconn* c, const std::string& sql, int prefix = 0);
// The same, ignoring failure: for cleanup on a path that is already failing.
void command_quietly(PGconn* c, const std::string& sql) noexcept;

// INTRANS or INERROR: a transaction block is open.
bool in_transaction(PGconn* c);
bool transaction_failed(PGconn* c);

// COPY ... TO STDOUT: calls line(data, size) per row, without the newline.
// When line throws, the rest of the data is read and dropped (so the
// connection stays usable) and the exception goes on. Returns the row count.
long long copy_out(PGconn* c, const std::string& sql, const std::string& shown,
                   const std::function<void(const char*, std::size_t)>& line);

// COPY ... FROM STDIN: fill(buffer) appends rows (text format, each ending
// in "\n") and returns false when there are no more. When fill throws, the
// copy is ended with an error and the exception goes on. Returns the count.
long long copy_in(PGconn* c, const std::string& sql, const std::string& shown,
                  const std::function<bool(std::string&)>& fill);

}  // namespace moonshift::db::pq
