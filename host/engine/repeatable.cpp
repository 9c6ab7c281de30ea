// What other tools' formats add to the run: Flyway's repeatable (R__) and
// baseline (B) migrations, Sqitch's verify scripts, and scripts that must run
// outside a transaction on the way down.
#include <libpq-fe.h>

#include <chrono>
#include <map>

#include "common/text.hpp"
#include "engine/engine.hpp"
#include "sql/sql.hpp"

namespace moonshift::engine {
namespace {

long long ms_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t)
        .count();
}

nlohmann::json describe_repeatable(const catalog::migration& r) {
    // "R_" + "_" + name prints as R__name, the file's own name.
    return {{"version", "R_"},
            {"name", r.name},
            {"checksum", r.checksum},
            {"file", r.up_label},
            {"repeatable", true}};
}

bool has_transaction_control(const std::string& sql) {
    try {
        return sql::parse(sql, "", sql::parse_options{false}).has_transaction_control();
    } catch (const error&) {
        return false;
    }
}

std::map<std::string, std::string> recorded_repeatables(db::session& s, history::store& store) {
    std::map<std::string, std::string> out;
    pqxx::nontransaction tx(s.conn());
    auto exists = tx.exec_params("SELECT to_regclass($1) IS NOT NULL", store.table("repeatables"));
    if (!exists[0][0].as<bool>()) return out;
    for (auto row : tx.exec("SELECT name, checksum FROM " + store.table("repeatables")))
        out[row[0].c_str()] = row[1].c_str();
    return out;
}

}  // namespace

nlohmann::json engine::repeatables_status() {
    auto cat = read_catalog();
    auto recorded = recorded_repeatables(*session_, *store_);
    auto out = nlohmann::json::array();
    for (const auto& r : cat.repeatables) {
        auto it = recorded.find(r.name);
        std::string state = it == recorded.end()       ? "pending"
                            : it->second == r.checksum ? "applied"
                                                       : "changed";
        out.push_back({{"name", r.name}, {"file", r.up_label}, {"state", state}});
    }
    return out;
}

int engine::apply_repeatables(const catalog::catalog& cat, const up_options& o, long long run_id,
                              nlohmann::json& report) {
    if (cat.repeatables.empty()) return 0;
    // Repeatables follow the newest version; with --to short of it they wait.
    if (o.to && !cat.migrations.empty() &&
        catalog::compare_versions(*o.to, cat.migrations.back().version) < 0)
        return 0;
    auto recorded = recorded_repeatables(*session_, *store_);
    int count = 0;
    report["repeatables"] = nlohmann::json::array();
    for (const auto& r : cat.repeatables) {
        if (auto it = recorded.find(r.name); it != recorded.end() && it->second == r.checksum)
            continue;
        emit("migration.start", describe_repeatable(r));
        auto t0 = std::chrono::steady_clock::now();
        auto& c = session_->conn();
        auto record = "INSERT INTO " + store_->table("repeatables") +
                      " (name, checksum, applied_by, duration_ms, environment, run_id) VALUES (" +
                      c.quote(r.name) + ", " + c.quote(r.checksum) + ", " +
                      c.quote(history::current_actor()) + ", ";
        auto finish = [&](long long ms) {
            return record + std::to_string(ms) + ", " + c.quote(ctx_.env.name) + ", " +
                   std::to_string(run_id) +
                   ") ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, how = "
                   "'applied', "
                   "applied_at = clock_timestamp(), applied_by = EXCLUDED.applied_by, "
                   "duration_ms = EXCLUDED.duration_ms, environment = EXCLUDED.environment, run_id "
                   "= EXCLUDED.run_id";
        };
        if (r.dir.no_transaction || r.dir.own_transaction) {
            // A repeatable is written to be run again: after a failure it
            // starts over, so it needs no checkpoints.
            for (const auto& st : sql::split(r.up_sql)) {
                try {
                    session_->exec_script(st.text);
                } catch (const db::sql_failure& f) {
                    if (PQtransactionStatus(session_->raw()) != PQTRANS_IDLE) try {
                            session_->exec_script("ROLLBACK");
                        } catch (...) {
                        }
                    fail_migration(r, r.up_label, r.up_sql, std::optional<std::size_t>(st.offset),
                                   f, ms_since(t0));
                }
            }
            session_->exec_script("BEGIN;" + finish(ms_since(t0)) + ";COMMIT");
        } else {
            session_->exec_script("BEGIN");
            try {
                session_->exec_script(r.up_sql);
            } catch (const db::sql_failure& f) {
                try {
                    session_->exec_script("ROLLBACK");
                } catch (...) {
                }
                auto at = f.info().position > 0 ? std::optional<std::size_t>(0)
                                                : locate_failing_statement(r.up_sql);
                fail_migration(r, r.up_label, r.up_sql, at, f, ms_since(t0));
            }
            session_->exec_script(finish(ms_since(t0)) + ";COMMIT");
        }
        auto j = describe_repeatable(r);
        j["duration_ms"] = ms_since(t0);
        emit("migration.applied", j);
        report["repeatables"].push_back(r.name);
        ++count;
    }
    return count;
}

int engine::apply_baseline_migration(const catalog::catalog& cat, const up_options& o,
                                     long long run_id, nlohmann::json& report) {
    if (cat.baselines.empty() || !store_->list_applied().empty()) return 0;
    // Flyway: on an empty database the highest B at or below the target is
    // applied instead of the V files it covers.
    const catalog::migration* b = nullptr;
    for (const auto& x : cat.baselines)
        if (!o.to || catalog::compare_versions(x.version, *o.to) <= 0) b = &x;
    if (!b) return 0;
    if (!cat.find(b->version))
        throw usage_error(
            b->up_label + ": no V" + b->version + " file beside it",
            "a baseline migration stands for the V files up to its version; moonshift records "
            "it against them, so keep the V file of the same version");
    emit("migration.start", {{"version", b->version},
                             {"name", b->name},
                             {"checksum", b->checksum},
                             {"file", b->up_label},
                             {"baseline_migration", true}});
    auto t0 = std::chrono::steady_clock::now();
    std::string rows;
    int count = 0;
    report["baseline_migration"] = {
        {"file", b->up_label}, {"version", b->version}, {"covers", nlohmann::json::array()}};
    for (const auto& m : cat.migrations) {
        if (catalog::compare_versions(m.version, b->version) > 0) break;
        history::applied row;
        row.version = m.version;
        row.name = m.name;
        row.checksum = m.checksum;
        row.how = "baseline";  // stands for history the B file replaced: no checksum to compare
        row.applied_by = history::current_actor();
        row.environment = ctx_.env.name;
        row.run_id = run_id;
        rows += store_->record_sql(row) + ";";
        report["baseline_migration"]["covers"].push_back(m.version);
        ++count;
    }
    if (b->dir.no_transaction || b->dir.own_transaction) {
        for (const auto& st : sql::split(b->up_sql)) {
            try {
                session_->exec_script(st.text);
            } catch (const db::sql_failure& f) {
                if (PQtransactionStatus(session_->raw()) != PQTRANS_IDLE) try {
                        session_->exec_script("ROLLBACK");
                    } catch (...) {
                    }
                fail_migration(*b, b->up_label, b->up_sql, std::optional<std::size_t>(st.offset), f,
                               ms_since(t0));
            }
        }
        session_->exec_script("BEGIN;" + rows + "COMMIT");
    } else {
        session_->exec_script("BEGIN");
        try {
            session_->exec_script(b->up_sql);
        } catch (const db::sql_failure& f) {
            try {
                session_->exec_script("ROLLBACK");
            } catch (...) {
            }
            auto at = f.info().position > 0 ? std::optional<std::size_t>(0)
                                            : locate_failing_statement(b->up_sql);
            fail_migration(*b, b->up_label, b->up_sql, at, f, ms_since(t0));
        }
        session_->exec_script(rows + "COMMIT");
    }
    emit("migration.applied", {{"version", b->version},
                               {"name", b->name},
                               {"duration_ms", ms_since(t0)},
                               {"file", b->up_label},
                               {"baseline_migration", true}});
    return count;
}

void engine::run_sql_verify(const catalog::migration& m, bool in_transaction) {
    auto t0 = std::chrono::steady_clock::now();
    auto failed = [&](const db::sql_failure& f) {
        try {
            std::optional<std::size_t> at;
            if (f.info().position > 0) at = 0;
            fail_migration(m, m.verify_label, m.verify_sql, at, f, ms_since(t0));
        } catch (const error& e) {
            return error(exit_code::check_failed,
                         "Verify script \"" + m.verify_label + "\" failed: " + e.what(),
                         "the change was rolled back; fix it or its verify script and run "
                         "`moonshift up` again");
        }
        return error(exit_code::check_failed, "Verify script \"" + m.verify_label + "\" failed");
    };
    if (in_transaction) {
        // Inside the change's transaction, so a failure undoes the change;
        // the savepoint keeps whatever the script itself did out of it.
        session_->exec_script("SAVEPOINT moonshift_verify");
        try {
            session_->exec_script(m.verify_sql);
        } catch (const db::sql_failure& f) {
            try {
                session_->exec_script("ROLLBACK");
            } catch (...) {
            }
            throw failed(f);
        }
        session_->exec_script(
            "ROLLBACK TO SAVEPOINT moonshift_verify; RELEASE SAVEPOINT moonshift_verify");
        return;
    }
    // The change ran outside a transaction and is committed: a failed
    // verification reverts it with its down script, as Sqitch does.
    bool own = has_transaction_control(m.verify_sql);
    try {
        if (!own) session_->exec_script("BEGIN");
        session_->exec_script(m.verify_sql);
        if (!own) session_->exec_script("ROLLBACK");
    } catch (const db::sql_failure& f) {
        if (PQtransactionStatus(session_->raw()) != PQTRANS_IDLE) try {
                session_->exec_script("ROLLBACK");
            } catch (...) {
            }
        auto err = failed(f);
        std::string what = err.what();
        std::string hint;
        if (!m.down.empty()) {
            try {
                if (m.dir.down_own_transaction) {
                    revert_outside_transaction(m);
                } else {
                    session_->exec_script("BEGIN");
                    session_->exec_script(m.down_sql);
                    session_->exec_script("COMMIT");
                }
                hint = "the change was reverted with " + m.down_label;
            } catch (const std::exception& e) {
                if (PQtransactionStatus(session_->raw()) != PQTRANS_IDLE) try {
                        session_->exec_script("ROLLBACK");
                    } catch (...) {
                    }
                hint = "reverting it with " + m.down_label + " failed too: " + e.what();
            }
        } else {
            hint = "the change stays deployed: it has no revert script";
        }
        // The next `up` starts the change over instead of recording it.
        try {
            session_->exec_script(store_->clear_checkpoint_sql(m.version, "statements"));
        } catch (...) {
        }
        throw error(exit_code::check_failed, what, hint);
    }
}

void engine::revert_outside_transaction(const catalog::migration& m) {
    auto t0 = std::chrono::steady_clock::now();
    for (const auto& st : sql::split(m.down_sql)) {
        try {
            session_->exec_script(st.text);
        } catch (const db::sql_failure& f) {
            if (PQtransactionStatus(session_->raw()) != PQTRANS_IDLE) try {
                    session_->exec_script("ROLLBACK");
                } catch (...) {
                }
            fail_migration(m, m.down_label, m.down_sql, std::optional<std::size_t>(st.offset), f,
                           ms_since(t0));
        }
    }
}

}  // namespace moonshift::engine
