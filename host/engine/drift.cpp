// Drift: replaying an environment's recorded migrations on a scratch database
// and comparing the schema they produce with the environment's own.
#include "engine/drift.hpp"

#include <libpq-fe.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <set>

#include "catalog/catalog.hpp"
#include "common/text.hpp"
#include "db/quote.hpp"
#include "history/history.hpp"
#include "lint/lint.hpp"
#include "local/cluster.hpp"

namespace moonshift::drift {
namespace {

std::string quote_value(const std::string& v) {
    std::string out = "'";
    for (char c : v) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}

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
        : admin_url_(with_database(server_url, "postgres")) {
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
        url_ = with_database(server_url, name_);
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
    return ctx;
}

// Creates, NOLOGIN, the roles of `wanted` that the server lacks; returns them.
std::vector<std::string> create_missing_roles(const std::string& server_url,
                                              const std::vector<std::string>& wanted) {
    db::settings s;
    s.url = with_database(server_url, "postgres");
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

std::string with_database(const std::string& url, const std::string& dbname) {
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
    if (!opts) {
        std::string message = err ? text::trim(err) : "cannot parse it";
        if (err) PQfreemem(err);
        throw usage_error("the connection string " + db::redacted(url) +
                          " is not valid: " + text::redact(message));
    }
    std::string out;
    for (auto* o = opts; o->keyword; ++o) {
        if (!o->val || std::string(o->keyword) == "dbname") continue;
        out += std::string(o->keyword) + "=" + quote_value(o->val) + " ";
    }
    PQconninfoFree(opts);
    return out + "dbname=" + quote_value(dbname);
}

nlohmann::json to_json(const file_problem& p) {
    nlohmann::json j = {{"version", p.version},
                        {"name", p.name},
                        {"state", p.state},
                        {"recorded_checksum", p.recorded_checksum}};
    if (!p.file.empty()) j["file"] = p.file;
    if (!p.disk_checksum.empty()) j["disk_checksum"] = p.disk_checksum;
    return j;
}

result compare(const project::config& cfg, const project::environment& env, const std::string& url,
               const options& o) {
    result out;
    schema::snapshot_options snap;
    snap.exclude_schemas = {cfg.schema};

    // The environment: what it recorded, and what it has.
    std::vector<history::applied> recorded;
    nlohmann::json live;
    std::vector<std::string> roles;  // the environment server's roles
    {
        db::settings s;
        s.url = url;
        db::session session(s);
        history::store store(session, cfg.schema);
        if (store.host_version() > 0) recorded = store.list_applied();
        live = schema::snapshot(session, snap);
        for (const auto& row :
             session.query("SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1"))
            roles.push_back(row[0].c_str());
    }
    out.recorded = static_cast<int>(recorded.size());

    // Every recorded migration must be on disk as it ran.
    auto cat = catalog::discover(cfg.migrations_path(), cfg.root);
    std::set<std::string> recorded_keys;
    for (const auto& row : recorded) {
        recorded_keys.insert(catalog::version_key(row.version));
        const auto* m = cat.find(row.version);
        if (!m) {
            out.problems.push_back({row.version, row.name, "missing", "", row.checksum, ""});
        } else if (m->checksum != row.checksum) {
            out.problems.push_back(
                {row.version, row.name, "changed", m->up_label, row.checksum, m->checksum});
        }
    }
    if (!out.problems.empty()) return out;

    // The scratch server: --scratch, or the private local cluster.
    std::string server = o.scratch_url;
    bool started = false;
    if (server.empty()) {
        local::cluster c(cfg.root / ".moonshift" / "local");
        auto st = c.status();
        if (!st.running) {
            st = c.start();
            started = true;
        }
        server = st.url;
    }
    // Roles are a server's: migrations that grant to the environment's roles
    // need them. Only the project's own cluster gets them (NOLOGIN); a
    // --scratch server is left as it is.
    auto created =
        o.scratch_url.empty() ? create_missing_roles(server, roles) : std::vector<std::string>{};
    if (o.on_rebuild)
        o.on_rebuild({{"scratch", db::redacted(server)},
                      {"migrations", recorded.size()},
                      {"started_cluster", started},
                      {"roles_created", created}});

    scratch_database scratch(server, o.scratch_url.empty());
    nlohmann::json rebuilt;
    {
        // Migrations on disk that the environment never recorded are marked
        // applied on the scratch database, so that the engine applies exactly
        // the recorded ones, in version order.
        db::settings s;
        s.url = scratch.url();
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
    try {
        {
            engine::engine e(scratch_context(cfg, env, scratch.url(), o.on_event));
            engine::up_options up;
            up.out_of_order = true;
            e.up(up);
        }
        db::settings s;
        s.url = scratch.url();
        db::session session(s);
        rebuilt = schema::snapshot(session, snap);
    } catch (const error& err) {
        throw error(err.code(),
                    std::string("the recorded migrations of \"") + env.name +
                        "\" do not apply on an empty scratch database:\n" + err.what(),
                    "the scratch database was dropped; fix the migration or the project's checks, "
                    "or compare two "
                    "live environments with `moonshift diff`");
    }
    out.changes = schema::diff(rebuilt, live);
    return out;
}

}  // namespace moonshift::drift
