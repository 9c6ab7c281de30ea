// Scoped transactions (dbmate's doTransaction, as objects): a guard opens
// the block, the caller commits explicitly, and the destructor rolls back
// whatever was not committed — on an exception, an early return, anything.
#pragma once
#include <optional>
#include <string>

#include "db/session.hpp"

namespace moonshift::db {

class transaction {
  public:
    enum class mode {
        begin,  // open a block; the session must have none open
        join,   // inside an open block (--single-transaction) do nothing: the
                // outer guard commits or rolls back; otherwise as begin
        // BEGIN (and `then`) wait to ride with the first thing sent: with
        // commit_script, the whole block is one round trip.
        deferred,
    };
    // `then` runs in the same round trip as BEGIN (e.g. SET LOCAL …).
    explicit transaction(session& s, mode m = mode::begin, const std::string& then = {});
    ~transaction();
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;

    // COMMIT; `with` runs first in the same round trip (a history row).
    void commit(const std::string& with = {});
    // `script`, then `with`, then COMMIT, after the BEGIN of a deferred guard:
    // one round trip. The simple-query protocol stops at the first error,
    // which leaves the block failed; it is rolled back and the error thrown,
    // its position counted from the start of `script`.
    void commit_script(const std::string& script, const std::string& with = {});
    // ROLLBACK now (the destructor would do it too, silently).
    void rollback();
    // True when this guard joined an outer block and owns nothing.
    bool joined() const { return joined_; }
    bool open() const { return open_; }

  private:
    session& s_;
    bool joined_ = false;
    bool open_ = false;
    std::optional<std::string> pending_begin_;  // a deferred guard's BEGIN and `then`
};

// A savepoint inside the open block: release() keeps its work, rollback()
// (or the destructor) undoes it and leaves the outer block usable.
class savepoint {
  public:
    savepoint(session& s, std::string name, const std::string& then = {});
    ~savepoint();
    savepoint(const savepoint&) = delete;
    savepoint& operator=(const savepoint&) = delete;

    void release();
    void rollback();

  private:
    session& s_;
    std::string name_;
    bool open_ = false;
};

// A savepoint in the open block, or in a block of its own when none is open
// (BEGIN and SAVEPOINT in one round trip): for work that must run in a
// subtransaction either way, e.g. under SET LOCAL transaction_read_only,
// which a subtransaction cannot switch back. release() keeps the work (and
// commits a block of its own); rollback() or the destructor undoes it.
class subtransaction {
  public:
    subtransaction(session& s, std::string name, const std::string& then = {});
    ~subtransaction();
    subtransaction(const subtransaction&) = delete;
    subtransaction& operator=(const subtransaction&) = delete;

    void release();
    void rollback();
    // True when it opened the block it runs in.
    bool owns_block() const { return own_; }

  private:
    session& s_;
    std::string name_;
    bool own_ = false;
    bool open_ = false;
};

}  // namespace moonshift::db
