// One connection for the whole run and the one way the host speaks to
// PostgreSQL: statements with bound parameters, SQL scripts, COPY, the
// advisory lock, and every server error mapped once (db::sql_failure, with
// SQLSTATE, position, detail and hint). Transactions are the scoped guards
// of db/transaction.hpp; nothing outside host/db/ writes BEGIN or COMMIT.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/error.hpp"
#include "db/result.hpp"

struct pg_conn;

namespace moonshift::db {

// How to treat a pooler ([project] pooler, docs/poolers.md): `automatic`
// detects a transaction-mode pooler, `transaction` assumes one, `none`
// assumes a direct (or session-mode) connection.
enum class pooler_mode { automatic, transaction, none };
// "auto" | "transaction" | "none"; throws usage_error otherwise.
pooler_mode parse_pooler_mode(const std::string& text);

struct settings {
    std::string url;  // libpq URL or keyword string; "" = PG* variables
    pooler_mode pooler = pooler_mode::automatic;
    std::optional<std::chrono::milliseconds> lock_timeout;
    std::optional<std::chrono::milliseconds> statement_timeout;
    std::chrono::milliseconds connect_timeout{10000};
    // The command will take the run lock (lock()): its idle session connects on a
    // thread beside this one's connection, not after it (10-15 ms of a run).
    bool lock_holder_early = false;
};

// A server error with every field libpq gives, so messages can name the
// file, line and column, the SQLSTATE, the detail and the hint.
struct server_error {
    std::string sqlstate;
    std::string message;
    std::string detail;
    std::string hint;
    std::string context;
    int position = 0;  // 1-based character position in the query, 0 if none
    std::string severity;
};

class sql_failure : public error {
  public:
    sql_failure(server_error e, std::string query);
    const server_error& info() const noexcept { return info_; }
    const std::string& query() const noexcept { return query_; }

  private:
    server_error info_;
    std::string query_;
};

// Parameters in text form; std::nullopt is NULL.
using params = std::vector<std::optional<std::string>>;

inline std::optional<std::string> to_param(const std::string& v) { return v; }
inline std::optional<std::string> to_param(std::string_view v) { return std::string(v); }
inline std::optional<std::string> to_param(const char* v) {
    return v ? std::optional<std::string>(v) : std::nullopt;
}
inline std::optional<std::string> to_param(std::nullopt_t) { return std::nullopt; }
inline std::optional<std::string> to_param(bool v) { return std::string(v ? "t" : "f"); }
std::optional<std::string> to_param(double v);
template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
std::optional<std::string> to_param(T v) {
    return std::to_string(v);
}
template <class T>
std::optional<std::string> to_param(const std::optional<T>& v) {
    return v ? to_param(*v) : std::nullopt;
}

class session {
  public:
    explicit session(const settings& s);
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    // One statement with bound parameters ($1, $2, …), extended protocol.
    template <class... A>
    result query(const std::string& sql, const A&... args) {
        return query_with(sql, params{to_param(args)...});
    }
    result query_with(const std::string& sql, const params& p);
    // The same, naming `shown` in errors, with the error position moved back
    // by `prefix` characters (text the host put in front of the user's).
    result query_shown(const std::string& sql, const params& p, const std::string& shown,
                       int prefix = 0);

    // A host query that runs many times in a run (the catalog image):
    // prepared once per connection and planned once, under `name`; through a
    // transaction pooler, where a prepared statement does not last, sent as
    // query() would.
    result query_prepared(const std::string& name, const std::string& sql, const params& p = {});
    // The same for a large one whose planning costs more than its run: it
    // takes no parameters, which the server plans again for each of a
    // statement's first five runs, but reads `args` as
    // current_setting('moonshift.arg1'), …('moonshift.arg2'), … (text, set
    // for the transaction in the same round trip): planned once, for the
    // connection, from its first run.
    result query_planned_once(const std::string& name, const std::string& sql,
                              const std::vector<std::string>& args);

    // SQL text (one or many statements) with the simple-query protocol.
    void exec_script(const std::string& sql);
    // The same, with the error position moved back by `prefix` characters.
    void exec_script(const std::string& sql, int prefix);

    // The session's settings as the environment made them on connect:
    // RESET ALL (and RESET ROLE), then its lock_timeout and statement_timeout,
    // so that a migration's `SET statement_timeout = 0` ends with it. The
    // SQL alone rides along with a BEGIN (db::transaction's `then`).
    // Through a transaction pooler nothing is set on the session: this is
    // `SET LOCAL` of the timeouts, which every transaction guard sends at
    // its BEGIN, and restore_settings() does nothing.
    std::string restore_settings_sql() const;
    // Through a transaction-mode pooler (docs/poolers.md): a session setting,
    // a session advisory lock or a named prepared statement does not last
    // from one transaction to the next. pooled_because() says how it was
    // found ("" when not pooled). Asked the first time it matters, not on
    // connect: a command that never asks (status, a testdb claim) sends no
    // probe; the transaction guard asks before its BEGIN.
    bool pooled() const { return !pooled_because().empty(); }
    const std::string& pooled_because() const;
    void restore_settings();

    // A transaction block is open (idle in it or failed).
    bool in_transaction() const;
    bool transaction_failed() const;
    // Rolls back whatever transaction block is open: the cleanup of a path
    // that is already failing, e.g. after a migration file's own BEGIN. Never
    // throws; a lost connection shows on the next statement.
    void rollback_open() noexcept;

    // COPY … TO STDOUT: line(data, size) per row without its newline. When
    // line throws, the rest is read and dropped (the connection stays usable)
    // and the exception goes on. Returns the row count.
    long long copy_out(const std::string& sql, const std::string& shown,
                       const std::function<void(const char*, std::size_t)>& line);
    // COPY … FROM STDIN: fill(buffer) appends rows (text format, each ending
    // in "\n") and returns false when there are no more. Returns the count.
    long long copy_in(const std::string& sql, const std::string& shown,
                      const std::function<bool(std::string&)>& fill);

    // The server's backend pid, for lock reports.
    int backend_pid();
    // The server's version as a number (150004).
    int server_version();

    // The run's advisory lock, keyed by the history schema (never through a
    // transaction pooler, where history/'s lease takes its place): held by a second,
    // idle session of its own, which nothing sent on this one can release,
    // and a work key held by this one, which outlives a dead client for as
    // long as the server still runs its statement. Waits up to `wait`,
    // calling `waiting(holder)` about once a second with a sentence naming
    // the session that holds it; throws error(lock_held) on time-out.
    void lock(const std::string& key, std::chrono::milliseconds wait,
              const std::function<void(const std::string&)>& waiting);
    // For a command that will lock(): its second session connects now, on a
    // thread, while this one works (a connection is 10-15 ms of a run).
    // Nothing through a transaction pooler, which lock() refuses.
    void connect_lock_holder_early();
    void unlock(const std::string& key);
    // False when lock() took the work key on this session and the server no
    // longer has it (a script's statement released it): the run must stop.
    // True when the session holds no lock. Throws on a lost connection.
    bool still_holds_lock();

    // A handle that cancels the statement this session is running, from any
    // thread (libpq's PQcancel); the Lua watchdog uses it to stop a script's
    // query past its time budget. Valid while the session lives.
    class canceller {
      public:
        virtual ~canceller() = default;
        // Asks the server to cancel the running statement; false when the
        // request could not be sent. An idle session ignores it.
        virtual bool cancel() noexcept = 0;
    };
    std::shared_ptr<canceller> make_canceller();

    const settings& config() const { return settings_; }

    // The libpq handle, for host/db/ alone (its header is not included
    // anywhere else).
    pg_conn* raw() const;

  private:
    struct holder_tag {};
    // lock()'s second session: connected alone (the URL's secrets are
    // known, the server is the one this session found unpooled).
    session(const settings& s, holder_tag);
    static std::unique_ptr<session> connect_holder(const settings& s);
    void connect(const settings& s);
    std::string timeouts_sql() const;  // "SET lock_timeout = …;SET statement_timeout = …"
    void forget_prepared_after(const std::string& sql);  // query_prepared's, when it may drop them

    settings settings_;
    mutable std::optional<std::string> pooled_because_;  // known once asked: pooled_because()
    struct impl;
    std::unique_ptr<impl> impl_;
};

// The URL with its password replaced, for messages.
std::string redacted(const std::string& url);

// `url` (a URL or keyword string) with another database, as a libpq keyword
// string: passwords stay in it, so redact before printing. Throws
// usage_error when libpq cannot parse it.
std::string with_database(const std::string& url, const std::string& dbname);

// The database a URL or keyword string names (libpq's default, the user's
// name, when it names none). Throws usage_error when libpq cannot parse it.
std::string database_of(const std::string& url);

// The same database URL for people and test suites: `url` with another
// database and without its password (libpq finds that in PGPASSWORD or
// ~/.pgpass), in the form it was written: a postgresql:// URL (also for
// an empty url: the PG* variables fill in the rest), or a keyword string.
std::string shown_with_database(const std::string& url, const std::string& dbname);

// A connection string split for a child process: `conninfo` (libpq keywords,
// quoted) holds everything but the password (and, when there is one, the
// passfile keyword: the caller makes its own), which never goes on a command
// line (docs/configuration.md, "What is secret"). Throws usage_error when
// libpq cannot parse it; an empty url gives two empty strings.
struct split_connection {
    std::string conninfo;
    std::string password;  // empty when the string has none
};
split_connection without_password(const std::string& url);

// Where a connection string leads, as libpq reads it (a URL or keyword
// string): host (or socket directory), port and database, each "" when left
// to libpq's defaults. Names a fleet's target without its password; throws
// usage_error when libpq cannot parse it.
struct endpoint {
    std::string host, port, dbname, user;
};
endpoint endpoint_of(const std::string& url);

// Registers the URL's password (as libpq reads it, and as written) with
// text::add_secret, so that no later message shows it, whole or in pieces.
void remember_secrets(const std::string& url);

// Connects once, retrying until the server accepts connections or `timeout`.
void wait_until_ready(const std::string& url, std::chrono::milliseconds timeout);

}  // namespace moonshift::db
