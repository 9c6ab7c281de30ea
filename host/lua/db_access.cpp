// Who may use the database when, and which statements a script may send.
#include "lua/db_access.hpp"

#include <algorithm>
#include <cctype>

#include "sql/side_effects.hpp"
#include "sql/sql.hpp"
#include "sql/statement_kind.hpp"

namespace moonshift::lua {
namespace {

constexpr const char* read_only_savepoint = "moonshift_read_only";
constexpr std::size_t max_remembered = 1000;

bool mentions(const std::string& text, const char* word) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return lower.find(word) != std::string::npos;
}

struct judged {
    std::string refusal;
    std::string kind;  // parser node of the statement, "" when the parser could not tell
};

judged judge(const std::string& text) {
    std::vector<sql::statement> statements;
    try {
        statements = sql::parse(text, "sql", sql::parse_options{false}).statements;
    } catch (const sql::parse_error&) {
        // Syntax the bundled parser does not know: the server will judge it,
        // but statement count and transaction control are still checked.
        try {
            statements = sql::split(text);
        } catch (const sql::parse_error&) {
            return {"the SQL text contains a NUL byte", {}};
        }
        for (auto& s : statements)
            s.transaction_control = sql::looks_like_transaction_control(s.text);
    }
    if (statements.empty()) return {"the SQL text is empty", {}};
    if (statements.size() > 1)
        return {"takes one statement, got " + std::to_string(statements.size()) +
                    "; call it once per statement",
                {}};
    const auto& s = statements.front();
    // The run's lock is a session-level advisory lock on this very session.
    if (mentions(text, "advisory_unlock"))
        return {
            "cannot call pg_advisory_unlock or pg_advisory_unlock_all: the run holds its "
            "migration lock on this session",
            s.kind};
    if (s.transaction_control)
        return {"cannot run transaction control (" + sql::leading_words(s.text) +
                    "): the host owns the transaction; use db:transaction(fn) for a savepoint",
                s.kind};
    if ((s.kind == "CopyStmt" || sql::leading_words(s.text).rfind("COPY", 0) == 0) &&
        (mentions(s.text, "stdin") || mentions(s.text, "stdout")))
        return {"cannot run COPY ... STDIN/STDOUT; use db:copy_in or db:copy_out", s.kind};
    return {{}, s.kind};
}

// What a statement reaches outside the database (sql::server_access): read
// only for the read-only phases, which need the tree the other phases skip.
std::vector<std::string> outside_of(const std::string& text) {
    try {
        auto script = sql::parse(text, "sql");
        if (script.statements.size() == 1) return sql::server_access(script.statements.front());
    } catch (const sql::parse_error&) {
        // syntax the bundled parser does not know: the server judges it
    }
    return {};
}

void check_statement(host& h, const char* fn, const std::string& text, statement_use use) {
    auto it = h.verdicts.find(text);
    if (it == h.verdicts.end()) {
        if (h.verdicts.size() >= max_remembered) h.verdicts.clear();
        auto j = judge(text);
        sql_verdict v;
        v.refusal = j.refusal;
        v.kind = j.kind;
        it = h.verdicts.emplace(text, std::move(v)).first;
    }
    auto& v = it->second;
    if (!v.refusal.empty()) throw usage_error(std::string(fn) + ": " + v.refusal);
    if (!h.db_phase_writable() && !v.outside) v.outside = outside_of(text);
    if (!h.db_phase_writable() && !v.outside->empty()) {
        std::string what;
        for (const auto& o : *v.outside) what += (what.empty() ? "" : ", ") + o;
        throw usage_error(std::string(fn) + ": " + what + " is refused in phase \"" +
                          phase_name(h.current) +
                          "\" (read-only): it reaches the server's files or programs or another "
                          "database, whatever the role; do that work in a migration");
    }
    if (use == statement_use::query && !v.kind.empty() && v.kind != "SelectStmt")
        throw usage_error(std::string(fn) +
                          ": streams the rows of a query (SELECT, VALUES, TABLE); "
                          "use db:query for statements like INSERT ... RETURNING");
}

// A subtransaction even when the phase has a block of its own: the script
// cannot switch a subtransaction back to read-write.
void enter_read_only(host& h) {
    h.read_only_pending = false;
    h.read_only.emplace(*h.session, read_only_savepoint, "SET LOCAL transaction_read_only = on");
}

}  // namespace

void check_db_call(lua_State* L, host& h, const char* fn, bool writes) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, h.db_ref);
    bool self = lua_rawequal(L, 1, -1);
    lua_pop(L, 1);
    if (!self) luaL_error(L, "%s: call it with a colon, as %s(...)", fn, fn);
    if (h.loading)
        luaL_error(L,
                   "%s: the database is not available while a file loads; use it inside the "
                   "functions the file returns",
                   fn);
    if (!h.session) luaL_error(L, "%s: there is no database connection in this run", fn);
    if (h.busy)
        luaL_error(L,
                   "%s cannot run while %s is streaming; collect what you need and query after it",
                   fn, h.busy);
    if (writes && !h.db_phase_writable())
        luaL_error(L, "%s is not allowed in phase \"%s\" (read-only)", fn, phase_name(h.current));
}

db::session& enter_db(host& h, const char* fn, const std::string& sql, statement_use use) {
    if (use != statement_use::none) check_statement(h, fn, sql, use);
    if (h.read_only_pending) enter_read_only(h);
    h.used_db = true;
    return *h.session;
}

void leave_read_only(host& h) {
    h.read_only_pending = false;
    if (h.read_only) h.read_only->rollback();
    h.read_only.reset();
}

void confirm_lock(host& h) {
    if (!h.used_db || !h.session || h.session->transaction_failed()) return;
    h.used_db = false;
    if (!h.session->still_holds_lock())
        throw error(exit_code::lock_held,
                    h.call_label +
                        ": the script released the run's lock on its session (a call to "
                        "pg_advisory_unlock or pg_advisory_unlock_all); the run stops, since "
                        "a statement of this run could now outlive it unguarded",
                    "scripts must not release advisory locks they did not take");
}

void drop_read_only(host& h) noexcept {
    h.read_only_pending = false;
    h.read_only.reset();
}

}  // namespace moonshift::lua
