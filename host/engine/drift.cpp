// Drift: replaying an environment's recorded migrations on a scratch database
// and comparing the schema they produce with the environment's own.
#include "engine/drift.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <set>

#include "catalog/catalog.hpp"
#include "catalog/formats.hpp"
#include "common/text.hpp"
#include "db/quote.hpp"
#include "engine/local_shape.hpp"
#include "history/history.hpp"
#include "lint/lint.hpp"
#include "local/cluster.hpp"

namespace moonshift::drift {
namespace fs = std::filesystem;
namespace {

std::string scratch_name() {
    std::random_device rd;
    return "moonshift_drift_" + std::to_string(getpid()) + "_" + std::to_string(rd() % 1000000);
}

// Drops moonshift_drift_<pid>_<n> databases whose process no longer runs.
void drop_stale(db::session& admin) {
    std::vector<std::string> stale;
    for (const auto& row : admin.query("SELECT datname FROM pg_database WHERE datname ~ "
                                       "'^moonshift_drift_[0-9]+_[0-9]+$'")) {
        std::string name = row[0].c_str();
        long pid = std::strtol(name.c_str() + std::strlen("moonshift_drift_"), nullptr, 10);
        if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
            stale.push_back(name);
    }
    for (const auto& name : stale) {
        try {
            admin.exec_script("DROP DATABASE IF EXISTS " + db::quote::ident(name) +
                              " WITH (FORCE)");
        } catch (const db::sql_failure&) {
            // Someone else's business after all; the next run tries again.
        }
    }
}

// The scratch database's life: created in the constructor, dropped in the
// destructor, whatever happened in between.
class scratch_database {
  public:
    // `clean_stale`: first drop the scratch databases of drift runs of this
    // machine that were killed (their process is gone) — only on the
    // project's own cluster, where no other machine makes them.
    scratch_database(const std::string& server_url, bool clean_stale)
        : admin_url_(db::with_database(server_url, "postgres")) {
        db::settings s;
        s.url = admin_url_;
        std::unique_ptr<db::session> admin;
        try {
            admin = std::make_unique<db::session>(s);
        } catch (const error& e) {
            throw usage_error(
                "the scratch server " + db::redacted(server_url) + ": " + text::redact(e.what()),
                "give --scratch the URL of a server where this role may CREATE DATABASE, or leave "
                "it "
                "out to use the project's local cluster");
        }
        if (clean_stale) drop_stale(*admin);
        name_ = scratch_name();
        try {
            admin->exec_script("CREATE DATABASE " + db::quote::ident(name_) +
                               " TEMPLATE template0");
        } catch (const db::sql_failure& f) {
            throw error(exit_code::usage,
                        "cannot create a scratch database on " + db::redacted(server_url) + ": " +
                            f.info().message +
                            (f.info().sqlstate.empty() ? "" : " (" + f.info().sqlstate + ")"),
                        "give --scratch the URL of a server where this role may CREATE DATABASE");
        }
        url_ = db::with_database(server_url, name_);
    }
    ~scratch_database() {
        try {
            db::settings s;
            s.url = admin_url_;
            db::session admin(s);
            admin.exec_script("DROP DATABASE IF EXISTS " + db::quote::ident(name_) +
                              " WITH (FORCE)");
        } catch (const std::exception&) {
            // Nothing to do from a destructor; the name says what it was, and
            // the next drift run on this machine drops it (drop_stale).
        }
    }
    scratch_database(const scratch_database&) = delete;
    scratch_database& operator=(const scratch_database&) = delete;
    const std::string& url() const { return url_; }

  private:
    std::string admin_url_, name_, url_;
};

// The engine on the scratch database: the project's migrations and scripts,
// without the environment's guard rails (the changes were accepted there
// already), backups, notifications or lint errors.
engine::context scratch_context(const project::config& cfg, const project::environment& env,
                                const std::string& url, const engine::sink& on_event) {
    engine::context ctx;
    ctx.cfg = cfg;
    {
        lint::linter linter(cfg, nullptr);
        ctx.cfg.lint.error.clear();
        ctx.cfg.lint.warn.clear();
        for (const auto& r : linter.rules()) ctx.cfg.lint.warn.push_back(r.name);
    }
    ctx.cfg.verify.critical_tables.clear();
    ctx.cfg.verify.rls = ctx.cfg.verify.indexes = ctx.cfg.verify.foreign_keys =
        ctx.cfg.verify.row_counts = false;
    ctx.cfg.backup.policy = "never";
    ctx.cfg.notify.clear();
    project::environment scratch;
    scratch.name = env.name;  // Lua migrations that look at ctx.env behave as they did there
    scratch.production = false;
    scratch.backup = "never";
    scratch.lock_wait = std::chrono::seconds(5);
    ctx.env = scratch;
    ctx.url = url;
    ctx.on_event = on_event;
    ctx.takes_lock = true;  // its `up`
    return ctx;
}

// Creates, NOLOGIN, the roles of `wanted` that the server lacks; returns them.
std::vector<std::string> create_missing_roles(const std::string& server_url,
                                              const std::vector<std::string>& wanted) {
    db::settings s;
    s.url = db::with_database(server_url, "postgres");
    db::session admin(s);
    std::set<std::string> have;
    for (const auto& row : admin.query("SELECT rolname FROM pg_roles")) have.insert(row[0].c_str());
    std::vector<std::string> created;
    for (const auto& role : wanted) {
        if (have.count(role)) continue;
        admin.exec_script("CREATE ROLE " + db::quote::ident(role) + " NOLOGIN");
        created.push_back(role);
    }
    return created;
}

}  // namespace

nlohmann::json to_json(const file_problem& p) {
    nlohmann::json j = {{"version", p.version},
                        {"name", p.name},
                        {"state", p.state},
                        {"recorded_checksum", p.recorded_checksum}};
    if (!p.file.empty()) j["file"] = p.file;
    if (!p.disk_checksum.empty()) j["disk_checksum"] = p.disk_checksum;
    return j;
}

namespace {

// What the environment recorded, and what it has.
struct environment_state {
    std::vector<history::applied> recorded;
    nlohmann::json live;
    std::vector<std::string> roles;  // the environment server's roles
};

environment_state read_environment(const project::config& cfg, const std::string& url,
                                   const schema::snapshot_options& snap) {
    environment_state st;
    db::settings s;
    s.url = url;
    db::session session(s);
    history::store store(session, cfg.schema);
    if (store.present()) st.recorded = store.list_applied();
    st.live = schema::snapshot(session, snap);
    for (const auto& row :
         session.query("SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1"))
        st.roles.push_back(row[0].c_str());
    return st;
}

// Every recorded migration must be on disk as it ran: the ones that are
// not go to out.problems. Returns the recorded version keys.
std::set<std::string> check_files(const std::vector<history::applied>& recorded,
                                  const catalog::catalog& cat, result& out) {
    std::set<std::string> keys;
    for (const auto& row : recorded) {
        keys.insert(catalog::version_key(row.version));
        const auto* m = cat.find(row.version);
        if (!m)
            out.problems.push_back({row.version, row.name, "missing", "", row.checksum, ""});
        else if (m->checksum != row.checksum &&
                 (m->legacy_checksum.empty() || m->legacy_checksum != row.checksum))
            out.problems.push_back(
                {row.version, row.name, "changed", m->up_label, row.checksum, m->checksum});
    }
    return keys;
}

// The scratch server: --scratch, or the private local cluster (started when
// it is not running, and given the environment's roles).
std::string scratch_server(const project::config& cfg, const options& o,
                           const environment_state& st) {
    std::string server = o.scratch_url;
    bool started = false;
    if (server.empty()) {
        local::cluster c(cfg.root / ".moonshift" / "local");
        auto status = c.status();
        if (!status.running) {
            status = c.start();
            started = true;
        }
        server = status.url;
    }
    // Roles are a server's: migrations that grant to the environment's roles
    // need them. Only the project's own cluster gets them (NOLOGIN); a
    // --scratch server is left as it is.
    auto created =
        o.scratch_url.empty() ? create_missing_roles(server, st.roles) : std::vector<std::string>{};
    if (o.on_rebuild)
        o.on_rebuild({{"scratch", db::redacted(server)},
                      {"migrations", st.recorded.size()},
                      {"started_cluster", started},
                      {"roles_created", created}});
    return server;
}

// Migrations on disk that the environment never recorded are marked applied
// on the scratch database, so that the engine applies exactly the recorded
// ones, in version order.
void mark_unrecorded(const std::string& url, const project::config& cfg,
                     const project::environment& env, const catalog::catalog& cat,
                     const std::set<std::string>& recorded_keys) {
    db::settings s;
    s.url = url;
    db::session session(s);
    history::store store(session, cfg.schema);
    store.ensure();
    std::string marks;
    for (const auto& m : cat.migrations) {
        if (recorded_keys.count(catalog::version_key(m.version))) continue;
        history::applied row;
        row.version = m.version;
        row.name = m.name;
        row.checksum = m.checksum;
        row.applied_by = "moonshift drift";
        row.environment = env.name;
        marks += (marks.empty() ? "" : ";") + store.record_sql(row);
    }
    // One simple query: its statements commit together.
    if (!marks.empty()) session.exec_script(marks);
}

// The recorded migrations applied by the normal engine on the scratch
// database, and the schema they produce.
nlohmann::json rebuild(const project::config& cfg, const project::environment& env,
                       const std::string& url, const options& o,
                       const schema::snapshot_options& snap) {
    try {
        {
            engine::engine e(scratch_context(cfg, env, url, o.on_event));
            engine::up_options up;
            up.out_of_order = true;
            e.up(up);
        }
        db::settings s;
        s.url = url;
        db::session session(s);
        return schema::snapshot(session, snap);
    } catch (const error& err) {
        throw error(err.code(),
                    std::string("the recorded migrations of \"") + env.name +
                        "\" do not apply on an empty scratch database:\n" + err.what(),
                    "the scratch database was dropped; fix the migration or the project's checks, "
                    "or compare two live environments with `moonshift diff`");
    }
}

// A session for reading; an unreachable environment is a usage error (exit 2)
// that names it.
std::unique_ptr<db::session> connect_for_reading(const project::environment& env,
                                                 const std::string& url) {
    db::settings s;
    s.url = url;
    s.lock_timeout = env.lock_timeout;
    s.statement_timeout = env.statement_timeout;
    try {
        return std::make_unique<db::session>(s);
    } catch (const error& e) {
        throw usage_error("environment \"" + env.name + "\": " + text::redact(e.what()),
                          "check its url in moonshift.toml and that the server runs");
    }
}

schema::snapshot_options project_snapshot(const project::config& cfg) {
    schema::snapshot_options snap;
    snap.exclude_schemas = {cfg.schema, cfg.backup.schema};
    // A Supabase project's database holds the platform's own schemas and
    // extensions, which no migration of the project made: left out unless
    // [project] supabase_schemas = "include".
    bool supabase = fs::exists(cfg.root / "supabase" / "config.toml") ||
                    catalog::detect_format(cfg.migrations_path(), cfg.root) == "supabase";
    if (supabase && cfg.supabase_schemas != "include") {
        const auto& f = catalog::format_named("supabase");
        for (const auto& s : f.platform_schemas) snap.exclude_schemas.push_back(s);
        snap.exclude_extensions = f.platform_extensions;
    }
    return snap;
}

}  // namespace

result compare(const project::config& cfg, const project::environment& env, const std::string& url,
               const options& o) {
    result out;
    auto snap = project_snapshot(cfg);
    auto st = read_environment(cfg, url, snap);
    out.recorded = static_cast<int>(st.recorded.size());
    auto cat = catalog::discover(cfg.migrations_path(), cfg.root, cfg.rollbacks_path());
    auto recorded_keys = check_files(st.recorded, cat, out);
    if (!out.problems.empty()) return out;

    scratch_database scratch(scratch_server(cfg, o, st), o.scratch_url.empty());
    // The project's own cluster rebuilds a Supabase project on the Supabase shape, as
    // `moonshift local` gives it, so migrations that call auth.uid() rebuild there.
    if (o.scratch_url.empty() && engine::local_supabase(cfg))
        engine::apply_supabase_shape(scratch.url());
    mark_unrecorded(scratch.url(), cfg, env, cat, recorded_keys);
    out.changes = schema::diff(rebuild(cfg, env, scratch.url(), o, snap), st.live);
    return out;
}

void check_reachable(const project::environment& env, const std::string& url) {
    connect_for_reading(env, url);
}

nlohmann::json live_schema(const project::config& cfg, const project::environment& env,
                           const std::string& url) {
    return schema::snapshot(*connect_for_reading(env, url), project_snapshot(cfg));
}

}  // namespace moonshift::drift
