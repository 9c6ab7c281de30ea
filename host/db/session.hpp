// One libpqxx connection for the whole run: timeouts, application_name, the
// advisory lock, and the mapping of server errors to positions in files.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <string>

#include "common/error.hpp"

struct pg_conn;

namespace moonshift::db {

struct settings {
    std::string url;  // libpq URL or keyword string; "" = PG* variables
    std::optional<std::chrono::milliseconds> lock_timeout;
    std::optional<std::chrono::milliseconds> statement_timeout;
    std::chrono::milliseconds connect_timeout{10000};
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

class session {
  public:
    explicit session(const settings& s);
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    pqxx::connection_base& conn();
    pg_conn* raw();

    // Runs SQL text (one or many statements) with the simple-query protocol
    // and throws sql_failure with the server's error fields on failure.
    void exec_script(const std::string& sql);

    // The server's backend pid, for lock reports.
    int backend_pid();

    // Session-level advisory lock keyed by the history schema. Waits up to
    // `wait`, calling `waiting(holder)` about once a second with a sentence
    // naming the session that holds it; throws error(lock_held) on time-out.
    void lock(const std::string& key, std::chrono::milliseconds wait,
              const std::function<void(const std::string&)>& waiting);
    void unlock(const std::string& key);

    const settings& config() const { return settings_; }

  private:
    settings settings_;
    struct impl;
    std::unique_ptr<impl> impl_;
};

// The URL with its password replaced, for messages.
std::string redacted(const std::string& url);

// Connects once, retrying until the server accepts connections or `timeout`.
void wait_until_ready(const std::string& url, std::chrono::milliseconds timeout);

}  // namespace moonshift::db
