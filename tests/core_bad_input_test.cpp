// Bad input: each gets a clear message naming the file (and line), the right
// exit code, and leaves the database and its history exactly as before.
#include <boost/test/unit_test.hpp>
#include <thread>

#include "support/project.hpp"

using moonshift::test::project;
using moonshift::test::write_file;

namespace {

// Runs `up` on a project with one good applied migration plus the bad input,
// and checks exit code, message and that nothing changed.
void expect_refused(project& p, int code, const std::vector<std::string>& fragments,
                    const std::vector<std::string>& args = {"up"}) {
    auto before = p.fingerprint();
    auto r = p.ms(args);
    BOOST_TEST_INFO("stderr: " << r.err);
    BOOST_TEST(r.exit_code == code);
    for (auto& f : fragments) {
        BOOST_TEST_INFO("expected in stderr: " << f << "\nstderr: " << r.err);
        BOOST_TEST(r.err.find(f) != std::string::npos);
    }
    BOOST_TEST(p.fingerprint() == before);
}

struct applied_project : project {
    applied_project() {
        migration("001_base.sql", "CREATE TABLE base (id int);\n");
        auto r = ms({"up"});
        BOOST_REQUIRE(r.exit_code == 0);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(core_bad_input)

BOOST_FIXTURE_TEST_CASE(a_file_name_without_version_is_refused, applied_project) {
    migration("create_things.sql", "CREATE TABLE things (id int);\n");
    expect_refused(*this, 2, {"migrations/create_things.sql", "does not start with a version"});
}

BOOST_FIXTURE_TEST_CASE(a_duplicate_version_names_both_files, applied_project) {
    migration("002_a.sql", "CREATE TABLE a (id int);\n");
    migration("02_b.sql", "CREATE TABLE b (id int);\n");
    expect_refused(*this, 2, {"version", "002_a.sql", "02_b.sql"});
}

BOOST_FIXTURE_TEST_CASE(a_down_without_up_is_refused, applied_project) {
    migration("002_orphan.down.sql", "DROP TABLE x;\n");
    expect_refused(*this, 2, {"migrations/002_orphan.down.sql", "no matching up"});
}

BOOST_FIXTURE_TEST_CASE(an_empty_migration_is_refused, applied_project) {
    migration("002_empty.sql", "-- nothing yet\n\n");
    expect_refused(*this, 2, {"migrations/002_empty.sql", "empty"});
}

BOOST_FIXTURE_TEST_CASE(invalid_utf8_is_refused_with_its_line, applied_project) {
    migration("002_latin1.sql", "CREATE TABLE t (id int);\n-- caf\xe9\n");
    expect_refused(*this, 2, {"migrations/002_latin1.sql:2:", "invalid UTF-8"});
}

BOOST_FIXTURE_TEST_CASE(an_unknown_directive_is_refused_with_its_line, applied_project) {
    migration("002_x.sql", "-- moonshift:no-transactoin\nCREATE TABLE x (id int);\n");
    expect_refused(*this, 2,
                   {"migrations/002_x.sql:1", "unknown directive moonshift:no-transactoin"});
}

BOOST_FIXTURE_TEST_CASE(requires_of_a_missing_version_is_refused, applied_project) {
    migration("002_x.sql", "-- moonshift:requires 042\nCREATE TABLE x (id int);\n");
    expect_refused(*this, 2, {"migrations/002_x.sql", "requires 042"});
}

BOOST_FIXTURE_TEST_CASE(an_unknown_config_key_names_file_line_and_valid_keys, applied_project) {
    write_file(dir.path / "moonshift.toml",
               "[project]\nmigrations = \"migrations\"\n\n[env.test]\nurl = \"" + url +
                   "\"\nlock_timout = \"5s\"\n");
    expect_refused(*this, 2, {"moonshift.toml:6", "unknown key \"lock_timout\"", "lock_timeout"});
}

BOOST_FIXTURE_TEST_CASE(a_bad_duration_is_refused, applied_project) {
    write_file(dir.path / "moonshift.toml",
               "[env.test]\nurl = \"" + url + "\"\nstatement_timeout = \"5 parsecs\"\n");
    expect_refused(*this, 2, {"moonshift.toml:3", "statement_timeout", "unknown unit"});
}

BOOST_FIXTURE_TEST_CASE(a_missing_variable_is_named, applied_project) {
    write_file(dir.path / "moonshift.toml", "[env.test]\nurl = \"${NOT_SET_ANYWHERE_URL}\"\n");
    expect_refused(*this, 2, {"moonshift.toml:2", "NOT_SET_ANYWHERE_URL is not set"});
}

BOOST_FIXTURE_TEST_CASE(variables_come_from_dotenv_files, applied_project) {
    write_file(dir.path / "moonshift.toml",
               "[env.test]\nurl = \"${TEST_DB_URL}\"\ndotenv = \".env.test\"\n");
    write_file(dir.path / ".env.test", "# the test database\nexport TEST_DB_URL=\"" + url + "\"\n");
    migration("002_x.sql", "CREATE TABLE x (id int);\n");
    auto r = ms({"up"});
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(table_exists("x"));
}

BOOST_FIXTURE_TEST_CASE(an_unknown_environment_lists_the_known_ones, applied_project) {
    expect_refused(*this, 2, {"environment \"prod\" is not defined", "test"},
                   {"--env", "prod", "up"});
}

BOOST_FIXTURE_TEST_CASE(an_sql_error_points_at_file_line_and_column_and_leaves_nothing,
                        applied_project) {
    migration("002_ok.sql", "CREATE TABLE ok_t (id int);\n");
    migration("003_bad.sql",
              "CREATE TABLE half (id int);\n"
              "-- the next line has a typo\n"
              "INSERT INTO half (id, nme) VALUES (1, 'x');\n");
    auto r = ms({"up"});
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(r.err.find("migrations/003_bad.sql:3:23: column \"nme\" of relation \"half\" does "
                          "not exist (42703)") != std::string::npos);
    BOOST_TEST(r.err.find("INSERT INTO half (id, nme)") != std::string::npos);
    BOOST_TEST(r.err.find("                      ^") != std::string::npos);
    BOOST_TEST(table_exists("ok_t"));   // the earlier migration stays
    BOOST_TEST(!table_exists("half"));  // nothing of the failed one remains
    BOOST_TEST((applied_versions() == std::vector<std::string>{"001", "002"}));
    BOOST_TEST(scalar("SELECT outcome FROM moonshift.runs ORDER BY id DESC LIMIT 1") == "failed");
}

BOOST_FIXTURE_TEST_CASE(detail_and_hint_are_shown, applied_project) {
    migration("002_dup.sql",
              "CREATE TABLE u (id int PRIMARY KEY);\nINSERT INTO u VALUES (1), (1);\n");
    auto r = ms({"up"});
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(r.err.find("(23505)") != std::string::npos);
    BOOST_TEST(r.err.find("DETAIL: Key (id)=(1) already exists.") != std::string::npos);
    BOOST_TEST(!table_exists("u"));
}

BOOST_FIXTURE_TEST_CASE(a_dropped_connection_records_nothing_and_the_next_up_carries_on,
                        applied_project) {
    migration("002_slow.sql", "CREATE TABLE slow_t (id int);\nSELECT pg_sleep(5);\n");
    auto child = spawn({"up"});
    // Wait until the migration is running, then cut its connection.
    for (int i = 0; i < 100; ++i) {
        if (scalar("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(5)%' AND pid "
                   "<> pg_backend_pid()") == "1")
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
        "'moonshift'");
    auto r = child.wait();
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(!table_exists("slow_t"));
    BOOST_TEST((applied_versions() == std::vector<std::string>{"001"}));
    migration("002_slow.sql", "CREATE TABLE slow_t (id int);\n");
    auto again = ms({"up"});
    BOOST_TEST_INFO(again.err);
    BOOST_TEST(again.exit_code == 0);
    BOOST_TEST(table_exists("slow_t"));
    BOOST_TEST(scalar("SELECT count(*) FROM moonshift.runs WHERE outcome = 'aborted'") == "1");
}

BOOST_AUTO_TEST_SUITE_END()
