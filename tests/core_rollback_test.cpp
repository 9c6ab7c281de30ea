// Rolling back, drift and repair, baseline, single-transaction and
// no-transaction migrations, `new` and `init`.
#include <boost/test/unit_test.hpp>

#include "support/project.hpp"

using moonshift::test::last_json;
using moonshift::test::project;

namespace {

struct four : project {
    four() {
        for (int i = 1; i <= 4; ++i) {
            std::string v = "00" + std::to_string(i);
            migration(v + "_t" + std::to_string(i) + ".sql",
                      "CREATE TABLE t" + std::to_string(i) + " (id int);\n");
            migration(v + "_t" + std::to_string(i) + ".down.sql",
                      "DROP TABLE t" + std::to_string(i) + ";\n");
        }
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(core_rollback)

BOOST_FIXTURE_TEST_CASE(down_rolls_back_one_by_default_then_steps_then_to, four) {
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    BOOST_TEST(ms({"down"}).exit_code == 0);
    BOOST_TEST(!table_exists("t4"));
    BOOST_TEST(applied_versions().size() == 3u);
    BOOST_TEST(ms({"down", "--steps", "2"}).exit_code == 0);
    BOOST_TEST((applied_versions() == std::vector<std::string>{"001"}));
    BOOST_TEST(ms({"up"}).exit_code == 0);
    BOOST_TEST(ms({"down", "--to", "002"}).exit_code == 0);
    BOOST_TEST((applied_versions() == std::vector<std::string>{"001", "002"}));
    BOOST_TEST(ms({"down", "--to", "0"}).exit_code == 0);
    BOOST_TEST(applied_versions().empty());
    BOOST_TEST(!table_exists("t1"));
}

BOOST_FIXTURE_TEST_CASE(down_without_a_down_script_or_reverse_is_refused_before_anything_runs,
                        four) {
    migration("005_t5.sql", "CREATE TABLE t5 (id int);\n");
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    scalar("UPDATE moonshift.migrations SET reverse = NULL WHERE version = '005'; SELECT 1");
    auto before = fingerprint();
    auto r = ms({"down", "--steps", "2"});
    BOOST_TEST(r.exit_code == 3);
    BOOST_TEST(r.err.find("migrations/005_t5.sql: it has no down script") != std::string::npos);
    BOOST_TEST(fingerprint() == before);
}

BOOST_FIXTURE_TEST_CASE(a_failing_down_script_keeps_the_migration_applied, four) {
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    migration("004_t4.down.sql", "DROP TABLE t4;\nDROP TABLE no_such_table;\n");
    BOOST_REQUIRE(ms({"repair", "--reason", "down script edited"}).exit_code == 0);
    auto r = ms({"down"});
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(
        r.err.find(
            "migrations/004_t4.down.sql:2:1: table \"no_such_table\" does not exist (42P01)") !=
        std::string::npos);
    BOOST_TEST(table_exists("t4"));
    BOOST_TEST(applied_versions().size() == 4u);
}

BOOST_FIXTURE_TEST_CASE(redo_reverts_and_reapplies_the_newest, four) {
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    scalar("INSERT INTO t4 VALUES (1) RETURNING id");
    auto r = ms({"redo"});
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(table_exists("t4"));
    BOOST_TEST(count("SELECT * FROM t4") == 0);  // recreated empty
    BOOST_TEST(applied_versions().size() == 4u);
}

BOOST_FIXTURE_TEST_CASE(a_changed_applied_file_stops_up_with_exit_5_until_repair, four) {
    BOOST_REQUIRE(ms({"up", "--to", "002"}).exit_code == 0);
    migration("002_t2.sql", "CREATE TABLE t2 (id int, extra text);\n");
    auto before = fingerprint();
    auto r = ms({"up"});
    BOOST_TEST(r.exit_code == 5);
    BOOST_TEST(r.err.find("migrations/002_t2.sql") != std::string::npos);
    BOOST_TEST(r.err.find("repair") != std::string::npos);
    BOOST_TEST(fingerprint() == before);
    BOOST_TEST(ms({"status"}).exit_code == 5);
    auto rep = ms({"repair"});  // a reason is required
    BOOST_TEST(rep.exit_code == 2);
    BOOST_TEST(ms({"repair", "--reason", "added a column we already had"}).exit_code == 0);
    BOOST_TEST(scalar("SELECT report->>'reason' FROM moonshift.runs WHERE command = 'repair'") ==
               "added a column we already had");
    BOOST_TEST(ms({"up"}).exit_code == 0);
    BOOST_TEST(applied_versions().size() == 4u);
}

BOOST_FIXTURE_TEST_CASE(crlf_line_endings_do_not_change_the_checksum, four) {
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    migration("001_t1.sql", "CREATE TABLE t1 (id int);\r\n");
    BOOST_TEST(ms({"status"}).exit_code == 0);
}

BOOST_FIXTURE_TEST_CASE(out_of_order_versions_need_a_flag, four) {
    std::filesystem::remove(dir.path / "migrations" / "003_t3.sql");
    std::filesystem::remove(dir.path / "migrations" / "003_t3.down.sql");
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    migration("003_t3.sql", "CREATE TABLE t3 (id int);\n");
    auto r = ms({"up"});
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err.find("older than the newest applied") != std::string::npos);
    BOOST_TEST(!table_exists("t3"));
    BOOST_TEST(ms({"up", "--out-of-order"}).exit_code == 0);
    BOOST_TEST(table_exists("t3"));
}

BOOST_FIXTURE_TEST_CASE(single_transaction_is_all_or_nothing, four) {
    migration("005_bad.sql", "CREATE TABLE t5 (id int);\nSELECT 1/0;\n");
    auto r = ms({"up", "--single-transaction"});
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(r.err.find("division by zero (22012)") != std::string::npos);
    BOOST_TEST(applied_versions().empty());
    BOOST_TEST(!table_exists("t1"));
    std::filesystem::remove(dir.path / "migrations" / "005_bad.sql");
    BOOST_TEST(ms({"up", "--single-transaction"}).exit_code == 0);
    BOOST_TEST(applied_versions().size() == 4u);
}

BOOST_FIXTURE_TEST_CASE(baseline_records_without_running, four) {
    scalar("CREATE TABLE t1 (id int); CREATE TABLE t2 (id int); SELECT 1");
    auto r = ms({"baseline", "002"});
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(scalar("SELECT string_agg(how, ',' ORDER BY version) FROM moonshift.migrations") ==
               "baseline,baseline");
    BOOST_TEST(ms({"up"}).exit_code == 0);
    BOOST_TEST(table_exists("t4"));
    BOOST_TEST(ms({"baseline", "004"}).exit_code == 2);  // only for a database without history
}

BOOST_FIXTURE_TEST_CASE(dry_run_changes_nothing, four) {
    auto r = ms({"--json", "up", "--dry-run"});
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(last_json(r.out)["count"] == 4);
    BOOST_TEST(!table_exists("moonshift.migrations"));
    BOOST_TEST(!table_exists("t1"));
}

BOOST_FIXTURE_TEST_CASE(no_transaction_migrations_run_statement_by_statement_and_resume, four) {
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    migration("005_concurrent.sql",
              "-- moonshift:no-transaction\n"
              "CREATE INDEX CONCURRENTLY t1_id ON t1 (id);\n"
              "INSERT INTO t2 VALUES (1);\n"
              "CREATE INDEX CONCURRENTLY t2_id ON t2 (idd);\n");
    auto r = ms({"up"});
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(r.err.find("migrations/005_concurrent.sql:4:") != std::string::npos);
    BOOST_TEST(count("SELECT * FROM t2") == 1);
    migration("005_concurrent.sql",
              "-- moonshift:no-transaction\n"
              "CREATE INDEX CONCURRENTLY t1_id ON t1 (id);\n"
              "INSERT INTO t2 VALUES (1);\n"
              "CREATE INDEX CONCURRENTLY t2_id ON t2 (id);\n");
    // The file changed, so the statement checkpoint no longer applies; with
    // the same file it would resume after statement 2.
    scalar("DROP INDEX t1_id; DELETE FROM t2; SELECT 1");
    r = ms({"up"});
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(count("SELECT * FROM t2") == 1);
    BOOST_TEST(scalar("SELECT count(*) FROM moonshift.checkpoints") == "0");
}

BOOST_FIXTURE_TEST_CASE(a_failed_no_transaction_migration_resumes_at_the_failed_statement, four) {
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    migration("005_steps.sql",
              "-- moonshift:no-transaction\n"
              "INSERT INTO t1 VALUES (1);\n"
              "INSERT INTO t2 SELECT id FROM t3_feed;\n");
    BOOST_TEST(ms({"up"}).exit_code == 1);
    scalar("CREATE TABLE t3_feed AS SELECT 7 AS id; SELECT 1");
    BOOST_TEST(ms({"up"}).exit_code == 0);
    BOOST_TEST(count("SELECT * FROM t1") == 1);  // statement 1 ran once, not twice
    BOOST_TEST(count("SELECT * FROM t2") == 1);
}

BOOST_AUTO_TEST_CASE(new_and_init_write_a_project) {
    moonshift::test::temp_dir d;
    auto r = moonshift::test::run_cli({"init"}, d.path);
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(std::filesystem::exists(d.path / "moonshift.toml"));
    BOOST_TEST(moonshift::test::read_file(d.path / ".gitignore").find(".moonshift/") !=
               std::string::npos);
    BOOST_TEST(moonshift::test::run_cli({"new", "create_users"}, d.path).exit_code == 0);
    BOOST_TEST(moonshift::test::run_cli({"new", "add_email"}, d.path).exit_code == 0);
    BOOST_TEST(std::filesystem::exists(d.path / "migrations" / "001_create_users.sql"));
    BOOST_TEST(std::filesystem::exists(d.path / "migrations" / "002_add_email.down.sql"));
    BOOST_TEST(moonshift::test::run_cli({"new", "bad name!"}, d.path).exit_code == 2);
    auto again = moonshift::test::run_cli({"init"}, d.path);
    BOOST_TEST(again.out.find("exists") != std::string::npos);  // never overwrites
}

BOOST_AUTO_TEST_SUITE_END()
