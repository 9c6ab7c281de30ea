// [project] durability = "run" (docs/safety.md, "Durability"): migrations before
// the run's last commit without waiting for the WAL flush. Broken on purpose
// with immediate shutdowns (SIGQUIT to the postmaster: every backend killed,
// the WAL buffers not written) of a private server: at random points of a run
// every migration is applied and recorded, or neither, what survives is a
// prefix of the run, and the next `up` finishes; right after `up` returned,
// nothing is lost.
#include <signal.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "local/cluster.hpp"
#include "support/harness.hpp"

namespace fs = std::filesystem;
using moonshift::local::cluster;
using moonshift::test::temp_dir;
using moonshift::test::write_file;

namespace {

constexpr int migrations = 150;

// A private server (fsync and synchronous_commit on, as initdb leaves them)
// and a project on it whose migration N creates table tN and adds N to hits.
struct crash_project {
    temp_dir dir;
    cluster server{dir.path / "local"};
    std::string url;

    explicit crash_project(const std::string& durability = "") {
        url = server.start().url;
        write_file(dir.path / "moonshift.toml",
                   "[project]\nmigrations = \"migrations\"\n" + durability +
                       "\n[env.test]\nurl = \"${CRASH_URL}\"\nbackup = \"never\"\n"
                       "lock_wait = \"60s\"\n");
        write_file(dir.path / "migrations" / "000_hits.sql", "CREATE TABLE hits (n int);\n");
        for (int n = 1; n <= migrations; ++n) {
            char name[32];
            std::snprintf(name, sizeof name, "%03d_t.sql", n);
            write_file(dir.path / "migrations" / name,
                       "CREATE TABLE t" + std::to_string(n) + " (id int PRIMARY KEY, v text);\n" +
                           "INSERT INTO hits VALUES (" + std::to_string(n) + ");\n");
        }
    }
    moonshift::test::env_changes env() const { return {{"CRASH_URL", url}}; }
    moonshift::test::cli_result ms(const std::vector<std::string>& args) const {
        return moonshift::test::run_cli(args, dir.path, env());
    }

    // An immediate shutdown, then a restart (crash recovery from the WAL).
    void crash_and_restart() {
        const int pid = server.status().pid;
        BOOST_TEST_REQUIRE(pid > 0);
        BOOST_TEST_REQUIRE(::kill(pid, SIGQUIT) == 0);
        for (int i = 0; i < 200 && ::kill(pid, 0) == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        url = server.start().url;
    }

    std::set<int> ints(const std::string& sql) const {
        pqxx::connection c(url);
        pqxx::nontransaction tx(c);
        std::set<int> out;
        for (const auto& row : tx.exec(sql)) out.insert(row[0].as<int>());
        return out;
    }
    // The migrations recorded, the ones whose table exists, the ones whose row is in hits.
    void check_consistent(int& recorded_count) const {
        auto recorded = ints(
            "SELECT version::int FROM moonshift.migrations WHERE version <> '000' "
            "UNION ALL SELECT -1 WHERE to_regclass('moonshift.migrations') IS NULL");
        recorded.erase(-1);
        auto tables = ints(
            "SELECT substr(relname, 2)::int FROM pg_class WHERE relkind = 'r' AND "
            "relnamespace = 'public'::regnamespace AND relname ~ '^t[0-9]+$'");
        auto hits = ints("SELECT n FROM hits UNION ALL SELECT -1 WHERE false");
        BOOST_TEST(recorded == tables, "every migration recorded has its table and no other");
        BOOST_TEST(recorded == hits, "every migration recorded has its row in hits");
        // A prefix of the run: 1..k, nothing after a gap.
        int k = 0;
        for (int n : recorded) BOOST_TEST(n == ++k, "migration " << n << " after a gap");
        recorded_count = k;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(durability)

BOOST_AUTO_TEST_CASE(immediate_shutdowns_mid_run_lose_at_most_a_suffix_and_up_finishes) {
    crash_project p;
    // The history table and hits first, so that every crash below finds them.
    auto r = p.ms({"up", "--to", "000"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    std::set<int> seen;
    for (int delay_ms : {150, 400, 800}) {
        auto run = moonshift::test::spawn_cli({"up"}, p.dir.path, p.env());
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        p.crash_and_restart();
        auto killed = run.wait();
        int k = 0;
        p.check_consistent(k);
        seen.insert(k);
        BOOST_TEST_MESSAGE("immediate shutdown after " << delay_ms << " ms: " << k << " of "
                                                       << migrations << " survived ("
                                                       << killed.exit_code << ")");
    }
    r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 0, r.err);
    int k = 0;
    p.check_consistent(k);
    BOOST_TEST(k == migrations);
    // The shutdowns did land in the middle of a run at least once.
    BOOST_TEST((seen.size() > 1 || (*seen.begin() > 0 && *seen.begin() < migrations)),
               "every shutdown found the same state: none interrupted a run");
}

BOOST_AUTO_TEST_CASE(what_up_reported_applied_survives_an_immediate_shutdown_right_after) {
    for (const std::string durability : {"", "durability = \"migration\"\n"}) {
        crash_project p(durability);
        auto r = p.ms({"up"});
        BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
        p.crash_and_restart();  // no time for the WAL writer
        int k = 0;
        p.check_consistent(k);
        BOOST_TEST(k == migrations, durability);
        BOOST_TEST(p.ms({"status", "--exit-code"}).exit_code == 0);
    }
}

BOOST_AUTO_TEST_CASE(a_durability_that_is_not_one_is_refused) {
    temp_dir dir;
    write_file(dir.path / "moonshift.toml",
               "[project]\nmigrations = \"migrations\"\ndurability = \"sometimes\"\n\n"
               "[env.test]\nurl = \"postgresql://127.0.0.1:1/none\"\n");
    fs::create_directories(dir.path / "migrations");
    auto r = moonshift::test::run_cli({"status"}, dir.path);
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err.find("moonshift.toml:3") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("durability = \"sometimes\" is neither \"run\" nor \"migration\"") !=
                   std::string::npos,
               r.err);
}

BOOST_AUTO_TEST_SUITE_END()
