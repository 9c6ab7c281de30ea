// Lock-safe DDL and no dirty state, against a real PostgreSQL with real
// competing sessions: a migration waits for (or refuses, naming) the
// sessions that would block it, retries after lock_timeout, and a failed
// concurrent index build resumes cleanly.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <pqxx/pqxx>
#include <thread>

#include "support/project.hpp"

using moonshift::test::project;

namespace {

bool has(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// A session that holds a transaction open with a lock on a table, like an
// application request that never finished.
struct holder {
    pqxx::connection c;
    pqxx::work tx;
    int pid;
    holder(const std::string& url, const std::string& sql) : c(url), tx(c), pid(c.backendpid()) {
        tx.exec(sql);
    }
};

struct orders_project : project {
    explicit orders_project(const std::string& extra) : project(extra) {
        migration("001_orders.sql",
                  "CREATE TABLE IF NOT EXISTS orders (id int PRIMARY KEY, total int);\n"
                  "INSERT INTO orders SELECT g, g FROM generate_series(1, 100) g;\n");
        auto r = ms({"up"});
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(safety_locks)

BOOST_AUTO_TEST_CASE(a_blocking_session_is_named_and_the_migration_refused) {
    orders_project p("blocker_wait = \"1s\"\n");
    p.migration("002_col.sql", "ALTER TABLE orders ADD COLUMN IF NOT EXISTS note text;\n");
    holder h(p.url,
             "UPDATE orders SET total = total WHERE id = 1");  // ROW EXCLUSIVE, transaction open
    auto t0 = std::chrono::steady_clock::now();
    auto r = p.ms({"up"});
    auto took = std::chrono::steady_clock::now() - t0;
    BOOST_TEST(r.exit_code == 4, r.err);
    BOOST_TEST(has(r.err, "pid " + std::to_string(h.pid)), r.err);
    BOOST_TEST(has(r.err, "RowExclusiveLock on orders"), r.err);
    BOOST_TEST(has(r.err, "ACCESS EXCLUSIVE"), r.err);
    BOOST_TEST(has(r.err, "UPDATE orders SET total"), r.err);   // its last query
    BOOST_TEST(has(r.err, "(user "), r.err);                    // who, from its own entry
    BOOST_TEST(has(r.err, "idle in transaction for "), r.err);  // and for how long
    BOOST_TEST((took < std::chrono::seconds(20)));
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001"}));
    h.tx.abort();
}

BOOST_AUTO_TEST_CASE(a_migration_waits_for_a_blocker_that_finishes_within_the_budget) {
    orders_project p("blocker_wait = \"20s\"\n");
    p.migration("002_col.sql", "ALTER TABLE orders ADD COLUMN IF NOT EXISTS note text;\n");
    auto h = std::make_unique<holder>(p.url, "SELECT * FROM orders WHERE id = 1 FOR UPDATE");
    std::thread release([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        h->tx.commit();
    });
    auto r = p.ms({"-v", "up"});
    release.join();
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(has(r.err, "waiting for 1 session(s)"), r.err);
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001", "002"}));
}

BOOST_AUTO_TEST_CASE(readers_do_not_block_a_concurrent_index_build) {
    orders_project p("blocker_wait = \"1s\"\n");
    p.migration("002_idx.sql",
                "-- moonshift:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS orders_total "
                "ON orders (total);\n");
    // A reader's ACCESS SHARE does not conflict with SHARE UPDATE EXCLUSIVE,
    // so the pre-check lets it through (the build itself waits for it).
    holder h(p.url, "SELECT count(*) FROM orders");
    std::thread release([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        h.tx.commit();
    });
    auto r = p.ms({"up"});
    release.join();
    BOOST_TEST(r.exit_code == 0, r.err);
}

BOOST_AUTO_TEST_CASE(lock_timeout_is_retried_with_backoff) {
    orders_project p("lock_timeout = \"200ms\"\nlock_retries = 5\nlock_retry_delay = \"300ms\"\n");
    // The statement hides its table from the parser (dynamic SQL), so only
    // lock_timeout can notice the blocker.
    p.migration("002_dyn.sql",
                "DO $$ BEGIN EXECUTE 'ALTER TABLE orders ADD COLUMN note text'; END $$;\n");
    auto h = std::make_unique<holder>(p.url, "LOCK TABLE orders IN SHARE MODE");
    // Released once the run has waited for it (at least one lock_timeout),
    // however long the run took to get there.
    auto run = p.spawn({"up"});
    for (int i = 0; i < 600; ++i) {
        if (p.count("SELECT 1 FROM pg_locks WHERE NOT granted AND relation = "
                    "'orders'::regclass") > 0)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    h->tx.commit();
    auto r = run.wait();
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(has(r.err, "lock timeout"), r.err);
    BOOST_TEST(has(r.err, "trying again in"), r.err);
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001", "002"}));
}

BOOST_AUTO_TEST_CASE(lock_timeout_retries_give_up_with_the_failure) {
    orders_project p("lock_timeout = \"100ms\"\nlock_retries = 2\nlock_retry_delay = \"100ms\"\n");
    p.migration("002_dyn.sql",
                "DO $$ BEGIN EXECUTE 'ALTER TABLE orders ADD COLUMN note text'; END $$;\n");
    holder h(p.url, "LOCK TABLE orders IN SHARE MODE");
    auto r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 1, r.err);
    BOOST_TEST(has(r.err, "(retry 2 of 2)"), r.err);
    BOOST_TEST(has(r.err, "55P03"), r.err);
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001"}));
    h.tx.abort();
}

BOOST_AUTO_TEST_CASE(a_failed_concurrent_index_build_resumes_without_a_dirty_state) {
    orders_project p("");
    p.scalar("INSERT INTO orders VALUES (1000, 5), (1001, 5); SELECT 1");  // duplicates for a
                                                                           // unique index
    p.migration("002_unique.sql",
                "-- moonshift:no-transaction\n"
                "ALTER TABLE orders ADD COLUMN IF NOT EXISTS note text;\n"
                "CREATE UNIQUE INDEX CONCURRENTLY orders_total_key ON orders (total);\n");
    auto failed = p.ms({"up"});
    BOOST_TEST(failed.exit_code == 1, failed.err);
    BOOST_TEST(has(failed.err, "migrations/002_unique.sql:3:"), failed.err);
    // PostgreSQL leaves the half-built index behind, marked invalid.
    BOOST_TEST(
        p.scalar(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'orders_total_key'::regclass") ==
        "f");
    p.scalar("DELETE FROM orders WHERE id IN (1000, 1001); SELECT 1");
    auto again = p.ms({"-v", "up"});
    BOOST_TEST(again.exit_code == 0, again.err + again.out);
    BOOST_TEST(has(again.out + again.err, "resuming after statement 1 of 2"),
               again.out + again.err);
    BOOST_TEST(has(again.out + again.err, "dropped the invalid index orders_total_key"),
               again.out + again.err);
    BOOST_TEST(
        p.scalar(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'orders_total_key'::regclass") ==
        "t");
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001", "002"}));
}

BOOST_AUTO_TEST_SUITE_END()
