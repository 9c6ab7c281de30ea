// The scoped transaction and savepoint guards (see transaction.hpp).
#include "db/transaction.hpp"

#include "common/interrupt.hpp"
#include "db/pq.hpp"

namespace moonshift::db {

transaction::transaction(session& s, mode m, const std::string& then) : s_(s) {
    if (m == mode::join && s_.in_transaction()) {
        joined_ = true;
        if (!then.empty()) s_.exec_script(then);
        return;
    }
    // Through a transaction pooler the session's timeouts are SET LOCAL in
    // every block (session::restore_settings_sql).
    std::string set = then;
    if (s_.pooled() && then.rfind(s_.restore_settings_sql(), 0) != 0) {
        // After `then`, which may be SET TRANSACTION (it must come first).
        const auto local = s_.restore_settings_sql();
        set = then.empty() ? local : local.empty() ? then : then + ";" + local;
    }
    std::string begin = set.empty() ? std::string("BEGIN") : "BEGIN;" + set;
    if (m == mode::deferred) {
        pending_begin_ = std::move(begin);
        return;
    }
    s_.exec_script(begin);
    open_ = true;
}

void transaction::commit_script(const std::string& script, const std::string& with) {
    // A newline ends a trailing `--` comment; `;` a statement left open.
    const std::string tail = "\n;" + (with.empty() ? std::string() : with + ";") + "COMMIT";
    if (joined_) {
        s_.exec_script(script + "\n;" + with);
        return;
    }
    std::string head;
    if (pending_begin_)
        head = *pending_begin_ + ";\n";
    else if (!open_)
        throw error(exit_code::migration_failed, "commit of a transaction that is not open");
    pending_begin_.reset();
    open_ = false;  // whatever happens now, the block ends here
    try {
        s_.exec_script(head + script + tail, static_cast<int>(head.size()));
    } catch (...) {
        s_.rollback_open();  // the failed block, when the BEGIN went through
        throw;
    }
}

transaction::~transaction() {
    if (open_) s_.rollback_open();
}

void transaction::commit(const std::string& with) {
    if (joined_) {
        if (!with.empty()) s_.exec_script(with);
        return;
    }
    if (pending_begin_) {
        commit_script("", with);
        return;
    }
    if (!open_)
        throw error(exit_code::migration_failed, "commit of a transaction that is not open");
    // Whatever happens now, the block is over: COMMIT of a failed block rolls
    // it back, and a failed `with` makes the server end it on COMMIT too.
    open_ = false;
    try {
        s_.exec_script(with.empty() ? std::string("COMMIT") : with + ";COMMIT");
    } catch (...) {
        s_.rollback_open();  // `with` failed: the COMMIT after it never ran
        throw;
    }
}

void transaction::rollback() {
    if (!open_) return;
    open_ = false;
    interrupt::cleanup allowed;  // a rollback runs after a signal too
    s_.exec_script("ROLLBACK");
}

savepoint::savepoint(session& s, std::string name, const std::string& then)
    : s_(s), name_(std::move(name)) {
    s_.exec_script("SAVEPOINT " + name_ + (then.empty() ? "" : ";" + then));
    open_ = true;
}

savepoint::~savepoint() {
    if (!open_ || !s_.in_transaction()) return;
    pq::command_quietly(s_.raw(),
                        "ROLLBACK TO SAVEPOINT " + name_ + "; RELEASE SAVEPOINT " + name_);
}

void savepoint::release() {
    if (!open_) return;
    open_ = false;
    s_.exec_script("RELEASE SAVEPOINT " + name_);
}

void savepoint::rollback() {
    if (!open_) return;
    open_ = false;
    interrupt::cleanup allowed;
    s_.exec_script("ROLLBACK TO SAVEPOINT " + name_ + "; RELEASE SAVEPOINT " + name_);
}

subtransaction::subtransaction(session& s, std::string name, const std::string& then)
    : s_(s), name_(std::move(name)), own_(!s.in_transaction()) {
    try {
        std::string set = own_ && s_.pooled() ? s_.restore_settings_sql() : std::string();
        if (!then.empty()) set += (set.empty() ? "" : ";") + then;
        s_.exec_script((own_ ? "BEGIN;SAVEPOINT " : "SAVEPOINT ") + name_ +
                       (set.empty() ? "" : ";" + set));
    } catch (...) {
        if (own_) s_.rollback_open();  // the block may have opened before `then` failed
        throw;
    }
    open_ = true;
}

subtransaction::~subtransaction() {
    if (!open_) return;
    if (own_)
        s_.rollback_open();
    else if (s_.in_transaction())
        pq::command_quietly(s_.raw(),
                            "ROLLBACK TO SAVEPOINT " + name_ + "; RELEASE SAVEPOINT " + name_);
}

void subtransaction::release() {
    if (!open_) return;
    open_ = false;
    try {
        s_.exec_script("RELEASE SAVEPOINT " + name_ + (own_ ? ";COMMIT" : ""));
    } catch (...) {
        if (own_) s_.rollback_open();  // the COMMIT after it never ran
        throw;
    }
}

void subtransaction::rollback() {
    if (!open_) return;
    open_ = false;
    interrupt::cleanup allowed;
    s_.exec_script(own_ ? "ROLLBACK"
                        : "ROLLBACK TO SAVEPOINT " + name_ + "; RELEASE SAVEPOINT " + name_);
}

}  // namespace moonshift::db
