// `moonshift import --from TOOL`: reads the other tool's history table and
// records what it applied in moonshift's history ("imported" rows). The
// other table is only ever read. Where each tool keeps its history, and how
// its rows read, is the format table's (catalog/format_table.hpp).
#include "engine/import.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "catalog/formats.hpp"
#include "common/text.hpp"
#include "db/quote.hpp"
#include "db/transaction.hpp"
#include "engine/run_scope.hpp"

namespace moonshift::engine {
namespace {

using catalog::history_rows;

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

// "schema.table" or "table", each part quoted.
std::string qualified(const std::string& table) {
    auto dot = table.find('.');
    if (dot == std::string::npos) return db::quote::ident(table);
    return db::quote::qualified(table.substr(0, dot), table.substr(dot + 1));
}

const catalog::format& tool_named(const std::string& from) {
    std::string known;
    for (const auto& f : catalog::formats()) {
        if (f.history.table.empty()) continue;
        if (f.name == from) return f;
        known += (known.empty() ? "" : ", ") + f.name;
    }
    throw usage_error("--from " + from + " is not a tool moonshift imports from",
                      "one of: " + known);
}

// golang-migrate's one row: every version up to it is applied, unless dirty.
void read_high_water(const db::result& r, const std::string& table, tool_history& h) {
    if (r.empty()) return;
    std::string v = r[0][0].c_str();
    if (r[0][1].as<bool>())
        throw usage_error(
            table + " says version " + v + " is dirty: golang-migrate stopped in the middle of it",
            "repair the database, then `migrate force " + v +
                "` (or the previous version) before importing");
    h.up_to = v;
    h.applied.push_back({v, "", ""});
}

// Flyway's rows in installed order: undone and deleted versions do not count,
// a baseline covers the versions below it, a failed row is refused.
void read_flyway(const db::result& r, const std::string& table, tool_history& h) {
    std::map<std::string, tool_row> versions;  // version_key → row
    for (auto row : r) {
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
    for (auto& [k, row] : versions) h.applied.push_back(row);
}

// Drizzle's rows (hash, created_at): each matched to the file with that hash,
// else to the journal entry of that `when` (the file changed since); and, as
// drizzle's migrator decides, every entry up to the newest created_at counts
// as applied.
void read_drizzle(const db::result& r, const catalog::catalog& cat, tool_history& h) {
    std::map<std::string, const catalog::migration*> by_hash;
    const auto& tool = catalog::format_named(cat.format);
    for (auto& m : cat.migrations)
        by_hash[catalog::recorded_checksum_of(tool, text::read_file(m.up))] = &m;
    long long newest = -1;
    for (auto row : r) {
        std::string hash = row[0].c_str();
        long long when = row[1].is_null() ? -1 : std::stoll(row[1].c_str());
        newest = std::max(newest, when);
        const catalog::migration* m = by_hash.count(hash) ? by_hash[hash] : nullptr;
        for (auto& x : cat.migrations)
            if (!m && x.tool_when == when) m = &x;
        if (m)
            h.applied.push_back({m->version, "", hash});
        else
            h.applied.push_back(
                {"", "created_at " + std::string(row[1].c_str()) + ", hash " + hash, hash});
    }
    for (auto& m : cat.migrations)
        if (newest >= 0 && m.tool_when <= newest) h.up_to = m.version;
}

// Prisma's rows in started order: a rolled-back row does not count, a row
// neither finished nor rolled back is a failed migration and is refused.
void read_prisma(const db::result& r, const std::string& table, tool_history& h) {
    for (auto row : r) {
        std::string name = row[0].c_str();
        bool finished = row[2].as<bool>(), rolled_back = row[3].as<bool>();
        if (rolled_back) continue;
        if (!finished)
            throw usage_error(
                table + ": " + name + " failed (or is still running) when Prisma ran it",
                "resolve it with `prisma migrate resolve --rolled-back " + name +
                    "` (or --applied) before importing");
        auto underscore = name.find('_');
        h.applied.push_back({name.substr(0, underscore), name, row[1].c_str()});
    }
}

tool_history read_rows(db::session& s, const catalog::format& tool, const std::string& table,
                       const std::string& sqitch_project, const catalog::catalog& cat) {
    tool_history h;
    const auto& ht = tool.history;
    std::string sql = "SELECT " + ht.columns + " FROM " + qualified(table);
    if (!ht.rest.empty()) sql += " " + ht.rest;
    switch (ht.rows) {
        case history_rows::versions:
            for (auto row : s.query(sql)) h.applied.push_back({row[0].c_str(), "", ""});
            break;
        case history_rows::named_versions:
            for (auto row : s.query(sql)) h.applied.push_back({row[0].c_str(), row[1].c_str(), ""});
            break;
        case history_rows::high_water:
            read_high_water(s.query(sql), table, h);
            break;
        case history_rows::flyway:
            read_flyway(s.query(sql), table, h);
            break;
        case history_rows::sqitch:
            for (auto row : s.query(sql, sqitch_project))
                h.applied.push_back(
                    {"", row[0].c_str(), row[1].is_null() ? unset : row[1].c_str()});
            break;
        case history_rows::drizzle:
            read_drizzle(s.query(sql), cat, h);
            break;
        case history_rows::prisma:
            read_prisma(s.query(sql), table, h);
            break;
    }
    return h;
}

// The tool's rows, or one line naming the columns it keeps when the table
// does not have them (a column missing, a type that does not convert).
tool_history read_tool(db::session& s, const catalog::format& tool, const std::string& table,
                       const std::string& sqitch_project, const catalog::catalog& cat) {
    std::string columns = tool.history.columns;  // as named: "version::text" is version
    for (auto cast = columns.find("::"); cast != std::string::npos; cast = columns.find("::"))
        columns.erase(cast, columns.find_first_of(",", cast) == std::string::npos
                                ? std::string::npos
                                : columns.find_first_of(",", cast) - cast);
    auto misfit = [&](const std::string& why) {
        return usage_error(table + " is not " + tool.name +
                               "'s history table: expected the columns " + columns + " (" + why +
                               ")",
                           "name " + tool.name + "'s own history table with --table");
    };
    try {
        return read_rows(s, tool, table, sqitch_project, cat);
    } catch (const db::sql_failure& f) {
        throw misfit(f.info().message);
    } catch (const error& e) {
        if (e.code() == exit_code::usage) throw;  // a refusal of what the rows say (dirty, failed)
        throw misfit(e.what());                   // a value that is not of the column's type
    }
}

bool compatible(const catalog::format& tool, const std::string& format) {
    if (tool.name == format) return true;
    // moonshift's own layout reads golang-migrate's .up.sql pairs and
    // Supabase's timestamped files as they are.
    return catalog::format_named(format).own && tool.own_reads_it;
}

// Sqitch's rows belong to the plan's %project.
std::string project_of(const engine& e, const catalog::format& tool) {
    if (tool.history.rows != history_rows::sqitch) return "";
    auto project = catalog::sqitch_project(tool, e.ctx().cfg.migrations_path());
    return project.empty() ? catalog::sqitch_project(tool, e.ctx().cfg.root) : project;
}

nlohmann::json empty_report(const import_options& o, const std::string& table) {
    nlohmann::json rep = {{"from", o.from},
                          {"table", table},
                          {"imported", nlohmann::json::array()},
                          {"already_recorded", nlohmann::json::array()},
                          {"not_on_disk", nlohmann::json::array()},
                          {"not_in_database", nlohmann::json::array()},
                          {"changed_on_disk", nlohmann::json::array()},
                          {"repeatables", nlohmann::json::array()}};
    if (o.dry_run) rep["dry_run"] = true;
    return rep;
}

// What `import` records: migrations, and repeatables with whether the tool
// ran the file's present content.
struct to_record {
    std::vector<const catalog::migration*> migrations;
    std::vector<std::pair<const catalog::migration*, bool>> repeatables;
};

// Which files the tool applied (version_key of a file → the tool's row);
// rows with no file and files whose content changed go into the report.
std::map<std::string, const tool_row*> files_applied(const catalog::format& tool,
                                                     const catalog::catalog& cat,
                                                     const tool_history& h, nlohmann::json& rep) {
    std::map<std::string, const tool_row*> applied;
    std::map<std::string, std::vector<const catalog::migration*>> by_name;
    for (auto& m : cat.migrations) by_name[m.name].push_back(&m);
    std::map<std::string, std::size_t> seen_name;
    for (auto& r : h.applied) {
        const catalog::migration* m = nullptr;
        if (tool.history.rows == history_rows::sqitch) {
            auto& list = by_name[r.name];
            auto k = seen_name[r.name]++;
            if (k < list.size()) m = list[k];
        } else if (!r.version.empty()) {  // Drizzle: empty when no file matched
            m = cat.find(r.version);
        }
        if (!m) {
            rep["not_on_disk"].push_back({{"version", r.version.empty() ? r.name : r.version},
                                          {"detail", r.name.empty() ? "" : r.name}});
            continue;
        }
        applied[catalog::version_key(m->version)] = &r;
        if (r.checksum == unset || r.checksum.empty()) continue;
        std::string mine = catalog::recorded_checksum_of(tool, text::read_file(m->up));
        if (mine != r.checksum)
            rep["changed_on_disk"].push_back(
                {{"version", m->version},
                 {"file", m->up_label},
                 {"detail",
                  tool.name + " recorded checksum " + r.checksum + ", the file now has " + mine}});
    }
    return applied;
}

to_record what_to_record(const catalog::format& tool, const catalog::catalog& cat,
                         const tool_history& h, const std::set<std::string>& recorded,
                         nlohmann::json& rep) {
    to_record out;
    auto applied = files_applied(tool, cat, h, rep);
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
            out.migrations.push_back(&m);
            rep["imported"].push_back({{"version", m.version}, {"name", m.name}});
        }
    }
    // Repeatables: recorded with the file's checksum when the tool ran this
    // very content, else with none, so the next `up` applies them again.
    for (auto& r : cat.repeatables) {
        auto it = h.repeatables.find(r.up.filename().string());
        if (it == h.repeatables.end()) {
            rep["repeatables"].push_back({{"name", r.name}, {"state", "not in database"}});
            continue;
        }
        bool same = it->second == catalog::recorded_checksum_of(tool, text::read_file(r.up));
        out.repeatables.push_back({&r, same});
        rep["repeatables"].push_back(
            {{"name", r.name}, {"state", same ? "imported" : "changed: applied again by up"}});
    }
    return out;
}

// The history rows of `todo`, in one transaction.
void record(db::session& s, history::store& store, const to_record& todo,
            const std::string& environment, long long run_id) {
    std::string sql;
    auto add = [&sql](const std::string& statement) {
        sql += (sql.empty() ? "" : ";") + statement;
    };
    for (auto* m : todo.migrations) {
        history::applied row;
        row.version = m->version;
        row.name = m->name;
        row.checksum = m->checksum;
        row.form = catalog::form_name(m->kind);
        row.how = "imported";
        row.applied_by = history::current_actor();
        row.environment = environment;
        row.run_id = run_id;
        add(store.record_sql(row));
    }
    for (auto& [r, same] : todo.repeatables)
        add("INSERT INTO " + store.table("repeatables") +
            " (name, checksum, how, applied_by, environment, run_id) VALUES (" +
            db::quote::literal(r->name) + ", " + db::quote::literal(same ? r->checksum : "") +
            ", 'imported', " + db::quote::literal(history::current_actor()) + ", " +
            db::quote::literal(environment) + ", " + std::to_string(run_id) +
            ") ON CONFLICT (name) DO NOTHING");
    db::transaction tx(s);
    tx.commit(sql);
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& import_sources() {
    static const auto all = [] {
        std::vector<std::pair<std::string, std::string>> out;
        for (const auto& f : catalog::formats())
            if (!f.history.table.empty()) out.push_back({f.name, f.history.table});
        return out;
    }();
    return all;
}

outcome import_history(engine& e, const import_options& o) {
    if (!o.dry_run) e.refuse_read_only("import");  // gate.cpp: before anything is read
    const auto& tool = tool_named(o.from);
    std::string table = o.table.empty() ? tool.history.table : o.table;
    auto cat = e.read_catalog();
    if (!compatible(tool, cat.format))
        throw usage_error(
            "--from " + o.from + ", but " + e.ctx().cfg.migrations_dir + " holds " + cat.format +
                " migrations",
            "point [project] migrations in moonshift.toml at the " + o.from + " directory");
    auto& s = e.session();
    if (!s.query("SELECT to_regclass($1) IS NOT NULL", qualified(table))[0][0].as<bool>())
        throw usage_error(
            "there is no table " + table + " in this database: nothing to import from " + o.from,
            "is this the database " + o.from + " migrated? name its history table with --table");
    auto h = read_tool(s, tool, table, project_of(e, tool), cat);

    std::unique_ptr<run_scope> run;
    if (!o.dry_run) run = std::make_unique<run_scope>(e, "import");
    auto rep = empty_report(o, table);
    std::set<std::string> recorded;
    if (e.store().present())
        for (auto& r : e.store().list_applied()) recorded.insert(catalog::version_key(r.version));
    auto todo = what_to_record(tool, cat, h, recorded, rep);

    outcome out;
    out.count = static_cast<int>(todo.migrations.size());
    if (o.dry_run) {
        out.report = rep;
        return out;
    }
    record(s, e.store(), todo, e.ctx().env.name, run->id());
    for (auto& [k, v] : rep.items()) run->report()[k] = v;
    run->finish("ok");
    out.report = run->report();
    return out;
}

}  // namespace moonshift::engine
