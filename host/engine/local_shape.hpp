// The project's private local cluster as commands use it: started when it is not running, and
// each database the project uses there given the Supabase shape when the project asks for it
// ([local] supabase, docs/local.md): the roles, schemas and functions of a Supabase project
// that migrations rely on (local/supabase.sql).
#pragma once
#include <string>

#include "local/cluster.hpp"
#include "project/config.hpp"

namespace moonshift::engine {

// [local] supabase when the file sets it; else whether the project is a Supabase one
// (supabase/config.toml beside moonshift.toml, as `init` detects it, or migrations in the
// Supabase CLI's layout).
bool local_supabase(const project::config& cfg);

// Gives the database at url the Supabase shape unless it has it already (a mark on the auth
// schema says so): once per database, so a grant a migration revoked stays revoked. Concurrent
// callers wait for each other. Returns whether this call applied it.
bool apply_supabase_shape(const std::string& url);

struct local_cluster {
    local::state state;
    bool started = false;   // this call started the server
    bool supabase = false;  // the project's database has the Supabase shape
    bool shaped = false;    // this call gave it the shape
};

// The project's cluster (.moonshift/local), started when it is not running; with
// local_supabase(cfg), its database gets the shape.
local_cluster start_local(const project::config& cfg);

// After `moonshift local reset` (or any fresh start): the shape again when the project asks.
local_cluster shape_local(const project::config& cfg, local::state st, bool started);

}  // namespace moonshift::engine
