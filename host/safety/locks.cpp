// Finding the sessions a migration's DDL would queue behind.
#include "safety/locks.hpp"

#include <thread>

#include "common/error.hpp"
#include "common/text.hpp"
#include "db/quote.hpp"

namespace moonshift::locks {

std::string describe(const blocker& b) {
    std::string who =
        b.pid ? "pid " + std::to_string(b.pid) : std::string("a prepared transaction");
    std::string detail;
    auto add = [&](const std::string& s) {
        if (!s.empty()) detail += (detail.empty() ? "" : ", ") + s;
    };
    if (!b.user.empty()) add("user " + b.user);
    if (!b.application.empty()) add("application " + b.application);
    if (!b.client.empty()) add("from " + b.client);
    if (!b.state.empty())
        add(b.state + (b.transaction_seconds > 0
                           ? " for " + std::to_string(b.transaction_seconds) + " s"
                           : ""));
    std::string out = who + (detail.empty() ? "" : " (" + detail + ")") + " holds " + b.mode +
                      " on " + b.table + ", which " + b.wanted + " waits for";
    if (!b.query.empty()) out += "; its last query: " + b.query;
    return text::redact(out);
}

std::vector<blocker> find_blockers(db::session& s, const std::vector<sql::locked_table>& wanted) {
    std::vector<blocker> out;
    if (wanted.empty()) return out;
    std::vector<std::string> names, regnames;
    for (const auto& w : wanted) {
        names.push_back(w.table);
        auto dot = w.table.find('.');
        regnames.push_back(
            dot == std::string::npos
                ? db::quote::ident(w.table)
                : db::quote::qualified(w.table.substr(0, dot), w.table.substr(dot + 1)));
    }
    // Locks on the table or on one of its indexes (readers lock both); who
    // holds one is read for its holder alone (pg_stat_get_activity(pid)), not
    // the whole of pg_stat_activity before every migration. Prepared: it runs
    // before each migration that takes locks.
    auto r = s.query_prepared(
        "moonshift_lock_blockers",
        "WITH wanted AS (SELECT q.name, to_regclass(q.regname) AS rel FROM unnest($1::text[], "
        "$2::text[]) AS q(name, regname))"
        " SELECT DISTINCT coalesce(l.pid, 0), coalesce(pg_get_userbyid(a.usesysid)::text, ''), "
        "coalesce(a.application_name, ''),"
        "        coalesce(a.client_addr::text, CASE WHEN l.pid IS NULL THEN '' ELSE 'local' END), "
        "coalesce(a.state, ''),"
        "        left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 160),"
        "        coalesce(extract(epoch FROM now() - a.xact_start)::bigint, 0), w.name, l.mode"
        "   FROM wanted w JOIN pg_locks l ON l.locktype = 'relation' AND l.granted"
        "        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        "        AND (l.relation = w.rel OR l.relation IN (SELECT indexrelid FROM pg_index WHERE "
        "indrelid = w.rel))"
        "   LEFT JOIN LATERAL pg_stat_get_activity(l.pid) a ON l.pid IS NOT NULL"
        "  WHERE w.rel IS NOT NULL AND l.pid IS DISTINCT FROM pg_backend_pid()",
        {db::quote::array(names), db::quote::array(regnames)});
    for (const auto& row : r) {
        blocker b;
        b.pid = row[0].as<int>();
        b.user = row[1].c_str();
        b.application = row[2].c_str();
        b.client = row[3].c_str();
        b.state = row[4].c_str();
        b.query = row[5].c_str();
        b.transaction_seconds = row[6].as<long long>();
        b.table = row[7].c_str();
        b.mode = row[8].c_str();
        for (const auto& w : wanted) {
            if (w.table != b.table || !sql::lock_conflicts(w.mode, sql::lock_mode_from_pg(b.mode)))
                continue;
            b.wanted = sql::lock_mode_name(w.mode);
            out.push_back(b);
            break;
        }
    }
    return out;
}

void wait_for_blockers(db::session& s, const std::vector<sql::locked_table>& wanted,
                       std::chrono::milliseconds budget, const std::string& migration_label,
                       const std::function<void(const std::string&)>& waiting) {
    if (wanted.empty()) return;
    const auto start = std::chrono::steady_clock::now();
    auto next_report = start;
    for (;;) {
        auto blockers = find_blockers(s, wanted);
        if (blockers.empty()) return;
        auto now = std::chrono::steady_clock::now();
        if (now - start >= budget) {
            std::string list;
            for (const auto& b : blockers) list += "\n  " + describe(b);
            throw error(
                exit_code::lock_held,
                migration_label + " would wait behind " + std::to_string(blockers.size()) +
                    " session(s), and every query after it behind them; nothing was changed:" +
                    list,
                "let them finish (or end them: SELECT pg_terminate_backend(pid)) and run again; "
                "blocker_wait sets how long moonshift waits for them (now " +
                    text::format_duration(budget) + ")");
        }
        if (now >= next_report && waiting) {
            waiting("waiting for " + std::to_string(blockers.size()) +
                    " session(s) that would block " + migration_label + ": " +
                    describe(blockers.front()));
            next_report = now + std::chrono::seconds(1);
        }
        auto left = budget - std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
        std::this_thread::sleep_for(
            std::min<std::chrono::milliseconds>(std::chrono::milliseconds(200), left));
    }
}

}  // namespace moonshift::locks
