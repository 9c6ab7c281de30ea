// Lock-safe DDL: before a migration takes its locks, find the sessions that
// hold conflicting locks on the same tables (a long transaction, an idle
// session that never committed), wait for them within a budget, or refuse
// and name them, rather than queue behind them and stall every query that
// arrives after.
#pragma once
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "db/session.hpp"
#include "sql/facts.hpp"

namespace moonshift::locks {

struct blocker {
    int pid = 0;  // 0: a prepared transaction
    std::string user, application, client, state, query;
    long long transaction_seconds = 0;  // how long its transaction has been open
    std::string table;                  // the table we need, as written
    std::string mode;                   // the mode it holds: "RowExclusiveLock"
    std::string wanted;                 // the mode we need: "ACCESS EXCLUSIVE"
};

// "pid 4242 (user app, application api, from 10.0.0.7, idle in transaction for 312 s):
//  holds RowExclusiveLock on orders, which ACCESS EXCLUSIVE waits for; last query: UPDATE ..."
std::string describe(const blocker& b);

// Other sessions holding locks that conflict with the locks the migration
// will take. Tables that do not exist (yet) block nothing.
std::vector<blocker> find_blockers(db::session& s, const std::vector<sql::locked_table>& wanted);

// Waits up to `budget` for the blockers to finish, calling `waiting` about
// once a second; throws error(lock_held) naming them when they outlast it.
void wait_for_blockers(db::session& s, const std::vector<sql::locked_table>& wanted,
                       std::chrono::milliseconds budget, const std::string& migration_label,
                       const std::function<void(const std::string&)>& waiting);

}  // namespace moonshift::locks
