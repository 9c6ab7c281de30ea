// Downs are protected like ups: before a down script (or a derived reverse)
// drops or rewrites data, the tables it puts at risk are backed up against
// the version, and `backup restore` brings them back.
#include <boost/test/unit_test.hpp>

#include "support/project.hpp"

using moonshift::test::project;

BOOST_AUTO_TEST_SUITE(undo_protect)

BOOST_AUTO_TEST_CASE(a_down_that_drops_a_populated_column_leaves_a_backup_that_restores_it) {
    project p;
    p.migration("001_users.sql",
                "CREATE TABLE users (id int PRIMARY KEY, email text);\n"
                "INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 30) g;\n");
    p.migration("002_nick.sql", "ALTER TABLE users ADD COLUMN nick text;\n");
    p.migration("002_nick.down.sql", "ALTER TABLE users DROP COLUMN nick;\n");
    BOOST_REQUIRE(p.ms({"up"}).exit_code == 0);
    p.scalar("UPDATE users SET nick = 'nick' || id; SELECT 1");
    auto r = p.ms({"down"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(p.count("SELECT * FROM information_schema.columns WHERE column_name = "
                       "'nick'") == 0);
    auto id = p.scalar("SELECT id FROM moonshift.backups WHERE version = '002'");
    BOOST_REQUIRE_MESSAGE(!id.empty(), "no backup was taken before the down");
    BOOST_TEST(p.scalar("SELECT reason FROM moonshift.backups WHERE id = " + id) ==
               "before down: DROP COLUMN users.nick");
    BOOST_TEST(p.scalar("SELECT rows FROM moonshift.backups WHERE id = " + id) == "30");
    auto restored = p.ms({"--yes", "backup", "restore", id});
    BOOST_REQUIRE_MESSAGE(restored.exit_code == 0, restored.err);
    BOOST_TEST(p.count("SELECT * FROM users WHERE nick = 'nick' || id") == 30);
}

BOOST_AUTO_TEST_CASE(a_down_that_loses_nothing_takes_no_backup_and_policy_never_takes_none) {
    project p("backup = \"never\"\n");
    p.migration("001_users.sql",
                "CREATE TABLE users (id int PRIMARY KEY, nick text, old text);\n"
                "INSERT INTO users VALUES (1, 'a', 'b');\n");
    p.migration("002_idx.sql", "CREATE INDEX users_nick ON users (nick);\n");
    p.migration("002_idx.down.sql", "DROP INDEX users_nick;\n");
    p.migration("003_drop.sql", "SELECT 1;\n");
    p.migration("003_drop.down.sql", "ALTER TABLE users DROP COLUMN old;\n");
    BOOST_REQUIRE(p.ms({"up"}).exit_code == 0);
    auto r = p.ms({"down", "--to", "001"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(p.count("SELECT * FROM moonshift.backups") == 0);
}

BOOST_AUTO_TEST_SUITE_END()
