// `moonshift testdb`: the template built once under an advisory lock through
// the `up` path, then every call one CREATE DATABASE … TEMPLATE.
#include "engine/testdb.hpp"

#include <algorithm>
#include <exception>
#include <future>
#include <set>
#include <system_error>
#include <thread>

#include "common/text.hpp"
#include "db/quote.hpp"
#include "engine/seed.hpp"
#include "engine/testdb_detail.hpp"

namespace moonshift::testdb {
namespace {

using namespace detail;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

long long ms_since(steady_clock::time_point t) {
    return std::chrono::duration_cast<milliseconds>(steady_clock::now() - t).count();
}

void refuse_environment(const project::environment& env) {
    if (env.is_production())
        throw usage_error("environment \"" + env.name +
                              "\" is a production environment: testdb makes test databases on "
                              "its server only for non-production environments",
                          "use the environment your tests run against (--env test), or say "
                          "production = false in [env." +
                              env.name + "]");
    if (env.read_only)
        throw usage_error("environment \"" + env.name +
                          "\" is read-only (read_only = true): testdb creates databases on its "
                          "server");
}

void require_createdb(const state& st) {
    if (st.may_create) return;
    throw usage_error("role \"" + st.role +
                          "\" may not create databases: testdb clones a migrated template with "
                          "CREATE DATABASE; nothing was created",
                      "as a superuser: ALTER ROLE " + db::quote::ident(st.role) +
                          " CREATEDB; or point the environment at a role that has CREATEDB");
}

// The environment with what belongs to shared databases turned off: no
// approval, window, promotion, watch or backups for a template no one uses.
engine::context template_context(const engine::context& ctx, const std::string& tpl) {
    engine::context c;
    c.cfg = ctx.cfg;
    c.cfg.notify.clear();
    c.env = ctx.env;
    c.env.notify.clear();
    c.env.approve = false;
    c.env.production = false;
    c.env.promote_from.clear();
    c.env.window.clear();
    c.env.watch_for = milliseconds(0);
    c.env.triggers.clear();
    c.env.backup = "never";
    c.url = db::with_database(ctx.url, tpl);
    c.on_event = ctx.on_event;
    c.confirm = [](const std::string&) { return true; };
    c.takes_lock = true;  // its `up`
    return c;
}

// Migrates the new template through `up` (and loads the seeds); the engine's
// sessions are closed when this returns.
int migrate(const engine::context& ctx, const std::string& tpl,
            const std::optional<seed::source>& seeds) {
    engine::engine e(template_context(ctx, tpl));
    engine::up_options up;
    int count = e.up(up).count;
    if (seeds) seed::load(e, *seeds, nullptr);
    return count;
}

// The project's templates of the same kind (with or without seeds) other than `keep`.
std::vector<std::string> templates_of(db::session& s, const std::string& project,
                                      const std::string& keep) {
    std::vector<std::string> out;
    for (const auto& row : s.query("SELECT datname::text FROM pg_database WHERE datname LIKE $1 "
                                   "ORDER BY datname",
                                   "moonshift\\_tpl\\_%")) {
        auto name = row[0].as<std::string>();
        auto p = parse_name(name);
        if (p && p->is_template && p->project == project && name != keep &&
            p->seeded == parse_name(keep)->seeded)
            out.push_back(name);
    }
    return out;
}

// A template is dropped like any database once it is no longer one.
void drop_template(db::session& s, const std::string& name) {
    s.query("ALTER DATABASE " + db::quote::ident(name) + " WITH IS_TEMPLATE false");
    s.query(drop_sql(s, name, false));
}

// Builds `tpl` under the project's lock unless another process did while
// this one waited. Returns the migrations it holds (-1: built by another).
int build_template(db::session& s, const engine::context& ctx, const std::string& project,
                   const std::string& tpl, const std::optional<seed::source>& seeds, made& m,
                   const note_fn& note) {
    if (s.pooled())
        throw usage_error("testdb needs a direct connection, not a transaction pooler (" +
                              s.pooled_because() + ")",
                          "point the environment at the server itself (port 5432)");
    const std::string key = "testdb:" + project;
    auto wait = std::max<milliseconds>(ctx.env.lock_wait.value_or(ctx.cfg.lock_wait),
                                       std::chrono::minutes(10));
    s.lock(key, wait, note);
    struct unlock_at_exit {
        db::session& s;
        const std::string& key;
        ~unlock_at_exit() {
            try {
                s.unlock(key);
            } catch (const std::exception&) {
                // Closing the session releases it anyway.
            }
        }
    } unlock{s, key};
    auto st = read_state(s, tpl);
    if (st.ready) return -1;
    auto t0 = steady_clock::now();
    if (st.exists) s.query(drop_sql(s, tpl, true));  // a build that died half-way
    note("building template " + tpl + " …");
    s.query("CREATE DATABASE " + db::quote::ident(tpl));
    int count = 0;
    try {
        count = migrate(ctx, tpl, seeds);
    } catch (...) {
        try {
            s.query(drop_sql(s, tpl, true));
        } catch (const std::exception& e) {
            note("could not drop the unfinished template " + tpl + ": " + e.what());
        }
        throw;
    }
    // Cloned only once complete; no session may connect to it again, so a clone never waits.
    s.query("ALTER DATABASE " + db::quote::ident(tpl) +
            " WITH IS_TEMPLATE true ALLOW_CONNECTIONS false");
    m.build_ms = ms_since(t0);
    for (const auto& old : templates_of(s, project, tpl)) {
        try {
            drop_template(s, old);
            m.dropped_templates.push_back(old);
        } catch (const db::sql_failure& f) {
            m.warnings.push_back("could not drop the older template " + old + ": " +
                                 f.info().message +
                                 " (the next build or `testdb prune "
                                 "--templates` tries again)");
        }
    }
    // After the old templates: dropping one waits for a clone of it a refill
    // is making, so its spare is there to drop.
    drop_stale_spares(s, tpl);
    return count;
}

}  // namespace

target detail::target_of(const engine::context& ctx, bool seed) {
    // Names and checksums are all the name of a template needs: while the folder is unchanged,
    // the cache of `status` says them without reading a file.
    auto cat = catalog::discover_summary(ctx.cfg.migrations_path(), ctx.cfg.root,
                                         ctx.cfg.rollbacks_path(), catalog::default_cache_dir());
    target t;
    if (seed) t.seeds = seed::find(ctx.cfg, ctx.env.name);
    t.project = project_slug(ctx.cfg, cat);
    std::vector<std::pair<std::string, std::string>> seed_files;
    if (t.seeds)
        for (const auto& f : t.seeds->files)
            seed_files.emplace_back(std::filesystem::relative(f, ctx.cfg.root).generic_string(),
                                    text::read_file(f));
    t.tpl = template_name(t.project, content_hash(ctx.cfg, cat, seed_files), seed);
    t.migrations = static_cast<int>(cat.migrations.size());
    return t;
}

namespace {

std::pair<target, std::unique_ptr<db::session>> target_while_connecting(const engine::context& ctx,
                                                                        bool seed) {
    std::future<target> reading;
    try {
        reading = std::async(std::launch::async, [&ctx, seed] { return target_of(ctx, seed); });
    } catch (const std::system_error&) {
        auto t = target_of(ctx, seed);  // no thread to spare
        return {std::move(t), connect(ctx)};
    }
    std::unique_ptr<db::session> s;
    std::exception_ptr not_connected;
    try {
        s = connect(ctx);
    } catch (const std::exception&) {
        not_connected = std::current_exception();
    }
    auto t = reading.get();
    if (not_connected) std::rethrow_exception(not_connected);
    return {std::move(t), std::move(s)};
}

}  // namespace

made create(const engine::context& ctx, const options& o, const note_fn& note_to) {
    refuse_environment(ctx.env);
    note_fn note = [&note_to](const std::string& line) {
        if (note_to) note_to(line);
    };
    // The folder is read and hashed on a second thread while the connection is
    // made; its errors come first, as they would without the thread.
    auto [t, s] = target_while_connecting(ctx, o.seed);
    made m;
    m.template_name = t.tpl;
    m.migrations = t.migrations;
    auto st = read_state(*s, m.template_name);
    require_createdb(st);
    m.database = database_name(t.project, o.keep, std::chrono::system_clock::now());
    m.url = db::shown_with_database(ctx.url, m.database);
    m.password_omitted = !db::without_password(ctx.url).password.empty();
    if (st.ready && o.spares > 0) {
        auto spares = spares_for(st.spares, m.template_name);
        auto t0 = steady_clock::now();
        if (claim(*s, spares, m.database)) {
            m.clone_ms = ms_since(t0);
            m.spare_claimed = true;
            // What is left is a guess (others claim too): the refill counts again.
            m.spares_left = static_cast<int>(spares.size()) - 1;
            return m;
        }
    }
    for (int round = 0;; ++round) {
        if (!st.ready) {
            int built = build_template(*s, ctx, t.project, m.template_name, t.seeds, m, note);
            m.built = built >= 0;
        }
        auto t0 = steady_clock::now();
        if (clone(*s, m.template_name, m.database)) {
            m.clone_ms = ms_since(t0);
            break;
        }
        if (round >= 2)
            throw error(
                exit_code::migration_failed,
                "template " + m.template_name + " was dropped each time before it could be cloned",
                "another checkout of this project with other migrations builds its own "
                "template on this server; give each its own [project] history_key");
        st.ready = false;
    }
    return m;
}

bool drop(const engine::context& ctx, const std::string& url_or_name, std::string& name) {
    name =
        url_or_name.find("://") != std::string::npos || url_or_name.find('=') != std::string::npos
            ? db::database_of(url_or_name)
            : url_or_name;
    auto p = parse_name(name);
    if (!p || p->is_template || p->is_spare)
        throw usage_error(
            "\"" + name +
                "\" is not a database testdb made: drop only removes "
                "moonshift_test_… and moonshift_keep_… databases",
            p ? "templates and their spares go with `moonshift testdb prune --templates`"
              : "nothing was dropped");
    auto s = connect(ctx);
    bool existed = !s->query("SELECT 1 FROM pg_database WHERE datname = $1", name).empty();
    if (existed) s->query(drop_sql(*s, name, true));
    return existed;
}

// Templates before their spares, listed again once the templates are gone:
// dropping a template waits for a clone of it a refill is making, and a
// spare whose template is gone goes too.
pruned prune(const engine::context& ctx, const prune_options& o) {
    auto cat = catalog::discover_summary(ctx.cfg.migrations_path(), ctx.cfg.root,
                                         ctx.cfg.rollbacks_path(), catalog::default_cache_dir());
    const auto project = project_slug(ctx.cfg, cat);
    auto s = connect(ctx);
    const auto cutoff = std::chrono::system_clock::now() - o.older_than;
    pruned out;
    std::set<std::string> gone;  // templates dropped here (or that would be)
    for (bool spares : {false, true}) {
        std::set<std::string> templates;
        for (const auto& row :
             s->query("SELECT d.datname::text, (SELECT count(*) FROM pg_stat_activity a"
                      "                          WHERE a.datid = d.oid) > 0"
                      "  FROM pg_database d WHERE d.datname LIKE 'moonshift\\_%'"
                      " ORDER BY d.datname LIKE 'moonshift\\_spare\\_%', 1")) {
            auto name = row[0].as<std::string>();
            auto p = parse_name(name);
            if (!p || p->project != project) continue;
            if (p->is_template && !gone.count(name)) templates.insert(name);
            if (p->is_spare != spares) continue;
            if (p->is_template ? !o.templates
                : p->is_spare  ? templates.count(template_of_spare(*p)) > 0
                               : (p->kept && !o.kept) || *p->created > cutoff)
                continue;
            if (row[1].as<bool>()) {
                out.in_use.push_back(name);
                continue;
            }
            try {
                if (!o.dry_run && p->is_template) drop_template(*s, name);
                if (!o.dry_run && !p->is_template) s->query(drop_sql(*s, name, false));
                out.dropped.push_back(name);
                if (p->is_template) gone.insert(name);
            } catch (const db::sql_failure& f) {
                if (f.info().sqlstate != "55006") throw;  // a session connected since
                out.in_use.push_back(name);
            }
        }
    }
    return out;
}

}  // namespace moonshift::testdb
