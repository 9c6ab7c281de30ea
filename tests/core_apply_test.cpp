// The SQL migration engine through the CLI, against a real PostgreSQL:
// applying, status, history, JSON output, the lock and timeouts.
#include <boost/test/unit_test.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

#include "support/project.hpp"
#include "support/skip.hpp"

using moonshift::test::last_json;
using moonshift::test::project;

namespace {

// user, password, host, port and database of a postgresql:// URL, as PG* variables.
std::optional<moonshift::test::env_changes> pg_variables(const std::string& url) {
    static const std::regex url_re(
        R"(^postgres(?:ql)?://([^:@/]+)(?::([^@]*))?@([^:/]+):(\d+)/([^?]+))");
    std::smatch m;
    if (!std::regex_search(url, m, url_re)) return std::nullopt;
    return moonshift::test::env_changes{{"PGUSER", m[1].str()},
                                        {"PGPASSWORD", m[2].str()},
                                        {"PGHOST", m[3].str()},
                                        {"PGPORT", m[4].str()},
                                        {"PGDATABASE", m[5].str()}};
}

void three_migrations(const project& p) {
    p.migration("001_create_users.sql", "CREATE TABLE users (id int PRIMARY KEY, email text);\n");
    p.migration("001_create_users.down.sql", "DROP TABLE users;\n");
    p.migration("002_add_name.sql", "ALTER TABLE users ADD COLUMN name text;\n");
    p.migration("002_add_name.down.sql", "ALTER TABLE users DROP COLUMN name;\n");
    p.migration("010_posts.sql",
                "CREATE TABLE posts (id int PRIMARY KEY, user_id int REFERENCES users);\n");
    p.migration("010_posts.down.sql", "DROP TABLE posts;\n");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(core_apply)

BOOST_AUTO_TEST_CASE(up_applies_pending_migrations_in_numeric_order_and_records_them) {
    project p;
    three_migrations(p);
    p.migration("9_between.sql", "CREATE TABLE between_t (id int);\n");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(p.table_exists("users"));
    BOOST_TEST(p.table_exists("posts"));
    // 9 comes before 10, not after it as it would alphabetically.
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001", "002", "9", "010"}));
    BOOST_TEST(r.out.find("Applying 001_create_users") != std::string::npos);
    BOOST_TEST(p.scalar("SELECT applied_by FROM moonshift.migrations WHERE version = '001'") != "");
    BOOST_TEST(p.scalar("SELECT environment FROM moonshift.migrations WHERE version = '001'") ==
               "test");
    BOOST_TEST(p.scalar("SELECT outcome FROM moonshift.runs ORDER BY id DESC LIMIT 1") == "ok");
    auto again = p.ms({"up"});
    BOOST_TEST(again.exit_code == 0);
    BOOST_TEST(again.out.find("Nothing to apply") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(status_shows_local_and_remote_states) {
    project p;
    three_migrations(p);
    BOOST_TEST(p.ms({"up", "--to", "002"}).exit_code == 0);
    auto r = p.ms({"--json", "status"});
    BOOST_TEST(r.exit_code == 0);
    auto j = last_json(r.out);
    BOOST_TEST(j["summary"]["applied"] == 2);
    BOOST_TEST(j["summary"]["pending"] == 1);
    BOOST_TEST(j["migrations"][2]["state"] == "pending");
    BOOST_TEST(j["migrations"][2]["remote"] == false);
    // A migration recorded in the database but gone from disk is "missing".
    std::filesystem::remove(p.dir.path / "migrations" / "002_add_name.sql");
    std::filesystem::remove(p.dir.path / "migrations" / "002_add_name.down.sql");
    j = last_json(p.ms({"--json", "status"}).out);
    BOOST_TEST(j["summary"]["missing"] == 1);
    auto human = p.ms({"status"});
    BOOST_TEST(human.out.find("missing") != std::string::npos);
    BOOST_TEST(human.out.find("LOCAL") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(
    status_on_a_database_without_history_lists_everything_pending_and_writes_nothing) {
    project p;
    three_migrations(p);
    auto r = p.ms({"--json", "status"});
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(last_json(r.out)["summary"]["pending"] == 3);
    BOOST_TEST(!p.table_exists("moonshift.migrations"));
}

BOOST_AUTO_TEST_CASE(json_up_prints_one_event_per_line) {
    project p;
    three_migrations(p);
    auto r = p.ms({"--json", "up"});
    BOOST_TEST(r.exit_code == 0);
    int applied = 0;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
        auto j = nlohmann::json::parse(line);  // every line is JSON
        if (j.value("event", "") == "migration.applied") ++applied;
    }
    BOOST_TEST(applied == 3);
    BOOST_TEST(last_json(r.out)["count"] == 3);
}

BOOST_AUTO_TEST_CASE(timeouts_and_application_name_are_set_for_migrations) {
    project p("lock_timeout = \"1500ms\"\nstatement_timeout = \"7s\"\n");
    p.migration("001_settings.sql",
                "CREATE TABLE settings AS SELECT current_setting('lock_timeout') AS lock_timeout,"
                " current_setting('statement_timeout') AS statement_timeout,"
                " current_setting('application_name') AS app;\n");
    BOOST_TEST(p.ms({"up"}).exit_code == 0);
    BOOST_TEST(p.scalar("SELECT lock_timeout FROM settings") == "1500ms");
    BOOST_TEST(p.scalar("SELECT statement_timeout FROM settings") == "7s");
    BOOST_TEST(p.scalar("SELECT app FROM settings") == "moonshift");
}

BOOST_AUTO_TEST_CASE(a_held_lock_makes_up_wait_name_the_holder_and_exit_4) {
    project p;
    three_migrations(p);
    BOOST_TEST(p.ms({"up"}).exit_code == 0);
    p.migration("011_slow.sql", "SELECT pg_sleep(4);\n");
    auto slow = p.spawn({"up"});  // holds the migration lock for 4 s
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    auto before = p.fingerprint();
    auto r = p.ms({"up"});  // lock_wait is 2s in the test project
    auto finished = slow.wait();
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 4);
    BOOST_TEST(r.err.find("holds the migration lock") != std::string::npos);
    BOOST_TEST(r.err.find("pid ") != std::string::npos);
    BOOST_TEST(r.err.find("application moonshift") != std::string::npos);
    BOOST_TEST(r.err.find("waiting for the migration lock") != std::string::npos);
    BOOST_TEST(finished.exit_code == 0);
    BOOST_TEST(p.applied_versions().size() == 4u);
    (void)before;
}

BOOST_AUTO_TEST_CASE(history_lists_runs_with_outcome) {
    project p;
    three_migrations(p);
    p.ms({"up"});
    p.ms({"down"});
    auto r = p.ms({"--json", "history"});
    BOOST_TEST(r.exit_code == 0);
    auto runs = last_json(r.out)["runs"];
    BOOST_TEST(runs.size() == 2u);
    BOOST_TEST(runs[0]["command"] == "down");
    BOOST_TEST(runs[1]["command"] == "up");
    BOOST_TEST(runs[1]["outcome"] == "ok");
    auto human = p.ms({"history"});
    BOOST_TEST(human.out.find("010_posts") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(no_config_uses_database_url) {
    project p;
    std::filesystem::remove(p.dir.path / "moonshift.toml");
    p.migration("001_a.sql", "CREATE TABLE a (id int);\n");
    auto r = p.ms({"up"}, {{"DATABASE_URL", p.url}});
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(p.table_exists("a"));
}

BOOST_AUTO_TEST_CASE(no_config_and_no_url_uses_libpqs_pg_variables,
                     *boost::unit_test::precondition(moonshift::test::skip_unless(
                         [] { return pg_variables(moonshift::test::server_url()).has_value(); },
                         "MOONSHIFT_TEST_URL is not a postgresql://user[:password]@host:port/db "
                         "URL: its parts cannot be given as PG* variables"))) {
    project p;
    std::filesystem::remove(p.dir.path / "moonshift.toml");
    p.migration("002_b.sql", "CREATE TABLE b (id int);\n");
    auto r = p.ms({"up"}, *pg_variables(p.url));
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(p.table_exists("b"));
}

BOOST_AUTO_TEST_CASE(wait_returns_when_the_server_accepts_and_times_out_on_a_closed_port) {
    project p;
    BOOST_TEST(p.ms({"wait", "--timeout", "5s"}).exit_code == 0);
    std::filesystem::remove(p.dir.path / "moonshift.toml");
    auto r = p.ms({"wait", "--timeout", "1s"},
                  {{"DATABASE_URL", "postgresql://u:sekret@127.0.0.1:1/x"}});
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(r.err.find("did not accept connections") != std::string::npos);
    BOOST_TEST(r.err.find("sekret") == std::string::npos);  // secrets never printed
}

BOOST_AUTO_TEST_SUITE_END()
