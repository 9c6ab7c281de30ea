// Catalog snapshots in one query, and the difference of two snapshots.
#include "schema/schema.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "db/quote.hpp"

namespace moonshift::schema {
namespace {

using json = nlohmann::json;

// Objects that belong to an extension are the extension's business, not the
// project's: they are left out (the extension itself is listed).
constexpr const char* snapshot_sql = R"SQL(
WITH ns AS (
  SELECT oid, nspname FROM pg_namespace
   WHERE nspname NOT IN ('pg_catalog', 'information_schema')
     AND nspname NOT LIKE 'pg\_toast%' AND nspname NOT LIKE 'pg\_temp\_%'
     AND nspname <> ALL ($1::text[])
     AND (cardinality($2::text[]) = 0 OR nspname = ANY ($2::text[]))
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass
                     AND d.objid = pg_namespace.oid AND d.deptype = 'e')
), rel AS (
  SELECT c.oid, n.nspname || '.' || c.relname AS name, c.relkind, c.relrowsecurity, c.relforcerowsecurity
    FROM pg_class c JOIN ns n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                     AND d.objid = c.oid AND d.deptype = 'e')
)
SELECT jsonb_build_object(
 'schemas', (SELECT coalesce(jsonb_agg(nspname ORDER BY nspname), '[]') FROM ns),
 'tables', (SELECT coalesce(jsonb_object_agg(r.name, jsonb_build_object(
     'kind', CASE r.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view'
                            WHEN 'm' THEN 'materialized view' ELSE 'foreign table' END,
     'rls', r.relrowsecurity, 'force_rls', r.relforcerowsecurity,
     'definition_md5', CASE WHEN r.relkind IN ('v', 'm') THEN md5(pg_get_viewdef(r.oid)) END,
     'columns', (SELECT coalesce(jsonb_object_agg(a.attname, jsonb_build_object(
                   'type', format_type(a.atttypid, a.atttypmod), 'nullable', NOT a.attnotnull,
                   'default', pg_get_expr(ad.adbin, ad.adrelid), 'identity', a.attidentity::text,
                   'generated', a.attgenerated::text)), '{}')
                   FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                  WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped))), '{}') FROM rel r),
 'indexes', (SELECT coalesce(jsonb_object_agg(n.nspname || '.' || ic.relname, jsonb_build_object(
     'table', r.name, 'definition', pg_get_indexdef(i.indexrelid), 'valid', i.indisvalid,
     'unique', i.indisunique, 'primary', i.indisprimary)), '{}')
     FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
     JOIN rel r ON r.oid = i.indrelid),
 'constraints', (SELECT coalesce(jsonb_object_agg(r.name || '.' || c.conname, jsonb_build_object(
     'table', r.name,
     'type', CASE c.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique' WHEN 'f' THEN 'foreign key'
                            WHEN 'c' THEN 'check' WHEN 'x' THEN 'exclusion' ELSE 'trigger' END,
     'definition', pg_get_constraintdef(c.oid), 'validated', c.convalidated)), '{}')
     FROM pg_constraint c JOIN rel r ON r.oid = c.conrelid),
 'policies', (SELECT coalesce(jsonb_object_agg(r.name || '.' || p.polname, jsonb_build_object(
     'table', r.name,
     'command', CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                              WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
     'permissive', p.polpermissive,
     'roles', (SELECT coalesce(jsonb_agg(CASE WHEN x = 0 THEN 'public' ELSE pg_get_userbyid(x)::text END
                                         ORDER BY CASE WHEN x = 0 THEN 'public' ELSE pg_get_userbyid(x)::text END), '[]')
                 FROM unnest(p.polroles) x),
     'using', pg_get_expr(p.polqual, p.polrelid), 'check', pg_get_expr(p.polwithcheck, p.polrelid))), '{}')
     FROM pg_policy p JOIN rel r ON r.oid = p.polrelid),
 'functions', (SELECT coalesce(jsonb_object_agg(
       n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       jsonb_build_object(
         'kind', CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
         'returns', pg_get_function_result(p.oid),
         'language', (SELECT lanname FROM pg_language l WHERE l.oid = p.prolang),
         'volatility', CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' ELSE 'volatile' END,
         'security_definer', p.prosecdef,
         'body_md5', md5(pg_get_functiondef(p.oid)))), '{}')
     FROM pg_proc p JOIN ns n ON n.oid = p.pronamespace
    WHERE p.prokind IN ('f', 'p')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                      AND d.objid = p.oid AND d.deptype = 'e')),
 'triggers', (SELECT coalesce(jsonb_object_agg(r.name || '.' || t.tgname, jsonb_build_object(
     'table', r.name, 'definition', pg_get_triggerdef(t.oid), 'enabled', t.tgenabled::text)), '{}')
     FROM pg_trigger t JOIN rel r ON r.oid = t.tgrelid WHERE NOT t.tgisinternal),
 'sequences', (SELECT coalesce(jsonb_object_agg(n.nspname || '.' || c.relname, jsonb_build_object(
     'type', format_type(s.seqtypid, NULL), 'increment', s.seqincrement)), '{}')
     FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN ns n ON n.oid = c.relnamespace
    WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                      AND d.objid = c.oid AND d.deptype = 'e')),
 'enums', (SELECT coalesce(jsonb_object_agg(n.nspname || '.' || t.typname,
     (SELECT jsonb_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)), '{}')
     FROM pg_type t JOIN ns n ON n.oid = t.typnamespace WHERE t.typtype = 'e'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass
                      AND d.objid = t.oid AND d.deptype = 'e')),
 'extensions', (SELECT coalesce(jsonb_object_agg(e.extname, e.extversion), '{}')
     FROM pg_extension e JOIN pg_namespace en ON en.oid = e.extnamespace
    WHERE e.extname <> ALL ($3::text[]) AND en.nspname <> ALL ($1::text[])),
 'grants', (SELECT coalesce(jsonb_object_agg(g.name, jsonb_build_object('privileges', g.privileges)), '{}') FROM (
     SELECT o.what || ' to ' || CASE WHEN a.grantee = 0 THEN 'public' ELSE pg_get_userbyid(a.grantee)::text END AS name,
            jsonb_agg(a.privilege_type || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END
                      ORDER BY a.privilege_type) AS privileges
       FROM (SELECT 'schema ' || n.nspname AS what, p.nspacl AS acl, p.nspowner AS owner
               FROM ns n JOIN pg_namespace p ON p.oid = n.oid
             UNION ALL
             SELECT r.name, c.relacl, c.relowner FROM rel r JOIN pg_class c ON c.oid = r.oid) o,
            aclexplode(o.acl) a
      WHERE a.grantee <> o.owner
      GROUP BY 1) g)
)::text
)SQL";

// The order in which kinds of objects are reported (dependencies first).
const std::vector<std::pair<std::string, std::string>>& categories() {
    static const std::vector<std::pair<std::string, std::string>> all = {
        {"extensions", "extension"},   {"schemas", "schema"},   {"enums", "enum"},
        {"sequences", "sequence"},     {"tables", "table"},     {"columns", "column"},
        {"constraints", "constraint"}, {"indexes", "index"},    {"policies", "policy"},
        {"functions", "function"},     {"triggers", "trigger"}, {"grants", "grant"},
    };
    return all;
}

// Flattens tables' columns into "columns": {"public.users.id": {...}} and
// takes them out of the table descriptions, so that each is diffed alone.
json normalized(const json& snap) {
    json out = json::object();
    for (auto& [key, _] : categories()) out[key] = json::object();
    if (!snap.is_object()) return out;
    for (auto it = snap.begin(); it != snap.end(); ++it) {
        if (it.key() == "schemas") {
            for (const auto& s : *it) out["schemas"][s.get<std::string>()] = true;
        } else if (it.key() == "tables") {
            for (auto t = it->begin(); t != it->end(); ++t) {
                json table = *t;
                if (table.contains("columns")) {
                    for (auto c = table["columns"].begin(); c != table["columns"].end(); ++c)
                        out["columns"][t.key() + "." + c.key()] = *c;
                    table.erase("columns");
                }
                out["tables"][t.key()] = table;
            }
        } else if (it->is_object()) {
            out[it.key()] = *it;
        }
    }
    return out;
}

std::string text_of(const json& v) {
    if (v.is_null()) return "none";
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
    if (v.is_array() &&
        std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_string(); })) {
        std::string out;
        for (const auto& x : v) out += (out.empty() ? "" : ", ") + x.get<std::string>();
        return "[" + out + "]";
    }
    return v.dump();
}

std::string column_text(const json& c) {
    if (!c.is_object()) return text_of(c);
    std::string out = c.value("type", "");
    if (!c.value("nullable", true)) out += " NOT NULL";
    if (c.contains("default") && c["default"].is_string())
        out += " DEFAULT " + c["default"].get<std::string>();
    auto identity = c.value("identity", "");
    if (identity == "a") out += " GENERATED ALWAYS AS IDENTITY";
    if (identity == "d") out += " GENERATED BY DEFAULT AS IDENTITY";
    return out;
}

std::string summary(const std::string& object, const json& v) {
    if (object == "column") return column_text(v);
    if (object == "index" || object == "constraint" || object == "trigger")
        return v.value("definition", "");
    if (object == "policy") {
        std::string roles;
        for (const auto& r : v.value("roles", json::array()))
            roles += (roles.empty() ? "" : ", ") + r.get<std::string>();
        return v.value("command", "") + " to " + roles;
    }
    if (object == "function") return "returns " + v.value("returns", "");
    if (object == "table") return v.value("kind", "table");
    if (object == "enum" || object == "extension") return text_of(v);
    if (object == "grant") return text_of(v.value("privileges", json::array()));
    return {};
}

}  // namespace

json snapshot(db::session& s, const snapshot_options& o) {
    auto r = s.query(snapshot_sql, db::quote::array(o.exclude_schemas),
                     db::quote::array(o.only_schemas), db::quote::array(o.exclude_extensions));
    return json::parse(r[0][0].c_str());
}

std::vector<change> diff(const json& a, const json& b) {
    auto na = normalized(a), nb = normalized(b);
    std::vector<change> out;
    for (auto& [key, object] : categories()) {
        const auto& before = na[key];
        const auto& after = nb[key];
        // std::map keeps the names ordered, whatever order the JSON had.
        std::map<std::string, std::pair<const json*, const json*>> names;
        for (auto it = before.begin(); it != before.end(); ++it) names[it.key()].first = &*it;
        for (auto it = after.begin(); it != after.end(); ++it) names[it.key()].second = &*it;
        for (auto& [name, pair] : names) {
            auto [x, y] = pair;
            change c;
            c.object = object;
            c.name = name;
            if (!x) {
                c.action = "added";
                c.after = *y;
            } else if (!y) {
                c.action = "removed";
                c.before = *x;
            } else if (*x != *y) {
                c.action = "changed";
                c.before = *x;
                c.after = *y;
                if (x->is_object() && y->is_object()) {
                    for (auto f = x->begin(); f != x->end(); ++f) {
                        auto g = y->find(f.key());
                        if (g == y->end() || *g != *f)
                            c.fields[f.key()] = json::array({*f, g == y->end() ? json() : *g});
                    }
                    for (auto g = y->begin(); g != y->end(); ++g)
                        if (!x->contains(g.key())) c.fields[g.key()] = json::array({json(), *g});
                } else {
                    c.fields["value"] = json::array({*x, *y});
                }
            } else {
                continue;
            }
            out.push_back(std::move(c));
        }
    }
    return out;
}

std::string describe(const change& c) {
    if (c.action == "added") {
        auto s = summary(c.object, c.after);
        return "+ " + c.object + " " + c.name + (s.empty() ? "" : ": " + s);
    }
    if (c.action == "removed") {
        auto s = summary(c.object, c.before);
        return "- " + c.object + " " + c.name + (s.empty() ? "" : ": " + s);
    }
    std::string parts;
    for (auto it = c.fields.begin(); it != c.fields.end(); ++it) {
        std::string field = it.key() == "body_md5"         ? "body"
                            : it.key() == "definition_md5" ? "definition"
                                                           : it.key();
        if (it.key() == "body_md5" || it.key() == "definition_md5")
            parts += (parts.empty() ? "" : ", ") + field + " changed";
        else
            parts += (parts.empty() ? "" : ", ") +
                     fmt::format("{} {} → {}", field, text_of((*it)[0]), text_of((*it)[1]));
    }
    return "~ " + c.object + " " + c.name + ": " + parts;
}

json to_json(const change& c) {
    json j = {{"object", c.object}, {"action", c.action}, {"name", c.name}, {"text", describe(c)}};
    if (!c.before.is_null()) j["before"] = c.before;
    if (!c.after.is_null()) j["after"] = c.after;
    if (!c.fields.empty()) j["fields"] = c.fields;
    return j;
}

json to_json(const std::vector<change>& changes) {
    json out = json::array();
    for (const auto& c : changes) out.push_back(to_json(c));
    return out;
}

}  // namespace moonshift::schema
