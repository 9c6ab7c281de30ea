// The apply path's economies (docs/safety.md, "One round trip per
// migration"; docs/rollback.md, "Derived reverse"): a migration with a down
// script goes to the server with its history row and COMMIT as one message,
// errors still pointing into the file; the catalog image is prepared once per
// run and reused between migrations while nothing changed, so derived
// reverses stay exact, also after a migration that deallocates prepared
// statements.
#include <boost/test/unit_test.hpp>

#include "support/project.hpp"

using moonshift::test::project;

BOOST_AUTO_TEST_SUITE(core_round_trip)

// One message: the migration's statements arrive with the BEGIN, so their
// statement_timestamp() is the transaction's start. Sent apart, it is later.
BOOST_FIXTURE_TEST_CASE(a_migration_with_a_down_script_is_one_message_with_its_row, project) {
    migration(
        "001_seen.sql",
        "SELECT pg_sleep(0.05);\n"
        "CREATE TABLE seen AS SELECT statement_timestamp() = transaction_timestamp() AS one;\n");
    migration("001_seen.down.sql", "DROP TABLE seen;\n");
    migration("002_apart.sql",
              "SELECT pg_sleep(0.05);\n"
              "CREATE TABLE apart AS SELECT statement_timestamp() = transaction_timestamp() AS "
              "one;\n");
    auto r = ms({"up"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    BOOST_TEST(scalar("SELECT one FROM seen") == "t");
    BOOST_TEST(scalar("SELECT one FROM apart") == "f");  // forward-only: its images come between
    // The server measured the one-message migration: at least its pg_sleep.
    BOOST_TEST(std::stoll(scalar("SELECT duration_ms FROM moonshift.migrations WHERE version = "
                                 "'001'")) >= 50);
    BOOST_TEST(scalar("SELECT reverse #>> '{}' FROM moonshift.migrations WHERE version = '001'") ==
               "down script");
    BOOST_TEST(ms({"down", "--steps", "2"}).exit_code == 0);
    BOOST_TEST(!table_exists("seen"));
    BOOST_TEST(!table_exists("apart"));
}

BOOST_FIXTURE_TEST_CASE(an_error_in_a_one_message_migration_points_into_the_file, project) {
    migration("001_ok.sql", "CREATE TABLE ok_t (id int);\n");
    migration("001_ok.down.sql", "DROP TABLE ok_t;\n");
    migration("002_bad.sql",
              "CREATE TABLE half (id int);\n"
              "-- the next line has a typo\n"
              "INSERT INTO half (id, nme) VALUES (1, 'x');");  // no newline at the end
    migration("002_bad.down.sql", "DROP TABLE half;\n");
    auto r = ms({"up"});
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(r.err.find("migrations/002_bad.sql:3:23: column \"nme\" of relation \"half\" does "
                          "not exist (42703)") != std::string::npos,
               r.err);
    BOOST_TEST(table_exists("ok_t"));
    BOOST_TEST(!table_exists("half"));
    BOOST_TEST((applied_versions() == std::vector<std::string>{"001"}));
    // A down script whose last line is a comment still gets its row removed.
    migration("002_bad.sql", "CREATE TABLE half (id int);\n");
    migration("002_bad.down.sql", "DROP TABLE half; -- gone");
    BOOST_TEST_REQUIRE(ms({"up"}).exit_code == 0);
    r = ms({"down"});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(!table_exists("half"));
    BOOST_TEST((applied_versions() == std::vector<std::string>{"001"}));
}

BOOST_FIXTURE_TEST_CASE(a_failing_down_script_points_into_its_file_and_keeps_the_row, project) {
    migration("001_t.sql", "CREATE TABLE t (id int);\n");
    migration("001_t.down.sql", "DROP TABLE t;\nDROP TABLE not_there;\n");
    BOOST_TEST_REQUIRE(ms({"up"}).exit_code == 0);
    auto r = ms({"down"});
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(r.err.find("migrations/001_t.down.sql:2:") != std::string::npos, r.err);
    BOOST_TEST(table_exists("t"));
    BOOST_TEST((applied_versions() == std::vector<std::string>{"001"}));
}

BOOST_FIXTURE_TEST_CASE(forward_only_runs_reverse_exactly_after_a_deallocate_all, project) {
    migration("001_users.sql", "CREATE TABLE users (id int PRIMARY KEY, email text);\n");
    migration("002_deallocate.sql", "DEALLOCATE ALL;\nALTER TABLE users ADD COLUMN name text;\n");
    migration("003_posts.sql",
              "CREATE TABLE posts (id int PRIMARY KEY, user_id int REFERENCES users);\n"
              "CREATE INDEX posts_user ON posts (user_id);\n");
    migration("004_rename.sql", "ALTER TABLE posts RENAME TO articles;\n");
    auto r = ms({"up"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    for (const char* v : {"001", "002", "003", "004"})
        BOOST_TEST(scalar(std::string("SELECT jsonb_typeof(reverse) FROM moonshift.migrations "
                                      "WHERE version = '") +
                          v + "'") == "object",
                   v);
    // Each derived reverse undoes exactly its own migration, newest first.
    r = ms({"down"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    BOOST_TEST(table_exists("posts"));
    BOOST_TEST(!table_exists("articles"));
    // DEALLOCATE is outside what a derived reverse restores: named, then forced.
    r = ms({"down", "--steps", "3"});
    BOOST_TEST(r.exit_code == 3, r.err);
    BOOST_TEST(
        r.err.find("DEALLOCATE is outside what a derived reverse restores") != std::string::npos,
        r.err);
    r = ms({"down", "--steps", "3", "--force", "--reason", "a test"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    BOOST_TEST(!table_exists("users"));
    BOOST_TEST(!table_exists("posts"));
    BOOST_TEST(applied_versions().empty());
}

BOOST_AUTO_TEST_SUITE_END()
