// Each migration starts from the environment's settings: a `SET statement_timeout = 0` (or any
// SET) in one migration ends with it, for migrations in moonshift's transaction and for
// no-transaction ones alike.
#include <boost/test/unit_test.hpp>

#include "support/project.hpp"

namespace {
using moonshift::test::project;

const char* const record =
    "INSERT INTO seen SELECT '{}', current_setting('statement_timeout'), "
    "current_setting('lock_timeout'), current_setting('work_mem');\n";

std::string recorded(const std::string& who) {
    std::string s = record;
    return s.replace(s.find("{}"), 2, who);
}

const char* const leak =
    "SET statement_timeout = 0;\nSET lock_timeout = 0;\nSET work_mem = '77MB';\n";

std::string settings_of(const project& p, const std::string& who) {
    return p.scalar(
        "SELECT statement_timeout || ' ' || lock_timeout || ' ' || work_mem FROM seen "
        "WHERE who = '" +
        who + "'");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(session_settings)

BOOST_AUTO_TEST_CASE(a_set_in_one_migration_does_not_reach_the_next) {
    project p("statement_timeout = \"7s\"\nlock_timeout = \"3s\"\n");
    p.migration("001_seen.sql",
                "CREATE TABLE seen (who text, statement_timeout text, lock_timeout text, "
                "work_mem text);\n" +
                    recorded("001") + leak);
    p.migration("002_after.sql", recorded("002"));
    p.migration("003_no_tx.sql", "-- moonshift:no-transaction\n" + recorded("003") + leak);
    p.migration("004_no_tx_after.sql", "-- moonshift:no-transaction\n" + recorded("004"));
    p.migration("005_after.sql", recorded("005"));
    auto r = p.ms({"up"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.out + r.err);
    auto first = settings_of(p, "001");
    BOOST_TEST(first.rfind("7s 3s ", 0) == 0, first);
    for (const char* who : {"002", "003", "004", "005"})
        BOOST_TEST(settings_of(p, who) == first, "migration "
                                                     << who << " ran with " << settings_of(p, who)
                                                     << ", not the environment's " << first);
}

BOOST_AUTO_TEST_CASE(a_down_script_starts_from_the_environment_settings_too) {
    project p("statement_timeout = \"7s\"\n");
    p.migration("001_seen.sql",
                "CREATE TABLE seen (who text, statement_timeout text, lock_timeout text, "
                "work_mem text);\n");
    p.migration("002_x.sql", "CREATE TABLE x (id int);\n");
    p.migration("002_x.down.sql", recorded("down 002") + "DROP TABLE x;\n");
    p.migration("003_y.sql", "CREATE TABLE y (id int);\n");
    p.migration("003_y.down.sql", std::string(leak) + "DROP TABLE y;\n");
    auto up = p.ms({"up"});
    BOOST_REQUIRE_MESSAGE(up.exit_code == 0, up.out + up.err);
    // 003's down runs first and leaks; 002's down must not see it.
    auto r = p.ms({"down", "--steps", "2"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.out + r.err);
    BOOST_TEST(settings_of(p, "down 002").rfind("7s 0 ", 0) == 0, settings_of(p, "down 002"));
}

BOOST_AUTO_TEST_SUITE_END()
