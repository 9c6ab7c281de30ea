// `moonshift history`: the runs of the selected environment (outcome, who,
// when, what), --all for every environment name sharing the database,
// --limit, --json, and the rolled_back / promotion parts of a run's report.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "history/history.hpp"
#include "support/project.hpp"

using moonshift::test::last_json;
using moonshift::test::project;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// Two environment names, one database: "test" and "review".
struct shared_database : project {
    shared_database() : project() {
        write_file_toml();
        migration("001_users.sql", "CREATE TABLE users (id int PRIMARY KEY);\n");
        migration("001_users.down.sql", "DROP TABLE users;\n");
        migration("002_orders.sql", "CREATE TABLE orders (id int PRIMARY KEY);\n");
        migration("002_orders.down.sql", "DROP TABLE orders;\n");
    }
    void write_file_toml() {
        moonshift::test::write_file(
            dir.path / "moonshift.toml",
            "[project]\nmigrations = \"migrations\"\ndefault_env = \"test\"\n\n"
            "[env.test]\nurl = \"" +
                url +
                "\"\nlock_wait = \"2s\"\n\n"
                "[env.review]\nurl = \"" +
                url + "\"\nlock_wait = \"2s\"\n");
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(compare_history)

BOOST_FIXTURE_TEST_CASE(history_shows_the_selected_environments_runs_with_outcome_who_and_what,
                        shared_database) {
    BOOST_REQUIRE(ms({"--env", "test", "up"}).exit_code == 0);
    BOOST_REQUIRE(ms({"--env", "review", "down"}).exit_code == 0);

    auto r = ms({"--env", "test", "history"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(contains(r.out, "applied 001_users, 002_orders"));
    BOOST_TEST(contains(r.out, " ok "));
    BOOST_TEST(!contains(r.out, "reverted"), "review's run is not test's");
    BOOST_TEST(contains(r.out, moonshift::history::current_actor()), "who ran it");

    auto all = ms({"--env", "test", "history", "--all"});
    BOOST_TEST_INFO(all.out << all.err);
    BOOST_REQUIRE(all.exit_code == 0);
    BOOST_TEST(contains(all.out, "reverted 002_orders"));
    BOOST_TEST(contains(all.out, "review"));
    BOOST_TEST(contains(all.out, "ENV"));
}

BOOST_FIXTURE_TEST_CASE(history_json_and_limit, shared_database) {
    BOOST_REQUIRE(ms({"up", "--to", "001"}).exit_code == 0);
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    auto j = last_json(ms({"history", "--json", "--limit", "1"}).out);
    BOOST_REQUIRE(j["runs"].size() == 1u);
    const auto& run = j["runs"][0];
    BOOST_TEST(run["command"] == "up");
    BOOST_TEST(run["environment"] == "test");
    BOOST_TEST(run["outcome"] == "ok");
    BOOST_TEST(run["what"] == "applied 002_orders");
    BOOST_TEST(!run["started_at"].get<std::string>().empty());
    BOOST_TEST(run["report"]["applied"][0].contains("duration_ms"),
               "applied entries carry their duration");
}

BOOST_FIXTURE_TEST_CASE(rolled_back_and_promoted_runs_say_so, shared_database) {
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    // Runs as the watch window and promotion record them.
    auto actor = moonshift::history::current_actor();
    scalar(
        "INSERT INTO moonshift.runs (command, environment, actor, outcome, finished_at, report) "
        "VALUES "
        "('up', 'test', 'ci', 'rolled_back', now(), '{\"applied\": [{\"version\": \"003\", "
        "\"name\": \"bad\"}], "
        "\"rolled_back\": [{\"version\": \"003\", \"name\": \"bad\", \"how\": \"down\"}]}'),"
        "('promote', 'test', 'ci', 'ok', now(), '{\"promotion\": {\"from\": \"staging\", "
        "\"migrations\": "
        "[{\"version\": \"001\", \"name\": \"users\"}]}}')");
    auto r = ms({"history"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(contains(r.out, "rolled_back"));
    BOOST_TEST(contains(r.out, "applied 003_bad; rolled back 003_bad"));
    BOOST_TEST(contains(r.out, "promoted from staging: 001_users"));
}

BOOST_FIXTURE_TEST_CASE(no_runs_yet_says_so, shared_database) {
    auto r = ms({"history"});
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
    BOOST_TEST(contains(r.out, "No runs of test recorded yet"), r.out);
}

BOOST_FIXTURE_TEST_CASE(an_unknown_environment_is_a_usage_error, shared_database) {
    auto r = ms({"--env", "nope", "history"});
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(contains(r.err, "environment \"nope\" is not defined"), r.err);
}

BOOST_AUTO_TEST_CASE(an_unreachable_environment_has_its_password_redacted) {
    project p("\n[env.gone]\nurl = \"postgresql://admin:hunter2secret@127.0.0.1:1/app\"\n");
    auto r = p.ms({"--env", "gone", "history"});
    BOOST_TEST(r.exit_code != 0, r.out << r.err);
    BOOST_TEST(contains(r.err, "cannot connect to postgresql://admin:***@127.0.0.1:1/app"), r.err);
    BOOST_TEST(!contains(r.out + r.err, "hunter2secret"), r.out << r.err);
}

BOOST_AUTO_TEST_SUITE_END()
