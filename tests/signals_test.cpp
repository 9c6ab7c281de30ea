// SIGINT and SIGTERM stop a run cleanly: the server statement is cancelled, what was open rolled
// back, the run recorded as interrupted, the lock released, exit 130 / 143. SIGPIPE never ends a
// run. (docs/guarantees in README.md, "Exit codes".)
#include <signal.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <thread>

#include "support/project.hpp"

namespace {
using moonshift::test::project;
using namespace std::chrono_literals;

// The migration sleeps as long as nap.seconds says, holding an ACCESS EXCLUSIVE lock on t: set it
// to 0 and the same file (same checksum) applies at once.
void sleeping_project(const project& p) {
    p.migration("001_t.sql",
                "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n"
                "CREATE TABLE nap (seconds int);\nINSERT INTO nap VALUES (30);\n");
    auto first = p.ms({"up"});
    BOOST_REQUIRE_MESSAGE(first.exit_code == 0, first.out + first.err);
    p.migration("002_lock.sql",
                "LOCK TABLE t IN ACCESS EXCLUSIVE MODE;\n"
                "SELECT pg_sleep((SELECT seconds FROM nap));\n"
                "CREATE TABLE after_sleep (id int);\n");
}

// True once the migration's pg_sleep runs in the server (the lock on t is held by then).
bool sleeping_in_server(const project& p) {
    for (int i = 0; i < 600; ++i) {
        if (p.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = '" + p.name +
                     "' AND state = 'active' AND query LIKE '%pg_sleep%' AND pid <> "
                     "pg_backend_pid()") == "1")
            return true;
        std::this_thread::sleep_for(100ms);
    }
    return false;
}

void stopped_by(int sig, int code) {
    project p;
    sleeping_project(p);
    auto c = p.spawn({"up"});
    BOOST_REQUIRE_MESSAGE(sleeping_in_server(p), "the migration never reached its pg_sleep");
    auto t0 = std::chrono::steady_clock::now();
    ::kill(c.pid, sig);
    auto r = c.wait();
    auto took = std::chrono::steady_clock::now() - t0;
    BOOST_TEST(r.term_signal == 0,
               "moonshift died of signal " << r.term_signal << " instead of stopping the run");
    BOOST_TEST(r.exit_code == code, r.out + r.err);
    BOOST_TEST((took < 10s), "it took "
                                 << std::chrono::duration_cast<std::chrono::seconds>(took).count()
                                 << " s to stop");
    BOOST_TEST(r.err.find("interrupted by SIG") != std::string::npos, r.err);
    // The server statement is gone with its lock: another session reads t at once.
    BOOST_TEST(p.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = '" + p.name +
                        "' AND state = 'active' AND query LIKE '%pg_sleep%' AND pid <> "
                        "pg_backend_pid()") == "0");
    BOOST_TEST(p.scalar("SET lock_timeout = '3s'; SELECT count(*) FROM t") == "1");
    BOOST_TEST(!p.table_exists("after_sleep"), "the interrupted migration left its table");
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001"}));
    BOOST_TEST(p.scalar("SELECT outcome FROM moonshift.runs ORDER BY id DESC LIMIT 1") ==
               "interrupted");
    BOOST_TEST(p.scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == "0");
    // The next up applies it.
    p.scalar("UPDATE nap SET seconds = 0 RETURNING 1");
    auto again = p.ms({"up"});
    BOOST_TEST(again.exit_code == 0, again.out + again.err);
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001", "002"}));
    BOOST_TEST(p.table_exists("after_sleep"));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(signals)

BOOST_AUTO_TEST_CASE(sigint_cancels_the_statement_rolls_back_and_exits_130) {
    stopped_by(SIGINT, 130);
}

BOOST_AUTO_TEST_CASE(sigterm_cancels_the_statement_rolls_back_and_exits_143) {
    stopped_by(SIGTERM, 143);
}

BOOST_AUTO_TEST_CASE(a_closed_stdout_does_not_end_the_run) {
    project p;
    // head exits after the first line; the rest is written to a closed pipe while 001 sleeps.
    p.migration("001_a.sql", "SELECT pg_sleep(1);\nCREATE TABLE a (id int);\n");
    p.migration("002_b.sql", "CREATE TABLE b (id int);\n");
    p.migration("003_c.sql", "CREATE TABLE c (id int);\n");
    std::string bin = MOONSHIFT_BIN;
    auto r = moonshift::test::run_program(
        "/bin/bash",
        {"-c",
         "'" + bin + "' --no-color up | head -1 >/dev/null; echo \"status=${PIPESTATUS[0]}\""},
        p.dir.path);
    BOOST_TEST(r.out.find("status=0") != std::string::npos, r.out + r.err);
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001", "002", "003"}));
    BOOST_TEST(p.scalar("SELECT outcome FROM moonshift.runs ORDER BY id DESC LIMIT 1") == "ok");
}

BOOST_AUTO_TEST_SUITE_END()
