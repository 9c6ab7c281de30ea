// The batch loop of one backfill (runner.hpp).
#include "backfill/runner.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <thread>

#include "backfill/batch.hpp"
#include "common/error.hpp"
#include "common/text.hpp"
#include "db/transaction.hpp"
#include "history/backfills.hpp"
#include "lua/runtime.hpp"

namespace moonshift::backfill {
namespace {

using clock = std::chrono::steady_clock;

long long ms_between(clock::time_point a, clock::time_point b) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

bool retryable(const db::sql_failure& f) {
    const auto& s = f.info().sqlstate;
    return s == "55P03" || s == "40P01" || s == "40001";  // lock_timeout, deadlock, serialization
}

struct state {
    state(const job& jj, const lua::backfill_spec& ss, target& tt)
        : j(jj), s(ss), t(tt), db(*jj.session), book(db, jj.schema_quoted) {}
    const job& j;
    const lua::backfill_spec& s;
    target& t;
    db::session& db;
    history::backfills book;
    std::string temp;  // temporary table of a transform
    std::vector<std::string> after;
    long long rows_done = 0;  // over every run
    long long rows_here = 0;  // in this run
    std::optional<long long> total;
    long long size = 0;
    clock::time_point started = clock::now(), last_progress{};
    bool pause_requested = false;
    long long lock_waits = 0;

    void log(const std::string& level, const std::string& message) const {
        if (j.emit) j.emit("log", {{"level", level}, {"message", message}});
    }
    double rate(long long rows) const {
        auto ms = ms_between(started, clock::now());
        return ms > 0 ? rows * 1000.0 / ms : 0;
    }
    double rate() const { return rate(rows_here); }
    void progress(const std::string& st, const std::string& why = {}, bool force = false) {
        auto now = clock::now();
        if (!force && ms_between(last_progress, now) < 1000) return;
        last_progress = now;
        nlohmann::json d = {{"version", j.version},
                            {"name", j.name},
                            {"file", s.file},
                            {"table", t.display},
                            {"part", j.part},
                            {"rows_done", rows_done},
                            {"rows_per_second", std::round(rate())},
                            {"batch_size", size},
                            {"state", st},
                            {"elapsed_ms", ms_between(started, now)}};
        d["rows_total"] = total ? nlohmann::json(*total) : nlohmann::json(nullptr);
        if (total && rate() > 0 && *total > rows_done)
            d["eta_s"] = std::round((*total - rows_done) / rate());
        else
            d["eta_s"] = nullptr;
        if (!why.empty()) d["waiting"] = why;
        if (j.emit) j.emit("backfill.progress", d);
    }
    // The checkpoint and the status row, in the batch's transaction, for
    // the position the batch reached; reads the pause flag back.
    void save(const std::vector<std::string>& next, long long done_rows, long long here_rows,
              bool done) {
        nlohmann::json p = {{"after", next}, {"rows_done", done_rows}, {"done", done}};
        if (!t.changed.empty()) {
            p["columns"] = nlohmann::json::array();
            for (auto& col : t.changed) p["columns"].push_back(col.name);
        }
        auto saved =
            book.save_batch(j.version, j.part, p, j.run_id, done_rows, rate(here_rows), size);
        pause_requested = saved.pause_requested;
        lock_waits = saved.lock_waits;
    }
    void set_state(const std::string& st, const std::string& message) {
        book.set_state(j.version, j.part, st, message);
    }
    bool paused_flag() { return book.pause_requested(j.version, j.part); }
    std::string lock_timeout_sql() const {
        auto lt = s.lock_timeout ? *s.lock_timeout
                                 : j.lock_timeout.value_or(std::chrono::milliseconds(2000));
        return "SET LOCAL lock_timeout = " + std::to_string(std::max<long long>(1, lt.count()));
    }

    // ---- between batches ----
    void wait_while_paused() {
        if (!pause_requested) return;
        set_state("paused", "paused by `moonshift backfill pause`");
        log("warn", "backfill of " + t.display + " paused at " + std::to_string(rows_done) +
                        " rows; `moonshift backfill resume` continues it");
        progress("paused", "paused by `moonshift backfill pause`", true);
        while (paused_flag()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
            progress("paused", "paused by `moonshift backfill pause`");
        }
        pause_requested = false;
        set_state("running", "");
        log("info", "backfill of " + t.display + " resumed");
    }

    void wait_for_health() {
        auto since = clock::now();
        auto last_report = clock::time_point{};
        std::string reason;
        for (;;) {
            health h = sample(db, t.oid);
            h.lock_waits = lock_waits;
            reason = wait_reason(s, h);
            if (reason.empty() && j.lua && s.pause_when_ref != -2) {
                auto hj = h.to_json();
                hj["rows_done"] = rows_done;
                hj["rows_per_second"] = rate();
                hj["batch_size"] = size;
                hj["table"] = t.display;
                reason = j.lua->pause_reason(s, hj);
            }
            if (reason.empty()) break;
            auto now = clock::now();
            if (ms_between(last_report, now) >= 10000) {
                if (last_report == clock::time_point{}) set_state("waiting", reason);
                log("warn", "backfill of " + t.display + " waits: " + reason);
                last_report = now;
            }
            progress("waiting", reason);
            if (paused_flag()) {
                pause_requested = true;
                wait_while_paused();
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
        if (last_report != clock::time_point{}) {
            set_state("running", "");
            log("info", "backfill of " + t.display + " goes on after waiting " +
                            text::format_duration(
                                std::chrono::milliseconds(ms_between(since, clock::now()))));
        }
    }

    // ---- before the first batch ----
    // Where the last run stopped; true when it had finished.
    bool resume() {
        auto p = book.position(j.version, j.part);
        if (!p) return false;
        rows_done = p->value("rows_done", 0LL);
        if (p->value("done", false)) return true;
        after = p->value("after", std::vector<std::string>{});
        if (p->contains("columns") && s.has_transform())
            check_changed(t, s, (*p)["columns"].get<std::vector<std::string>>());
        log("info", s.where_text() + ": backfill of " + t.display + " resumes after " +
                        std::to_string(rows_done) + " rows");
        return false;
    }
    // How many rows are left, for the ETA; a count that takes long is skipped.
    void count_rest() {
        try {
            db::transaction tx(db, db::transaction::mode::begin,
                               "SET LOCAL statement_timeout = 5000");
            auto r = db.query("SELECT count(*) FROM " + t.qualified + " t WHERE " +
                              after_condition(t, after) +
                              (s.where.empty() ? "" : " AND (" + s.where + ")"));
            total = rows_done + r[0][0].as<long long>();
            tx.commit();
            book.set_total(j.version, j.part, *total);
        } catch (const db::sql_failure&) {
            total.reset();  // no ETA then
        }
    }
    long long first_size() const {
        long long n = s.batch > 0 ? s.batch : std::clamp(s.start_batch, s.min_batch, s.max_batch);
        if (s.max_rows_per_second > 0)
            n = std::min<long long>(
                n, std::max<long long>(1, static_cast<long long>(s.max_rows_per_second)));
        return n;
    }

    // ---- one batch ----
    // In its own transaction with its checkpoint; retried with a smaller size
    // on a lock time-out, deadlock or serialization failure. Returns the
    // rows it looked at (0 = the end).
    long long batch() {
        for (int attempt = 1;; ++attempt) {
            try {
                return try_batch();
            } catch (const db::sql_failure& f) {
                if (!retryable(f) || attempt >= 10) fail_batch(f);
                if (s.batch == 0) size = std::max(s.min_batch, size / 2);
                log("warn", "backfill of " + t.display +
                                ": the batch waited too long for a lock (" + f.info().sqlstate +
                                "); retrying with " + std::to_string(size) + " rows");
                std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
            } catch (...) {  // a transform's error, a lost connection: reported by the caller
                mark_failed("the batch failed; see the run's report");
                throw;
            }
        }
    }
    // The position moves only when the batch committed, so a retry starts
    // where the checkpoint is.
    long long try_batch() {
        db::transaction tx(db, db::transaction::mode::begin, lock_timeout_sql());
        batch_input in{db, s, t, j, after, size, temp};
        auto b = s.has_transform() ? transform_batch(in) : set_batch(in);
        std::vector<std::string> next = b.seen > 0 ? std::move(b.last) : after;
        save(next, rows_done + b.changed, rows_here + b.changed, b.seen == 0);
        tx.commit();
        after = std::move(next);
        rows_done += b.changed;
        rows_here += b.changed;
        return b.seen;
    }
    void mark_failed(const std::string& message) {
        try {
            set_state("failed", message);
        } catch (const error&) {
            // The connection is gone: the batch's own error is the one to report.
        }
    }
    [[noreturn]] void fail_batch(const db::sql_failure& f) {
        mark_failed(f.info().message);
        std::string from = "the first row";
        if (!after.empty()) {
            std::string k;
            for (auto& a : after) k += (k.empty() ? "" : ", ") + a;
            from = "the row after key (" + k + ")";
        }
        throw error(exit_code::migration_failed,
                    s.where_text() + ": backfill of " + t.display + ": the batch from " + from +
                        " failed: " + f.info().message +
                        (f.info().sqlstate.empty() ? "" : " (" + f.info().sqlstate + ")") +
                        (f.info().detail.empty() ? "" : "\n  DETAIL: " + f.info().detail),
                    "the checkpoint is at the last good batch (" + std::to_string(rows_done) +
                        " rows done); fix the cause and run `moonshift up` again to resume");
    }
    // Adaptive size toward the target duration, at most doubling or halving
    // at a time; smaller when sessions waited; the rows-per-second throttle.
    void adapt(long long took_ms) {
        if (s.batch == 0) {
            double factor = took_ms > 0 ? static_cast<double>(s.target.count()) / took_ms : 2.0;
            factor = std::clamp(factor, 0.5, 2.0);
            size = std::clamp(static_cast<long long>(size * factor), s.min_batch, s.max_batch);
        }
        if (lock_waits > 0) {
            if (s.batch == 0) size = std::max(s.min_batch, size / 2);
            log("info", "backfill of " + t.display + ": " + std::to_string(lock_waits) +
                            " session(s) waited behind the last batch; batch size now " +
                            std::to_string(size));
        }
        if (s.max_rows_per_second > 0) {
            size = std::min<long long>(
                size, std::max<long long>(1, static_cast<long long>(s.max_rows_per_second)));
            auto due = std::chrono::milliseconds(
                static_cast<long long>(rows_here * 1000.0 / s.max_rows_per_second));
            auto spent = clock::now() - started;
            if (spent < due) std::this_thread::sleep_for(due - spent);
        }
    }
};

}  // namespace

std::string register_sql(const job& j, const target& t) {
    return history::backfills::register_sql(j.schema_quoted, j.version, j.part, t.display,
                                            j.run_id);
}

outcome run(const job& j, const lua::backfill_spec& s, target& t) {
    state st(j, s, t);
    std::string tag;
    for (char ch : j.version) tag += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
    st.temp = "pg_temp.moonshift_backfill_" + tag + "_" + std::to_string(j.part);
    if (st.resume()) return {st.rows_done, 0, 0};
    st.book.start(j.version, j.part, t.display, j.run_id);
    st.count_rest();
    st.size = st.first_size();
    st.pause_requested = st.paused_flag();
    outcome out;
    st.progress("running", {}, true);
    for (;;) {
        st.wait_while_paused();
        st.wait_for_health();
        auto t0 = clock::now();
        if (st.batch() == 0) break;
        ++out.batches;
        st.adapt(ms_between(t0, clock::now()));
        st.progress("running");
    }
    if (s.has_transform()) st.db.exec_script("DROP TABLE IF EXISTS " + st.temp);
    out.rows = st.rows_done;
    out.ms = ms_between(st.started, clock::now());
    st.progress("done", {}, true);
    return out;
}

}  // namespace moonshift::backfill
