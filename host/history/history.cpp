// Reading and writing the history schema.
#include "history/history.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <regex>
#include <set>

#include "catalog/catalog.hpp"
#include "common/embedded.hpp"
#include "common/text.hpp"
#include "db/quote.hpp"
#include "db/transaction.hpp"

namespace moonshift::history {
namespace {

std::string substitute(std::string_view sql, const std::string& quoted_schema) {
    std::string out(sql);
    const std::string tag = "{{schema}}";
    for (auto p = out.find(tag); p != std::string::npos;
         p = out.find(tag, p + quoted_schema.size()))
        out.replace(p, tag.size(), quoted_schema);
    return out;
}

struct host_migration {
    int version;
    std::string name;
    std::string_view sql;
};

std::vector<host_migration> host_migrations() {
    std::vector<host_migration> out;
    static const std::regex re(R"(^migrations/(\d+)_([a-z0-9_]+)\.sql$)");
    for (auto& f : embedded::under("migrations/")) {
        std::cmatch m;
        if (std::regex_match(f.path, m, re)) out.push_back({std::stoi(m[1]), m[2], f.content});
    }
    return out;  // sorted by path, hence by zero-padded version
}

}  // namespace

store::store(db::session& s, std::string schema)
    : s_(s), schema_(std::move(schema)), quoted_(db::quote::ident(schema_)) {}

std::string store::table(const char* name) const { return quoted_ + "." + name; }

int store::latest_host_version() {
    auto all = host_migrations();
    return all.empty() ? 0 : all.back().version;
}

std::string store::host_schema_digest() {
    std::string all;
    for (auto& m : host_migrations())
        all += std::to_string(m.version) + " " + m.name + "\n" + std::string(m.sql) + "\n";
    return text::sha256_hex(all);
}

bool store::present() {
    // Whether the history rows are keyed by project is asked in the same round trip.
    auto r = s_.query(
        "SELECT to_regclass($1) IS NOT NULL, EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = "
        "to_regclass($2) AND attname = 'project' AND NOT attisdropped)",
        quoted_ + ".host_versions", table("migrations"));
    keyed_ = r[0][1].as<bool>();
    // ensure() creates host_versions and records its rows in one transaction:
    // where it is, host_version() > 0.
    return r[0][0].as<bool>();
}

int store::host_version() {
    if (!present()) return 0;
    auto v = s_.query("SELECT coalesce(max(version), 0) FROM " + table("host_versions"));
    return v[0][0].as<int>();
}

void store::ensure() {
    int have = host_version();
    if (have == latest_host_version()) return;
    // Every embedded migration the database has not recorded, also one with
    // a number below the newest recorded (numbers added on parallel branches).
    std::set<int> done;
    if (have > 0)
        for (const auto& row : s_.query("SELECT version FROM " + table("host_versions")))
            done.insert(row[0].as<int>());
    // The changes and their records commit together, all of them in one
    // transaction and one round trip (a new database takes them all: one
    // commit instead of one per embedded migration).
    std::string script, records;
    for (auto& m : host_migrations()) {
        if (done.count(m.version)) continue;
        script += substitute(m.sql, quoted_) + "\n;\n";
        records += std::string(records.empty() ? "" : ";") + "INSERT INTO " +
                   table("host_versions") + " (version, name) VALUES (" +
                   std::to_string(m.version) + ", " + db::quote::literal(m.name) + ")";
    }
    if (!script.empty()) {
        db::transaction tx(s_, db::transaction::mode::deferred);
        tx.commit_script(script, records);
    }
    keyed_.reset();  // host_version() read it before the column may have been added
}

int store::mark_verified() {
    auto r = s_.query("UPDATE " + table("migrations") +
                      " SET verified_at = clock_timestamp() WHERE verified_at IS NULL");
    return static_cast<int>(r.affected_rows());
}

void store::set_project(std::string key, std::set<std::string> version_names) {
    project_ = std::move(key);
    version_names_ = std::move(version_names);
}

bool store::keyed() {
    if (!keyed_)
        keyed_ = s_.query(
                       "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = "
                       "to_regclass($1) AND attname = 'project' AND NOT attisdropped)",
                       table("migrations"))[0][0]
                     .as<bool>();
    return *keyed_;
}

std::vector<applied> store::read_rows(const std::string& where, const std::string& project) {
    auto r = s_.query(
        "SELECT version, name, checksum, form, how, "
        "to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), applied_by, "
        "environment, duration_ms, coalesce(run_id, 0), "
        "coalesce(to_char(verified_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
        "coalesce(reverse::text, '') "
        "FROM " +
            table("migrations") + " WHERE " + where,
        project);
    std::vector<applied> out;
    out.reserve(r.size());
    for (const auto& row : r) {
        applied a;
        a.version = row[0].c_str();
        a.name = row[1].c_str();
        a.checksum = row[2].c_str();
        a.form = row[3].c_str();
        a.how = row[4].c_str();
        a.applied_at = row[5].c_str();
        a.applied_by = row[6].c_str();
        a.environment = row[7].c_str();
        a.duration_ms = row[8].as<long long>();
        a.run_id = row[9].as<long long>();
        a.verified_at = row[10].c_str();
        if (*row[11].c_str()) a.reverse = nlohmann::json::parse(row[11].c_str());
        out.push_back(std::move(a));
    }
    std::sort(out.begin(), out.end(), [](const applied& a, const applied& b) {
        return catalog::compare_versions(a.version, b.version) < 0;
    });
    return out;
}

std::optional<std::string> store::key_to_adopt() {
    // Another key whose rows all match this project's migrations by version
    // and name: rows recorded before keys existed (''), or by the same
    // migrations in another layout (a Sqitch plan converted to native files).
    std::optional<std::string> found;
    auto keys = s_.query(
        "SELECT DISTINCT project FROM " + table("migrations") + " WHERE project <> $1 ORDER BY 1",
        project_);
    for (const auto& k : keys) {
        std::string key = k[0].c_str();
        bool fits = true;
        for (const auto& a : read_rows("project = $1", key))
            fits = fits && version_names_.count(a.version + " " + a.name) > 0;
        if (!fits) continue;
        if (found) return std::nullopt;  // two candidates: neither is surely this project's
        found = key;
    }
    return found;
}

std::vector<applied> store::list_applied() {
    if (!keyed()) return read_rows("$1::text = $1::text", project_);  // before host migration 8
    auto rows = read_rows("project = $1", project_);
    if (!rows.empty()) return rows;
    auto other = key_to_adopt();
    return other ? read_rows("project = $1", *other) : rows;
}

std::vector<applied> store::list_applied_under(const std::string& key) {
    return keyed() ? read_rows("project = $1", key) : read_rows("$1::text = $1::text", key);
}

void store::adopt_unkeyed_rows() {
    keyed_.reset();  // ensure() may just have added the column
    if (!keyed() || !read_rows("project = $1", project_).empty()) return;
    if (auto other = key_to_adopt())
        s_.query("UPDATE " + table("migrations") + " SET project = $1 WHERE project = $2", project_,
                 *other);
}

std::string store::record_sql(const applied& a) const {
    auto q = [](const std::string& v) { return db::quote::literal(v); };
    return "INSERT INTO " + table("migrations") +
           " (project, version, name, checksum, form, how, applied_by, duration_ms, environment, "
           "run_id, reverse) VALUES (" +
           q(project_) + ", " + q(a.version) + ", " + q(a.name) + ", " + q(a.checksum) + ", " +
           q(a.form) + ", " + q(a.how) + ", " + q(a.applied_by) + ", " +
           (a.duration_ms >= 0 ? std::to_string(a.duration_ms)
                               : std::string("round(extract(epoch FROM clock_timestamp() - "
                                             "statement_timestamp()) * 1000)")) +
           ", " + q(a.environment) + ", " +
           (a.run_id ? std::to_string(a.run_id) : std::string("NULL")) + ", " +
           (a.reverse.is_null() ? std::string("NULL") : q(a.reverse.dump()) + "::jsonb") + ")";
}

std::string store::remove_sql(const std::string& version) const {
    return "DELETE FROM " + table("migrations") +
           " WHERE version = " + db::quote::literal(version) +
           " AND project = " + db::quote::literal(project_);
}

void store::update_checksum(const std::string& version, const std::string& checksum) {
    s_.query(
        "UPDATE " + table("migrations") + " SET checksum = $2 WHERE version = $1 AND project = $3",
        version, checksum, project_);
}

long long store::open_run(const std::string& command, const std::string& environment,
                          const std::string& actor) {
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    auto r = s_.query("INSERT INTO " + table("runs") +
                          " (command, environment, actor, client_host, backend_pid) "
                          "VALUES ($1, $2, $3, $4, pg_backend_pid()) RETURNING id",
                      command, environment, actor, std::string(host));
    return r[0][0].as<long long>();
}

void store::finish_run(long long id, const std::string& outcome, const nlohmann::json& report) {
    s_.query(
        "UPDATE " + table("runs") +
            " SET finished_at = clock_timestamp(), outcome = $2, report = $3::jsonb WHERE id = $1",
        id, outcome, report.dump());
}

void store::update_report(long long id, const nlohmann::json& report) {
    s_.query("UPDATE " + table("runs") + " SET report = $2::jsonb WHERE id = $1", id,
             report.dump());
}

int store::close_abandoned_runs(bool leased) {
    auto r = s_.query("UPDATE " + table("runs") +
                          " SET outcome = 'aborted', finished_at = clock_timestamp() "
                          "WHERE outcome = 'running' AND ($1 OR ("
                          "backend_pid IS DISTINCT FROM pg_backend_pid() "
                          "AND backend_pid NOT IN (SELECT pid FROM pg_stat_activity)))",
                      leased);
    return static_cast<int>(r.affected_rows());
}

std::vector<run> store::list_runs(int limit, const std::string& environment) {
    auto r = s_.query(
        "SELECT id, command, environment, actor, "
        "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
        "coalesce(to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
        "outcome, "
        "coalesce((extract(epoch FROM finished_at - started_at) * 1000)::bigint, 0), report::text "
        "FROM " +
            table("runs") + " WHERE ($2 = '' OR environment = $2) ORDER BY id DESC LIMIT $1",
        limit, environment);
    std::vector<run> out;
    for (const auto& row : r) {
        run x;
        x.id = row[0].as<long long>();
        x.command = row[1].c_str();
        x.environment = row[2].c_str();
        x.actor = row[3].c_str();
        x.started_at = row[4].c_str();
        x.finished_at = row[5].c_str();
        x.outcome = row[6].c_str();
        x.duration_ms = row[7].as<long long>();
        x.report = nlohmann::json::parse(row[8].c_str());
        out.push_back(std::move(x));
    }
    return out;
}

std::optional<nlohmann::json> store::checkpoint(const std::string& version,
                                                const std::string& kind) {
    auto r = s_.query(
        "SELECT position::text FROM " + table("checkpoints") + " WHERE version = $1 AND kind = $2",
        version, kind);
    if (r.empty()) return std::nullopt;
    return nlohmann::json::parse(r[0][0].c_str());
}

void store::save_checkpoint(const std::string& version, const std::string& kind,
                            const nlohmann::json& position, long long run_id) {
    s_.query("INSERT INTO " + table("checkpoints") +
                 " (version, kind, position, run_id) VALUES ($1, $2, $3::jsonb, $4) "
                 "ON CONFLICT (version, kind) DO UPDATE SET position = EXCLUDED.position, "
                 "run_id = EXCLUDED.run_id, updated_at = clock_timestamp()",
             version, kind, position.dump(), run_id);
}

std::string store::save_checkpoint_sql(const std::string& version, const std::string& kind,
                                       const nlohmann::json& position, long long run_id) const {
    return "INSERT INTO " + table("checkpoints") + " (version, kind, position, run_id) VALUES (" +
           db::quote::literal(version) + ", " + db::quote::literal(kind) + ", " +
           db::quote::literal(position.dump()) + "::jsonb, " + std::to_string(run_id) +
           ") ON CONFLICT (version, kind) DO UPDATE SET position = EXCLUDED.position, "
           "run_id = EXCLUDED.run_id, updated_at = clock_timestamp()";
}

std::string store::clear_checkpoint_sql(const std::string& version, const std::string& kind) const {
    return "DELETE FROM " + table("checkpoints") +
           " WHERE version = " + db::quote::literal(version) +
           " AND kind = " + db::quote::literal(kind);
}

std::string current_actor() {
    // Once per process: the user database is read for every backup and run otherwise.
    static const std::string actor = [] {
        std::string user;
        if (const passwd* pw = getpwuid(geteuid()))
            user = pw->pw_name;
        else if (const char* u = std::getenv("USER"))
            user = u;
        else
            user = "uid " + std::to_string(geteuid());
        if (const char* ci = std::getenv("GITHUB_ACTOR"); ci && *ci)
            user += " (ci: " + std::string(ci) + ")";
        else if (const char* gl = std::getenv("GITLAB_USER_LOGIN"); gl && *gl)
            user += " (ci: " + std::string(gl) + ")";
        return user;
    }();
    return actor;
}

}  // namespace moonshift::history
