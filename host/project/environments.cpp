// [env.NAME]: reading each environment from moonshift.toml (connection,
// timeouts, safety, guard rails, watch and triggers), and picking the one a
// command runs against.
#include <cstdlib>
#include <stdexcept>

#include "common/error.hpp"
#include "common/text.hpp"
#include "project/config_reader.hpp"

namespace moonshift::project {
namespace detail {
namespace {

const std::set<std::string> env_keys = {"url",
                                        "local",
                                        "lock_timeout",
                                        "statement_timeout",
                                        "dotenv",
                                        "lock_wait",
                                        "pooler",
                                        "backup",
                                        "backup_dir",
                                        "backup_store",
                                        "lock_retries",
                                        "lock_retry_delay",
                                        "blocker_wait",
                                        "notify",
                                        "approve",
                                        "production",
                                        "promote_from",
                                        "window",
                                        "read_only",
                                        "watch",
                                        "triggers",
                                        "critical_tables",
                                        "allow_irreversible"};
const std::set<std::string> trigger_kinds = {"http", "sql", "pg_stat_statements"};

// [env.NAME.triggers.T]: the rollback probes of an environment, each checked
// against the keys of its kind.
void read_triggers(const reader& r, const toml::node& n, const std::string& name, environment& e) {
    auto* ts = n.as_table();
    if (!ts)
        r.fail(n.source(), "[env." + name + ".triggers] must be a table of triggers",
               "for example [env." + name + ".triggers.health] with kind = \"http\"");
    for (auto&& [k, v] : *ts) {
        std::string tname(k.str());
        auto* tt = v.as_table();
        std::string where = "env." + name + ".triggers." + tname;
        if (!tt) r.fail(k.source(), "\"" + tname + "\" must be a table: [" + where + "]");
        trigger_section s;
        s.name = tname;
        s.line = static_cast<int>(k.source().begin.line);
        auto* kind = tt->get("kind");
        if (!kind)
            r.fail(k.source(), "[" + where + "] needs kind",
                   "kind = \"http\", \"sql\" or \"pg_stat_statements\"");
        s.kind = r.string_of(*kind, "kind");
        if (!trigger_kinds.count(s.kind))
            r.fail(kind->source(), "unknown trigger kind \"" + s.kind + "\"",
                   "valid kinds: " + join(trigger_kinds));
        static const std::map<std::string, std::set<std::string>> keys = {
            {"http", {"kind", "url", "error_rate", "latency", "timeout", "requests"}},
            {"sql", {"kind", "query", "max", "min"}},
            {"pg_stat_statements", {"kind", "top", "latency", "min_calls"}}};
        r.check_keys(*tt, keys.at(s.kind), where);
        for (auto&& [sk, sv] : *tt)
            if (sk.str() != "kind") s.settings[std::string(sk.str())] = json_of(sv);
        if (s.kind == "http" && !s.settings.contains("url"))
            r.fail(k.source(), "[" + where + "] needs url");
        if (s.kind == "sql" && !s.settings.contains("query"))
            r.fail(k.source(), "[" + where + "] needs query");
        if (s.kind == "sql" && !s.settings.contains("max") && !s.settings.contains("min"))
            r.fail(k.source(), "[" + where + "] needs max or min",
                   "the value the query's result must stay within");
        e.triggers[tname] = std::move(s);
    }
}

// approve, production, promote_from, window, read_only, watch, triggers,
// critical_tables of [env.NAME].
void read_guard_rails(const reader& r, const toml::table& t, const std::string& name,
                      environment& e) {
    if (auto* n = t.get("approve")) e.approve = r.bool_of(*n, "approve");
    if (auto* n = t.get("allow_irreversible"))
        e.allow_irreversible = r.bool_of(*n, "allow_irreversible");
    if (auto* n = t.get("production")) e.production = r.bool_of(*n, "production");
    if (auto* n = t.get("read_only")) e.read_only = r.bool_of(*n, "read_only");
    if (auto* n = t.get("promote_from")) {
        e.promote_from = r.string_of(*n, "promote_from");
        if (e.promote_from == name)
            r.fail(n->source(), "[env." + name + "] cannot promote from itself");
    }
    if (auto* n = t.get("critical_tables")) e.critical_tables = r.strings_of(*n, "critical_tables");
    if (auto* n = t.get("window")) {
        std::vector<std::string> texts = n->is_string()
                                             ? std::vector<std::string>{r.string_of(*n, "window")}
                                             : r.strings_of(*n, "window");
        for (auto& w : texts) {
            try {
                e.window.push_back(parse_window(w));
            } catch (const std::invalid_argument& x) {
                r.fail(n->source(), "bad window \"" + w + "\": " + x.what(),
                       "for example window = \"22:00-06:00\" or [\"Mon-Fri 01:00-05:00 UTC\", "
                       "\"Sat,Sun 00:00-24:00\"]");
            }
        }
    }
    if (auto* n = t.get("watch")) {
        auto* w = n->as_table();
        if (!w)
            r.fail(n->source(), "\"watch\" must be a table",
                   "for example watch = { seconds = 300, every = 10 }");
        r.check_keys(*w, {"seconds", "every"}, "env." + name + ".watch");
        if (auto* s = w->get("seconds")) e.watch_for = r.seconds_of(*s, "seconds");
        if (auto* s = w->get("every")) e.watch_every = r.seconds_of(*s, "every");
        if (e.watch_every.count() <= 0) r.fail(n->source(), "watch.every must be more than 0");
    }
    if (auto* n = t.get("triggers")) read_triggers(r, *n, name, e);
}

}  // namespace

environment read_environment(const reader& r, const toml::key& k, const toml::node& v) {
    std::string name(k.str());
    auto* t = v.as_table();
    if (!t) r.fail(v.source(), "[env." + name + "] must be a table");
    r.check_keys(*t, env_keys, "env." + name);
    environment e;
    e.name = name;
    e.line = static_cast<int>(k.source().begin.line);
    if (auto* n = t->get("dotenv")) e.dotenv = r.string_of(*n, "dotenv");
    if (auto* n = t->get("local")) e.local = r.bool_of(*n, "local");
    if (auto* n = t->get("lock_timeout")) e.lock_timeout = r.duration_of(*n, "lock_timeout");
    if (auto* n = t->get("statement_timeout"))
        e.statement_timeout = r.duration_of(*n, "statement_timeout");
    if (auto* n = t->get("lock_wait")) e.lock_wait = r.duration_of(*n, "lock_wait");
    if (auto* n = t->get("pooler")) e.pooler = r.pooler_of(*n, "pooler");
    if (auto* n = t->get("backup")) e.backup = r.policy_of(*n, "backup");
    if (auto* n = t->get("backup_dir")) e.backup_dir = r.string_of(*n, "backup_dir");
    if (auto* n = t->get("backup_store")) e.backup_store = r.store_of(*n, "backup_store");
    if (auto* n = t->get("lock_retries")) e.lock_retries = r.count_of(*n, "lock_retries");
    if (auto* n = t->get("lock_retry_delay"))
        e.lock_retry_delay = r.duration_of(*n, "lock_retry_delay");
    if (auto* n = t->get("blocker_wait")) e.blocker_wait = r.duration_of(*n, "blocker_wait");
    if (auto* n = t->get("notify")) read_notify(r, *n, "env." + name + ".notify", e.notify);
    read_guard_rails(r, *t, name, e);
    if (auto* n = t->get("url")) {
        if (e.local)
            r.fail(n->source(), "[env." + name + "] has both url and local = true",
                   "keep one of them");
        // Interpolated when the environment is selected, so a missing
        // variable of another environment does not stop this one.
        e.url_template = r.string_of(*n, "url");
        e.url_line = static_cast<int>(n->source().begin.line);
    } else if (!e.local) {
        r.fail(k.source(), "[env." + name + "] needs url or local = true",
               "for example url = \"${DATABASE_URL}\"");
    }
    return e;
}

}  // namespace detail

environment select(const config& cfg, const std::string& name) {
    std::string file =
        cfg.file.empty() ? std::string("moonshift.toml") : cfg.file.filename().string();
    if (cfg.envs.empty()) {
        if (!name.empty() && name != "default")
            throw usage_error(
                "environment \"" + name +
                    "\" is not defined: there is no moonshift.toml with [env." + name + "]",
                "run `moonshift init`, or use DATABASE_URL / PG* variables without --env");
        environment e;
        e.name = "default";
        auto vars = detail::project_vars(cfg.root, "");
        if (const char* u = std::getenv("DATABASE_URL"); u && *u)
            e.url = u;
        else if (auto it = vars.find("DATABASE_URL"); it != vars.end())
            e.url = it->second;
        text::add_secrets_in(e.url);
        e.lock_wait = cfg.lock_wait;
        return e;  // empty url: libpq reads PGHOST, PGDATABASE, ...
    }
    std::string pick = name;
    if (pick.empty()) pick = cfg.default_env;
    if (pick.empty() && cfg.envs.size() == 1) pick = cfg.envs.begin()->first;
    if (pick.empty() && cfg.envs.count("local")) pick = "local";
    std::string known;
    for (auto& [n, _] : cfg.envs) known += (known.empty() ? "" : ", ") + n;
    if (pick.empty())
        throw usage_error("several environments are defined; say which one with --env",
                          "environments: " + known);
    auto it = cfg.envs.find(pick);
    if (it == cfg.envs.end())
        throw usage_error("environment \"" + pick + "\" is not defined in " + file,
                          "environments: " + known);
    environment e = it->second;
    if (!e.lock_wait) e.lock_wait = cfg.lock_wait;
    // ${VAR} in trigger settings (a health URL with a token, a query's threshold).
    if (!e.triggers.empty()) {
        auto vars = detail::project_vars(cfg.root, e.dotenv);
        for (auto& [tname, t] : e.triggers)
            for (auto& [key, value] : t.settings.items())
                if (value.is_string())
                    value = interpolate(value.get<std::string>(), vars,
                                        file + ":" + std::to_string(t.line) + " ([env." + pick +
                                            ".triggers." + tname + "] " + key + ")",
                                        key.find("url") != std::string::npos);
    }
    if (!e.url_template.empty())
        e.url = interpolate(e.url_template, detail::project_vars(cfg.root, e.dotenv),
                            file + ":" + std::to_string(e.url_line) + " ([env." + pick + "] url)",
                            true);
    text::add_secrets_in(e.url);
    return e;
}

}  // namespace moonshift::project
