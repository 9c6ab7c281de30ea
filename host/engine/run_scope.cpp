// Lock, history schema and run row around every mutating command.
#include "engine/run_scope.hpp"

#include <exception>

#include "common/interrupt.hpp"
#include "engine/engine.hpp"

namespace moonshift::engine {

run_scope::run_scope(engine& e, const std::string& command)
    : e_(e), start_(std::chrono::steady_clock::now()) {
    e_.refuse_read_only(command);  // gate.cpp: before the lock, nothing written
    auto& ctx = e_.ctx();
    // Lock first, then read state (Sqitch's order): two runs never plan
    // against the same history.
    e_.take_lock();
    try {
        e_.store().ensure();
        e_.store().adopt_unkeyed_rows();  // rows recorded before projects were keyed
        if (int n = e_.store().close_abandoned_runs(e_.session().pooled()); n > 0)
            e_.log("warn", std::to_string(n) +
                               " earlier run(s) ended without finishing (killed?); marked aborted");
        run_id_ = e_.store().open_run(command, ctx.env.name, history::current_actor());
    } catch (...) {
        e_.release_lock_on_failure();
        throw;
    }
    report_["command"] = command;
    report_["environment"] = ctx.env.name;
    e_.emit("run.start", {{"run", run_id_},
                          {"command", command},
                          {"environment", ctx.env.name},
                          {"actor", history::current_actor()}});
}

long long run_scope::elapsed_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start_)
        .count();
}

void run_scope::finish(const std::string& how) {
    if (finished_) return;
    finished_ = true;
    // SIGINT/SIGTERM: what was open is rolled back, the row and the lock are
    // still ours to finish (common/interrupt.hpp).
    interrupt::cleanup allowed;
    const std::string outcome = interrupt::received() && how != "ok" ? "interrupted" : how;
    if (outcome == "interrupted") {
        e_.session().rollback_open();
        report_["interrupted"] = interrupt::describe();
    }
    report_["outcome"] = outcome;
    report_["duration_ms"] = elapsed_ms();
    try {
        e_.store().finish_run(run_id_, outcome, report_);
    } catch (const std::exception&) {
        // The connection may be gone; the next run marks this one aborted.
    }
    try {
        e_.release_lock();
    } catch (const std::exception&) {
        // Gone with the connection: the server releases a session's locks.
    }
    e_.emit("run.finish", {{"run", run_id_},
                           {"outcome", outcome},
                           {"duration_ms", report_["duration_ms"]},
                           {"report", report_}});
    if (e_.ctx().on_close) close_notifications(outcome);
}

void run_scope::close_notifications(const std::string& outcome) {
    auto before = report_;
    std::exception_ptr failure;
    try {
        e_.ctx().on_close(outcome, report_);
    } catch (...) {
        failure = std::current_exception();
    }
    if (report_ != before) {
        try {
            e_.store().update_report(run_id_, report_);
        } catch (const std::exception&) {
            // The connection may be gone; the run's outcome is recorded already.
        }
    }
    // Only a good run turns into a failure: a failed run keeps its own error
    // (and this may run in the destructor, where nothing may be thrown).
    if (failure && outcome == "ok") std::rethrow_exception(failure);
}

run_scope::~run_scope() {
    if (!finished_) finish("failed");
}

}  // namespace moonshift::engine
