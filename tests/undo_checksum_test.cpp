// A down script is a choice made at any time: its checksum is not the up's,
// so adding or fixing one after the up ran changes nothing in `status`; the
// runbook layout rollbacks/NNN_rollback_name.sql is read as down scripts.
#include <boost/test/unit_test.hpp>

#include "catalog/formats.hpp"
#include "support/project.hpp"

using moonshift::test::last_json;
using moonshift::test::project;
using moonshift::test::write_file;

namespace {

bool has(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

struct three : project {
    three() {
        migration("001_a.sql", "CREATE TABLE a (id int);\n");
        migration("002_b.sql", "CREATE TABLE b (id int);\n");
        migration("003_x.sql", "CREATE TABLE x (id int);\n");
    }
    nlohmann::json status() const {
        auto r = ms({"--json", "status"});
        BOOST_TEST_INFO(r.err);
        BOOST_REQUIRE(r.exit_code == 0);
        return last_json(r.out);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(undo_checksum)

BOOST_FIXTURE_TEST_CASE(adding_a_rollback_after_the_up_was_applied_changes_nothing_in_status,
                        three) {
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    auto before = status();
    write_file(dir.path / "rollbacks" / "003_rollback_x.sql",
               "DROP TABLE x;\nCREATE TABLE rolled_back_by_the_runbook (id int);\n");
    auto after = status();
    BOOST_TEST(after["summary"] == before["summary"]);
    BOOST_TEST(after["summary"]["changed"] == 0);
    // And it is the down script `down` runs.
    auto r = ms({"down"});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(table_exists("rolled_back_by_the_runbook"));
    BOOST_TEST(!table_exists("x"));
}

BOOST_FIXTURE_TEST_CASE(fixing_a_down_script_after_the_up_was_applied_changes_nothing, three) {
    migration("003_x.down.sql", "DROP TABLE nothing_here;\n");
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    migration("003_x.down.sql", "DROP TABLE x;\n");
    BOOST_TEST(status()["summary"]["changed"] == 0);
    BOOST_TEST(ms({"down"}).exit_code == 0);
    BOOST_TEST(!table_exists("x"));
}

BOOST_FIXTURE_TEST_CASE(a_checksum_recorded_the_old_way_with_a_down_still_matches, three) {
    migration("003_x.down.sql", "DROP TABLE x;\n");
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    auto old_rule =
        moonshift::catalog::checksum_of("CREATE TABLE x (id int);\n", "DROP TABLE x;\n", true);
    scalar("UPDATE moonshift.migrations SET checksum = '" + old_rule +
           "' WHERE version = '003'; SELECT 1");
    BOOST_TEST(status()["summary"]["changed"] == 0);
    // The next `up` records it by the new rule: the down script may change from then on.
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    BOOST_TEST(scalar("SELECT checksum FROM moonshift.migrations WHERE version = '003'") !=
               old_rule);
    migration("003_x.down.sql", "DROP TABLE IF EXISTS x;\n");
    BOOST_TEST(status()["summary"]["changed"] == 0);
    // Changing the up is still a change, whichever rule recorded it.
    migration("003_x.sql", "CREATE TABLE x (id bigint);\n");
    BOOST_TEST(ms({"status"}).exit_code == 5);
}

BOOST_FIXTURE_TEST_CASE(a_rollback_without_its_migration_or_beside_a_down_is_an_error, three) {
    write_file(dir.path / "rollbacks" / "009_rollback_nothing.sql", "SELECT 1;\n");
    auto r = ms({"status"});
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(has(r.err,
                   "rollbacks/009_rollback_nothing.sql: a rollback with no migration of "
                   "version 009"),
               r.err);
    std::filesystem::remove(dir.path / "rollbacks" / "009_rollback_nothing.sql");
    write_file(dir.path / "rollbacks" / "003_rollback_x.sql", "DROP TABLE x;\n");
    migration("003_x.down.sql", "DROP TABLE x;\n");
    r = ms({"status"});
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(has(r.err, "has a down script already, migrations/003_x.down.sql"), r.err);
}

BOOST_AUTO_TEST_CASE(the_rollbacks_folder_is_configurable) {
    project p("\n");
    write_file(p.dir.path / "moonshift.toml",
               "[project]\nmigrations = \"db/migrate\"\n"
               "rollbacks = \"runbook/undo\"\n\n[env.test]\nurl = \"" +
                   p.url + "\"\n");
    write_file(p.dir.path / "db" / "migrate" / "001_t.sql", "CREATE TABLE t (id int);\n");
    write_file(p.dir.path / "runbook" / "undo" / "001_rollback_t.sql",
               "DROP TABLE t;\nCREATE TABLE undone (id int);\n");
    BOOST_REQUIRE(p.ms({"up"}).exit_code == 0);
    BOOST_TEST(p.ms({"down"}).exit_code == 0);
    BOOST_TEST(p.table_exists("undone"));
}

BOOST_AUTO_TEST_SUITE_END()
