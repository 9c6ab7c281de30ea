// Taking, listing and pruning targeted backups. Restoring is in restore.cpp.
#include "backup/backup.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <future>
#include <set>
#include <system_error>

#include "backup/definition.hpp"
#include "backup/in_database.hpp"
#include "backup/io.hpp"
#include "common/error.hpp"
#include "common/text.hpp"
#include "db/quote.hpp"
#include "db/transaction.hpp"

namespace moonshift::backup {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

long long ms_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t)
        .count();
}

std::string utc_stamp() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

// "public.users" -> "public.users.copy.gz", made safe for any file system.
std::string file_name(const std::string& table) {
    std::string out;
    for (char c : table) {
        bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
        out += ok ? c : '_';
    }
    return out + ".copy.gz";
}

record from_row(const history::backup_row& row) {
    record r;
    r.id = row.id;
    r.version = row.version;
    r.migration = row.migration;
    r.environment = row.environment;
    r.run_id = row.run_id;
    r.kind = row.kind;
    r.reason = row.reason;
    r.location = row.location;
    for (const auto& t : row.tables) {
        table_copy c;
        c.table = t.value("table", "");
        c.rows = t.value("rows", 0LL);
        c.bytes = t.value("bytes", 0LL);
        c.file = t.value("file", t.value("copy", ""));
        c.sha256 = t.value("sha256", t.value("checksum", ""));
        c.definition = t.value("definition", json::object());
        r.tables.push_back(std::move(c));
    }
    r.rows = row.rows;
    r.bytes = row.bytes;
    r.status = row.status;
    r.created_by = row.created_by;
    r.created_at = row.created_at;
    r.duration_ms = row.duration_ms;
    r.keep_until = row.keep_until;
    r.restored_at = row.restored_at;
    return r;
}

json tables_json(const std::vector<table_copy>& tables, bool with_definitions, bool in_db = false) {
    json out = json::array();
    for (const auto& t : tables) {
        json j = {{"table", t.table},
                  {"rows", t.rows},
                  {"bytes", t.bytes},
                  {in_db ? "copy" : "file", t.file},
                  {in_db ? "checksum" : "sha256", t.sha256}};
        if (with_definitions) j["definition"] = t.definition;
        out.push_back(std::move(j));
    }
    return out;
}

}  // namespace

json record::to_json() const {
    json j = {{"id", id},
              {"version", version},
              {"migration", migration},
              {"environment", environment},
              {"kind", kind},
              {"reason", reason},
              {"location", location},
              {"rows", rows},
              {"bytes", bytes},
              {"status", status},
              {"created_by", created_by},
              {"created_at", created_at},
              {"duration_ms", duration_ms},
              {"tables", tables_json(tables, false, in_database::holds(location))}};
    if (run_id) j["run"] = run_id;
    if (!keep_until.empty()) j["keep_until"] = keep_until;
    if (!restored_at.empty()) j["restored_at"] = restored_at;
    return j;
}

std::string destructive_reason(const std::vector<std::string>& destructive, bool changes_rows,
                               bool has_down) {
    if (!destructive.empty()) return destructive.front();
    if (changes_rows && !has_down) return "changes rows and has no down script";
    return {};
}

settings settings_for(const project::config& cfg, const project::environment& env) {
    settings s;
    fs::path dir = env.backup_dir.value_or(cfg.backup.dir);
    s.dir = dir.is_absolute() ? dir : cfg.root / dir;
    s.store = env.backup_store.value_or(cfg.backup.store);
    s.schema = cfg.backup.schema;
    s.environment = env.name;
    s.keep_daily = cfg.backup.keep_daily;
    s.keep_weekly = cfg.backup.keep_weekly;
    s.keep_monthly = cfg.backup.keep_monthly;
    return s;
}

store::store(db::session& s, history::store& h, settings cfg)
    : s_(s), rows_(s, h), cfg_(std::move(cfg)) {}

void store::check_location() const {
    if (cfg_.store == "database") {
        in_database::prepare(s_, cfg_.schema);
        return;
    }
    // Once per directory and process: a run checks before each of its backups.
    static std::set<std::string> checked;
    if (checked.count(cfg_.dir.string())) return;
    std::error_code ec;
    fs::create_directories(cfg_.dir, ec);
    if (ec)
        throw usage_error(
            "the backup location " + cfg_.dir.string() + " cannot be created: " + ec.message(),
            "set [backup] dir (or backup_dir of the environment) to a writable directory, or "
            "backup = \"never\"");
    auto probe = (cfg_.dir / (".moonshift-write-test-" + std::to_string(getpid()))).string();
    int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    bool ok = fd >= 0 && ::write(fd, "ok", 2) == 2;
    int err = errno;
    if (fd >= 0) ::close(fd);
    ::unlink(probe.c_str());
    if (!ok)
        throw usage_error(
            "the backup location " + cfg_.dir.string() + " is not writable: " + std::strerror(err),
            "set [backup] dir (or backup_dir of the environment) to a writable directory, or "
            "backup = \"never\"");
    checked.insert(cfg_.dir.string());
}

std::vector<std::string> store::resolve(const std::vector<std::string>& names,
                                        const std::vector<std::string>& schemas) {
    std::vector<std::string> regnames;
    for (const auto& n : names) {
        auto dot = n.find('.');
        regnames.push_back(dot == std::string::npos
                               ? db::quote::ident(n)
                               : db::quote::qualified(n.substr(0, dot), n.substr(dot + 1)));
    }
    // Two index lookups, not one scan of pg_class with an OR (1 ms a call with 1,000 tables);
    // the schemas' part runs only when there are schemas.
    auto r = s_.query_prepared(
        "moonshift_backup_resolve",
        "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON "
        "n.oid = c.relnamespace "
        " WHERE c.oid = ANY (ARRAY(SELECT to_regclass(x) FROM unnest($1::text[]) x))"
        "   AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
        "UNION "
        "SELECT n.nspname || '.' || c.relname FROM pg_namespace n JOIN pg_class c ON "
        "c.relnamespace = n.oid "
        " WHERE cardinality($2::text[]) > 0 AND n.nspname = ANY ($2::text[])"
        "   AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
        " ORDER BY 1",
        {db::quote::array(regnames), db::quote::array(schemas)});
    std::vector<std::string> out;
    for (const auto& row : r) out.push_back(row[0].c_str());
    return out;
}

// The row of a new backup (status running) and its directory's name:
// id, created_at and location filled in.
record store::open_record(const std::string& kind, const std::string& version,
                          const std::string& migration, const std::string& reason,
                          long long run_id) {
    record rec;
    rec.kind = kind;
    rec.version = version;
    rec.migration = migration;
    rec.environment = cfg_.environment;
    rec.reason = reason;
    rec.run_id = run_id;
    rec.created_by = history::current_actor();
    history::backup_row row;
    row.kind = kind;
    row.version = version;
    row.migration = migration;
    row.environment = cfg_.environment;
    row.reason = reason;
    row.run_id = run_id;
    row.created_by = rec.created_by;
    rows_.open(row);
    rec.id = row.id;
    rec.created_at = row.created_at;
    if (kind == "tables" && cfg_.store == "database") {
        rec.location = in_database::location_of(cfg_.schema);
        return rec;
    }
    rec.location = (cfg_.dir / cfg_.environment /
                    (std::to_string(rec.id) + "_" +
                     (version.empty() ? std::string("manual") : version) + "_" + utc_stamp()))
                       .string();
    return rec;
}

// One table's definition (with where its sequences are) and its rows into
// a file of `dir`, in the snapshot the caller holds.
table_copy store::copy_table(const std::string& table, const fs::path& dir, long long id, int n,
                             const progress& on_progress) {
    table_copy c;
    c.table = table;
    auto dot = table.find('.');
    // Prepared: planning it (about 1 ms) once per connection, not once per table.
    auto r = s_.query_prepared("moonshift_backup_definition", definition_sql,
                               {db::quote::qualified(table.substr(0, dot), table.substr(dot + 1))});
    if (r.empty() || r[0][0].is_null())
        throw error(exit_code::migration_failed,
                    "table " + table + " disappeared while it was backed up");
    c.definition = json::parse(r[0][0].c_str());
    for (auto& seq : c.definition["sequences"]) {
        auto v = s_.query("SELECT last_value, is_called FROM " + seq["quoted"].get<std::string>());
        seq["last_value"] = v[0][0].as<long long>();
        seq["is_called"] = v[0][1].as<bool>();
    }
    c.file = file_name(table);
    if (on_progress) on_progress("backing up " + table);
    if (in_database::holds(dir.string())) {
        auto copied = in_database::copy_out(s_, cfg_.schema, id, n, c.definition);
        c.file = copied.table;
        c.rows = copied.rows;
        c.bytes = copied.bytes;
        c.sha256 = copied.checksum;
        return c;
    }
    auto copied = io::copy_table_out(s_, c.definition, (dir / c.file).string());
    c.rows = copied.rows;
    c.bytes = copied.bytes;
    c.sha256 = copied.sha256;
    return c;
}

record store::create(const std::vector<std::string>& tables, const std::string& version,
                     const std::string& migration, const std::string& reason, long long run_id,
                     const progress& on_progress, std::future<void>* on_disk,
                     std::string* completion) {
    auto t0 = std::chrono::steady_clock::now();
    check_location();
    record rec = open_record("tables", version, migration, reason, run_id);
    fs::path dir = rec.location;
    bool in_db = in_database::holds(rec.location);
    try {
        if (!in_db) fs::create_directories(dir);
        {
            // One snapshot for all tables, so the copies agree with each other
            // (the caller's, when it has a transaction open). The database
            // store writes its copies in it, so they commit (or not) together.
            std::optional<db::transaction> snapshot;
            if (!s_.in_transaction())
                snapshot.emplace(s_, db::transaction::mode::begin,
                                 in_db
                                     ? "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"
                                     : "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
            for (const auto& table : tables) {
                rec.tables.push_back(copy_table(
                    table, dir, rec.id, static_cast<int>(rec.tables.size()) + 1, on_progress));
                rec.rows += rec.tables.back().rows;
                rec.bytes += rec.tables.back().bytes;
            }
            if (snapshot) snapshot->commit();
        }
        rec.status = "complete";
        rec.duration_ms = ms_since(t0);
        json manifest = rec.to_json();
        manifest["tables"] = tables_json(rec.tables, true, in_db);
        if (!in_db) {
            std::ofstream(dir / "manifest.json") << manifest.dump(2) << "\n";
            std::vector<std::string> files;
            for (const auto& t : rec.tables) files.push_back(t.file);
            if (on_disk && s_.in_transaction()) {
                try {
                    *on_disk = std::async(std::launch::async,
                                          [dir, files] { io::make_durable(dir, files); });
                } catch (const std::system_error&) {
                    io::make_durable(dir, files);  // no thread to spare
                }
            } else {
                io::make_durable(dir, files);
            }
        }
        if (completion && on_disk && !in_db && s_.in_transaction())
            *completion = rows_.complete_sql(rec.id, rec.location, manifest["tables"], rec.rows,
                                             rec.bytes, rec.duration_ms);
        else
            rows_.complete(rec.id, rec.location, manifest["tables"], rec.rows, rec.bytes,
                           rec.duration_ms);
    } catch (...) {  // whatever failed: no half backup stays behind
        if (on_disk && on_disk->valid()) on_disk->wait();  // its files are about to go
        std::error_code ec;
        if (!in_db) fs::remove_all(dir, ec);  // copies in the database rolled back
        mark_failed(rec.id);
        throw;
    }
    return rec;
}

void store::discard(const record& r) noexcept {
    if (in_database::holds(r.location)) return;
    std::error_code ec;
    fs::remove_all(r.location, ec);
}

void store::mark_failed(long long id) noexcept {
    try {
        rows_.mark_failed(id);
    } catch (const error&) {
        // The backup's own failure is the one to report (the row stays
        // "running"; a caller's failed transaction refuses the UPDATE too).
    }
}

namespace {

// pg_dump with the connection on its command line but never the password: anyone on the
// machine can read a process's arguments (`ps`). The password goes in a passfile of mode 600
// that is removed when pg_dump ends (PGPASSWORD only for one a passfile cannot hold).
int run_pg_dump(const std::string& pg_dump, const std::string& url, const std::string& file) {
    db::split_connection conn = db::without_password(url);
    std::vector<std::string> args = {"--format=custom", "--compress=6", "--file=" + file};
    if (!conn.conninfo.empty()) args.push_back("--dbname=" + conn.conninfo);
    if (conn.password.empty()) return io::run_program(pg_dump, args);
    if (conn.password.find('\n') != std::string::npos)
        return io::run_program(pg_dump, args, {{"PGPASSWORD", conn.password}});
    io::password_file passfile(conn.password);
    return io::run_program(pg_dump, args, {{"PGPASSFILE", passfile.path()}});
}

}  // namespace

record store::dump_database(const std::string& url, const std::string& version,
                            const std::string& migration, const std::string& reason,
                            long long run_id) {
    auto t0 = std::chrono::steady_clock::now();
    check_location();
    std::string pg_dump = io::find_program("pg_dump");
    if (pg_dump.empty())
        throw usage_error(
            "backup = \"always\" with [backup] full = true needs pg_dump, which is not on PATH",
            "install the PostgreSQL client tools, or set [backup] full = false");
    record rec = open_record("pg_dump", version, migration, reason, run_id);
    fs::path dir = rec.location;
    fs::create_directories(dir);
    auto file = (dir / "database.dump").string();
    int status = run_pg_dump(pg_dump, url, file);
    if (status != 0) {
        std::error_code ec;
        fs::remove_all(dir, ec);
        rows_.mark_failed(rec.id);
        throw error(exit_code::migration_failed, "pg_dump failed (exit status " +
                                                     std::to_string(status) +
                                                     "); nothing of the migration ran");
    }
    rec.bytes = static_cast<long long>(fs::file_size(file));
    rec.status = "complete";
    rec.duration_ms = ms_since(t0);
    table_copy whole;
    whole.table = "*";
    whole.file = "database.dump";
    whole.bytes = rec.bytes;
    rec.tables.push_back(whole);
    std::ofstream(dir / "manifest.json") << rec.to_json().dump(2) << "\n";
    io::make_durable(dir, {"database.dump"});
    rows_.complete(rec.id, rec.location, tables_json(rec.tables, false), 0, rec.bytes,
                   rec.duration_ms);
    return rec;
}

std::vector<record> store::list(int limit) {
    std::vector<record> out;
    for (const auto& row : rows_.list(limit)) out.push_back(from_row(row));
    return out;
}

std::optional<record> store::find(long long id) {
    auto row = rows_.find(id);
    if (!row) return std::nullopt;
    return from_row(*row);
}

std::optional<record> store::latest_for(const std::string& version) {
    auto row = rows_.latest_complete(version);
    if (!row) return std::nullopt;
    return from_row(*row);
}

prune_result store::prune(bool dry_run) {
    prune_result out;
    std::set<std::string> days, weeks, months;
    std::vector<std::pair<record, bool>> all;
    for (const auto& age : rows_.complete_newest_first()) {
        auto rec = from_row(age.row);
        const auto& day = age.day;
        const auto& week = age.week;
        const auto& month = age.month;
        // The newest backup of all always stays, so pruning never leaves none.
        bool keep = age.pinned || all.empty();
        // By age, as runbooks write it: one per day for keep_daily days, one
        // per week for keep_weekly weeks, one per month for keep_monthly
        // months. Rows arrive newest first, so the first of a period is the
        // newest, the one kept for it.
        if (age.age_days < cfg_.keep_daily && days.insert(day).second) keep = true;
        if (age.age_days < 7.0 * cfg_.keep_weekly && weeks.insert(week).second) keep = true;
        if (age.age_months < cfg_.keep_monthly && months.insert(month).second) keep = true;
        all.emplace_back(std::move(rec), keep);
    }
    for (auto& [rec, keep] : all) {
        if (keep) {
            out.kept.push_back(rec);
            continue;
        }
        if (!dry_run) {
            std::error_code ec;
            if (in_database::holds(rec.location)) {
                db::transaction tx(s_, db::transaction::mode::join);
                std::vector<std::string> copies;
                for (const auto& t : rec.tables) copies.push_back(t.file);
                in_database::drop(s_, copies);
                rows_.mark_pruned(rec.id);
                tx.commit();
            } else {
                if (!rec.location.empty()) fs::remove_all(rec.location, ec);
                rows_.mark_pruned(rec.id);
            }
            rec.status = "pruned";
        }
        out.pruned.push_back(rec);
    }
    return out;
}

}  // namespace moonshift::backup
