// Bad input in other tools' layouts: a clear error naming the files, exit 2,
// and nothing applied — proven with a fingerprint of the database.
#include <boost/test/unit_test.hpp>

#include "support/project.hpp"

using moonshift::test::project;
using moonshift::test::write_file;

namespace {

struct layout : project {
    explicit layout(const std::string& dir = "migrations") {
        write_file(this->dir.path / "moonshift.toml", "[project]\nmigrations = \"" + dir +
                                                          "\"\n\n[env.test]\nurl = \"" + url +
                                                          "\"\nlock_wait = \"2s\"\n");
    }
    void file(const std::string& rel, const std::string& content) const {
        write_file(dir.path / rel, content);
    }

    // `up` and `status` both refuse with every fragment in stderr, and the
    // database is exactly as before (no moonshift schema either).
    void expect_refused(const std::vector<std::string>& fragments) const {
        auto before = fingerprint();
        for (auto cmd : {"up", "status"}) {
            auto r = ms({cmd});
            BOOST_TEST_INFO(cmd << " stderr: " << r.err);
            BOOST_TEST(r.exit_code == 2);
            for (auto& f : fragments) {
                BOOST_TEST_INFO("expected in stderr of " << cmd << ": " << f
                                                         << "\nstderr: " << r.err);
                BOOST_TEST(r.err.find(f) != std::string::npos);
            }
        }
        BOOST_TEST(fingerprint() == before);
        BOOST_TEST(!table_exists("moonshift.migrations"));
    }
};

const char* sqitch_line(const std::string& change, const std::string& deps = "") {
    static std::string s;
    s = change + (deps.empty() ? "" : " [" + deps + "]") +
        " 2024-01-01T00:00:00Z Ann <ann@example.com>\n";
    return s.c_str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(formats_bad_input)

BOOST_AUTO_TEST_CASE(two_formats_in_one_directory_name_a_file_of_each) {
    layout p;
    p.file("migrations/V1__users.sql", "CREATE TABLE users (id int);\n");
    p.file("migrations/V2__posts.sql", "CREATE TABLE posts (id int);\n");
    p.file("migrations/20240101000000_extra.sql", "-- migrate:up\nCREATE TABLE extra (id int);\n");
    p.expect_refused({"two migration formats are mixed in migrations",
                      "migrations/20240101000000_extra.sql is dbmate",
                      "migrations/V1__users.sql is flyway"});
}

BOOST_AUTO_TEST_CASE(golang_pairs_beside_postgres_migrations_files_are_mixed_formats) {
    layout p;
    p.file("migrations/1_a.up.sql", "CREATE TABLE a (id int);\n");
    p.file("migrations/0002-b.sql", "CREATE TABLE b (id int);\n");
    p.expect_refused({"mixed", "migrations/1_a.up.sql is golang-migrate",
                      "migrations/0002-b.sql is postgres-migrations"});
}

BOOST_AUTO_TEST_CASE(a_sqitch_plan_naming_a_missing_script_names_the_plan_line_and_the_file) {
    layout p(".");
    std::string plan = std::string("%project=p\n") + sqitch_line("a");
    plan += sqitch_line("b", "a");
    p.file("sqitch.plan", plan);
    p.file("deploy/a.sql", "CREATE TABLE a (id int);\n");
    p.expect_refused({"sqitch.plan:3", "change \"b\" has no deploy script deploy/b.sql"});
}

BOOST_AUTO_TEST_CASE(a_sqitch_dependency_cycle_names_the_changes_and_lines) {
    layout p(".");
    std::string plan = std::string("%project=p\n") + sqitch_line("a");
    plan += sqitch_line("b", "a c");
    plan += sqitch_line("c", "b");
    p.file("sqitch.plan", plan);
    for (auto n : {"a", "b", "c"}) p.file(std::string("deploy/") + n + ".sql", "SELECT 1;\n");
    p.expect_refused(
        {"sqitch.plan: dependency cycle", "b (line 3) requires c (line 4) requires b"});
}

BOOST_AUTO_TEST_CASE(a_sqitch_dependency_on_an_unknown_change_names_the_line) {
    layout p(".");
    p.file("sqitch.plan", std::string("%project=p\n") + sqitch_line("a", "nosuch"));
    p.file("deploy/a.sql", "SELECT 1;\n");
    p.expect_refused({"sqitch.plan:2", "\"a\" requires \"nosuch\", which is not in the plan"});
}

BOOST_AUTO_TEST_CASE(a_version_two_flyway_files_claim_names_both) {
    layout p;
    p.file("migrations/V1__a.sql", "CREATE TABLE a (id int);\n");
    p.file("migrations/V1.0__b.sql", "CREATE TABLE b (id int);\n");  // 1.0 is 1 to Flyway
    p.expect_refused({"version 1", "migrations/V1.0__b.sql", "migrations/V1__a.sql"});
}

BOOST_AUTO_TEST_CASE(a_version_two_golang_files_claim_names_both) {
    layout p;
    p.file("migrations/001_a.up.sql", "CREATE TABLE a (id int);\n");
    p.file("migrations/1_b.up.sql", "CREATE TABLE b (id int);\n");
    p.expect_refused({"version", "migrations/001_a.up.sql", "migrations/1_b.up.sql"});
}

BOOST_AUTO_TEST_CASE(a_dbmate_file_without_migrate_up_among_dbmate_files_is_named) {
    layout p("db/migrations");
    p.file("db/migrations/1_a.sql", "-- migrate:up\nCREATE TABLE a (id int);\n");
    p.file("db/migrations/2_b.sql", "CREATE TABLE b (id int);\n");
    p.expect_refused(
        {"mixed", "db/migrations/2_b.sql is moonshift's own", "db/migrations/1_a.sql is dbmate"});
}

BOOST_AUTO_TEST_CASE(a_diesel_folder_without_up_sql_is_named) {
    layout p;
    p.file("diesel.toml", "\n");
    p.file("migrations/2024-01-01-000000_a/up.sql", "CREATE TABLE a (id int);\n");
    p.file("migrations/2024-01-02-000000_b/down.sql", "DROP TABLE b;\n");
    p.expect_refused({"migrations/2024-01-02-000000_b: a Diesel migration folder without up.sql"});
}

BOOST_AUTO_TEST_SUITE_END()
