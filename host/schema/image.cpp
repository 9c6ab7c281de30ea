// The catalog image a derived reverse starts from (reverse.hpp): every object
// with what it takes to re-create it, keyed by oid.
#include <fmt/format.h>

#include <functional>

#include "db/quote.hpp"
#include "schema/reverse.hpp"

namespace moonshift::schema {
namespace {

// Objects that belong to an extension are left out (the extension's own).
// Names are quoted and qualified ("public"."users" → public.users).
constexpr const char* image_sql = R"SQL(
WITH ns AS (
  SELECT oid, nspname FROM pg_namespace
   WHERE nspname NOT IN ('pg_catalog', 'information_schema')
     AND nspname NOT LIKE 'pg\_toast%' AND nspname NOT LIKE 'pg\_temp\_%'
     AND nspname <> ALL ($1::text[])
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass
                     AND d.objid = pg_namespace.oid AND d.deptype = 'e')
), rel AS (
  SELECT c.*, c.xmin AS rel_xmin, n.nspname, format('%I.%I', n.nspname, c.relname) AS qname
    FROM pg_class c JOIN ns n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm')
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                     AND d.objid = c.oid AND d.deptype = 'e')
)
SELECT jsonb_build_object(
 'schemas', (SELECT coalesce(jsonb_object_agg(n.oid::text, jsonb_build_object('name', quote_ident(n.nspname),
     'mine', p.xmin::text = (txid_current() % 4294967296)::text)), '{}')
     FROM ns n JOIN pg_namespace p ON p.oid = n.oid),
 'tables', (SELECT coalesce(jsonb_object_agg(r.oid::text, jsonb_build_object(
     'name', r.qname, 'schema', r.nspname, 'relname', r.relname, 'kind', r.relkind::text,
     'mine', r.rel_xmin::text = (txid_current() % 4294967296)::text,
     'rls', r.relrowsecurity, 'force_rls', r.relforcerowsecurity,
     'view', CASE WHEN r.relkind IN ('v', 'm') THEN pg_get_viewdef(r.oid) END,
     'grants', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                  'grantee', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                  'privilege', a.privilege_type, 'grantable', a.is_grantable)
                  ORDER BY a.grantee, a.privilege_type), '[]')
                  FROM aclexplode(r.relacl) a WHERE a.grantee <> r.relowner),
     'columns', (SELECT coalesce(jsonb_object_agg(a.attnum::text, jsonb_build_object(
                   'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                   'mine', a.xmin::text = (txid_current() % 4294967296)::text,
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
     'mine', ic.xmin::text = (txid_current() % 4294967296)::text,
     'definition', pg_get_indexdef(i.indexrelid),
     'constraint', EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                            AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')))), '{}')
     FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN rel r ON r.oid = i.indrelid),
 'constraints', (SELECT coalesce(jsonb_object_agg(c.oid::text, jsonb_build_object(
     'table', c.conrelid::text, 'name', c.conname, 'type', c.contype::text,
     'mine', c.xmin::text = (txid_current() % 4294967296)::text,
     'definition', pg_get_constraintdef(c.oid))), '{}')
     FROM pg_constraint c JOIN rel r ON r.oid = c.conrelid WHERE c.contype NOT IN ('t', 'n')),
 'policies', (SELECT coalesce(jsonb_object_agg(p.oid::text, jsonb_build_object(
     'table', p.polrelid::text, 'name', p.polname, 'command', p.polcmd::text, 'permissive', p.polpermissive,
     'mine', p.xmin::text = (txid_current() % 4294967296)::text,
     'roles', (SELECT coalesce(jsonb_agg(CASE WHEN x = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x)) END
                                         ORDER BY x), '[]') FROM unnest(p.polroles) x),
     'using', pg_get_expr(p.polqual, p.polrelid), 'check', pg_get_expr(p.polwithcheck, p.polrelid))), '{}')
     FROM pg_policy p JOIN rel r ON r.oid = p.polrelid),
 'triggers', (SELECT coalesce(jsonb_object_agg(t.oid::text, jsonb_build_object(
     'table', t.tgrelid::text, 'name', t.tgname, 'definition', pg_get_triggerdef(t.oid),
     'mine', t.xmin::text = (txid_current() % 4294967296)::text,
     'enabled', t.tgenabled::text)), '{}')
     FROM pg_trigger t JOIN rel r ON r.oid = t.tgrelid WHERE NOT t.tgisinternal),
 'functions', (SELECT coalesce(jsonb_object_agg(p.oid::text, jsonb_build_object(
     'signature', format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
     'kind', CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
     'mine', p.xmin::text = (txid_current() % 4294967296)::text,
     'definition', pg_get_functiondef(p.oid))), '{}')
     FROM pg_proc p JOIN ns n ON n.oid = p.pronamespace
    WHERE p.prokind IN ('f', 'p')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                      AND d.objid = p.oid AND d.deptype = 'e')),
 'sequences', (SELECT coalesce(jsonb_object_agg(c.oid::text, jsonb_build_object(
     'name', format('%I.%I', n.nspname, c.relname), 'type', format_type(s.seqtypid, NULL),
     'mine', c.xmin::text = (txid_current() % 4294967296)::text,
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
    WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                      AND d.objid = c.oid AND d.deptype = 'e')),
 'enums', (SELECT coalesce(jsonb_object_agg(t.oid::text, jsonb_build_object(
     'name', format('%I.%I', n.nspname, t.typname), 'typname', t.typname, 'schema', n.nspname,
     'mine', t.xmin::text = (txid_current() % 4294967296)::text,
     'values', (SELECT jsonb_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid),
     'columns', (SELECT coalesce(jsonb_agg(jsonb_build_object('table', format('%I.%I', cn.nspname, c.relname),
                                                             'column', a.attname,
                                                             'default', pg_get_expr(ad.adbin, ad.adrelid))), '[]')
                   FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                   JOIN pg_namespace cn ON cn.oid = c.relnamespace
                   LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                  WHERE a.atttypid = t.oid AND NOT a.attisdropped AND c.relkind IN ('r', 'p')))), '{}')
     FROM pg_type t JOIN ns n ON n.oid = t.typnamespace WHERE t.typtype = 'e'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass
                      AND d.objid = t.oid AND d.deptype = 'e')),
 'extensions', (SELECT coalesce(jsonb_object_agg(extname, extversion), '{}') FROM pg_extension)
)::text
)SQL";

// Every catalog row an image is made from changes this when it changes: a
// row added or removed changes a count, a row updated gets a new xmin.
constexpr const char* fingerprint_sql = R"SQL(
SELECT concat_ws(',',
 (SELECT count(*) || ':' || sum(xmin::text::bigint) FROM pg_namespace),
 (SELECT count(*) || ':' || sum(xmin::text::bigint) FROM pg_class),
 (SELECT count(*) || ':' || sum(xmin::text::bigint) FROM pg_attribute),
 (SELECT count(*) || ':' || sum(xmin::text::bigint) FROM pg_attrdef),
 (SELECT count(*) || ':' || sum(xmin::text::bigint) FROM pg_index),
 (SELECT count(*) || ':' || sum(xmin::text::bigint) FROM pg_constraint),
 (SELECT count(*) || ':' || sum(xmin::text::bigint) FROM pg_policy),
 (SELECT count(*) || ':' || sum(xmin::text::bigint) FROM pg_trigger),
 (SELECT count(*) || ':' || sum(xmin::text::bigint) FROM pg_proc),
 (SELECT count(*) || ':' || sum(xmin::text::bigint) FROM pg_sequence),
 (SELECT count(*) || ':' || sum(xmin::text::bigint) FROM pg_type),
 (SELECT count(*) || ':' || sum(xmin::text::bigint) FROM pg_enum),
 (SELECT count(*) || ':' || sum(xmin::text::bigint) FROM pg_extension),
 (SELECT count(*) || ':' || sum(xmin::text::bigint) FROM pg_collation),
 (SELECT count(*) || ':' || sum(xmin::text::bigint) FROM pg_depend WHERE deptype IN ('e', 'a', 'i')))
)SQL";

}  // namespace

std::string fingerprint(db::session& s) {
    return s.query_prepared("moonshift_catalog_fingerprint", fingerprint_sql)[0][0]
        .as<std::string>();
}

nlohmann::json image(db::session& s, const std::vector<std::string>& exclude_schemas) {
    // Taken twice per migration: prepared, and so planned, once per run. The
    // schemas left out are part of its text (a statement without parameters
    // keeps one plan), and of its name.
    std::string sql = image_sql;
    const std::string list = db::quote::literal(db::quote::array(exclude_schemas)) + "::text[]";
    sql.replace(sql.find("$1::text[]"), 10, list);
    auto r = s.query_prepared(
        fmt::format("moonshift_image_{:x}", std::hash<std::string>{}(list)&0xffffffffu), sql);
    return nlohmann::json::parse(r[0][0].c_str());
}

}  // namespace moonshift::schema
