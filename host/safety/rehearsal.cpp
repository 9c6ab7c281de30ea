// Rehearsing pending migrations inside a transaction that is rolled back.
#include "safety/rehearsal.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <set>

#include "catalog/formats.hpp"
#include "common/error.hpp"
#include "common/text.hpp"
#include "db/quote.hpp"
#include "db/transaction.hpp"
#include "sql/facts.hpp"
#include "sql/side_effects.hpp"
#include "sql/sql.hpp"

namespace moonshift::rehearsal {
namespace {

using json = nlohmann::json;
using clock = std::chrono::steady_clock;

long long ms_since(clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - t).count();
}

// Locks this session holds on user relations: (oid, mode) -> name.
std::map<std::pair<long long, std::string>, std::string> held_locks(db::session& s,
                                                                    const std::string& history) {
    auto r = s.query(
        "SELECT l.relation::bigint, coalesce(n.nspname || '.' || c.relname, ''), l.mode"
        "  FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation"
        "  LEFT JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted"
        "   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        "   AND (c.oid IS NULL OR (n.nspname NOT IN ('pg_catalog', 'information_schema')"
        "        AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname <> $1 AND c.relkind NOT IN "
        "('i', 'I')))",
        history);
    std::map<std::pair<long long, std::string>, std::string> out;
    for (const auto& row : r) out[{row[0].as<long long>(), row[2].c_str()}] = row[1].c_str();
    return out;
}

// Names of the user relations, for locks on relations the migration drops.
std::map<long long, std::string> relation_names(db::session& s) {
    auto r = s.query(
        "SELECT c.oid::bigint, n.nspname || '.' || c.relname FROM pg_class c"
        "  JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE "
        "'pg\\_toast%'"
        "   AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')");
    std::map<long long, std::string> out;
    for (const auto& row : r) out[row[0].as<long long>()] = row[1].c_str();
    return out;
}

// Plain SQL: rehearsed statement by statement, with rows and times each.
bool is_sql_form(const catalog::migration& m) {
    const std::string suffix = ".sql";
    return m.kind != catalog::form::lua && m.up_lua.empty() && m.verify_lua.empty() &&
           m.precheck_lua.empty() && !m.up_sql.empty() && m.up_label.size() >= suffix.size() &&
           m.up_label.compare(m.up_label.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Runs one statement; fills r, or returns the located error message.
std::string run_statement(db::session& s, const catalog::migration& m, const sql::statement& st,
                          statement_result& r) {
    auto t0 = clock::now();
    r.line = st.line;
    r.column = st.column;
    try {
        auto res = s.query(st.text);
        r.duration_ms = ms_since(t0);
        r.command = res.command_tag();
        // "UPDATE 12" -> "UPDATE"; "INSERT 0 5" -> "INSERT"
        auto cut = r.command.find_first_of("0123456789");
        if (cut != std::string::npos) r.command = text::trim(r.command.substr(0, cut));
        r.rows = res.affected_rows() ? res.affected_rows() : static_cast<long long>(res.size());
        return {};
    } catch (const db::sql_failure& e) {
        r.duration_ms = ms_since(t0);
        const auto& info = e.info();
        std::size_t at = st.offset;
        if (info.position > 0)
            at += text::char_to_byte_offset(st.text, std::size_t(info.position - 1));
        return sql::format_located(
            m.up_sql, at, m.up_label,
            info.message + (info.sqlstate.empty() ? "" : " (" + info.sqlstate + ")"));
    }
}

// Why a migration cannot be rehearsed at all, or "".
std::string not_rehearsable(const catalog::migration& m, const options& o) {
    if (m.dir.no_transaction || m.dir.own_transaction) {
        std::string why = m.dir.own_transaction
                              ? "it manages its own transaction (BEGIN/COMMIT), which a "
                                "rehearsal cannot roll back"
                              : "it runs outside a transaction "
                                "(moonshift:no-transaction), so it cannot be "
                                "rolled back";
        // Say which statement forces that, when the parser knows; a
        // no-transaction file whose statements could all run in one is
        // rehearsed like any other (up commits them one by one).
        try {
            auto script = sql::parse(m.up_sql, m.up_label, sql::parse_options{false});
            auto* st = script.first_no_transaction_statement();
            if (!st && !m.dir.own_transaction && !script.has_transaction_control()) return {};
            if (st)
                why +=
                    ": " + st->no_transaction_reason + " (line " + std::to_string(st->line) + ")";
        } catch (const sql::parse_error&) {
            // the sentence without the statement is still true
        }
        return why;
    }
    if (!is_sql_form(m) && !o.apply_other)
        return "Lua parts are rehearsed only through `moonshift plan`";
    // What a rollback cannot undo would happen for real: not rehearsed.
    try {
        for (const auto& st : sql::parse(m.up_sql, m.up_label).statements)
            if (auto effects = sql::irreversible_effects(st); !effects.empty())
                return "line " + std::to_string(st.line) + " calls " + effects.front() +
                       ", whose effect a rollback does not undo";
    } catch (const sql::parse_error&) {
        // the rehearsal reports the syntax error where it runs the file
    }
    return {};
}

// The statements of a plain SQL migration one by one; the first that fails
// ends it. Fills `names` when it drops or renames (for the locks report).
void run_sql(db::session& s, const catalog::migration& m, migration_result& mr,
             std::map<long long, std::string>& names) {
    try {
        auto script = sql::parse(m.up_sql, m.up_label, sql::parse_options{false});
        for (const auto& st : script.statements)
            if (st.kind == "DropStmt" || st.kind == "RenameStmt") {
                names = relation_names(s);
                break;
            }
        for (const auto& st : script.statements) {
            statement_result r;
            auto err = run_statement(s, m, st, r);
            if (!err.empty()) {
                mr.failed = true;
                mr.error = err;
                return;
            }
            mr.rows += r.rows;
            mr.statements.push_back(r);
        }
    } catch (const sql::parse_error& e) {
        mr.failed = true;
        mr.error = e.what();
    }
}

// What one rehearsal step left: the locks it took beyond `locks_before`
// and the schema changes since `before`; both move on to this step's state.
struct rehearsal_state {
    nlohmann::json schema;
    nlohmann::json image;  // for the derived reverse
    std::map<std::pair<long long, std::string>, std::string> locks;
    int savepoints = 0;
};

void record_effects(db::session& s, const options& o, const schema::snapshot_options& snap,
                    const std::map<long long, std::string>& names, rehearsal_state& state,
                    migration_result& mr) {
    auto locks_after = held_locks(s, o.history_schema);
    for (const auto& [key, name] : locks_after) {
        if (state.locks.count(key)) continue;
        std::string shown = name;
        if (shown.empty()) {
            auto it = names.find(key.first);
            shown = it != names.end()
                        ? it->second + " (dropped)"
                        : "a dropped relation (oid " + std::to_string(key.first) + ")";
        }
        mr.locks.push_back({shown, key.second});
    }
    state.locks = std::move(locks_after);
    auto after = schema::snapshot(s, snap);
    mr.changes = schema::diff(state.schema, after);
    state.schema = std::move(after);
    auto image = schema::image(s, {o.history_schema, o.backup_schema});
    mr.derived = schema::reverse_of(state.image, image, false);
    state.image = std::move(image);
}

// One pending migration, in its own savepoint: released when it ran, rolled
// back when it failed or was not rehearsed after all.
// A file wrapped in its own BEGIN … COMMIT (the runbooks' habit) rehearses
// with the wrapper taken out, inside the rehearsal's savepoint; null when
// the file is not such a wrapper or needs to run outside a transaction.
std::optional<catalog::migration> unwrapped(const catalog::migration& m) {
    if (!m.dir.own_transaction || m.dir.no_transaction) return std::nullopt;
    std::string text = m.up_sql;
    if (!catalog::unwrap_transaction(text, false) ||
        catalog::controls_transactions(text, m.up_label))
        return std::nullopt;
    try {
        if (sql::parse(text, m.up_label, sql::parse_options{false})
                .first_no_transaction_statement())
            return std::nullopt;
    } catch (const sql::parse_error&) {
        return std::nullopt;
    }
    catalog::migration copy = m;
    copy.up_sql = std::move(text);
    copy.dir.own_transaction = false;
    return copy;
}

// The tables a migration names (unqualified ones in public); null when they
// cannot be told (not SQL, or it does not parse).
std::optional<std::set<std::string>> tables_of(const catalog::migration& m) {
    if (!is_sql_form(m)) return std::nullopt;
    std::set<std::string> out;
    try {
        for (const auto& st : sql::parse(m.up_sql, m.up_label).statements)
            for (const auto& r : sql::facts_of(st).relations)
                // An index build changes nothing a later statement sees.
                if (r.role != "indexed")
                    out.insert(r.schema.empty() ? "public." + r.name : r.qualified());
    } catch (const sql::parse_error&) {
        return std::nullopt;
    }
    return out;
}

migration_result rehearse_one(db::session& s, const catalog::migration& input, const options& o,
                              const schema::snapshot_options& snap, rehearsal_state& state) {
    migration_result mr;
    mr.version = input.version;
    mr.name = input.name;
    mr.file = input.up_label;
    auto plain = unwrapped(input);
    const catalog::migration& m = plain ? *plain : input;
    if (plain) mr.note = "rehearsed with its own BEGIN/COMMIT taken out";
    mr.not_rehearsed = not_rehearsable(m, o);
    if (!mr.not_rehearsed.empty()) return mr;
    if (o.progress) o.progress("rehearsing " + m.id());
    mr.rehearsed = true;
    db::savepoint sp(s, "moonshift_rehearsal_" + std::to_string(++state.savepoints));
    auto t1 = clock::now();
    std::map<long long, std::string> names;
    if (is_sql_form(m)) {
        run_sql(s, m, mr, names);
    } else {
        try {
            auto why = o.apply_other(m);
            if (!why.empty()) {
                sp.rollback();
                mr.rehearsed = false;
                mr.not_rehearsed = why;
                return mr;
            }
        } catch (const std::exception& e) {
            mr.failed = true;
            mr.error = e.what();
        }
    }
    mr.duration_ms = ms_since(t1);
    if (mr.failed) {
        sp.rollback();
        // An enum value an earlier migration added cannot be used before its
        // transaction commits; `up` commits each migration, the rehearsal
        // cannot.
        if (mr.error.find("(55P04)") != std::string::npos) {
            mr.failed = false;
            mr.rehearsed = false;
            mr.not_rehearsed =
                "it uses an enum value that an earlier migration of this rehearsal adds; "
                "PostgreSQL allows that only once the adding transaction has committed, as "
                "`up` does (a transaction per migration) and a rehearsal cannot";
            mr.error.clear();
        }
        return mr;
    }
    record_effects(s, o, snap, names, state, mr);
    sp.release();
    return mr;
}

}  // namespace

json migration_result::to_json() const {
    json j = {{"version", version}, {"name", name}, {"file", file}, {"rehearsed", rehearsed}};
    if (!note.empty()) j["note"] = note;
    if (!reverse.is_null()) j["reverse"] = reverse;
    if (!rehearsed) {
        j["not_rehearsed"] = not_rehearsed;
        return j;
    }
    j["failed"] = failed;
    if (failed) j["error"] = error;
    j["duration_ms"] = duration_ms;
    j["rows"] = rows;
    json st = json::array();
    for (const auto& s : statements)
        st.push_back({{"line", s.line},
                      {"column", s.column},
                      {"command", s.command},
                      {"rows", s.rows},
                      {"duration_ms", s.duration_ms}});
    j["statements"] = st;
    json lk = json::array();
    for (const auto& l : locks)
        lk.push_back({{"relation", l.relation},
                      {"mode", l.mode},
                      {"sql_mode", sql::lock_mode_name(sql::lock_mode_from_pg(l.mode))}});
    j["locks"] = lk;
    j["schema_changes"] = schema::to_json(changes);
    return j;
}

json result::to_json() const {
    json all = json::array();
    for (const auto& m : migrations) all.push_back(m.to_json());
    return {{"migrations", all},
            {"failed", failed},
            {"duration_ms", duration_ms},
            {"sequences_advanced", sequences_advanced}};
}

namespace {

// Every sequence's last value (those the role may read).
std::map<std::string, long long> sequence_values(db::session& s) {
    std::map<std::string, long long> out;
    for (const auto& row :
         s.query("SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), last_value "
                 "FROM pg_sequences WHERE last_value IS NOT NULL"))
        out[row[0].c_str()] = row[1].as<long long>();
    return out;
}

}  // namespace

result rehearse(db::session& s, const std::vector<const catalog::migration*>& pending,
                const options& o) {
    auto t0 = clock::now();
    result out;
    schema::snapshot_options snap;
    snap.exclude_schemas = {o.history_schema, o.backup_schema};
    auto sequences_before = sequence_values(s);
    // Always rolled back: by rollback() below, or by the guard on a throw.
    db::transaction tx(s);
    auto lt = s.query("SHOW lock_timeout")[0][0].as<std::string>();
    if (lt == "0" && !o.default_lock_timeout.empty())
        s.exec_script("SET LOCAL lock_timeout = " + db::quote::literal(o.default_lock_timeout));
    rehearsal_state state;
    state.schema = schema::snapshot(s, snap);
    state.image = schema::image(s, {o.history_schema, o.backup_schema});
    state.locks = held_locks(s, o.history_schema);
    // Migrations that were not rehearsed (or failed) and the tables they
    // name: a later one that names one of them would be judged against a
    // state that lacks them.
    std::vector<std::pair<std::string, std::optional<std::set<std::string>>>> missing;
    for (const auto* m : pending) {
        // Parsed for its tables only when something is missing before it, or
        // when it goes missing itself.
        std::optional<std::optional<std::set<std::string>>> known;
        auto tables = [&]() -> const std::optional<std::set<std::string>>& {
            if (!known) known = tables_of(*m);
            return *known;
        };
        std::string depends;
        for (const auto& [id, names] : missing) {
            if (names && names->empty()) continue;  // it only built indexes
            bool shared = !names || !tables();
            if (names && tables())
                for (const auto& t : *tables()) shared = shared || names->count(t) > 0;
            if (shared) {
                depends = id;
                break;
            }
        }
        if (!depends.empty()) {
            migration_result mr;
            mr.version = m->version;
            mr.name = m->name;
            mr.file = m->up_label;
            mr.not_rehearsed = "depends on " + depends +
                               ", which was not rehearsed: judged against a state without it, "
                               "the rehearsal would say the wrong thing";
            out.migrations.push_back(std::move(mr));
            missing.emplace_back(m->id(), tables());
            continue;
        }
        out.migrations.push_back(rehearse_one(s, *m, o, snap, state));
        const auto& done = out.migrations.back();
        if (done.failed) out.failed = true;
        if (!done.rehearsed || done.failed) missing.emplace_back(m->id(), tables());
    }
    tx.rollback();
    for (const auto& [name, value] : sequence_values(s))
        if (auto it = sequences_before.find(name);
            it == sequences_before.end() || it->second != value)
            out.sequences_advanced.push_back(name + ": " +
                                             (it == sequences_before.end()
                                                  ? std::string("unused")
                                                  : std::to_string(it->second)) +
                                             " → " + std::to_string(value));
    out.duration_ms = ms_since(t0);
    return out;
}

}  // namespace moonshift::rehearsal
