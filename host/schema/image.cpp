// The catalog image a derived reverse starts from (reverse.hpp): every object
// with what it takes to re-create it, keyed by oid.
#include <fmt/format.h>

#include <functional>
#include <optional>
#include <set>

#include "db/quote.hpp"
#include "schema/reverse.hpp"

namespace moonshift::schema {
using json = nlohmann::json;
namespace {

// Objects that belong to an extension are left out (the extension's own).
// Names are quoted and qualified ("public"."users" → public.users).
constexpr const char* image_sql = R"SQL(
WITH lim AS MATERIALIZED (  -- when: the oldest transaction in progress, the snapshot, this one
  SELECT age(((txid_snapshot_xmin(txid_current_snapshot()) % 4294967296)::text::xid)) AS a,
         (txid_snapshot_xmin(txid_current_snapshot()) % 4294967296)::text AS since,
         txid_current_snapshot()::text AS snapshot, txid_current()::text AS own
), pass AS MATERIALIZED (@PASS@
), recent AS (  -- catalog rows written since the oldest transaction in progress
  SELECT p.cat, u.x, u.k FROM pass p, unnest(p.xs, p.ks) AS u(x, k)
), mine_rows AS (  -- by this transaction (or a newer one: its subtransactions)
  SELECT cat, k FROM recent WHERE age(x) <= 0
), ns AS (
  SELECT oid, nspname FROM pg_namespace
   WHERE nspname NOT IN ('pg_catalog', 'information_schema')
     AND nspname NOT LIKE 'pg\_toast%' AND nspname NOT LIKE 'pg\_temp\_%'
     AND nspname <> ALL (@EXCLUDED@)
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass
                     AND d.objid = pg_namespace.oid AND d.deptype = 'e')
), touched AS (  -- tables a row of this transaction (or a newer one) wrote, theirs or their parts'
  SELECT k AS oid FROM mine_rows
   WHERE cat IN ('pg_class', 'pg_index', 'pg_attribute', 'pg_attrdef', 'pg_constraint',
                 'pg_policy', 'pg_trigger')
  UNION SELECT i.indrelid FROM pg_index i JOIN mine_rows m ON m.cat = 'pg_class' AND m.k = i.indexrelid
), fresh AS (  -- and those whose printed definitions name them: foreign keys, views
  SELECT oid FROM touched
  UNION SELECT k.conrelid FROM pg_constraint k JOIN touched t ON t.oid = k.confrelid
  UNION SELECT w.ev_class FROM pg_depend d JOIN pg_rewrite w ON w.oid = d.objid
          JOIN touched t ON t.oid = d.refobjid
         WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
), rel AS (
  SELECT c.*, c.xmin AS rel_xmin, n.nspname, format('%I.%I', n.nspname, c.relname) AS qname
    FROM pg_class c JOIN ns n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm') AND (@ALL@ OR c.oid IN (SELECT oid FROM fresh))
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                     AND d.objid = c.oid AND d.deptype = 'e')

)
SELECT jsonb_build_object(
 'since', (SELECT since FROM lim),
 'snapshot', (SELECT snapshot FROM lim),
 'own', (SELECT own FROM lim),
 'xids', (SELECT coalesce(jsonb_agg(DISTINCT x::text), '[]') FROM recent),
 'census', (SELECT string_agg(n::text, ',' ORDER BY ord) FROM pass),
 'fresh', CASE WHEN @ALL@ THEN '[]'::jsonb ELSE (SELECT coalesce(jsonb_agg(oid::text), '[]') FROM fresh) END,
 'gone', @GONE@,  -- of the objects moonshift.arg1 names, those that no longer exist
 'schemas', (SELECT coalesce(jsonb_object_agg(n.oid::text, jsonb_build_object('name', quote_ident(n.nspname),
     'mine', @MINE(p.xmin)@)), '{}')
     FROM ns n JOIN pg_namespace p ON p.oid = n.oid),
 'tables', (SELECT coalesce(jsonb_object_agg(r.oid::text, jsonb_build_object(
     'name', r.qname, 'schema', r.nspname, 'relname', r.relname, 'kind', r.relkind::text,
     'mine', @MINE(r.rel_xmin)@,
     'rls', r.relrowsecurity, 'force_rls', r.relforcerowsecurity,
     'view', CASE WHEN r.relkind IN ('v', 'm') THEN pg_get_viewdef(r.oid) END,
     'grants', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                  'grantee', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                  'privilege', a.privilege_type, 'grantable', a.is_grantable)
                  ORDER BY a.grantee, a.privilege_type), '[]')
                  FROM aclexplode(r.relacl) a WHERE a.grantee <> r.relowner),
     'columns', (SELECT coalesce(jsonb_object_agg(a.attnum::text, jsonb_build_object(
                   'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                   'mine', @MINE(a.xmin)@,
                   'not_null', a.attnotnull, 'default', pg_get_expr(ad.adbin, ad.adrelid),
                   'identity', a.attidentity::text, 'generated', a.attgenerated::text,
                   'collation', CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                                     THEN (SELECT format('%I.%I', cn.nspname, co.collname)
                                             FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
                                            WHERE co.oid = a.attcollation) END)), '{}')
                   FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                   LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                  WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped))), '{}') FROM rel r),
 'indexes', (SELECT coalesce(jsonb_object_agg(i.indexrelid::text, jsonb_build_object(
     'table', i.indrelid::text, 'name', format('%I.%I', r.nspname, ic.relname), 'relname', ic.relname,
     'mine', @MINE(ic.xmin)@,
     'definition', pg_get_indexdef(i.indexrelid),
     'constraint', EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                            AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')))), '{}')
     FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN rel r ON r.oid = i.indrelid),
 'constraints', (SELECT coalesce(jsonb_object_agg(c.oid::text, jsonb_build_object(
     'table', c.conrelid::text, 'name', c.conname, 'type', c.contype::text,
     'mine', @MINE(c.xmin)@,
     'definition', pg_get_constraintdef(c.oid))), '{}')
     FROM pg_constraint c JOIN rel r ON r.oid = c.conrelid WHERE c.contype NOT IN ('t', 'n')),
 'policies', (SELECT coalesce(jsonb_object_agg(p.oid::text, jsonb_build_object(
     'table', p.polrelid::text, 'name', p.polname, 'command', p.polcmd::text, 'permissive', p.polpermissive,
     'mine', @MINE(p.xmin)@,
     'roles', (SELECT coalesce(jsonb_agg(CASE WHEN x = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x)) END
                                         ORDER BY x), '[]') FROM unnest(p.polroles) x),
     'using', pg_get_expr(p.polqual, p.polrelid), 'check', pg_get_expr(p.polwithcheck, p.polrelid))), '{}')
     FROM pg_policy p JOIN rel r ON r.oid = p.polrelid),
 'triggers', (SELECT coalesce(jsonb_object_agg(t.oid::text, jsonb_build_object(
     'table', t.tgrelid::text, 'name', t.tgname, 'definition', pg_get_triggerdef(t.oid),
     'mine', @MINE(t.xmin)@,
     'enabled', t.tgenabled::text)), '{}')
     FROM pg_trigger t JOIN rel r ON r.oid = t.tgrelid WHERE NOT t.tgisinternal),
 'functions', (SELECT coalesce(jsonb_object_agg(p.oid::text, jsonb_build_object(
     'signature', format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
     'kind', CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
     'mine', @MINE(p.xmin)@,
     'definition', pg_get_functiondef(p.oid))), '{}')
     FROM @PROCS@ JOIN ns n ON n.oid = p.pronamespace
    WHERE p.prokind IN ('f', 'p')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                      AND d.objid = p.oid AND d.deptype = 'e')),
 'sequences', (SELECT coalesce(jsonb_object_agg(c.oid::text, jsonb_build_object(
     'name', format('%I.%I', n.nspname, c.relname), 'type', format_type(s.seqtypid, NULL),
     'mine', @MINE(c.xmin)@,
     'increment', s.seqincrement, 'start', s.seqstart, 'min', s.seqmin, 'max', s.seqmax,
     'cache', s.seqcache, 'cycle', s.seqcycle,
     'owned_by', (SELECT format('%s.%I', oc.oid::regclass::text, a.attname) FROM pg_depend d
                    JOIN pg_class oc ON oc.oid = d.refobjid
                    JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                     AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a' LIMIT 1),
     'identity', EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype = 'i'))), '{}')
     FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN ns n ON n.oid = c.relnamespace
    WHERE (@ALL@ OR c.oid IN (SELECT k FROM mine_rows WHERE cat IN ('pg_class', 'pg_sequence'))
           OR EXISTS (SELECT 1 FROM pg_depend d JOIN fresh f ON f.oid = d.refobjid
                       WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                         AND d.refclassid = 'pg_class'::regclass))
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                      AND d.objid = c.oid AND d.deptype = 'e')),
 'enums', (SELECT coalesce(jsonb_object_agg(t.oid::text, jsonb_build_object(
     'name', format('%I.%I', n.nspname, t.typname), 'typname', t.typname, 'schema', n.nspname,
     'mine', @MINE(t.xmin)@,
     'values', (SELECT jsonb_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid),
     -- its table columns, found by their dependency on it (an index), not by reading pg_attribute
     'columns', (SELECT coalesce(jsonb_agg(jsonb_build_object('table', format('%I.%I', cn.nspname, c.relname),
                                                             'column', a.attname,
                                                             'default', pg_get_expr(ad.adbin, ad.adrelid))
                                          ORDER BY cn.nspname, c.relname, a.attnum), '[]')
                   FROM (SELECT DISTINCT d.objid, d.objsubid FROM pg_depend d
                          WHERE d.refclassid = 'pg_type'::regclass AND d.refobjid = t.oid
                            AND d.classid = 'pg_class'::regclass AND d.objsubid > 0) u
                   JOIN pg_attribute a ON a.attrelid = u.objid AND a.attnum = u.objsubid
                   JOIN pg_class c ON c.oid = a.attrelid
                   JOIN pg_namespace cn ON cn.oid = c.relnamespace
                   LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                  WHERE a.atttypid = t.oid AND NOT a.attisdropped AND c.relkind IN ('r', 'p')))), '{}')
     FROM pg_type t JOIN ns n ON n.oid = t.typnamespace WHERE t.typtype = 'e'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass
                      AND d.objid = t.oid AND d.deptype = 'e')),
 'extensions', (SELECT coalesce(jsonb_object_agg(extname, extversion), '{}') FROM pg_extension)
)::text
)SQL";

// The catalogs an image reads: a row written in any of them may change it,
// and one removed (another session's DROP leaves no row behind) changes how
// many it holds. `key`: the object a row is about, where the delta needs it.
// `user_rows`: the rows that can be about objects an image holds, by the
// index on their oid: what initdb made (oid below 16384, FirstNormalObjectId:
// pg_catalog's thousands of functions, types, collations and columns) is in
// no image, but for the public schema and plpgsql: pg_namespace and
// pg_extension are read whole.
struct image_catalog {
    const char* name;
    const char* key;
    const char* user_rows;
};
constexpr image_catalog image_catalogs[] = {{"pg_namespace", nullptr, nullptr},
                                            {"pg_class", "oid", "oid >= 16384"},
                                            {"pg_attribute", "attrelid", "attrelid >= 16384"},
                                            {"pg_attrdef", "adrelid", "adrelid >= 16384"},
                                            {"pg_index", "indrelid", "indexrelid >= 16384"},
                                            {"pg_constraint", "conrelid", "oid >= 16384"},
                                            {"pg_policy", "polrelid", "oid >= 16384"},
                                            {"pg_trigger", "tgrelid", "oid >= 16384"},
                                            {"pg_proc", "oid", "oid >= 16384"},
                                            {"pg_sequence", "seqrelid", "seqrelid >= 16384"},
                                            {"pg_type", nullptr, "oid >= 16384"},
                                            {"pg_enum", nullptr, "oid >= 16384"},
                                            {"pg_extension", nullptr, nullptr},
                                            {"pg_collation", nullptr, "oid >= 16384"},
                                            {"pg_depend", nullptr, nullptr}};

// One pass over each catalog (they are the image's cost: thousands of rows
// each, the migration's a handful): how many rows it holds (its user_rows), and the
// transaction (xs) and object (ks) of those written by a transaction not
// older than the oldest in progress (`age(xmin) <= (SELECT a FROM lim)`,
// computed once). `extra` adds a column of its own per catalog.
std::string pass_sql(const std::string& extra = "") {
    std::string sql;
    int ord = 0;
    for (const auto& c : image_catalogs)
        sql += fmt::format(
            "{}SELECT {} AS ord, '{}'::text AS cat, count(*) AS n, array_agg(x) FILTER (WHERE r) "
            "AS "
            "xs, array_agg(k) FILTER (WHERE r) AS ks{} FROM (SELECT xmin AS x, {}::oid AS k, "
            "age(xmin) <= (SELECT a FROM lim) AS r FROM {}{}) q",
            sql.empty() ? "\n  " : "\n  UNION ALL ", ++ord, c.name, extra, c.key ? c.key : "NULL",
            c.name, c.user_rows ? std::string(" WHERE ") + c.user_rows : std::string());
    return sql;
}

// An image still holds when no transaction but the one that took it (and
// those whose catalog rows it read: its xids) committed since its snapshot:
// the candidates are those in progress then and those begun since, a few on
// a quiet server, each looked up in the commit log. Past a few hundred (a
// busy server), or when one of them committed (it may have written only
// rows of tables, or been moonshift's own), the catalogs are read: the same
// count of rows in each (its census) and no row written by a transaction
// newer than the oldest in progress then (its since) but those whose rows
// it read. Arguments (query_planned_once): census, since, xids, snapshot, own.
std::string current_sql() {
    return fmt::format(
        R"SQL(
WITH arg AS MATERIALIZED (
  SELECT current_setting('moonshift.arg1') AS census, current_setting('moonshift.arg2')::xid AS since,
         current_setting('moonshift.arg3')::text[] AS xids,
         current_setting('moonshift.arg4')::txid_snapshot AS snapshot,
         nullif(current_setting('moonshift.arg5'), '')::bigint AS own
), now AS MATERIALIZED (
  SELECT txid_current_snapshot() AS s, txid_current_if_assigned() AS own,
         txid_snapshot_xmax(txid_current_snapshot()) - txid_snapshot_xmax((SELECT snapshot FROM arg)) AS begun
), lim AS MATERIALIZED (SELECT age((SELECT since FROM arg)) AS a)
SELECT CASE WHEN (SELECT begun FROM now) <= 256
             AND NOT EXISTS (
               SELECT 1 FROM (SELECT generate_series(txid_snapshot_xmax(a.snapshot), txid_snapshot_xmax(n.s) - 1) AS x
                                FROM arg a, now n
                              UNION SELECT txid_snapshot_xip(snapshot) FROM arg) c, arg a, now n
                WHERE (c.x % 4294967296)::text <> ALL (a.xids)
                  AND c.x IS DISTINCT FROM a.own AND c.x IS DISTINCT FROM n.own
                  AND txid_visible_in_snapshot(c.x, n.s)
                  AND txid_status(c.x) = 'committed')
            THEN true
            ELSE (SELECT string_agg(n::text, ',' ORDER BY ord) = (SELECT census FROM arg)
                         AND NOT coalesce(bool_or(bad), false)
                    FROM ({}) p)
       END)SQL",
        pass_sql(", bool_or(r AND x::text <> ALL ((SELECT xids FROM arg)::text[])) AS bad"));
}

// Kinds keyed by oid that an image after a migration takes only where the
// migration wrote; the others (schemas, enums, extensions) always whole.
struct delta_kind {
    const char* name;
    const char* catalog;  // where an object of the kind has its row, by oid
};
constexpr delta_kind delta_kinds[] = {{"tables", "pg_class"},           {"indexes", "pg_class"},
                                      {"constraints", "pg_constraint"}, {"policies", "pg_policy"},
                                      {"triggers", "pg_trigger"},       {"functions", "pg_proc"},
                                      {"sequences", "pg_class"}};

// Of the objects moonshift.arg1 names ({"tables": [oid, …], …}), those that no longer exist.
std::string gone_sql() {
    std::string parts;
    for (const auto& k : delta_kinds)
        parts += fmt::format(
            "{}'{}', (SELECT coalesce(jsonb_agg(x), '[]') FROM jsonb_array_elements_text("
            "current_setting('moonshift.arg1')::jsonb->'{}') x WHERE NOT EXISTS (SELECT 1 FROM {} "
            "WHERE oid = x::oid))",
            parts.empty() ? "" : ",\n ", k.name, k.name, k.catalog);
    return "jsonb_build_object(" + parts + ")";
}

// @MINE(row.xmin)@: the row was written by this transaction or by one of
// its subtransactions (a DO block, a savepoint), not by another session:
// a subtransaction's xid is newer than its top's (a negative age) and, seen
// from inside, still in progress.
void put_mine(std::string& sql) {
    const std::string open = "@MINE(", close = ")@";
    for (auto at = sql.find(open); at != std::string::npos; at = sql.find(open, at)) {
        auto end = sql.find(close, at);
        auto x = sql.substr(at + open.size(), end - at - open.size());
        sql.replace(at, end + close.size() - at,
                    fmt::format("({0}::text = (txid_current() % 4294967296)::text OR (age({0}) < 0 "
                                "AND txid_status(txid_current() - age({0})) = 'in progress'))",
                                x));
    }
}

void put(std::string& sql, const std::string& marker, const std::string& text) {
    for (auto at = sql.find(marker); at != std::string::npos;
         at = sql.find(marker, at + text.size()))
        sql.replace(at, marker.size(), text);
}

// The image's text, `all` objects or only those this transaction (or a newer
// one) wrote, with those of `known` ({"tables": [oid, …], …}) that are gone.
// The schemas left out are part of its text (and so of its prepared
// statement's name); `known` is its argument (query_planned_once).
json take(db::session& s, const std::vector<std::string>& exclude_schemas, bool all,
          const json& known) {
    std::string sql = image_sql;
    const std::string list = db::quote::literal(db::quote::array(exclude_schemas)) + "::text[]";
    put(sql, "@EXCLUDED@", list);
    put(sql, "@ALL@", all ? "true" : "false");
    // Those this transaction wrote, looked up by oid: not a filter over every function.
    put(sql, "@PROCS@",
        all ? "pg_proc p"
            : "(SELECT DISTINCT k FROM mine_rows WHERE cat = 'pg_proc') m JOIN pg_proc p ON p.oid "
              "= m.k");
    put(sql, "@PASS@", pass_sql());
    put(sql, "@GONE@", gone_sql());
    put_mine(sql);
    auto r = s.query_planned_once(fmt::format("moonshift_image{}", all ? "" : "_delta"), sql,
                                  {known.dump()});
    auto j = json::parse(r[0][0].c_str());
    // Behind a long-open transaction elsewhere, every migration of the run
    // adds its own: past a few, checking them costs more than a new image.
    if (j["xids"].size() > 64) j["census"] = nullptr;
    return j;
}

// The kinds that belong to a table (their "table" key).
constexpr const char* part_kinds[] = {"indexes", "constraints", "policies", "triggers"};

void not_mine(json& o) {
    o["mine"] = false;
    if (auto c = o.find("columns"); c != o.end())
        for (auto& col : *c) col["mine"] = false;
}

}  // namespace

json image(db::session& s, const std::vector<std::string>& exclude_schemas) {
    return take(s, exclude_schemas, true, json::object());
}

bool still_current(db::session& s, const json& image) {
    auto census = image.find("census");
    if (census == image.end() || !census->is_string() || !image.contains("since") ||
        !image.contains("snapshot"))
        return false;
    const auto xids = db::quote::array(image["xids"].get<std::vector<std::string>>());
    const auto& own = image["own"];
    static const std::string sql = current_sql();
    auto r = s.query_planned_once("moonshift_image_current", sql,
                                  {census->get<std::string>(), image["since"].get<std::string>(),
                                   xids, image["snapshot"].get<std::string>(),
                                   own.is_string() ? own.get<std::string>() : std::string()});
    return r[0][0].as<bool>();
}

// long: one pass per kind, moving what did not change from before to after
image_delta image_after(db::session& s, const std::vector<std::string>& exclude_schemas,
                        json before) {
    json known = json::object();
    for (const auto& k : delta_kinds) {
        const char* kind = k.name;
        auto& list = known[kind] = json::array();
        for (auto it = before[kind].begin(); it != before[kind].end(); ++it)
            list.push_back(it.key());
    }
    json now = take(s, exclude_schemas, false, known);
    std::set<std::string> fresh;  // tables taken again, with all their parts
    for (const auto& oid : now["fresh"]) fresh.insert(oid.get<std::string>());
    image_delta d{json::object(), json::object(), json::object()};
    for (const auto& k : delta_kinds) {
        const char* kind = k.name;
        json& got = now[kind];
        json after = std::move(before[kind]);
        json was_part = json::object();
        std::set<std::string> gone;
        for (const auto& oid : now["gone"][kind]) gone.insert(oid.get<std::string>());
        const bool table_kind = std::string(kind) == "tables";
        for (auto it = after.begin(); it != after.end();) {
            // gone, taken again, or a part of a table taken again that is no longer there
            const auto table = table_kind ? it.key() : it->value("table", std::string());
            if (gone.count(it.key()) || got.contains(it.key()) || fresh.count(table)) {
                was_part[it.key()] = std::move(*it);
                it = after.erase(it);
            } else {
                ++it;
            }
        }
        for (auto it = got.begin(); it != got.end(); ++it) after[it.key()] = *it;
        d.after[kind] = std::move(after);
        d.before_part[kind] = std::move(was_part);
        d.after_part[kind] = std::move(got);
    }
    // The tables of the parts taken, unchanged, on both sides: a reverse
    // names an index's or a constraint's table.
    for (const char* kind : part_kinds)
        for (const auto* side : {&d.before_part, &d.after_part})
            for (const auto& o : (*side)[kind]) {
                auto table = o.value("table", std::string());
                // A table on either side changed itself (added, dropped,
                // taken again): its own image says so, never a copy.
                if (table.empty() || !d.after["tables"].contains(table) ||
                    d.before_part["tables"].contains(table) ||
                    d.after_part["tables"].contains(table))
                    continue;
                for (auto* part : {&d.before_part, &d.after_part}) {
                    json copy = d.after["tables"][table];
                    not_mine(copy);
                    (*part)["tables"][table] = std::move(copy);
                }
            }
    for (const char* kind : {"schemas", "enums", "extensions"}) {
        d.before_part[kind] = std::move(before[kind]);
        d.after_part[kind] = now[kind];
        d.after[kind] = std::move(now[kind]);
    }
    d.after["census"] = std::move(now["census"]);
    for (const char* k : {"since", "xids", "snapshot", "own"}) d.after[k] = std::move(now[k]);
    return d;
}

}  // namespace moonshift::schema
