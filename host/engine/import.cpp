// `moonshift import --from TOOL`: reads the other tool's history table and
// records what it applied in moonshift's history ("imported" rows). The
// other table is only ever read.
#include "engine/import.hpp"

#include <map>
#include <optional>
#include <set>

#include "catalog/formats.hpp"
#include "common/text.hpp"
#include "engine/run_scope.hpp"

namespace moonshift::engine {
namespace {

const std::string unset = "\x01";

struct tool_row {
    std::string version;   // in the tool's own terms (Sqitch: empty, matched by name)
    std::string name;      // Sqitch's change name, Flyway's script
    std::string checksum;  // Flyway's CRC32 or Sqitch's script hash, when the tool keeps one
};

struct tool_history {
    std::vector<tool_row> applied;
    std::optional<std::string> up_to;  // everything at or below this version is applied
    std::map<std::string, std::string> repeatables;  // Flyway: script → checksum
};

std::string qualified(pqxx::connection_base& c, const std::string& table) {
    auto dot = table.find('.');
    if (dot == std::string::npos) return c.quote_name(table);
    return c.quote_name(table.substr(0, dot)) + "." + c.quote_name(table.substr(dot + 1));
}

tool_history read_tool(pqxx::nontransaction& tx, const std::string& tool, const std::string& table,
                       const std::string& sqitch_project) {
    tool_history h;
    auto t = qualified(tx.conn(), table);
    if (tool == "supabase" || tool == "dbmate" || tool == "diesel") {
        for (auto row : tx.exec("SELECT version::text FROM " + t))
            h.applied.push_back({row[0].c_str(), "", ""});
    } else if (tool == "postgres-migrations") {
        for (auto row : tx.exec("SELECT id::text, name FROM " + t))
            h.applied.push_back({row[0].c_str(), row[1].c_str(), ""});
    } else if (tool == "golang-migrate") {
        auto r = tx.exec("SELECT version::text, dirty FROM " + t + " LIMIT 1");
        if (!r.empty()) {
            std::string v = r[0][0].c_str();
            if (r[0][1].as<bool>())
                throw usage_error(table + " says version " + v +
                                      " is dirty: golang-migrate stopped in the middle of it",
                                  "repair the database, then `migrate force " + v +
                                      "` (or the previous version) "
                                      "before importing");
            h.up_to = v;
            h.applied.push_back({v, "", ""});
        }
    } else if (tool == "flyway") {
        std::map<std::string, tool_row> versions;  // version_key → row
        for (auto row : tx.exec("SELECT version, type, script, checksum, success FROM " + t +
                                " ORDER BY installed_rank")) {
            std::string script = row[2].c_str(), type = row[1].c_str();
            std::string checksum = row[3].is_null() ? unset : row[3].c_str();
            if (!row[4].as<bool>())
                throw usage_error(table + ": " + script + " failed when Flyway ran it",
                                  "run `flyway repair` (or fix the database) before importing");
            if (row[0].is_null()) {  // a repeatable
                if (type == "DELETE")
                    h.repeatables.erase(script);
                else
                    h.repeatables[script] = checksum;
                continue;
            }
            std::string v = row[0].c_str();
            auto key = catalog::version_key(v);
            if (type.rfind("UNDO", 0) == 0 || type == "DELETE") {
                versions.erase(key);
            } else if (type == "BASELINE" || type == "SQL_BASELINE") {
                // Flyway's baseline: the versions up to it count as applied.
                if (!h.up_to || catalog::compare_versions(v, *h.up_to) > 0) h.up_to = v;
                versions[key] = {v, script, unset};
            } else {
                versions[key] = {v, script, checksum};
            }
        }
        for (auto& [k, r] : versions) h.applied.push_back(r);
    } else if (tool == "sqitch") {
        auto r = tx.exec_params(
            "SELECT change, script_hash FROM " + t + " WHERE project = $1 ORDER BY committed_at",
            sqitch_project);
        for (auto row : r)
            h.applied.push_back({"", row[0].c_str(), row[1].is_null() ? unset : row[1].c_str()});
    }
    return h;
}

bool compatible(const std::string& from, const std::string& format) {
    if (from == format) return true;
    // moonshift's own layout reads golang-migrate's .up.sql pairs and
    // Supabase's timestamped files as they are.
    return format == "native" && (from == "golang-migrate" || from == "supabase");
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& import_sources() {
    static const std::vector<std::pair<std::string, std::string>> all = {
        {"supabase", "supabase_migrations.schema_migrations"},
        {"golang-migrate", "schema_migrations"},
        {"dbmate", "schema_migrations"},
        {"flyway", "flyway_schema_history"},
        {"sqitch", "sqitch.changes"},
        {"diesel", "__diesel_schema_migrations"},
        {"postgres-migrations", "migrations"},
    };
    return all;
}

outcome import_history(engine& e, const import_options& o) {
    std::string table;
    std::string known;
    for (auto& [tool, default_table] : import_sources()) {
        known += (known.empty() ? "" : ", ") + tool;
        if (tool == o.from) table = o.table.empty() ? default_table : o.table;
    }
    if (table.empty())
        throw usage_error("--from " + o.from + " is not a tool moonshift imports from",
                          "one of: " + known);
    auto cat = e.read_catalog();
    if (!compatible(o.from, cat.format))
        throw usage_error(
            "--from " + o.from + ", but " + e.ctx().cfg.migrations_dir + " holds " + cat.format +
                " migrations",
            "point [project] migrations in moonshift.toml at the " + o.from + " directory");
    auto& conn = e.session().conn();
    {
        pqxx::nontransaction tx(conn);
        auto r = tx.exec_params("SELECT to_regclass($1) IS NOT NULL", qualified(conn, table));
        if (!r[0][0].as<bool>())
            throw usage_error("there is no table " + table +
                                  " in this database: nothing to import from " + o.from,
                              "is this the database " + o.from +
                                  " migrated? name its history table with --table");
    }
    std::string project =
        o.from == "sqitch" ? catalog::sqitch_project(e.ctx().cfg.migrations_path()) : "";
    if (o.from == "sqitch" && project.empty()) project = catalog::sqitch_project(e.ctx().cfg.root);
    tool_history h;
    {
        pqxx::nontransaction tx(conn);
        h = read_tool(tx, o.from, table, project);
    }

    std::unique_ptr<run_scope> run;
    if (!o.dry_run) run = std::make_unique<run_scope>(e, "import");
    nlohmann::json rep = {{"from", o.from},
                          {"table", table},
                          {"imported", nlohmann::json::array()},
                          {"already_recorded", nlohmann::json::array()},
                          {"not_on_disk", nlohmann::json::array()},
                          {"not_in_database", nlohmann::json::array()},
                          {"changed_on_disk", nlohmann::json::array()},
                          {"repeatables", nlohmann::json::array()}};
    if (o.dry_run) rep["dry_run"] = true;
    std::set<std::string> recorded;
    if (e.store().host_version() > 0)
        for (auto& r : e.store().list_applied()) recorded.insert(catalog::version_key(r.version));

    // Which files the tool applied.
    std::map<std::string, const tool_row*> applied;  // version_key of a file → the tool's row
    std::map<std::string, std::vector<const catalog::migration*>> by_name;
    for (auto& m : cat.migrations) by_name[m.name].push_back(&m);
    std::map<std::string, std::size_t> seen_name;
    for (auto& r : h.applied) {
        const catalog::migration* m = nullptr;
        if (o.from == "sqitch") {
            auto& list = by_name[r.name];
            auto k = seen_name[r.name]++;
            if (k < list.size()) m = list[k];
        } else {
            m = cat.find(r.version);
        }
        if (!m) {
            rep["not_on_disk"].push_back({{"version", r.version.empty() ? r.name : r.version},
                                          {"detail", r.name.empty() ? "" : r.name}});
            continue;
        }
        applied[catalog::version_key(m->version)] = &r;
        if (r.checksum != unset && !r.checksum.empty()) {
            std::string raw = text::read_file(m->up);
            std::string mine = o.from == "flyway" ? std::to_string(catalog::flyway_checksum(raw))
                                                  : catalog::sha1_hex(raw);
            if (mine != r.checksum)
                rep["changed_on_disk"].push_back(
                    {{"version", m->version},
                     {"file", m->up_label},
                     {"detail",
                      o.from + " recorded checksum " + r.checksum + ", the file now has " + mine}});
        }
    }
    std::vector<const catalog::migration*> to_record;
    for (auto& m : cat.migrations) {
        auto key = catalog::version_key(m.version);
        bool done =
            applied.count(key) || (h.up_to && catalog::compare_versions(m.version, *h.up_to) <= 0);
        if (!done) {
            rep["not_in_database"].push_back(
                {{"version", m.version}, {"name", m.name}, {"file", m.up_label}});
        } else if (recorded.count(key)) {
            rep["already_recorded"].push_back({{"version", m.version}, {"name", m.name}});
        } else {
            to_record.push_back(&m);
            rep["imported"].push_back({{"version", m.version}, {"name", m.name}});
        }
    }
    // Repeatables: recorded with the file's checksum when the tool ran this
    // very content, else with none, so the next `up` applies them again.
    std::vector<std::pair<const catalog::migration*, bool>> repeatables;
    for (auto& r : cat.repeatables) {
        auto script = r.up.filename().string();
        auto it = h.repeatables.find(script);
        if (it == h.repeatables.end()) {
            rep["repeatables"].push_back({{"name", r.name}, {"state", "not in database"}});
            continue;
        }
        bool same = it->second == std::to_string(catalog::flyway_checksum(text::read_file(r.up)));
        repeatables.push_back({&r, same});
        rep["repeatables"].push_back(
            {{"name", r.name}, {"state", same ? "imported" : "changed: applied again by up"}});
    }

    outcome out;
    out.count = static_cast<int>(to_record.size());
    if (o.dry_run) {
        out.report = rep;
        return out;
    }
    std::string sql = "BEGIN;";
    for (auto* m : to_record) {
        history::applied row;
        row.version = m->version;
        row.name = m->name;
        row.checksum = m->checksum;
        row.form = catalog::form_name(m->kind);
        row.how = "imported";
        row.applied_by = history::current_actor();
        row.environment = e.ctx().env.name;
        row.run_id = run->id();
        sql += e.store().record_sql(row) + ";";
    }
    for (auto& [r, same] : repeatables)
        sql += "INSERT INTO " + e.store().table("repeatables") +
               " (name, checksum, how, applied_by, environment, run_id) VALUES (" +
               conn.quote(r->name) + ", " + conn.quote(same ? r->checksum : "") + ", 'imported', " +
               conn.quote(history::current_actor()) + ", " + conn.quote(e.ctx().env.name) + ", " +
               std::to_string(run->id()) + ") ON CONFLICT (name) DO NOTHING;";
    e.session().exec_script(sql + "COMMIT");
    for (auto& [k, v] : rep.items()) run->report()[k] = v;
    run->finish("ok");
    out.report = run->report();
    return out;
}

}  // namespace moonshift::engine
