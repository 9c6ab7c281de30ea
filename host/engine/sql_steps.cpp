// SQL migrations in the run lifecycle: one in a transaction with its
// history row, one that runs statement by statement outside a transaction
// (resumable from its checkpoint), and the messages of their failures.
#include <chrono>

#include "common/interrupt.hpp"
#include "common/text.hpp"
#include "db/transaction.hpp"
#include "engine/detail.hpp"
#include "engine/engine.hpp"
#include "engine/foreign_history.hpp"
#include "safety/guard.hpp"
#include "safety/resume.hpp"
#include "sql/sql.hpp"
#include "sql/statement_kind.hpp"

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

std::string engine::history_add_sql(const catalog::migration& m, const history::applied& row) {
    auto sql = store_->record_sql(row);
    for (const auto& tool : ctx_.cfg.keep_history) sql += ";" + foreign::applied_sql(tool, m);
    return sql;
}

std::string engine::history_remove_sql(const catalog::migration& m, const std::string& version) {
    auto sql = store_->remove_sql(version);
    for (const auto& tool : ctx_.cfg.keep_history) sql += ";" + foreign::reverted_sql(tool, m);
    return sql;
}

void engine::prepare_kept_histories(const catalog::catalog& cat) {
    for (const auto& tool : ctx_.cfg.keep_history) foreign::check_keepable(tool, cat);
    for (const auto& tool : ctx_.cfg.keep_history) foreign::ensure_table(*session_, tool);
}

std::optional<std::size_t> engine::locate_failing_statement(const std::string& sql) {
    // After SIGINT/SIGTERM nothing is replayed: the cancelled statement would run again.
    if (interrupt::stop_requested()) return std::nullopt;
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
    std::string text = describe_failure(label, sql, at, f.info());
    auto j = describe(m);
    j["duration_ms"] = duration_ms;
    j["error"] = {{"message", f.info().message},
                  {"sqlstate", f.info().sqlstate},
                  {"detail", f.info().detail},
                  {"hint", f.info().hint},
                  {"file", label}};
    if (auto off = failure_offset(sql, at, f.info())) {
        auto pos = text::position_of(sql, *off);
        j["error"]["line"] = pos.line;
        j["error"]["column"] = pos.column;
    }
    emit("migration.failed", j);
    throw error(exit_code::migration_failed, text);
}

void engine::apply_one(const catalog::migration& m, long long run_id, bool in_outer_transaction) {
    emit("migration.start", describe(m));
    // Each migration starts from the environment's settings, whatever an
    // earlier one SET (statement_timeout = 0, a role): with the BEGIN of its
    // transaction, or on their own before the others.
    const bool own_block = !needs_lua(m) && !m.dir.no_transaction && !m.dir.own_transaction;
    if (!own_block) session_->restore_settings();
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
    // With a down script, which reverts it, no reverse is derived; then,
    // unless it has a verification, the migration, its history row and the
    // commit go in one round trip.
    const bool derive = m.down.empty();
    const bool one_trip = !derive && m.verify_sql.empty();
    // --single-transaction: the outer guard (up_checked) commits or rolls back.
    auto how = in_outer_transaction ? db::transaction::mode::join
               : one_trip           ? db::transaction::mode::deferred
                                    : db::transaction::mode::begin;
    for (int attempt = 1;; ++attempt) {
        // Before the run's last commit, no wait for the WAL flush: the WAL
        // keeps the commits' order, so a server crash loses at most the run's
        // last few, each with its history row (docs/safety.md, "Durability").
        db::transaction tx(*session_, how,
                           session_->restore_settings_sql() +
                               (relaxed_commit_ ? ";SET LOCAL synchronous_commit = off" : ""));
        nlohmann::json before;
        // The catalog before it, for its derived reverse (reverse_steps.cpp):
        // a failure there is moonshift's, not the file's, and names no line of it.
        if (derive) before = image_before(m);
        try {
            if (one_trip) {
                row.reverse = "down script";
                row.duration_ms = -1;  // measured by the server (history::applied)
                tx.commit_script(m.up_sql, history_add_sql(m, row));
                row.duration_ms = ms_since(t0);
                break;
            }
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
        row.reverse = derive ? derive_reverse(m, std::move(before)) : nlohmann::json("down script");
        row.duration_ms = ms_since(t0);
        // The history row commits with the change (dbmate's habit): both or
        // neither; the image after it stands for the catalog once committed.
        std::optional<nlohmann::json> image;
        image.swap(last_image_);
        tx.commit(history_add_sql(m, row));
        last_image_ = std::move(image);
        break;
    }
    auto j = describe(m);
    j["duration_ms"] = row.duration_ms;
    emit("migration.applied", j);
}

namespace {

// How a statement of a no-transaction file runs (docs/safety.md, "Exactly once").
enum class step_kind {
    with_checkpoint,  // with its checkpoint, in one simple query: one implicit transaction
    alone,            // cannot run in a transaction block: "started" is recorded first
    control,          // BEGIN, ROLLBACK, … of the file's own transaction
    in_block,         // inside the file's own transaction: its COMMIT carries the checkpoint
};

// The file's statements with their flags; when the bundled parser does not
// know the SQL, the split statements without flags (each runs alone).
std::vector<sql::statement> no_transaction_statements(const catalog::migration& m, bool& parsed) {
    sql::parse_options o;
    o.trees = false;
    try {
        parsed = true;
        return sql::parse(m.up_sql, m.up_label, o).statements;
    } catch (const sql::parse_error&) {
        parsed = false;
        return sql::split(m.up_sql);
    }
}

step_kind kind_of(const sql::statement& st, bool parsed, bool in_block) {
    if (st.transaction_control || sql::looks_like_transaction_control(st.text))
        return step_kind::control;
    if (in_block) return step_kind::in_block;
    // CALL and DO may commit inside (a procedure with COMMIT), which an
    // implicit transaction refuses.
    if (!parsed || st.no_transaction || st.kind == "CallStmt" || st.kind == "DoStmt")
        return step_kind::alone;
    return step_kind::with_checkpoint;
}

}  // namespace

// Where a no-transaction migration resumes: the first statement not known to
// be done. A statement that a dead run started alone is checked against the
// catalog (safety/resume).
std::size_t engine::resume_point(const catalog::migration& m,
                                 const std::vector<sql::statement>& statements, long long run_id) {
    auto cp = store_->checkpoint(m.version, "statements");
    if (!cp) return 0;
    if (cp->value("checksum", "") != m.checksum) {
        log("warn", m.up_label +
                        ": the file changed since the run that stopped in it; starting "
                        "again from statement 1 (its first statements may have run)");
        return 0;
    }
    std::size_t done = cp->value("done", 0);
    if (cp->contains("started") && (*cp)["started"].get<std::size_t>() == done &&
        done < statements.size()) {
        auto check = safety::took_effect(*session_, statements[done].text);
        if (!check.note.empty()) log("info", m.up_label + ": " + check.note);
        if (check.verdict == safety::effect::done) {
            ++done;
            store_->save_checkpoint(m.version, "statements",
                                    {{"done", done}, {"checksum", m.checksum}}, run_id);
        }
    }
    if (done > 0)
        log("info", m.up_label + ": resuming after statement " + std::to_string(done) + " of " +
                        std::to_string(statements.size()));
    return done;
}

void engine::apply_no_transaction(const catalog::migration& m, long long run_id) {
    auto t0 = std::chrono::steady_clock::now();
    bool parsed = true;
    auto statements = no_transaction_statements(m, parsed);
    std::size_t done = resume_point(m, statements, run_id);
    auto position = [&](std::size_t n) {
        return nlohmann::json{{"done", n}, {"checksum", m.checksum}};
    };
    for (std::size_t i = done; i < statements.size(); ++i) {
        const auto& st = statements[i];
        auto kind = kind_of(st, parsed, session_->in_transaction());
        // An invalid index left by a failed CREATE INDEX CONCURRENTLY goes first.
        if (guard_ && kind == step_kind::alone)
            if (auto note = guard_->before_statement(st.text); !note.empty())
                log("info", m.up_label + ": " + note);
        // Every statement is recorded as done in the same transaction that
        // commits it, so a kill at any moment neither loses nor repeats one;
        // one that cannot run in a transaction is recorded as started.
        std::string sql = st.text;
        if (kind == step_kind::with_checkpoint)
            sql += ";\n" +
                   store_->save_checkpoint_sql(m.version, "statements", position(i + 1), run_id);
        else if (kind == step_kind::control && session_->in_transaction() &&
                 sql::ends_transaction_block(st.text))
            sql = store_->save_checkpoint_sql(m.version, "statements", position(i + 1), run_id) +
                  ";\n" + st.text;
        else if (kind == step_kind::alone) {
            auto started = position(i);
            started["started"] = i;
            store_->save_checkpoint(m.version, "statements", started, run_id);
        }
        try {
            session_->exec_script(sql);
        } catch (const db::sql_failure& f) {
            session_->rollback_open();  // the file's own transaction, when one is open
            fail_migration(m, m.up_label, m.up_sql, std::optional<std::size_t>(st.offset), f,
                           ms_since(t0));
        }
        if (kind == step_kind::alone ||
            (kind == step_kind::control && !session_->in_transaction() &&
             !sql::ends_transaction_block(st.text)))
            store_->save_checkpoint(m.version, "statements", position(i + 1), run_id);
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
    // end and only records the row.
    auto row = applied_row(m, run_id);
    row.duration_ms = ms_since(t0);
    row.reverse = {{"sql", nlohmann::json::array()},
                   {"finish", nlohmann::json::array()},
                   {"data", nlohmann::json::array()},
                   {"irreversible",
                    {"it ran outside a transaction, so no image of the catalog before it was "
                     "taken"}}};
    // One simple query: PostgreSQL commits its statements together (its
    // implicit transaction), in one round trip.
    session_->exec_script(history_add_sql(m, row) + ";" +
                          store_->clear_checkpoint_sql(m.version, "statements"));
    auto j = describe(m);
    j["duration_ms"] = row.duration_ms;
    j["no_transaction"] = true;
    emit("migration.applied", j);
}

}  // namespace moonshift::engine
