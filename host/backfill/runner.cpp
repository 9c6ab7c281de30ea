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
#include "db/pq.hpp"
#include "lua/runtime.hpp"

namespace moonshift::backfill {
namespace {

using clock = std::chrono::steady_clock;
using db::pq::command;
using db::pq::command_quietly;
using db::pq::exec;

long long ms_between(clock::time_point a, clock::time_point b) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

bool retryable(const db::sql_failure& f) {
    const auto& s = f.info().sqlstate;
    return s == "55P03" || s == "40P01" || s == "40001";  // lock_timeout, deadlock, serialization
}

struct state {
    state(const job& jj, const lua::backfill_spec& ss, target& tt, PGconn* cc)
        : j(jj), s(ss), t(tt), c(cc), kind("backfill:" + std::to_string(jj.part)) {}
    const job& j;
    const lua::backfill_spec& s;
    target& t;
    PGconn* c;
    std::string kind;  // checkpoint kind: backfill:<part>
    std::string temp;  // temporary table of a transform
    std::vector<std::string> after;
    long long rows_done = 0;  // over every run
    long long rows_here = 0;  // in this run
    std::optional<long long> total;
    long long size = 0;
    clock::time_point started = clock::now(), last_progress{};
    bool pause_requested = false;
    long long lock_waits = 0;

    std::string table(const char* name) const { return j.schema_quoted + "." + name; }
    void log(const std::string& level, const std::string& message) const {
        if (j.emit) j.emit("log", {{"level", level}, {"message", message}});
    }
    double rate() const {
        auto ms = ms_between(started, clock::now());
        return ms > 0 ? rows_here * 1000.0 / ms : 0;
    }
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
    std::string position_json(bool done) const {
        nlohmann::json p = {{"after", after}, {"rows_done", rows_done}, {"done", done}};
        if (!t.changed.empty()) {
            p["columns"] = nlohmann::json::array();
            for (auto& col : t.changed) p["columns"].push_back(col.name);
        }
        return p.dump();
    }
    // The checkpoint and the status row, in the batch's transaction; reads the pause flag back.
    void save(bool done) {
        auto r = exec(
            c,
            "WITH cp AS (INSERT INTO " + table("checkpoints") +
                " (version, kind, position, run_id) VALUES ($1, $2, $3::jsonb, $4) ON CONFLICT "
                "(version, kind) "
                "DO UPDATE SET position = EXCLUDED.position, run_id = EXCLUDED.run_id, updated_at "
                "= "
                "clock_timestamp() RETURNING 1), st AS (UPDATE " +
                table("backfills") +
                " SET rows_done = $5, rows_per_second = $6, batch_size = $7, state = 'running', "
                "message = NULL, "
                "updated_at = clock_timestamp(), backend_pid = pg_backend_pid() WHERE version = $1 "
                "AND part = $8 "
                "RETURNING pause_requested) SELECT (SELECT count(*) FROM cp), coalesce((SELECT "
                "pause_requested FROM st), "
                "false), (SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND "
                "pg_backend_pid() = ANY(pg_blocking_pids(pid)))",
            {j.version, kind, position_json(done), std::to_string(j.run_id),
             std::to_string(rows_done), fmt::format("{:.1f}", rate()), std::to_string(size),
             std::to_string(j.part)});
        pause_requested = PQgetvalue(r.get(), 0, 1)[0] == 't';
        lock_waits = std::atoll(PQgetvalue(r.get(), 0, 2));
    }
    void set_state(const std::string& st, const std::string& message) {
        exec(c,
             "UPDATE " + table("backfills") +
                 " SET state = $3, message = nullif($4, ''), updated_at = clock_timestamp() "
                 "WHERE version = $1 AND part = $2",
             {j.version, std::to_string(j.part), st, message});
    }
    bool paused_flag() {
        auto r = exec(c,
                      "SELECT pause_requested FROM " + table("backfills") +
                          " WHERE version = $1 AND part = $2",
                      {j.version, std::to_string(j.part)});
        return PQntuples(r.get()) > 0 && PQgetvalue(r.get(), 0, 0)[0] == 't';
    }
    std::string lock_timeout_sql() const {
        auto lt = s.lock_timeout ? *s.lock_timeout
                                 : j.lock_timeout.value_or(std::chrono::milliseconds(2000));
        return "SET LOCAL lock_timeout = " + std::to_string(std::max<long long>(1, lt.count()));
    }

    // ---- one batch; returns the rows it looked at (0 = the end) ----
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
            health h = sample(c, t.oid);
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
};

}  // namespace

std::string register_sql(PGconn* c, const job& j, const target& t) {
    return "INSERT INTO " + j.schema_quoted +
           ".backfills (version, part, table_name, run_id, backend_pid) VALUES (" +
           literal(c, j.version) + ", " + std::to_string(j.part) + ", " + literal(c, t.display) +
           ", " + std::to_string(j.run_id) +
           ", pg_backend_pid()) ON CONFLICT (version, part) DO NOTHING";
}

outcome run(const job& j, const lua::backfill_spec& s, target& t) {
    state st(j, s, t, j.session->raw());
    PGconn* c = st.c;
    std::string tag;
    for (char ch : j.version) tag += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
    st.temp = "pg_temp.moonshift_backfill_" + tag + "_" + std::to_string(j.part);
    // Where the last run stopped.
    auto cp = exec(c,
                   "SELECT position::text FROM " + st.table("checkpoints") +
                       " WHERE version = $1 AND kind = $2",
                   {j.version, st.kind});
    if (PQntuples(cp.get()) > 0) {
        auto p = nlohmann::json::parse(PQgetvalue(cp.get(), 0, 0));
        if (p.value("done", false)) return {p.value("rows_done", 0LL), 0, 0};
        st.after = p.value("after", std::vector<std::string>{});
        st.rows_done = p.value("rows_done", 0LL);
        if (p.contains("columns") && s.has_transform())
            check_changed(t, s, p["columns"].get<std::vector<std::string>>());
        st.log("info", s.where_text() + ": backfill of " + t.display + " resumes after " +
                           std::to_string(st.rows_done) + " rows");
    }
    exec(c, register_sql(c, j, t));
    exec(c,
         "UPDATE " + st.table("backfills") +
             " SET state = 'running', message = NULL, run_id = $3, backend_pid = pg_backend_pid(), "
             "updated_at = "
             "clock_timestamp() WHERE version = $1 AND part = $2",
         {j.version, std::to_string(j.part), std::to_string(j.run_id)});
    // How many rows are left, for the ETA; a count that takes long is skipped.
    try {
        command(c, "BEGIN; SET LOCAL statement_timeout = 5000");
        auto r = exec(c, "SELECT count(*) FROM " + t.qualified + " t WHERE " +
                             after_condition(c, t, st.after) +
                             (s.where.empty() ? "" : " AND (" + s.where + ")"));
        st.total = st.rows_done + std::atoll(PQgetvalue(r.get(), 0, 0));
        command(c, "COMMIT");
        exec(c,
             "UPDATE " + st.table("backfills") +
                 " SET rows_total = $3 WHERE version = $1 AND part = $2",
             {j.version, std::to_string(j.part), std::to_string(*st.total)});
    } catch (const db::sql_failure&) {
        command_quietly(c, "ROLLBACK");
    }
    st.size = s.batch > 0 ? s.batch : std::clamp(s.start_batch, s.min_batch, s.max_batch);
    if (s.max_rows_per_second > 0)
        st.size = std::min<long long>(
            st.size, std::max<long long>(1, static_cast<long long>(s.max_rows_per_second)));
    st.pause_requested = st.paused_flag();
    outcome out;
    st.progress("running", {}, true);
    for (;;) {
        st.wait_while_paused();
        st.wait_for_health();
        long long seen = 0;
        auto t0 = clock::now();
        for (int attempt = 1;; ++attempt) {
            try {
                command(c, "BEGIN; " + st.lock_timeout_sql());
                batch_input in{c, s, t, j, st.after, st.size, st.temp};
                auto b = s.has_transform() ? transform_batch(in) : set_batch(in);
                seen = b.seen;
                if (seen > 0) {
                    st.after = std::move(b.last);
                    st.rows_done += b.changed;
                    st.rows_here += b.changed;
                }
                st.save(seen == 0);
                command(c, "COMMIT");
                break;
            } catch (const db::sql_failure& f) {
                command_quietly(c, "ROLLBACK");
                if (!retryable(f) || attempt >= 10) {
                    try {
                        st.set_state("failed", f.info().message);
                    } catch (...) {
                    }
                    std::string from =
                        st.after.empty() ? "the first row" : "the row after key (" + [&] {
                            std::string k;
                            for (auto& a : st.after) k += (k.empty() ? "" : ", ") + a;
                            return k;
                        }() + ")";
                    throw error(
                        exit_code::migration_failed,
                        s.where_text() + ": backfill of " + t.display + ": the batch from " + from +
                            " failed: " + f.info().message +
                            (f.info().sqlstate.empty() ? "" : " (" + f.info().sqlstate + ")") +
                            (f.info().detail.empty() ? "" : "\n  DETAIL: " + f.info().detail),
                        "the checkpoint is at the last good batch (" +
                            std::to_string(st.rows_done) +
                            " rows done); fix the cause and run `moonshift up` again to resume");
                }
                if (s.batch == 0) st.size = std::max(s.min_batch, st.size / 2);
                st.log("warn", "backfill of " + t.display +
                                   ": the batch waited too long for a lock (" + f.info().sqlstate +
                                   "); retrying with " + std::to_string(st.size) + " rows");
                std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
            } catch (...) {
                command_quietly(c, "ROLLBACK");
                try {
                    st.set_state("failed", "the batch failed; see the run's report");
                } catch (...) {
                }
                throw;
            }
        }
        if (seen == 0) break;
        ++out.batches;
        auto took = ms_between(t0, clock::now());
        // Adaptive size toward the target duration, at most doubling or halving at a time.
        if (s.batch == 0) {
            double factor = took > 0 ? static_cast<double>(s.target.count()) / took : 2.0;
            factor = std::clamp(factor, 0.5, 2.0);
            st.size =
                std::clamp(static_cast<long long>(st.size * factor), s.min_batch, s.max_batch);
        }
        if (st.lock_waits > 0) {
            if (s.batch == 0) st.size = std::max(s.min_batch, st.size / 2);
            st.log("info", "backfill of " + t.display + ": " + std::to_string(st.lock_waits) +
                               " session(s) waited behind the last batch; batch size now " +
                               std::to_string(st.size));
        }
        if (s.max_rows_per_second > 0) {
            st.size = std::min<long long>(
                st.size, std::max<long long>(1, static_cast<long long>(s.max_rows_per_second)));
            auto due = std::chrono::milliseconds(
                static_cast<long long>(st.rows_here * 1000.0 / s.max_rows_per_second));
            auto spent = clock::now() - st.started;
            if (spent < due) std::this_thread::sleep_for(due - spent);
        }
        st.progress("running");
    }
    if (s.has_transform()) command_quietly(c, "DROP TABLE IF EXISTS " + st.temp);
    out.rows = st.rows_done;
    out.ms = ms_between(st.started, clock::now());
    st.progress("done", {}, true);
    return out;
}

}  // namespace moonshift::backfill
