// SQL migrations in the run lifecycle: one in a transaction with its
// history row, one that runs statement by statement outside a transaction
// (resumable from its checkpoint), and the messages of their failures.
#include <chrono>

#include "common/text.hpp"
#include "db/transaction.hpp"
#include "engine/detail.hpp"
#include "engine/engine.hpp"
#include "safety/guard.hpp"
#include "sql/sql.hpp"

namespace moonshift::engine {
using detail::describe;
using detail::ms_since;

history::applied engine::applied_row(const catalog::migration& m, long long run_id) const {
    history::applied row;
    row.version = m.version;
    row.name = m.name;
    row.checksum = m.checksum;
    row.applied_by = history::current_actor();
    row.environment = ctx_.env.name;
    row.run_id = run_id;
    return row;
}

std::optional<std::size_t> engine::locate_failing_statement(const std::string& sql) {
    std::vector<sql::statement> statements;
    try {
        statements = sql::split(sql);
    } catch (const error&) {
        return std::nullopt;  // the server's message is all there is
    }
    if (statements.empty()) return std::nullopt;
    if (statements.size() == 1) return statements[0].offset;
    std::optional<std::size_t> found;
    try {
        db::transaction replay(*session_);  // rolled back: only finds the statement
        for (const auto& st : statements) {
            try {
                session_->exec_script(st.text);
            } catch (const db::sql_failure&) {
                found = st.offset;
                break;
            }
        }
        replay.rollback();
    } catch (const db::sql_failure&) {
        return found;  // the connection is gone: what was found so far
    }
    return found;
}

void engine::fail_migration(const catalog::migration& m, const std::string& label,
                            const std::string& sql, std::optional<std::size_t> at,
                            const db::sql_failure& f, long long duration_ms) {
    std::size_t base_offset = at.value_or(0);
    std::string text = describe_failure(label, sql, at, f.info());
    auto j = describe(m);
    j["duration_ms"] = duration_ms;
    j["error"] = {{"message", f.info().message},
                  {"sqlstate", f.info().sqlstate},
                  {"detail", f.info().detail},
                  {"hint", f.info().hint},
                  {"file", label}};
    if (f.info().position > 0 || at) {
        auto off = base_offset +
                   (f.info().position > 0
                        ? text::char_to_byte_offset(std::string_view(sql).substr(base_offset),
                                                    f.info().position - 1)
                        : 0);
        auto pos = text::position_of(sql, off);
        j["error"]["line"] = pos.line;
        j["error"]["column"] = pos.column;
    }
    emit("migration.failed", j);
    throw error(exit_code::migration_failed, text);
}

void engine::apply_one(const catalog::migration& m, long long run_id, bool in_outer_transaction) {
    emit("migration.start", describe(m));
    if (needs_lua(m)) {  // a .lua migration, or a folder with Lua parts (lua_steps.cpp)
        apply_lua(m, run_id, in_outer_transaction);
        return;
    }
    auto t0 = std::chrono::steady_clock::now();
    // A file with its own BEGIN/COMMIT runs as it is, outside moonshift's
    // transaction (never nested in it), like a no-transaction one.
    if (m.dir.no_transaction || m.dir.own_transaction) {
        apply_no_transaction(m, run_id);
        return;
    }
    auto row = applied_row(m, run_id);
    // --single-transaction: the outer guard (up_checked) commits or rolls back.
    auto how = in_outer_transaction ? db::transaction::mode::join : db::transaction::mode::begin;
    for (int attempt = 1;; ++attempt) {
        db::transaction tx(*session_, how);
        try {
            session_->exec_script(m.up_sql);
        } catch (const db::sql_failure& f) {
            // lock_timeout fired: rolled back, and tried again after a pause (safety_steps.cpp).
            if (retry_on_lock_timeout(m, f, attempt, tx)) continue;
            std::optional<std::size_t> at;
            if (f.info().position > 0) at = 0;  // positions count from the start of the file
            if (!tx.joined()) {
                session_->rollback_open();
                bool connected =
                    !f.info().sqlstate.empty() && f.info().sqlstate.rfind("08", 0) != 0;
                if (!at && connected) at = locate_failing_statement(m.up_sql);
            }
            fail_migration(m, m.up_label, m.up_sql, at, f, ms_since(t0));
        }
        if (!m.verify_sql.empty()) run_sql_verify(m, true);  // a failure rolls the change back
        row.duration_ms = ms_since(t0);
        // The history row commits with the change (dbmate's habit): both or neither.
        tx.commit(store_->record_sql(row));
        break;
    }
    auto j = describe(m);
    j["duration_ms"] = row.duration_ms;
    emit("migration.applied", j);
}

void engine::apply_no_transaction(const catalog::migration& m, long long run_id) {
    auto t0 = std::chrono::steady_clock::now();
    auto statements = sql::split(m.up_sql);
    std::size_t done = 0;
    if (auto cp = store_->checkpoint(m.version, "statements");
        cp && cp->value("checksum", "") == m.checksum) {
        done = cp->value("done", 0);
        log("info", m.up_label + ": resuming after statement " + std::to_string(done) + " of " +
                        std::to_string(statements.size()));
    }
    // The server says whether a statement left the file's own transaction
    // (BEGIN … COMMIT) open.
    for (std::size_t i = done; i < statements.size(); ++i) {
        const auto& st = statements[i];
        // An invalid index left by a failed CREATE INDEX CONCURRENTLY goes first.
        if (guard_)
            if (auto note = guard_->before_statement(st.text); !note.empty())
                log("info", m.up_label + ": " + note);
        try {
            session_->exec_script(st.text);
        } catch (const db::sql_failure& f) {
            session_->rollback_open();  // the file's own transaction, when one is open
            fail_migration(m, m.up_label, m.up_sql, std::optional<std::size_t>(st.offset), f,
                           ms_since(t0));
        }
        // Each completed statement is recorded, so a failure or a kill
        // resumes at the statement that did not finish. Inside the file's own
        // transaction it waits for the COMMIT: a rollback undoes the
        // statements, and the resume starts again at their BEGIN.
        if (!session_->in_transaction())
            store_->save_checkpoint(m.version, "statements",
                                    {{"done", i + 1}, {"checksum", m.checksum}}, run_id);
    }
    if (session_->in_transaction()) {
        session_->rollback_open();
        throw error(exit_code::migration_failed,
                    m.up_label +
                        ": the file ends inside a transaction it opened (BEGIN without COMMIT); "
                        "rolled back",
                    "end the file's transaction with COMMIT");
    }
    if (!m.verify_sql.empty()) run_sql_verify(m, false);
    // The last checkpoint says every statement ran: if the process dies
    // before the history row below commits, the next `up` resumes past the
    // end and only records the row. The window without either is the time
    // between the last statement's commit and its checkpoint.
    auto row = applied_row(m, run_id);
    row.duration_ms = ms_since(t0);
    // One simple query: PostgreSQL commits its statements together (its
    // implicit transaction), in one round trip.
    session_->exec_script(store_->record_sql(row) + ";" +
                          store_->clear_checkpoint_sql(m.version, "statements"));
    auto j = describe(m);
    j["duration_ms"] = row.duration_ms;
    j["no_transaction"] = true;
    emit("migration.applied", j);
}

}  // namespace moonshift::engine
