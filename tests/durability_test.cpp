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

// A down's backup is synced while its script runs, and its commit is sent once the backup is on
// disk. When the server goes down while that commit is in flight (here a deferred trigger sleeps
// in it), the client cannot know whether it committed: the backup's files stay. Here it did not:
// after the restart the table and the history are as before, and the next down takes its own
// backup and finishes. (A down script that fails before its commit is sent removes them:
// safety_backup/a_failing_down_leaves_no_backup_behind.)
BOOST_AUTO_TEST_CASE(a_down_whose_commit_meets_an_immediate_shutdown_keeps_its_backup_files) {
    crash_project p;
    fs::remove_all(p.dir.path / "migrations");
    write_file(p.dir.path / "moonshift.toml",
               "[project]\nmigrations = \"migrations\"\n\n[env.test]\nurl = \"${CRASH_URL}\"\n"
               "lock_wait = \"60s\"\n");
    write_file(
        p.dir.path / "migrations" / "001_scratch.sql",
        "CREATE TABLE scratch (id int PRIMARY KEY);\n"
        "INSERT INTO scratch SELECT generate_series(1, 10);\n"
        "CREATE TABLE sleepy (on_commit bool);\n"
        "CREATE FUNCTION sleep_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN IF NEW.on_commit THEN PERFORM pg_sleep(60); END IF; RETURN NULL; END $$;\n"
        "CREATE CONSTRAINT TRIGGER sleep_at_commit AFTER INSERT ON sleepy\n"
        "  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION sleep_at_commit();\n");
    write_file(
        p.dir.path / "migrations" / "001_scratch.down.sql",
        "INSERT INTO sleepy SELECT coalesce(current_setting('test.sleep', true), 'on')::bool;\n"
        "DROP TABLE scratch;\n");
    auto r = p.ms({"up"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    auto down = moonshift::test::spawn_cli({"down"}, p.dir.path, p.env());
    bool sleeping = false;  // in the deferred trigger, that is in the COMMIT (at most 30 s)
    for (int i = 0; i < 600 && !sleeping; ++i) {
        pqxx::connection c(p.url);
        pqxx::nontransaction tx(c);
        sleeping = !tx.exec(
                          "SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep' "
                          "AND query LIKE '%COMMIT%'")
                        .empty();
        if (!sleeping) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    BOOST_TEST_REQUIRE(sleeping, "the down's commit never reached the trigger");
    p.crash_and_restart();
    auto crashed = down.wait();
    BOOST_TEST(crashed.exit_code != 0, crashed.out << crashed.err);
    BOOST_TEST(p.ints("SELECT count(*)::int FROM scratch") == std::set<int>{10});
    BOOST_TEST(p.ints("SELECT version::int FROM moonshift.migrations") == std::set<int>{1});
    std::size_t copies = 0;
    for (auto& e : fs::recursive_directory_iterator(p.dir.path / ".moonshift" / "backups"))
        copies += e.path().filename().string().find("scratch.copy.gz") != std::string::npos;
    BOOST_TEST(copies == 1u, "the backup's copy of scratch is still on disk");
    // The next down, without the sleep, takes its own backup and finishes.
    r = moonshift::test::run_cli({"down"}, p.dir.path,
                                 {{"CRASH_URL", p.url}, {"PGOPTIONS", "-c test.sleep=off"}});
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
    BOOST_TEST(p.ints("SELECT 1 WHERE to_regclass('scratch') IS NULL") == std::set<int>{1});
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
