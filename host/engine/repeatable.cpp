// What other tools' formats add to the run: Flyway's repeatable (R__) and
// baseline (B) migrations, Sqitch's verify scripts, and scripts that must run
// outside a transaction on the way down.
#include <chrono>
#include <map>

#include "common/text.hpp"
#include "db/transaction.hpp"
#include "engine/detail.hpp"
#include "engine/engine.hpp"
#include "history/repeatables.hpp"
#include "sql/sql.hpp"

namespace moonshift::engine {
using detail::ms_since;
namespace {

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

}  // namespace

nlohmann::json engine::repeatables_status(const catalog::catalog* read) {
    catalog::catalog own;
    if (!read) own = read_catalog();
    const auto& cat = read ? *read : own;
    auto recorded = history::recorded_repeatables(*session_, *store_);
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

void engine::apply_then_record(const catalog::migration& m,
                               std::chrono::steady_clock::time_point t0,
                               const std::function<std::string()>& record) {
    if (m.dir.no_transaction || m.dir.own_transaction) {
        // Written to be run again: after a failure it starts over, so it
        // needs no checkpoints.
        for (const auto& st : sql::split(m.up_sql)) {
            try {
                session_->exec_script(st.text);
            } catch (const db::sql_failure& f) {
                session_->rollback_open();  // the file's own transaction, when one is open
                fail_migration(m, m.up_label, m.up_sql, std::optional<std::size_t>(st.offset), f,
                               ms_since(t0));
            }
        }
        // One simple query: its statements commit together.
        session_->exec_script(record());
        return;
    }
    db::transaction tx(*session_);
    try {
        session_->exec_script(m.up_sql);
    } catch (const db::sql_failure& f) {
        session_->rollback_open();  // before the replay that finds the statement
        auto at = f.info().position > 0 ? std::optional<std::size_t>(0)
                                        : locate_failing_statement(m.up_sql);
        fail_migration(m, m.up_label, m.up_sql, at, f, ms_since(t0));
    }
    tx.commit(record());
}

int engine::apply_repeatables(const catalog::catalog& cat, const up_options& o, long long run_id,
                              nlohmann::json& report) {
    if (cat.repeatables.empty()) return 0;
    // Repeatables follow the newest version; with --to short of it they wait.
    if (o.to && !cat.migrations.empty() &&
        catalog::compare_versions(*o.to, cat.migrations.back().version) < 0)
        return 0;
    auto recorded = history::recorded_repeatables(*session_, *store_);
    int count = 0;
    report["repeatables"] = nlohmann::json::array();
    for (const auto& r : cat.repeatables) {
        if (auto it = recorded.find(r.name); it != recorded.end() && it->second == r.checksum)
            continue;
        emit("migration.start", describe_repeatable(r));
        auto t0 = std::chrono::steady_clock::now();
        apply_then_record(r, t0, [&] {
            history::repeatable row;
            row.name = r.name;
            row.checksum = r.checksum;
            row.applied_by = history::current_actor();
            row.duration_ms = ms_since(t0);
            row.environment = ctx_.env.name;
            row.run_id = run_id;
            return history::record_repeatable_sql(*store_, row);
        });
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
        auto row = applied_row(m, run_id);
        row.how = "baseline";  // stands for history the B file replaced: no checksum to compare
        rows += (rows.empty() ? "" : ";") + store_->record_sql(row);
        report["baseline_migration"]["covers"].push_back(m.version);
        ++count;
    }
    apply_then_record(*b, t0, [&] { return rows; });
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
        db::savepoint sp(*session_, "moonshift_verify");
        try {
            session_->exec_script(m.verify_sql);
        } catch (const db::sql_failure& f) {
            session_->rollback_open();  // the change with it, before migration.failed
            throw failed(f);
        }
        sp.rollback();
        return;
    }
    // The change ran outside a transaction and is committed: a failed
    // verification reverts it with its down script, as Sqitch does.
    try {
        verify_outside_transaction(m);
    } catch (const db::sql_failure& f) {
        session_->rollback_open();
        auto err = failed(f);
        std::string hint = revert_after_failed_verify(m);
        // The next `up` starts the change over instead of recording it.
        try {
            session_->exec_script(store_->clear_checkpoint_sql(m.version, "statements"));
        } catch (const db::sql_failure&) {
            // The connection is gone; the verification's failure is the news.
        }
        throw error(exit_code::check_failed, err.what(), hint);
    }
}

void engine::verify_outside_transaction(const catalog::migration& m) {
    if (has_transaction_control(m.verify_sql)) {
        session_->exec_script(m.verify_sql);  // the script's own BEGIN/COMMIT
        return;
    }
    db::transaction tx(*session_);  // rolled back: a verify script changes nothing
    session_->exec_script(m.verify_sql);
    tx.rollback();
}

std::string engine::revert_after_failed_verify(const catalog::migration& m) {
    if (m.down.empty()) return "the change stays deployed: it has no revert script";
    try {
        if (m.dir.down_own_transaction) {
            revert_outside_transaction(m);
        } else {
            db::transaction tx(*session_);
            session_->exec_script(m.down_sql);
            tx.commit();
        }
        return "the change was reverted with " + m.down_label;
    } catch (const std::exception& e) {
        session_->rollback_open();
        return "reverting it with " + m.down_label + " failed too: " + e.what();
    }
}

void engine::revert_outside_transaction(const catalog::migration& m) {
    auto t0 = std::chrono::steady_clock::now();
    for (const auto& st : sql::split(m.down_sql)) {
        try {
            session_->exec_script(st.text);
        } catch (const db::sql_failure& f) {
            session_->rollback_open();  // the script's own transaction, when one is open
            fail_migration(m, m.down_label, m.down_sql, std::optional<std::size_t>(st.offset), f,
                           ms_since(t0));
        }
    }
}

}  // namespace moonshift::engine
