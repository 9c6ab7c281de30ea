// Odd things in a migrations folder and on the command line get a clear
// error (exit 2) before anything runs, never a hang, a raw C++ message or a
// file skipped in silence; and a failure is named for what failed (issue 12,
// "smaller" items).
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

BOOST_AUTO_TEST_CASE(ctx_fail_in_up_is_named_as_the_migration_not_a_precheck) {
    project p;
    p.migration("001_a.sql", "CREATE TABLE a (id int);\n");
    p.migration("002_stop.lua",
                "return { up = function(db, ctx)\n  db:exec('insert into a values (1)')\n"
                "  ctx:fail('the rows are not ready')\nend }\n");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 3);
    BOOST_TEST(r.err.find("Migration of 002_stop failed: migrations/002_stop.lua:3:") !=
               std::string::npos);
    BOOST_TEST(r.err.find("the rows are not ready") != std::string::npos);
    BOOST_TEST(r.err.find("Precheck") == std::string::npos);
    BOOST_TEST(r.err.find("its transaction was rolled back") != std::string::npos);
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001"}));
    BOOST_TEST(p.scalar("select count(*) from a") == "0");
}

BOOST_AUTO_TEST_CASE(an_error_inside_a_do_body_names_the_body_line) {
    project p;
    p.migration("001_do.sql",
                "CREATE TABLE a (id int);\n"
                "DO $$\n"
                "BEGIN\n"
                "  INSERT INTO a VALUES (1);\n"
                "  PERFORM 1/0;\n"
                "END $$;\n");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(r.err.find("001_do.sql:5:3: division by zero") != std::string::npos);
    BOOST_TEST(r.err.find("  5 |   PERFORM 1/0;") != std::string::npos);
    BOOST_TEST(p.applied_versions().empty());
    BOOST_TEST(!p.table_exists("a"));
    // A DO block that fails on its first line, in a no-transaction file.
    project q;
    q.migration("001_do.sql",
                "-- moonshift:no-transaction\nDO $$ BEGIN RAISE EXCEPTION 'stop here'; END $$;\n");
    auto s = q.ms({"up"});
    BOOST_TEST_INFO(s.err);
    BOOST_TEST(s.exit_code == 1);
    BOOST_TEST(s.err.find("001_do.sql:2:4: stop here") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_resumed_no_transaction_migration_passes_its_row_count_verification) {
    project p;
    p.migration("001_t.sql", "CREATE TABLE t (id int);\nCREATE TABLE flag (id int);\n");
    // Statement 2 fails until flag has a row; statements 1 and 3 write t.
    p.migration("002_fill.sql",
                "-- moonshift:no-transaction\n"
                "INSERT INTO t VALUES (1);\n"
                "SELECT 1 / (SELECT count(*) FROM flag)::int;\n"
                "INSERT INTO t VALUES (2);\n");
    auto first = p.ms({"up"});
    BOOST_TEST_INFO(first.err);
    BOOST_TEST(first.exit_code == 1);
    BOOST_TEST(p.scalar("select count(*) from t") == "1");
    BOOST_TEST(
        p.scalar("WITH x AS (INSERT INTO flag VALUES (1) RETURNING 1) SELECT count(*) FROM x") ==
        "1");
    auto again = p.ms({"-v", "up"});
    BOOST_TEST_INFO(again.out << again.err);
    BOOST_TEST(again.exit_code == 0);
    BOOST_TEST((again.out + again.err).find("resuming after statement 1 of 3") !=
               std::string::npos);
    BOOST_TEST(again.err.find("rows disappeared") == std::string::npos);
    BOOST_TEST(again.err.find("row_counts") == std::string::npos);
    BOOST_TEST(p.scalar("select count(*) from t") == "2");
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001", "002"}));
}

BOOST_AUTO_TEST_SUITE_END()
