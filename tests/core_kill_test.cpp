// Killing moonshift with SIGKILL at many moments of a run leaves every
// migration either fully applied and recorded or not there at all, and the
// next `up` carries on.
#include <signal.h>

#include <boost/test/unit_test.hpp>
#include <thread>

#include "support/project.hpp"

using moonshift::test::project;

BOOST_AUTO_TEST_SUITE(core_kill)

BOOST_AUTO_TEST_CASE(kill_9_at_many_points_never_leaves_a_half_applied_migration) {
    project p;
    const int n = 40;
    for (int i = 1; i <= n; ++i) {
        char v[8];
        std::snprintf(v, sizeof v, "%03d", i);
        // Each migration: a table, a row, a short pause (so kills land
        // inside migrations as well as between them), an index.
        p.migration(std::string(v) + "_m" + std::to_string(i) + ".sql",
                    "CREATE TABLE m" + std::to_string(i) +
                        " (id int);\n"
                        "INSERT INTO m" +
                        std::to_string(i) + " VALUES (" + std::to_string(i) +
                        ");\n"
                        "SELECT pg_sleep(0.01);\n"
                        "CREATE INDEX ON m" +
                        std::to_string(i) + " (id);\n");
    }
    int kills = 0;
    for (int delay_ms : {5, 40, 90, 150, 220, 300, 380, 470, 560, 650, 800, 950}) {
        auto c = p.spawn({"up"});
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        ::kill(c.pid, SIGKILL);
        auto r = c.wait();
        if (r.term_signal == SIGKILL) ++kills;
        // The invariant: table present ⇔ history row present, row count 1.
        auto applied = p.applied_versions();
        for (int i = 1; i <= n; ++i) {
            char v[8];
            std::snprintf(v, sizeof v, "%03d", i);
            bool recorded = std::find(applied.begin(), applied.end(), v) != applied.end();
            bool exists = p.table_exists("m" + std::to_string(i));
            BOOST_TEST_INFO("migration " << v << " after a kill at " << delay_ms << " ms");
            BOOST_TEST(recorded == exists);
            if (exists) BOOST_TEST(p.count("SELECT * FROM m" + std::to_string(i)) == 1);
        }
    }
    BOOST_TEST(kills > 0);
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(p.applied_versions().size() == static_cast<std::size_t>(n));
    // The killed runs are not left "running" forever.
    BOOST_TEST(p.scalar("SELECT count(*) FROM moonshift.runs WHERE outcome = 'running'") == "0");
}

BOOST_AUTO_TEST_SUITE_END()
