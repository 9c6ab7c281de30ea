// Odd things in a migrations folder and on the command line get a clear
// error (exit 2) before anything runs, never a hang, a raw C++ message or a
// file skipped in silence (issue 12, "smaller" items).
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "support/project.hpp"

using moonshift::test::project;
namespace fs = std::filesystem;

BOOST_AUTO_TEST_SUITE(hardened_inputs)

BOOST_AUTO_TEST_CASE(an_upper_case_extension_is_refused_not_skipped) {
    project p;
    p.migration("001_a.sql", "CREATE TABLE a (id int);\n");
    p.migration("002_b.SQL", "CREATE TABLE b (id int);\n");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err.find("002_b.SQL") != std::string::npos);
    BOOST_TEST(r.err.find("rename it to 002_b.sql") != std::string::npos);
    BOOST_TEST(p.applied_versions().empty());
}

BOOST_AUTO_TEST_CASE(a_fifo_named_like_a_migration_does_not_hang) {
    project p;
    p.migration("001_a.sql", "CREATE TABLE a (id int);\n");
    auto fifo = p.dir.path / "migrations" / "002_pipe.sql";
    BOOST_TEST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    auto r = p.ms({"status"});  // the harness fails a child that outlives its timeout
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err.find("002_pipe.sql: not a regular file") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_symlink_loop_is_named_not_a_raw_filesystem_error) {
    project p;
    p.migration("001_a.sql", "CREATE TABLE a (id int);\n");
    auto loop = p.dir.path / "migrations" / "002_loop.sql";
    fs::create_symlink(loop, loop);
    auto r = p.ms({"status"});
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err.find("002_loop.sql: cannot read it") != std::string::npos);
    BOOST_TEST(r.err.find("filesystem error") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(new_after_a_30_digit_version_counts_on) {
    project p;
    p.migration("123456789012345678901234567899_a.sql", "CREATE TABLE a (id int);\n");
    auto r = p.ms({"new", "b"});
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(fs::exists(p.dir.path / "migrations" / "123456789012345678901234567900_b.sql"));
}

BOOST_AUTO_TEST_CASE(a_report_into_a_missing_folder_is_refused_before_anything_runs) {
    project p;
    p.migration("001_a.sql", "CREATE TABLE a (id int);\n");
    auto r = p.ms({"up", "--report", (p.dir.path / "no" / "such" / "r.md").string()});
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err.find("does not exist; nothing was run") != std::string::npos);
    BOOST_TEST(p.applied_versions().empty());
    BOOST_TEST(!p.table_exists("a"));
}

BOOST_AUTO_TEST_SUITE_END()
