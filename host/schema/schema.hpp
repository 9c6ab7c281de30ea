// Catalog snapshots and their difference: tables, columns and their types,
// indexes, constraints, policies, functions, triggers, sequences, enum
// types and grants. Used by `plan` (before/after each rehearsed migration) and by
// anything that compares two databases.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "db/session.hpp"

namespace moonshift::schema {

struct snapshot_options {
    // Schemas left out besides pg_catalog, information_schema, pg_toast and
    // temporary schemas; typically the history schema ("moonshift").
    std::vector<std::string> exclude_schemas;
    // When not empty, only these schemas.
    std::vector<std::string> only_schemas;
    // Extensions left out besides those installed in an excluded schema
    // (a platform's own: Supabase's pg_graphql, supabase_vault, ...).
    std::vector<std::string> exclude_extensions;
};

// One round trip. The result is plain JSON, so it can be stored (a run's
// report) or compared across servers:
// {"schemas": [...],
//  "tables": {"public.users": {"kind": "table", "rls": false, "force_rls": false,
//             "columns": {"id": {"type": "integer", "nullable": false, "default": null,
//                                "identity": "", "generated": "", "position": 1}}}},
//  "indexes": {"public.users_pkey": {"table": "public.users", "definition": "...", "valid": true}},
//  "constraints": {"public.users.users_pkey": {"table": ..., "type": "primary key",
//                  "definition": "PRIMARY KEY (id)", "validated": true}},
//  "policies": {"public.users.own_rows": {"table": ..., "command": "SELECT", "permissive": true,
//               "roles": ["authenticated"], "using": "...", "check": null}},
//  "functions": {"public.slugify(text)": {"returns": "text", "language": "sql",
//                "volatility": "immutable", "security_definer": false, "body_md5": "..."}},
//  "triggers": {"public.users.t": {"table": ..., "definition": "..."}},
//  "sequences": {"public.users_id_seq": {"type": "bigint"}},
//  "enums": {"public.mood": ["sad", "happy"]},
//  "grants": {"public.users to app": {"privileges": ["INSERT", "SELECT WITH GRANT OPTION"]},
//             "schema api to anon": {"privileges": ["USAGE"]}}}
// Grants are table (view, ...) privileges and schema privileges per role;
// the owner's own privileges are left out, column privileges too.
nlohmann::json snapshot(db::session& s, const snapshot_options& o = {});

struct change {
    std::string object;  // "table", "column", "index", "constraint", "policy", "function", ...
    std::string action;  // "added", "removed", "changed"
    std::string name;    // "public.users", "public.users.email", "public.users_pkey", ...
    nlohmann::json before, after;  // the object's description (null when added / removed)
    // What changed for "changed": {"type": ["integer", "bigint"], ...}.
    nlohmann::json fields = nlohmann::json::object();
};

// Changes that turn a into b, ordered by object kind then name.
std::vector<change> diff(const nlohmann::json& a, const nlohmann::json& b);

// "+ table public.users", "- column public.users.email (text)",
// "~ column public.users.id: type integer → bigint".
std::string describe(const change& c);
nlohmann::json to_json(const change& c);
nlohmann::json to_json(const std::vector<change>& changes);

}  // namespace moonshift::schema
