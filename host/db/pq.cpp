// libpq for the db module: statements, commands and COPY on the session's
// connection, with server errors carried in full.
#include "db/pq.hpp"

#include <algorithm>
#include <cstring>

#include "common/text.hpp"
#include "db/cancel.hpp"
#include "db/hints.hpp"

namespace moonshift::db::pq {
namespace {

std::string field(const PGresult* r, int code) {
    const char* v = r ? PQresultErrorField(r, code) : nullptr;
    return v ? v : "";
}

[[noreturn]] void fail(PGconn* c, const PGresult* r, const std::string& shown, int prefix) {
    db::server_error e;
    if (r && !field(r, PG_DIAG_SQLSTATE).empty()) {
        e.sqlstate = field(r, PG_DIAG_SQLSTATE);
        e.message = field(r, PG_DIAG_MESSAGE_PRIMARY);
        e.detail = field(r, PG_DIAG_MESSAGE_DETAIL);
        e.hint = field(r, PG_DIAG_MESSAGE_HINT);
        e.context = field(r, PG_DIAG_CONTEXT);
        e.severity = field(r, PG_DIAG_SEVERITY);
        std::string pos = field(r, PG_DIAG_STATEMENT_POSITION);
        if (!pos.empty()) e.position = std::max(0, std::stoi(pos) - prefix);
    } else {
        e.message = text::trim(PQerrorMessage(c));
        if (e.message.empty()) e.message = "the database returned an unexpected result";
        if (PQstatus(c) != CONNECTION_OK) e.sqlstate = "08006";
    }
    db::connection_facts facts;
    if (c) {
        auto on = [c](const char* name) {
            const char* v = PQparameterStatus(c, name);
            return v && std::strcmp(v, "on") == 0;
        };
        facts.role = PQuser(c) ? PQuser(c) : "";
        facts.standby = on("in_hot_standby");
        facts.default_read_only = on("default_transaction_read_only");
    }
    e.hint = hint_for(e, facts);
    throw db::sql_failure(std::move(e), shown);
}

// Collects the results after a COPY and throws on the first error.
void finish(PGconn* c, const std::string& shown, long long* count) {
    std::optional<db::sql_failure> failure;
    while (PGresult* r = PQgetResult(c)) {
        owned_result owned(r);
        auto st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK) {
            if (count) *count = std::atoll(PQcmdTuples(r));
        } else if (!failure) {
            try {
                fail(c, r, shown, 0);
            } catch (const db::sql_failure& f) {
                failure = f;
            }
        }
    }
    if (failure) throw *failure;
}

}  // namespace

result exec(PGconn* c, const std::string& sql, const params& p, const std::string& shown,
            int prefix) {
    if (!c) throw error(exit_code::migration_failed, "the database connection was lost");
    cancel::refuse_when_stopping();
    std::vector<const char*> values;
    values.reserve(p.size());
    for (const auto& v : p) values.push_back(v ? v->c_str() : nullptr);
    owned_result r(PQexecParams(c, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                values.data(), nullptr, nullptr, 0));
    switch (PQresultStatus(r.get())) {
        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
        case PGRES_EMPTY_QUERY:
            return result(r.release());
        case PGRES_COPY_OUT:  // refused before sending; never leave the connection mid-COPY
            while (true) {
                char* buf = nullptr;
                int n = PQgetCopyData(c, &buf, 0);
                if (buf) PQfreemem(buf);
                if (n < 0) break;
            }
            finish(c, shown, nullptr);
            throw error(exit_code::migration_failed, "COPY TO STDOUT needs db:copy_out");
        case PGRES_COPY_IN:
            PQputCopyEnd(c, "COPY FROM STDIN needs db:copy_in");
            finish(c, shown, nullptr);
            throw error(exit_code::migration_failed, "COPY FROM STDIN needs db:copy_in");
        default:
            fail(c, r.get(), shown, prefix);
    }
}

namespace {

// The checks before a named statement runs, and its PREPARE when `prepare`.
void ready_prepared(PGconn* c, const std::string& name, const std::string& sql, bool prepare) {
    if (!c) throw error(exit_code::migration_failed, "the database connection was lost");
    cancel::refuse_when_stopping();
    if (!prepare) return;
    owned_result r(PQprepare(c, name.c_str(), sql.c_str(), 0, nullptr));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) fail(c, r.get(), sql, 0);
}

}  // namespace

result exec_prepared(PGconn* c, const std::string& name, const std::string& sql, bool prepare,
                     const params& p) {
    ready_prepared(c, name, sql, prepare);
    std::vector<const char*> values;
    values.reserve(p.size());
    for (const auto& v : p) values.push_back(v ? v->c_str() : nullptr);
    owned_result r(PQexecPrepared(c, name.c_str(), static_cast<int>(values.size()), values.data(),
                                  nullptr, nullptr, 0));
    auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail(c, r.get(), sql, 0);
    return result(r.release());
}

result exec_prepared_after(PGconn* c, const std::string& name, const std::string& sql, bool prepare,
                           const std::string& script) {
    ready_prepared(c, name, sql, prepare && !name.empty());
    // PQexec keeps the last statement's result, or the first failure's.
    owned_result r(PQexec(c, (script + (name.empty() ? sql : "EXECUTE " + name)).c_str()));
    auto st = PQresultStatus(r.get());
    if (st != PGRES_TUPLES_OK) fail(c, r.get(), sql, 0);
    return result(r.release());
}

void command(PGconn* c, const std::string& sql, int prefix) {
    if (!c) throw error(exit_code::migration_failed, "the database connection was lost");
    cancel::refuse_when_stopping();
    owned_result r(PQexec(c, sql.c_str()));
    auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY)
        fail(c, r.get(), sql, prefix);
}

void command_quietly(PGconn* c, const std::string& sql) noexcept {
    if (c) PQclear(PQexec(c, sql.c_str()));
}

bool in_transaction(PGconn* c) {
    auto s = PQtransactionStatus(c);
    return s == PQTRANS_INTRANS || s == PQTRANS_INERROR;
}

bool transaction_failed(PGconn* c) { return PQtransactionStatus(c) == PQTRANS_INERROR; }

long long copy_out(PGconn* c, const std::string& sql, const std::string& shown,
                   const std::function<void(const char*, std::size_t)>& line) {
    if (!c) throw error(exit_code::migration_failed, "the database connection was lost");
    cancel::refuse_when_stopping();
    owned_result r(PQexec(c, sql.c_str()));
    if (PQresultStatus(r.get()) != PGRES_COPY_OUT) fail(c, r.get(), shown, 0);
    r.reset();
    long long rows = 0;
    auto drain = [c] {
        for (;;) {
            char* buf = nullptr;
            int n = PQgetCopyData(c, &buf, 0);
            if (buf) PQfreemem(buf);
            if (n < 0) return;
        }
    };
    for (;;) {
        char* buf = nullptr;
        int n = PQgetCopyData(c, &buf, 0);
        if (n < 0) break;
        std::unique_ptr<char, void (*)(void*)> owned(buf, PQfreemem);
        std::size_t len = static_cast<std::size_t>(n);
        if (len > 0 && buf[len - 1] == '\n') --len;
        try {
            line(buf, len);
        } catch (...) {  // a C++ exception from the callback (Lua errors are turned into lua_raise)
            owned.reset();
            drain();
            try {
                finish(c, shown, nullptr);
            } catch (const db::sql_failure&) {
                // the callback's error is the one to report
            }
            throw;
        }
        ++rows;
    }
    finish(c, shown, nullptr);
    return rows;
}

long long copy_in(PGconn* c, const std::string& sql, const std::string& shown,
                  const std::function<bool(std::string&)>& fill) {
    if (!c) throw error(exit_code::migration_failed, "the database connection was lost");
    cancel::refuse_when_stopping();
    owned_result r(PQexec(c, sql.c_str()));
    if (PQresultStatus(r.get()) != PGRES_COPY_IN) fail(c, r.get(), shown, 0);
    r.reset();
    std::string buffer;
    bool more = true;
    try {
        while (more) {
            buffer.clear();
            while (more && buffer.size() < 64 * 1024) more = fill(buffer);
            if (!buffer.empty() &&
                PQputCopyData(c, buffer.data(), static_cast<int>(buffer.size())) != 1)
                fail(c, nullptr, shown, 0);
        }
    } catch (...) {
        PQputCopyEnd(c, "aborted by the script");
        try {
            finish(c, shown, nullptr);
        } catch (const db::sql_failure&) {
            // the script's error is the one to report
        }
        throw;
    }
    if (PQputCopyEnd(c, nullptr) != 1) fail(c, nullptr, shown, 0);
    long long count = 0;
    finish(c, shown, &count);
    return count;
}

}  // namespace moonshift::db::pq
