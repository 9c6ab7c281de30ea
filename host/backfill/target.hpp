// The table a backfill works on, as the catalog describes it, and the checks
// that run before any row is touched: the table and its columns exist, the
// key is unique and NOT NULL, the set expressions and the where condition
// compile (docs/backfills.md, "Before the first batch").
#pragma once
#include <string>
#include <vector>

#include "db/session.hpp"
#include "lua/backfill_spec.hpp"

namespace moonshift::backfill {

struct column {
    std::string name;    // as in the catalog
    std::string quoted;  // quote_ident(name)
    std::string type;    // format_type(): "bigint", "character varying(40)"
    unsigned oid = 0;
    bool not_null = false;
    bool generated = false;
};

struct target {
    std::string qualified;  // "public"."artworks"
    std::string display;    // artworks (regclass text)
    unsigned oid = 0;
    std::vector<column> columns;  // every column, in order
    std::vector<column> key;      // the spec's key columns
    std::vector<column> changed;  // set columns, or the transform's (when known)
    const column* find(const std::string& name) const;
};

// Resolves and checks the spec against the database (in whatever
// transaction is open). Throws moonshift::error naming the spec's file and
// line: check_failed for what the database says (no such table, column,
// unique key), usage for SQL that does not compile.
target resolve(db::session& db, const lua::backfill_spec& s);

// The transform's columns, once known (declared, or from the first result):
// they must exist, not be generated, and not be part of the key.
void check_changed(target& t, const lua::backfill_spec& s, const std::vector<std::string>& names);

// SQL fragments shared by the runner and the checks.
// "t.id > '41'::bigint" / "(t.a, t.b) > ('1'::int, 'x'::text)"; "true" without a position.
std::string after_condition(const target& t, const std::vector<std::string>& after);
// The same with another operator: "t.id <= '97'::bigint".
std::string key_condition(const target& t, const std::vector<std::string>& vals,
                          const std::string& op);
std::string key_list(const target& t, const char* prefix);  // "t.a, t.b"

}  // namespace moonshift::backfill
