// Loading and validating moonshift.toml.
#include "project/config.hpp"

#include <toml++/toml.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "common/error.hpp"
#include "common/text.hpp"

namespace moonshift::project {
namespace {

const std::set<std::string> project_keys = {"migrations", "schema", "default_env", "lock_wait"};
const std::set<std::string> env_keys = {
    "url",          "local",     "lock_timeout", "statement_timeout", "dotenv",
    "lock_wait",    "backup",    "backup_dir",   "lock_retries",      "lock_retry_delay",
    "blocker_wait", "notify",    "approve",      "production",        "promote_from",
    "window",       "read_only", "watch",        "triggers",          "critical_tables"};
const std::set<std::string> verify_keys = {"critical_tables", "rls",        "indexes",
                                           "foreign_keys",    "row_counts", "row_count_limit"};
const std::set<std::string> trigger_kinds = {"http", "sql", "pg_stat_statements"};
const std::set<std::string> lint_keys = {"disable", "warn", "error", "small_table",
                                         "exposed_schemas"};
const std::set<std::string> backup_keys = {"policy",      "dir",          "keep_daily",
                                           "keep_weekly", "keep_monthly", "full"};
const std::set<std::string> backup_policies = {"never", "destructive", "always"};
const std::set<std::string> http_keys = {"allow_hosts"};

std::string join(const std::set<std::string>& keys) {
    std::string out;
    for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
    return out;
}

struct reader {
    std::string file;

    std::string at(const toml::source_region& src) const {
        return file + ":" + std::to_string(src.begin.line);
    }
    [[noreturn]] void fail(const toml::source_region& src, const std::string& what,
                           const std::string& hint = {}) const {
        throw usage_error(at(src) + ": " + what, hint);
    }
    void check_keys(const toml::table& t, const std::set<std::string>& allowed,
                    const std::string& section) const {
        for (auto&& [k, v] : t)
            if (!allowed.count(std::string(k.str())))
                fail(k.source(),
                     "unknown key \"" + std::string(k.str()) + "\" in [" + section + "]",
                     "valid keys: " + join(allowed));
    }
    std::string string_of(const toml::node& n, const std::string& key) const {
        if (auto s = n.value<std::string>()) return *s;
        fail(n.source(), "\"" + key + "\" must be a string");
    }
    bool bool_of(const toml::node& n, const std::string& key) const {
        if (auto b = n.value<bool>(); b && n.is_boolean()) return *b;
        fail(n.source(), "\"" + key + "\" must be true or false");
    }
    int count_of(const toml::node& n, const std::string& key) const {
        if (auto v = n.value<int64_t>(); v && n.is_integer() && *v >= 0 && *v <= 1000000)
            return int(*v);
        fail(n.source(), "\"" + key + "\" must be a whole number (0 or more)");
    }
    std::vector<std::string> strings_of(const toml::node& n, const std::string& key) const {
        std::vector<std::string> out;
        auto* a = n.as_array();
        if (!a)
            fail(n.source(), "\"" + key + "\" must be an array of strings",
                 "for example [\"a\", \"b\"]");
        for (auto&& item : *a) out.push_back(string_of(item, key));
        return out;
    }
    std::string policy_of(const toml::node& n, const std::string& key) const {
        auto v = string_of(n, key);
        if (!backup_policies.count(v))
            fail(n.source(), "\"" + key +
                                 "\" must be \"never\", \"destructive\" or \"always\", not \"" + v +
                                 "\"");
        return v;
    }
    // "10MB", "512kB", "2GB", or a number of bytes.
    long long size_of(const toml::node& n, const std::string& key) const {
        if (auto v = n.value<int64_t>(); v && n.is_integer() && *v >= 0) return *v;
        std::string text = n.is_string() ? *n.value<std::string>() : "";
        std::size_t used = 0;
        long long number = -1;
        try {
            number = std::stoll(text, &used);
        } catch (const std::exception&) {
        }
        std::string unit = text::trim(text.substr(used));
        for (auto& c : unit) c = char(std::tolower(static_cast<unsigned char>(c)));
        long long scale = unit.empty() || unit == "b" ? 1
                          : unit == "kb"              ? 1024LL
                          : unit == "mb"              ? 1024LL * 1024
                          : unit == "gb"              ? 1024LL * 1024 * 1024
                          : unit == "tb"              ? 1024LL * 1024 * 1024 * 1024
                                                      : 0;
        if (number < 0 || scale == 0)
            fail(n.source(), "\"" + key + "\" must be a size such as \"10MB\"",
                 "units: B, kB, MB, GB, TB");
        return number * scale;
    }
    std::chrono::milliseconds duration_of(const toml::node& n, const std::string& key) const {
        if (!n.is_string())
            fail(n.source(), "\"" + key + "\" must be a duration string with its unit",
                 "for example \"5s\", \"250ms\", \"2min\"");
        try {
            return text::parse_duration(*n.value<std::string>());
        } catch (const std::exception& e) {
            fail(n.source(), "bad duration for \"" + key + "\": " + e.what(),
                 "for example \"5s\", \"250ms\", \"2min\"");
        }
    }
    // 30 (seconds) or "30s".
    std::chrono::milliseconds seconds_of(const toml::node& n, const std::string& key) const {
        if (auto v = n.value<int64_t>(); v && n.is_integer() && *v >= 0)
            return std::chrono::seconds(*v);
        return duration_of(n, key);
    }
};

// A hook setting as JSON; dates and times keep their TOML text.
nlohmann::json json_of(const toml::node& n) {
    if (auto* t = n.as_table()) {
        auto out = nlohmann::json::object();
        for (auto&& [k, v] : *t) out[std::string(k.str())] = json_of(v);
        return out;
    }
    if (auto* a = n.as_array()) {
        auto out = nlohmann::json::array();
        for (auto&& v : *a) out.push_back(json_of(v));
        return out;
    }
    if (n.is_string()) return *n.value<std::string>();
    if (n.is_integer()) return *n.value<int64_t>();
    if (n.is_floating_point()) return *n.value<double>();
    if (n.is_boolean()) return *n.value<bool>();
    std::ostringstream text;
    n.visit([&](auto&& v) { text << v; });
    return text.str();
}

// [notify.*] or [env.NAME.notify.*]: a table of hook sections.
void read_notify(const reader& r, const toml::node& n, const std::string& prefix,
                 std::map<std::string, notify_section>& out) {
    auto* t = n.as_table();
    if (!t)
        r.fail(n.source(), "[" + prefix + "] must be a table of hooks",
               "for example [" + prefix + ".slack]");
    for (auto&& [k, v] : *t) {
        std::string name(k.str());
        auto* h = v.as_table();
        if (!h)
            r.fail(
                k.source(),
                "\"" + name + "\" in [" + prefix + "] must be a table: [" + prefix + "." + name +
                    "]",
                "for example [" + prefix + ".slack] with webhook_url = \"${SLACK_WEBHOOK_URL}\"");
        notify_section s;
        s.line = static_cast<int>(k.source().begin.line);
        for (auto&& [hk, hv] : *h) {
            std::string key(hk.str());
            s.lines[key] = static_cast<int>(hk.source().begin.line);
            if (key == "hook")
                s.hook = r.string_of(hv, key);
            else if (key == "enabled")
                s.enabled = r.bool_of(hv, key);
            else if (key == "required")
                s.required = r.bool_of(hv, key);
            else if (key == "events")
                s.events = r.strings_of(hv, key);
            else
                s.settings[key] = json_of(hv);
        }
        out[name] = std::move(s);
    }
}

// approve, production, promote_from, window, read_only, watch, triggers,
// critical_tables of [env.NAME].
void read_guard_rails(const reader& r, const toml::table& t, const std::string& name,
                      environment& e) {
    if (auto* n = t.get("approve")) e.approve = r.bool_of(*n, "approve");
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
    if (auto* n = t.get("triggers")) {
        auto* ts = n->as_table();
        if (!ts)
            r.fail(n->source(), "[env." + name + ".triggers] must be a table of triggers",
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
}

std::map<std::string, std::string> project_vars(const std::filesystem::path& root,
                                                const std::string& extra_dotenv) {
    std::map<std::string, std::string> vars;
    if (std::filesystem::exists(root / ".env")) vars = read_dotenv(root / ".env");
    if (!extra_dotenv.empty()) {
        auto p = root / extra_dotenv;
        if (!std::filesystem::exists(p))
            throw usage_error("dotenv file " + p.string() + " does not exist",
                              "create it or remove `dotenv` from the environment");
        for (auto& [k, v] : read_dotenv(p)) vars[k] = v;
    }
    return vars;
}

}  // namespace

std::map<std::string, std::string> variables(const config& cfg, const environment& env) {
    return project_vars(cfg.root, env.dotenv);
}

std::map<std::string, std::string> read_dotenv(const std::filesystem::path& file) {
    std::map<std::string, std::string> out;
    std::ifstream in(file);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
        std::string t = text::trim(line);
        if (t.empty() || t[0] == '#') continue;
        if (t.rfind("export ", 0) == 0) t = text::trim(t.substr(7));
        auto eq = t.find('=');
        if (eq == std::string::npos || eq == 0)
            throw usage_error(file.string() + ":" + std::to_string(n) + ": expected KEY=VALUE",
                              "comment the line out with # if it is not a variable");
        std::string key = text::trim(t.substr(0, eq));
        std::string value = text::trim(t.substr(eq + 1));
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
            value.back() == value.front())
            value = value.substr(1, value.size() - 2);
        else if (auto hash = value.find(" #"); hash != std::string::npos)
            value = text::trim(value.substr(0, hash));
        out[key] = value;
    }
    return out;
}

std::string interpolate(const std::string& value, const std::map<std::string, std::string>& vars,
                        const std::string& where) {
    std::string out;
    std::size_t i = 0;
    while (i < value.size()) {
        if (value.compare(i, 2, "${") != 0) {
            out.push_back(value[i++]);
            continue;
        }
        auto close = value.find('}', i);
        if (close == std::string::npos)
            throw usage_error(where + ": unterminated ${ in a value", "write ${NAME}");
        std::string body = value.substr(i + 2, close - i - 2);
        std::string name = body, fallback;
        bool has_fallback = false;
        if (auto d = body.find(":-"); d != std::string::npos) {
            name = body.substr(0, d);
            fallback = body.substr(d + 2);
            has_fallback = true;
        }
        // The process environment wins over .env files, as in dotenv tools.
        if (const char* env = std::getenv(name.c_str()); env && *env)
            out += env;
        else if (auto it = vars.find(name); it != vars.end())
            out += it->second;
        else if (has_fallback)
            out += fallback;
        else
            throw usage_error(where + ": variable " + name + " is not set",
                              "export " + name + " or add it to .env");
        i = close + 1;
    }
    return out;
}

config load(const std::filesystem::path& file, bool explicit_path) {
    config cfg;
    cfg.root = std::filesystem::absolute(file).parent_path();
    if (!std::filesystem::exists(file)) {
        if (explicit_path)
            throw usage_error("config file " + file.string() + " does not exist",
                              "run `moonshift init` to create one");
        return cfg;
    }
    cfg.file = file;
    reader r{file.filename().string()};
    if (file.parent_path() != std::filesystem::current_path() && file.has_parent_path())
        r.file = file.string();
    toml::table doc;
    try {
        doc = toml::parse_file(file.string());
    } catch (const toml::parse_error& e) {
        throw usage_error(r.file + ":" + std::to_string(e.source().begin.line) + ":" +
                          std::to_string(e.source().begin.column) + ": " +
                          std::string(e.description()));
    }
    for (auto&& [k, v] : doc) {
        std::string key(k.str());
        if (key != "project" && key != "env" && key != "lint" && key != "backup" &&
            key != "notify" && key != "http" && key != "lua" && key != "verify")
            r.fail(k.source(), "unknown section [" + key + "]",
                   "valid sections: [project], [env.NAME], [lint], [backup], [verify], "
                   "[notify.NAME], [http], [lua]");
        if (!v.is_table()) r.fail(v.source(), "[" + key + "] must be a table");
    }
    if (auto* p = doc["project"].as_table()) {
        r.check_keys(*p, project_keys, "project");
        if (auto* n = p->get("migrations")) cfg.migrations_dir = r.string_of(*n, "migrations");
        if (auto* n = p->get("schema")) {
            cfg.schema = r.string_of(*n, "schema");
            bool ok =
                !cfg.schema.empty() && !std::isdigit(static_cast<unsigned char>(cfg.schema[0]));
            for (char c : cfg.schema)
                ok = ok && (std::islower(static_cast<unsigned char>(c)) ||
                            std::isdigit(static_cast<unsigned char>(c)) || c == '_');
            if (!ok)
                r.fail(n->source(), "schema \"" + cfg.schema + "\" is not a plain identifier",
                       "use lower-case letters, digits and _");
        }
        if (auto* n = p->get("default_env")) cfg.default_env = r.string_of(*n, "default_env");
        if (auto* n = p->get("lock_wait")) cfg.lock_wait = r.duration_of(*n, "lock_wait");
    }
    if (auto* l = doc["lint"].as_table()) {
        r.check_keys(*l, lint_keys, "lint");
        if (auto* n = l->get("disable")) cfg.lint.disable = r.strings_of(*n, "disable");
        if (auto* n = l->get("warn")) cfg.lint.warn = r.strings_of(*n, "warn");
        if (auto* n = l->get("error")) cfg.lint.error = r.strings_of(*n, "error");
        if (auto* n = l->get("small_table"))
            cfg.lint.small_table_bytes = r.size_of(*n, "small_table");
        if (auto* n = l->get("exposed_schemas"))
            cfg.lint.exposed_schemas = r.strings_of(*n, "exposed_schemas");
    }
    if (auto* b = doc["backup"].as_table()) {
        r.check_keys(*b, backup_keys, "backup");
        if (auto* n = b->get("policy")) cfg.backup.policy = r.policy_of(*n, "policy");
        if (auto* n = b->get("dir")) cfg.backup.dir = r.string_of(*n, "dir");
        if (auto* n = b->get("keep_daily")) cfg.backup.keep_daily = r.count_of(*n, "keep_daily");
        if (auto* n = b->get("keep_weekly")) cfg.backup.keep_weekly = r.count_of(*n, "keep_weekly");
        if (auto* n = b->get("keep_monthly"))
            cfg.backup.keep_monthly = r.count_of(*n, "keep_monthly");
        if (auto* n = b->get("full")) cfg.backup.full = r.bool_of(*n, "full");
    }
    if (auto* n = doc.get("notify")) read_notify(r, *n, "notify", cfg.notify);
    if (auto* v = doc["verify"].as_table()) {
        r.check_keys(*v, verify_keys, "verify");
        if (auto* n = v->get("critical_tables"))
            cfg.verify.critical_tables = r.strings_of(*n, "critical_tables");
        if (auto* n = v->get("rls")) cfg.verify.rls = r.bool_of(*n, "rls");
        if (auto* n = v->get("indexes")) cfg.verify.indexes = r.bool_of(*n, "indexes");
        if (auto* n = v->get("foreign_keys"))
            cfg.verify.foreign_keys = r.bool_of(*n, "foreign_keys");
        if (auto* n = v->get("row_counts")) cfg.verify.row_counts = r.bool_of(*n, "row_counts");
        if (auto* n = v->get("row_count_limit"))
            cfg.verify.row_count_limit = r.count_of(*n, "row_count_limit");
    }
    if (auto* l = doc["lua"].as_table()) {
        // Time budgets of scripts per phase; "0s" means none.
        static const std::set<std::string> lua_keys = {"precheck", "up",   "verify", "down",
                                                       "check",    "hook", "run",    "jit"};
        r.check_keys(*l, lua_keys, "lua");
        for (auto&& [k, v] : *l) {
            std::string key(k.str());
            if (key == "jit")
                cfg.lua_jit = r.bool_of(v, key);
            else
                cfg.lua_budgets[key] = r.duration_of(v, key);
        }
    }
    if (auto* h = doc["http"].as_table()) {
        r.check_keys(*h, http_keys, "http");
        if (auto* n = h->get("allow_hosts")) cfg.http_allow_hosts = r.strings_of(*n, "allow_hosts");
    }
    if (auto* envs = doc["env"].as_table()) {
        for (auto&& [k, v] : *envs) {
            std::string name(k.str());
            auto* t = v.as_table();
            if (!t) r.fail(v.source(), "[env." + name + "] must be a table");
            r.check_keys(*t, env_keys, "env." + name);
            environment e;
            e.name = name;
            e.line = static_cast<int>(k.source().begin.line);
            if (auto* n = t->get("dotenv")) e.dotenv = r.string_of(*n, "dotenv");
            if (auto* n = t->get("local")) e.local = r.bool_of(*n, "local");
            if (auto* n = t->get("lock_timeout"))
                e.lock_timeout = r.duration_of(*n, "lock_timeout");
            if (auto* n = t->get("statement_timeout"))
                e.statement_timeout = r.duration_of(*n, "statement_timeout");
            if (auto* n = t->get("lock_wait")) e.lock_wait = r.duration_of(*n, "lock_wait");
            if (auto* n = t->get("backup")) e.backup = r.policy_of(*n, "backup");
            if (auto* n = t->get("backup_dir")) e.backup_dir = r.string_of(*n, "backup_dir");
            if (auto* n = t->get("lock_retries")) e.lock_retries = r.count_of(*n, "lock_retries");
            if (auto* n = t->get("lock_retry_delay"))
                e.lock_retry_delay = r.duration_of(*n, "lock_retry_delay");
            if (auto* n = t->get("blocker_wait"))
                e.blocker_wait = r.duration_of(*n, "blocker_wait");
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
            cfg.envs[name] = e;
        }
    }
    if (!cfg.default_env.empty() && !cfg.envs.count(cfg.default_env))
        throw usage_error(r.file + ": default_env \"" + cfg.default_env +
                          "\" is not an [env.*] section");
    return cfg;
}

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
        auto vars = project_vars(cfg.root, "");
        if (const char* u = std::getenv("DATABASE_URL"); u && *u)
            e.url = u;
        else if (auto it = vars.find("DATABASE_URL"); it != vars.end())
            e.url = it->second;
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
        auto vars = project_vars(cfg.root, e.dotenv);
        for (auto& [tname, t] : e.triggers)
            for (auto& [key, value] : t.settings.items())
                if (value.is_string())
                    value = interpolate(value.get<std::string>(), vars,
                                        file + ":" + std::to_string(t.line) + " ([env." + pick +
                                            ".triggers." + tname + "] " + key + ")");
    }
    if (!e.url_template.empty())
        e.url = interpolate(e.url_template, project_vars(cfg.root, e.dotenv),
                            file + ":" + std::to_string(e.url_line) + " ([env." + pick + "] url)");
    return e;
}

std::string starter_config() {
    return R"(# moonshift.toml — the project's migration settings.
# Reference: docs/configuration.md

[project]
# Where the versioned migrations live (NNN_name.sql, NNN_name.down.sql, ...).
migrations = "migrations"
# The schema where moonshift keeps its history (migrations, runs, ...).
schema = "moonshift"
# Which environment a command uses when --env is not given.
default_env = "local"
# How long to wait for another run's migration lock before giving up (exit 4).
lock_wait = "30s"

# A private PostgreSQL for this project: `moonshift local start`.
[env.local]
local = true

# Staging and production read their URLs from the environment or a .env file;
# ${VAR} is replaced, and a missing variable is an error naming it.
# [env.staging]
# url = "${STAGING_DATABASE_URL}"
# lock_timeout = "5s"          # give up on a lock instead of queueing traffic behind it
# statement_timeout = "10min"
#
# [env.production]
# url = "${PRODUCTION_DATABASE_URL}"
# dotenv = ".env.production"
# lock_timeout = "3s"
# statement_timeout = "10min"
# approve = true               # type its name on a terminal, or --yes (docs/environments.md)
# promote_from = "staging"     # only what staging applied and verified, same checksums
# window = "Mon-Fri 01:00-05:00 UTC"
# watch = { seconds = 300, every = 10 }   # rollback triggers after `up`
#
# [env.production.triggers.health]
# kind = "http"
# url = "https://api.example.com/health"

# Notifications (docs/hooks.md): built-in console, slack, email, webhook and ci
# hooks, or your own Lua files in hooks/. Check them with `moonshift notify test`.
# [notify.console]
#
# [notify.slack]
# webhook_url = "${SLACK_WEBHOOK_URL}"
#
# [env.production.notify.slack]
# required = true              # a failed delivery fails the run (exit 3)
)";
}

}  // namespace moonshift::project
