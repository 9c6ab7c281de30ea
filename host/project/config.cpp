// Loading and validating moonshift.toml: the top-level sections here;
// typed values in config_reader.cpp, [env.NAME] in environments.cpp,
// [notify.NAME] in notify_section.cpp, ${VAR} and .env in variables.cpp.
#include "project/config.hpp"

#include <toml++/toml.h>

#include <cctype>
#include <cstdlib>
#include <set>

#include "common/error.hpp"
#include "project/config_reader.hpp"

namespace moonshift::project {
namespace {

using detail::reader;

const std::set<std::string> project_keys = {
    "migrations",       "rollbacks", "schema",       "default_env", "lock_wait", "keep_history",
    "supabase_schemas", "pooler",    "pooler_lease", "history_key", "durability"};
// The tools whose history table `up`/`down` can keep current (engine/foreign_history.cpp).
const std::set<std::string> kept_histories = {"drizzle", "prisma", "supabase"};
const std::set<std::string> verify_keys = {"critical_tables",    "rls",        "indexes",
                                           "foreign_keys",       "row_counts", "row_count_limit",
                                           "row_count_tolerance"};
const std::set<std::string> lint_keys = {"disable",         "warn",    "error", "small_table",
                                         "exposed_schemas", "baseline"};
const std::set<std::string> backup_keys = {"policy",       "dir",  "keep_daily", "keep_weekly",
                                           "keep_monthly", "full", "store",      "schema"};
const std::set<std::string> http_keys = {"allow_hosts"};
const std::set<std::string> local_keys = {"supabase"};
const std::set<std::string> testdb_keys = {"spares"};

toml::table parse_toml(const std::filesystem::path& file, const reader& r) {
    try {
        return toml::parse_file(file.string());
    } catch (const toml::parse_error& e) {
        throw usage_error(r.file + ":" + std::to_string(e.source().begin.line) + ":" +
                          std::to_string(e.source().begin.column) + ": " +
                          std::string(e.description()));
    }
}

void check_sections(const reader& r, const toml::table& doc) {
    for (auto&& [k, v] : doc) {
        std::string key(k.str());
        if (key != "project" && key != "env" && key != "lint" && key != "backup" &&
            key != "notify" && key != "http" && key != "lua" && key != "verify" && key != "local" &&
            key != "fleet" && key != "testdb")
            r.fail(k.source(), "unknown section [" + key + "]",
                   "valid sections: [project], [env.NAME], [lint], [backup], [verify], "
                   "[notify.NAME], [http], [lua], [local], [fleet.NAME], [testdb]");
        if (!v.is_table()) r.fail(v.source(), "[" + key + "] must be a table");
    }
}

void read_project(const reader& r, const toml::table& p, config& cfg) {
    r.check_keys(p, project_keys, "project");
    if (auto* n = p.get("migrations")) cfg.migrations_dir = r.string_of(*n, "migrations");
    if (auto* n = p.get("rollbacks")) cfg.rollbacks_dir = r.string_of(*n, "rollbacks");
    if (auto* n = p.get("schema")) {
        cfg.schema = r.string_of(*n, "schema");
        bool ok = !cfg.schema.empty() && !std::isdigit(static_cast<unsigned char>(cfg.schema[0]));
        for (char c : cfg.schema)
            ok = ok && (std::islower(static_cast<unsigned char>(c)) ||
                        std::isdigit(static_cast<unsigned char>(c)) || c == '_');
        if (!ok)
            r.fail(n->source(), "schema \"" + cfg.schema + "\" is not a plain identifier",
                   "use lower-case letters, digits and _");
    }
    if (auto* n = p.get("default_env")) cfg.default_env = r.string_of(*n, "default_env");
    if (auto* n = p.get("lock_wait")) cfg.lock_wait = r.duration_of(*n, "lock_wait");
    if (auto* n = p.get("keep_history")) {
        cfg.keep_history = n->is_string()
                               ? std::vector<std::string>{r.string_of(*n, "keep_history")}
                               : r.strings_of(*n, "keep_history");
        for (auto& tool : cfg.keep_history)
            if (!kept_histories.count(tool))
                r.fail(n->source(), "keep_history = \"" + tool + "\" is not a tool moonshift keeps",
                       "one of \"drizzle\", \"prisma\", \"supabase\"");
    }
    if (auto* n = p.get("supabase_schemas")) {
        auto v = r.string_of(*n, "supabase_schemas");
        if (v != "exclude" && v != "include")
            r.fail(n->source(),
                   "supabase_schemas = \"" + v + "\" is neither \"exclude\" nor \"include\"",
                   "\"include\" makes diff and drift compare Supabase's own schemas too");
        cfg.supabase_schemas = v;
    }
    if (auto* n = p.get("pooler")) cfg.pooler = r.pooler_of(*n, "pooler");
    if (auto* n = p.get("history_key")) cfg.history_key = r.string_of(*n, "history_key");
    if (auto* n = p.get("durability")) {
        auto v = r.string_of(*n, "durability");
        if (v != "run" && v != "migration")
            r.fail(n->source(), "durability = \"" + v + "\" is neither \"run\" nor \"migration\"",
                   "\"run\" (the default) waits for the WAL flush at the run's last commit, "
                   "\"migration\" at every migration's (docs/safety.md, \"Durability\")");
        cfg.durability = v;
    }
    if (auto* n = p.get("pooler_lease")) {
        cfg.pooler_lease = r.duration_of(*n, "pooler_lease");
        if (cfg.pooler_lease < std::chrono::seconds(3))
            r.fail(n->source(), "pooler_lease must be at least 3s",
                   "the lease is renewed every third of it");
    }
}

void read_lint(const reader& r, const toml::table& l, lint_settings& lint) {
    r.check_keys(l, lint_keys, "lint");
    if (auto* n = l.get("disable")) lint.disable = r.strings_of(*n, "disable");
    if (auto* n = l.get("warn")) lint.warn = r.strings_of(*n, "warn");
    if (auto* n = l.get("error")) lint.error = r.strings_of(*n, "error");
    if (auto* n = l.get("small_table")) lint.small_table_bytes = r.size_of(*n, "small_table");
    if (auto* n = l.get("exposed_schemas"))
        lint.exposed_schemas = r.strings_of(*n, "exposed_schemas");
    if (auto* n = l.get("baseline")) lint.baseline = r.string_of(*n, "baseline");
}

void read_backup(const reader& r, const toml::table& b, backup_settings& backup) {
    r.check_keys(b, backup_keys, "backup");
    if (auto* n = b.get("policy")) backup.policy = r.policy_of(*n, "policy");
    if (auto* n = b.get("dir")) {
        backup.dir = r.string_of(*n, "dir");
        backup.dir_set = true;
    }
    if (auto* n = b.get("store")) backup.store = r.store_of(*n, "store");
    if (auto* n = b.get("schema")) backup.schema = r.string_of(*n, "schema");
    if (auto* n = b.get("keep_daily")) backup.keep_daily = r.count_of(*n, "keep_daily");
    if (auto* n = b.get("keep_weekly")) backup.keep_weekly = r.count_of(*n, "keep_weekly");
    if (auto* n = b.get("keep_monthly")) backup.keep_monthly = r.count_of(*n, "keep_monthly");
    if (auto* n = b.get("full")) backup.full = r.bool_of(*n, "full");
}

void read_verify(const reader& r, const toml::table& v, verify_settings& verify) {
    r.check_keys(v, verify_keys, "verify");
    if (auto* n = v.get("critical_tables"))
        verify.critical_tables = r.strings_of(*n, "critical_tables");
    if (auto* n = v.get("rls")) verify.rls = r.bool_of(*n, "rls");
    if (auto* n = v.get("indexes")) verify.indexes = r.bool_of(*n, "indexes");
    if (auto* n = v.get("foreign_keys")) verify.foreign_keys = r.bool_of(*n, "foreign_keys");
    if (auto* n = v.get("row_counts")) verify.row_counts = r.bool_of(*n, "row_counts");
    if (auto* n = v.get("row_count_limit"))
        verify.row_count_limit = r.count_of(*n, "row_count_limit");
    if (auto* n = v.get("row_count_tolerance")) {
        if (n->is_string()) {
            auto text = r.string_of(*n, "row_count_tolerance");
            char* end = nullptr;
            double pct = std::strtod(text.c_str(), &end);
            if (text.empty() || text.back() != '%' || end != text.c_str() + text.size() - 1 ||
                !(pct >= 0 && pct <= 100))
                r.fail(n->source(),
                       "row_count_tolerance = \"" + text +
                           "\" is neither a percentage (\"1%\") nor a number of rows",
                       "write row_count_tolerance = \"2%\" or row_count_tolerance = 500");
            verify.row_count_tolerance_percent = pct;
            verify.row_count_tolerance_rows = -1;
        } else {
            verify.row_count_tolerance_rows = r.count_of(*n, "row_count_tolerance");
        }
    }
}

// Time budgets of scripts per phase; "0s" means none.
void read_lua(const reader& r, const toml::table& l, config& cfg) {
    static const std::set<std::string> lua_keys = {"precheck", "up",   "verify", "down",
                                                   "check",    "hook", "run",    "jit",
                                                   "load",     "lint", "memory"};
    r.check_keys(l, lua_keys, "lua");
    for (auto&& [k, v] : l) {
        std::string key(k.str());
        if (key == "jit")
            cfg.lua_jit = r.bool_of(v, key);
        else if (key == "memory")
            cfg.lua_memory = r.size_of(v, key);
        else
            cfg.lua_budgets[key] = r.duration_of(v, key);
    }
}

}  // namespace

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
    toml::table doc = parse_toml(file, r);
    check_sections(r, doc);
    if (auto* p = doc["project"].as_table()) read_project(r, *p, cfg);
    if (auto* l = doc["lint"].as_table()) read_lint(r, *l, cfg.lint);
    if (auto* b = doc["backup"].as_table()) read_backup(r, *b, cfg.backup);
    if (auto* n = doc.get("notify")) detail::read_notify(r, *n, "notify", cfg.notify);
    if (auto* v = doc["verify"].as_table()) read_verify(r, *v, cfg.verify);
    if (auto* l = doc["lua"].as_table()) read_lua(r, *l, cfg);
    if (auto* h = doc["http"].as_table()) {
        r.check_keys(*h, http_keys, "http");
        if (auto* n = h->get("allow_hosts")) cfg.http_allow_hosts = r.strings_of(*n, "allow_hosts");
    }
    if (auto* l = doc["local"].as_table()) {
        r.check_keys(*l, local_keys, "local");
        if (auto* n = l->get("supabase")) cfg.local_supabase = r.bool_of(*n, "supabase");
    }
    if (auto* t = doc["testdb"].as_table()) {
        r.check_keys(*t, testdb_keys, "testdb");
        if (auto* n = t->get("spares")) cfg.testdb_spares = r.count_of(*n, "spares", 100);
    }
    if (auto* envs = doc["env"].as_table())
        for (auto&& [k, v] : *envs)
            cfg.envs[std::string(k.str())] = detail::read_environment(r, k, v);
    if (auto* f = doc.get("fleet")) detail::read_fleets(r, *f, cfg);
    if (!cfg.default_env.empty() && !cfg.envs.count(cfg.default_env))
        throw usage_error(r.file + ": default_env \"" + cfg.default_env +
                          "\" is not an [env.*] section");
    return cfg;
}

}  // namespace moonshift::project
