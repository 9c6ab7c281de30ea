// The Supabase shape of the local cluster's databases: local/supabase.sql (embedded), applied
// once per database in one transaction.
#include "engine/local_shape.hpp"

#include <filesystem>

#include "catalog/formats.hpp"
#include "common/embedded.hpp"
#include "common/error.hpp"
#include "db/session.hpp"
#include "db/transaction.hpp"

namespace moonshift::engine {
namespace fs = std::filesystem;

namespace {

const char* const shape_file = "local/supabase.sql";

std::string shape_script() {
    auto sql = embedded::find(shape_file);
    if (!sql)
        throw error(exit_code::migration_failed,
                    std::string(shape_file) + " is not embedded in this build");
    return std::string(*sql);
}

// The comment the script's last statement puts on the auth schema: present means applied.
std::string shape_mark(const std::string& script) {
    const std::string key = "COMMENT ON SCHEMA auth IS '";
    auto at = script.rfind(key);
    auto end = at == std::string::npos ? at : script.find('\'', at + key.size());
    if (end == std::string::npos)
        throw error(exit_code::migration_failed,
                    std::string(shape_file) + " does not end by marking the auth schema");
    return script.substr(at + key.size(), end - at - key.size());
}

// Read from the catalog tables themselves: a name lookup (to_regnamespace) may answer from
// this session's cache, which has not yet heard of a schema another session just committed.
bool has_mark(db::session& s, const std::string& mark) {
    auto r = s.query(
        "SELECT coalesce((SELECT d.description FROM pg_catalog.pg_description d JOIN "
        "pg_catalog.pg_namespace n ON d.objoid = n.oid WHERE d.classoid = "
        "'pg_catalog.pg_namespace'::regclass AND d.objsubid = 0 AND n.nspname = 'auth'), '') = $1",
        mark);
    return std::string(r[0][0].c_str()) == "t";
}

}  // namespace

bool local_supabase(const project::config& cfg) {
    if (cfg.local_supabase) return *cfg.local_supabase;
    return fs::exists(cfg.root / "supabase" / "config.toml") ||
           catalog::detect_format(cfg.migrations_path(), cfg.root) == "supabase";
}

bool apply_supabase_shape(const std::string& url) {
    const std::string script = shape_script();
    const std::string mark = shape_mark(script);
    db::settings s;
    s.url = url;
    s.pooler = db::pooler_mode::none;  // the private cluster: no pooler in between
    db::session session(s);
    if (has_mark(session, mark)) return false;
    db::transaction tx(session);
    // Two sessions shaping the same database (two commands started at once) take turns; the
    // two-key form keeps clear of the run lock's single-key space.
    session.query(
        "SELECT pg_advisory_xact_lock(hashtext('moonshift'), hashtext('local supabase shape'))");
    if (has_mark(session, mark)) return false;  // the other one did it meanwhile
    try {
        session.exec_script(script);
    } catch (const db::sql_failure& f) {
        throw error(exit_code::migration_failed,
                    "cannot give the local database the Supabase shape (" +
                        std::string(shape_file) + "): " + f.info().message,
                    "`moonshift local reset --yes` starts from an empty cluster; [local] supabase "
                    "= false in moonshift.toml keeps it plain PostgreSQL");
    }
    tx.commit();
    return true;
}

local_cluster shape_local(const project::config& cfg, local::state st, bool started) {
    local_cluster out;
    out.state = std::move(st);
    out.started = started;
    out.supabase = local_supabase(cfg);
    if (out.supabase && out.state.running) out.shaped = apply_supabase_shape(out.state.url);
    return out;
}

local_cluster start_local(const project::config& cfg) {
    local::cluster c(cfg.root / ".moonshift" / "local");
    auto st = c.status();
    bool started = false;
    if (!st.running) {
        st = c.start();
        started = true;
    }
    return shape_local(cfg, std::move(st), started);
}

}  // namespace moonshift::engine
