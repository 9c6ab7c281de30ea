// Resolving a backfill's table and checking its spec before any row is touched.
#include "backfill/target.hpp"

#include "common/error.hpp"
#include "db/quote.hpp"
#include "db/transaction.hpp"

namespace moonshift::backfill {
namespace {

[[noreturn]] void refuse(const lua::backfill_spec& s, exit_code code, const std::string& what,
                         const std::string& hint) {
    throw error(code, s.where_text() + ": backfill: " + what, hint);
}

// The table and its columns, as the catalog has them.
target read_table(db::session& db, const lua::backfill_spec& s) {
    target t;
    auto r = db.query(
        "SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname), "
        "c.oid::regclass::text, c.relkind "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
        "c.oid = to_regclass($1)",
        s.table);
    if (r.empty())
        refuse(s, exit_code::check_failed, "table \"" + s.table + "\" does not exist",
               "create it before the backfill (in the migration's up), or fix the name");
    std::string kind = r[0][3].as<std::string>();
    if (kind != "r" && kind != "p")
        refuse(s, exit_code::check_failed, "\"" + s.table + "\" is not a table",
               "backfill a table, not a view");
    t.oid = r[0][0].as<unsigned>();
    t.qualified = r[0][1].as<std::string>();
    t.display = r[0][2].as<std::string>();
    auto cols = db.query(
        "SELECT attname, quote_ident(attname), format_type(atttypid, atttypmod), atttypid, "
        "attnotnull, attgenerated <> '' FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum",
        t.oid);
    for (const auto& c : cols)
        t.columns.push_back({c[0].as<std::string>(), c[1].as<std::string>(), c[2].as<std::string>(),
                             c[3].as<unsigned>(), c[4].as<bool>(), c[5].as<bool>()});
    return t;
}

// The key columns: they exist and are NOT NULL.
void pick_key(target& t, const lua::backfill_spec& s) {
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
    }
}

// Unique: some valid, non-partial unique index (or the primary key) whose
// key columns are all among the backfill's key columns.
void check_unique(db::session& db, const target& t, const lua::backfill_spec& s) {
    auto u = db.query(
        "SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = $1 AND i.indisunique "
        "AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL AND (SELECT "
        "bool_and(a.attname = ANY($2::name[])) FROM unnest((i.indkey::int2[])[0:i.indnkeyatts - "
        "1]) k JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k))",
        t.oid, db::quote::array(s.key));
    if (u[0][0].as<bool>()) return;
    std::string list;
    for (auto& k : s.key) list += (list.empty() ? "" : ", ") + k;
    refuse(s, exit_code::check_failed,
           "the key (" + list + ") of " + t.display +
               " is not unique: no primary key or unique index covers it",
           "keyset batches need a unique key; name the primary key, or add a unique index first");
}

// EXPLAIN of sql, rolled back either way, in a subtransaction: a failure
// leaves an open block usable.
void explain(db::session& db, const std::string& sql) {
    db::subtransaction check(db, "moonshift_backfill_check");
    db.query("EXPLAIN " + sql);
    check.rollback();
}

}  // namespace

const column* target::find(const std::string& name) const {
    for (auto& c : columns)
        if (c.name == name) return &c;
    return nullptr;
}

std::string key_list(const target& t, const char* prefix) {
    std::string out;
    for (std::size_t i = 0; i < t.key.size(); ++i)
        out += (i ? ", " : "") + std::string(prefix) + t.key[i].quoted;
    return out;
}

std::string key_condition(const target& t, const std::vector<std::string>& vals,
                          const std::string& op) {
    std::string list;
    for (std::size_t i = 0; i < t.key.size(); ++i)
        list += (i ? ", " : "") + db::quote::literal(vals.at(i)) + "::" + t.key[i].type;
    if (t.key.size() == 1) return "t." + t.key[0].quoted + " " + op + " " + list;
    return "(" + key_list(t, "t.") + ") " + op + " (" + list + ")";
}

std::string after_condition(const target& t, const std::vector<std::string>& after) {
    return after.empty() ? "true" : key_condition(t, after, ">");
}

target resolve(db::session& db, const lua::backfill_spec& s) {
    target t = read_table(db, s);
    pick_key(t, s);
    check_unique(db, t, s);
    if (!s.set.empty()) {
        std::vector<std::string> cols_set;
        for (auto& [col, expr] : s.set) cols_set.push_back(col);
        check_changed(t, s, cols_set);
    } else if (!s.columns.empty()) {
        check_changed(t, s, s.columns);
    }
    // The SQL parts compile: each on its own, so an error names which one.
    auto compile = [&](const std::string& label, const std::string& sql) {
        try {
            explain(db, sql);
        } catch (const db::sql_failure& f) {
            refuse(
                s, exit_code::usage,
                label + " does not compile: " + f.info().message + " (" + f.info().sqlstate + ")",
                "fix the SQL of " + label + "; nothing was changed");
        }
    };
    if (!s.where.empty())
        compile("where = \"" + s.where + "\"",
                "SELECT 1 FROM " + t.qualified + " t WHERE (" + s.where + ")");
    for (auto& [col, expr] : s.set)
        compile("set." + col + " = \"" + expr + "\"", "UPDATE " + t.qualified + " t SET " +
                                                          t.find(col)->quoted + " = (" + expr +
                                                          ") WHERE false");
    return t;
}

void check_changed(target& t, const lua::backfill_spec& s, const std::vector<std::string>& names) {
    t.changed.clear();
    for (auto& n : names) {
        auto* col = t.find(n);
        if (!col)
            refuse(s, exit_code::check_failed,
                   "table " + t.display + " has no column \"" + n + "\" to set",
                   "add the column in the migration's up, or fix the name");
        if (col->generated)
            refuse(s, exit_code::check_failed,
                   "column \"" + n + "\" of " + t.display + " is generated", "it cannot be set");
        for (auto& k : t.key)
            if (k.name == n)
                refuse(s, exit_code::check_failed, "column \"" + n + "\" is part of the key",
                       "a backfill cannot change the key it walks by");
        t.changed.push_back(*col);
    }
}

}  // namespace moonshift::backfill
