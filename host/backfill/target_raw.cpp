// Transitional: backfill::resolve on the session's raw libpq handle, as it
// was before resolve took the session (target.cpp). engine/backfill_steps.cpp
// still calls it with session_->raw(); when its two calls pass *session_,
// this file and the PGconn lines of target.hpp go.
#include "backfill/target.hpp"
#include "common/error.hpp"
#include "db/pq.hpp"
#include "db/quote.hpp"

namespace moonshift::backfill {
namespace {

[[noreturn]] void refuse(const lua::backfill_spec& s, exit_code code, const std::string& what,
                         const std::string& hint) {
    throw error(code, s.where_text() + ": backfill: " + what, hint);
}

}  // namespace

// long: a copy of the old resolve, kept only until its caller passes the session
target resolve(PGconn* c, const lua::backfill_spec& s) {
    target t;
    auto r = db::pq::exec(c,
                          "SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname), "
                          "c.oid::regclass::text, c.relkind "
                          "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
                          "c.oid = to_regclass($1)",
                          {s.table});
    if (static_cast<int>(r.size()) == 0)
        refuse(s, exit_code::check_failed, "table \"" + s.table + "\" does not exist",
               "create it before the backfill (in the migration's up), or fix the name");
    std::string kind = PQgetvalue(r.get(), 0, 3);
    if (kind != "r" && kind != "p")
        refuse(s, exit_code::check_failed, "\"" + s.table + "\" is not a table",
               "backfill a table, not a view");
    t.oid = static_cast<unsigned>(std::stoul(PQgetvalue(r.get(), 0, 0)));
    t.qualified = PQgetvalue(r.get(), 0, 1);
    t.display = PQgetvalue(r.get(), 0, 2);
    auto cols = db::pq::exec(
        c,
        "SELECT attname, quote_ident(attname), format_type(atttypid, atttypmod), atttypid, "
        "attnotnull, attgenerated <> '' FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum",
        {std::to_string(t.oid)});
    for (int i = 0; i < static_cast<int>(cols.size()); ++i)
        t.columns.push_back({PQgetvalue(cols.get(), i, 0), PQgetvalue(cols.get(), i, 1),
                             PQgetvalue(cols.get(), i, 2),
                             static_cast<unsigned>(std::stoul(PQgetvalue(cols.get(), i, 3))),
                             PQgetvalue(cols.get(), i, 4)[0] == 't',
                             PQgetvalue(cols.get(), i, 5)[0] == 't'});
    std::string names;
    for (auto& k : s.key) {
        auto* col = t.find(k);
        if (!col)
            refuse(s, exit_code::check_failed,
                   "table " + t.display + " has no key column \"" + k + "\"",
                   "key names the column(s) of its primary key or of a unique index");
        if (!col->not_null)
            refuse(s, exit_code::check_failed,
                   "key column \"" + k + "\" of " + t.display + " allows NULL",
                   "rows with a NULL key would be skipped; use the primary key, or make the column "
                   "NOT NULL");
        t.key.push_back(*col);
        names += (names.empty() ? "" : ",") + std::string("\"") + k + "\"";
    }
    // Unique: some valid, non-partial unique index (or the primary key) whose
    // key columns are all among the backfill's key columns.
    auto u = db::pq::exec(
        c,
        "SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = $1 AND i.indisunique "
        "AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL AND (SELECT "
        "bool_and(a.attname = "
        "ANY($2::name[])) FROM unnest((i.indkey::int2[])[0:i.indnkeyatts - 1]) k JOIN pg_attribute "
        "a "
        "ON a.attrelid = i.indrelid AND a.attnum = k))",
        {std::to_string(t.oid), "{" + names + "}"});
    if (std::string(PQgetvalue(u.get(), 0, 0)) != "t") {
        std::string list;
        for (auto& k : s.key) list += (list.empty() ? "" : ", ") + k;
        refuse(
            s, exit_code::check_failed,
            "the key (" + list + ") of " + t.display +
                " is not unique: no primary key or unique index covers it",
            "keyset batches need a unique key; name the primary key, or add a unique index first");
    }
    if (!s.set.empty()) {
        std::vector<std::string> cols_set;
        for (auto& [col, expr] : s.set) cols_set.push_back(col);
        check_changed(t, s, cols_set);
    } else if (!s.columns.empty()) {
        check_changed(t, s, s.columns);
    }
    // The SQL parts compile: each on its own, so an error names which one.
    auto compile = [&](const std::string& label, const std::string& sql) {
        bool in_tx = db::pq::in_transaction(c);
        db::pq::command(c, in_tx ? "SAVEPOINT moonshift_backfill_check" : "BEGIN");
        try {
            db::pq::exec(c, "EXPLAIN " + sql);
        } catch (const db::sql_failure& f) {
            db::pq::command_quietly(
                c, in_tx ? "ROLLBACK TO SAVEPOINT moonshift_backfill_check" : "ROLLBACK");
            refuse(
                s, exit_code::usage,
                label + " does not compile: " + f.info().message + " (" + f.info().sqlstate + ")",
                "fix the SQL of " + label + "; nothing was changed");
        }
        db::pq::command(c, in_tx ? "ROLLBACK TO SAVEPOINT moonshift_backfill_check" : "ROLLBACK");
    };
    if (!s.where.empty())
        compile("where = \"" + s.where + "\"",
                "SELECT 1 FROM " + t.qualified + " t WHERE (" + s.where + ")");
    for (auto& [col, expr] : s.set) {
        const column* target_col = t.find(col);
        compile("set." + col + " = \"" + expr + "\"", "UPDATE " + t.qualified + " t SET " +
                                                          target_col->quoted + " = (" + expr +
                                                          ") WHERE false");
    }
    return t;
}

}  // namespace moonshift::backfill
