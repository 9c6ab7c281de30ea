// The query of a table's definition that a backup keeps (definition.hpp).
#include "backup/definition.hpp"

namespace moonshift::backup {

const char* const definition_sql = R"SQL(
SELECT jsonb_build_object(
 'table', n.nspname || '.' || c.relname, 'schema', n.nspname, 'name', c.relname,
 'quoted', quote_ident(n.nspname) || '.' || quote_ident(c.relname),
 'kind', c.relkind::text, 'rls', c.relrowsecurity, 'force_rls', c.relforcerowsecurity,
 'columns', (SELECT jsonb_agg(jsonb_build_object(
     'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'not_null', a.attnotnull,
     'default', pg_get_expr(ad.adbin, ad.adrelid), 'identity', a.attidentity::text,
     'generated', a.attgenerated::text,
     'collation', CASE WHEN a.attcollation <> ty.typcollation THEN
        (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname) FROM pg_collation co
           JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) END)
     ORDER BY a.attnum)
     FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
     LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
 'constraints', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', co.conname, 'type', co.contype::text,
     'definition', pg_get_constraintdef(co.oid)) ORDER BY co.contype <> 'p', co.conname), '[]')
     FROM pg_constraint co WHERE co.conrelid = c.oid AND co.contype IN ('p', 'u', 'c', 'x', 'f')),
 'indexes', (SELECT coalesce(jsonb_agg(pg_get_indexdef(i.indexrelid)), '[]') FROM pg_index i
     WHERE i.indrelid = c.oid
       AND NOT EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conindid = i.indexrelid AND co.conrelid = c.oid)),
 'sequences', (SELECT coalesce(jsonb_agg(jsonb_build_object(
     'quoted', quote_ident(sn.nspname) || '.' || quote_ident(s.relname), 'column', a.attname,
     'identity', d.deptype = 'i', 'type', format_type(sq.seqtypid, NULL), 'start', sq.seqstart,
     'increment', sq.seqincrement, 'min', sq.seqmin, 'max', sq.seqmax, 'cache', sq.seqcache,
     'cycle', sq.seqcycle)), '[]')
     FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
     JOIN pg_namespace sn ON sn.oid = s.relnamespace JOIN pg_sequence sq ON sq.seqrelid = s.oid
     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid
    WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
      AND d.refobjid = c.oid AND d.deptype IN ('a', 'i')),
 'policies', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', p.polname, 'command', p.polcmd::text,
     'permissive', p.polpermissive,
     'roles', (SELECT coalesce(jsonb_agg(CASE WHEN x = 0 THEN 'public' ELSE quote_ident(pg_get_userbyid(x)) END), '[]')
                 FROM unnest(p.polroles) x),
     'using', pg_get_expr(p.polqual, p.polrelid), 'check', pg_get_expr(p.polwithcheck, p.polrelid))), '[]')
     FROM pg_policy p WHERE p.polrelid = c.oid),
 'triggers', (SELECT coalesce(jsonb_agg(pg_get_triggerdef(t.oid)), '[]') FROM pg_trigger t
     WHERE t.tgrelid = c.oid AND NOT t.tgisinternal),
 'grants', (SELECT coalesce(jsonb_agg(jsonb_build_object(
     'grantee', CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(g.grantee)) END,
     'privilege', g.privilege_type)), '[]')
     FROM aclexplode(c.relacl) g WHERE g.grantee <> c.relowner),
 'comment', obj_description(c.oid, 'pg_class'))::text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.oid = to_regclass($1)
)SQL";

}  // namespace moonshift::backup
