// Exactly once, for no-transaction migrations too: a kill -9 of the client
// at any moment neither repeats nor loses a statement, a killed
// CREATE INDEX CONCURRENTLY does not leave the project stuck, and nothing a
// migration sends can release the run's lock (docs/safety.md, "Exactly once").
#include <signal.h>

#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "support/project.hpp"

using moonshift::test::project;

namespace {

// A no-transaction file of `n` statements, each adding its own number to
// hits (with a short pause, so kills land inside statements as well as
// between them), with a block of its own transaction in the middle.
std::string counted_statements(int n) {
    std::string sql = "-- moonshift:no-transaction\n";
    for (int k = 1; k <= n; ++k) {
        if (k == n / 2) sql += "BEGIN;\n";
        sql += "INSERT INTO hits (k) SELECT " + std::to_string(k) + " FROM pg_sleep(0.004);\n";
        if (k == n / 2 + 5) sql += "COMMIT;\n";
    }
    return sql;
}

bool index_build_running(const project& p) {
    return p.count(
               "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND "
               "query LIKE 'CREATE INDEX CONCURRENTLY%' AND state = 'active'") > 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(exactly_once)

BOOST_AUTO_TEST_CASE(kill_9_during_a_no_transaction_migration_never_repeats_a_statement) {
    project p;
    // Long enough (120 × 4 ms of sleep alone) that the last kill, at 500 ms,
    // still finds the run going: a faster moonshift finished 60 before it.
    const int n = 120;
    p.migration("001_hits.sql", "CREATE TABLE hits (k int NOT NULL);\n");
    BOOST_TEST_REQUIRE(p.ms({"up"}).exit_code == 0);
    p.migration("002_count.sql", counted_statements(n));
    int kills = 0;
    for (int delay_ms : {60, 110, 170, 230, 290, 350, 420, 500}) {
        auto c = p.spawn({"up"});
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        ::kill(c.pid, SIGKILL);
        if (c.wait().term_signal == SIGKILL) ++kills;
        // Every statement that ran, ran once.
        BOOST_TEST_INFO("after a kill at " << delay_ms << " ms");
        BOOST_TEST(p.scalar("SELECT count(*) = count(DISTINCT k) FROM hits") == "t");
        auto r = p.ms({"up"});  // resumes, and finishes
        BOOST_TEST_INFO(r.err);
        BOOST_TEST(r.exit_code == 0);
        BOOST_TEST(p.count("SELECT * FROM hits") == n);
        BOOST_TEST(p.scalar("SELECT count(DISTINCT k) FROM hits") == std::to_string(n));
        // Again, from the start: forget the migration and its rows.
        pqxx::connection admin(p.url);
        pqxx::nontransaction tx(admin);
        tx.exec("TRUNCATE hits; DELETE FROM moonshift.migrations WHERE version = '002'");
    }
    BOOST_TEST(kills >= 6);
}

BOOST_AUTO_TEST_CASE(a_killed_create_index_concurrently_is_checked_not_repeated) {
    project p;
    p.migration("001_t.sql",
                "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 1000);"
                "CREATE TABLE hits (k int NOT NULL);\n");
    BOOST_TEST(p.ms({"up"}).exit_code == 0);
    p.migration("002_index.sql",
                "-- moonshift:no-transaction\n"
                "INSERT INTO hits VALUES (1);\n"
                "CREATE INDEX CONCURRENTLY t_id ON t (id);\n"
                "INSERT INTO hits VALUES (2);\n");
    // A writer's open transaction makes the index build wait for it.
    pqxx::connection writer(p.url);
    pqxx::work open(writer);
    open.exec("INSERT INTO t VALUES (0)");
    auto c = p.spawn({"up"});
    for (int i = 0; i < 100 && !index_build_running(p); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    BOOST_TEST_REQUIRE(index_build_running(p));
    ::kill(c.pid, SIGKILL);
    BOOST_TEST(c.wait().term_signal == SIGKILL);
    // The server goes on building the index for the dead client; the writer
    // lets it finish.
    open.commit();
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(p.scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = 't_id'::regclass") ==
               "t");
    BOOST_TEST(p.scalar("SELECT string_agg(k::text, ',' ORDER BY k) FROM hits") == "1,2");
    BOOST_TEST(p.applied_versions().size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_migration_cannot_release_the_runs_lock) {
    project p;
    p.migration("001_unlock.sql", "SELECT pg_advisory_unlock_all();\nSELECT pg_sleep(4);\n");
    auto first = p.spawn({"up"});
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    p.migration("002_other.sql", "CREATE TABLE other (id int);\n");
    auto second = p.ms({"up"});  // lock_wait is 2 s in the test project
    BOOST_TEST_INFO(second.err);
    BOOST_TEST(second.exit_code == 4);
    BOOST_TEST(second.err.find("holds the migration lock") != std::string::npos);
    auto r = first.wait();
    BOOST_TEST(r.exit_code == 0);
}

BOOST_AUTO_TEST_SUITE_END()
