// Notifications of real runs: `moonshift up` against a real PostgreSQL with
// hooks configured in moonshift.toml and real receivers on 127.0.0.1 — what
// arrives, what the run's report records, exit codes when a delivery fails
// (required or not), secrets in no output, the hook phase's read-only
// database, and `moonshift notify test`.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "net/http.hpp"
#include "support/project.hpp"
#include "support/receivers.hpp"

using namespace std::chrono_literals;
using moonshift::test::http_receiver;
using moonshift::test::last_json;
using moonshift::test::project;
using nlohmann::json;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

void two_migrations(const project& p) {
    p.migration("001_create_users.sql", "CREATE TABLE users (id int PRIMARY KEY, email text);\n");
    p.migration("001_create_users.down.sql", "DROP TABLE users;\n");
    p.migration("002_add_name.sql", "ALTER TABLE users ADD COLUMN name text;\n");
    p.migration("002_add_name.down.sql", "ALTER TABLE users DROP COLUMN name;\n");
}

std::string down_url() {
    return "http://127.0.0.1:" + std::to_string(moonshift::test::unused_port());
}

json last_report(const project& p) {
    return json::parse(
        p.scalar("SELECT report::text FROM moonshift.runs ORDER BY id DESC LIMIT 1"));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(notify_run)

BOOST_AUTO_TEST_CASE(up_notifies_slack_and_webhook_and_records_the_deliveries) {
    http_receiver slack, webhook;
    project p("\n[notify.slack]\nwebhook_url = \"" + slack.url() +
              "/services/T1/B1/TOKEN123\"\n"
              "\n[notify.webhook]\nurl = \"" +
              webhook.url() + "/events\"\nsecret = \"whsec-run\"\n");
    two_migrations(p);
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(!contains(r.err, "notification"), "a good delivery says nothing: " << r.err);

    BOOST_REQUIRE(slack.request_count() == 1u);
    auto message = json::parse(slack.requests().at(0).body);
    BOOST_TEST(message["blocks"][0]["text"]["text"] == "✅ moonshift up on test: ok");
    std::string migrations = message["blocks"][2]["text"]["text"];
    BOOST_TEST(contains(migrations, "• `001_create_users` applied in "), migrations);
    BOOST_TEST(contains(migrations, "• `002_add_name` applied in "), migrations);

    std::string run_id = p.scalar("SELECT max(id) FROM moonshift.runs");
    std::vector<std::string> names;
    for (const auto& req : webhook.requests()) {
        names.push_back(req.header("x-moonshift-event"));
        BOOST_TEST(req.header("x-moonshift-signature") ==
                   "sha256=" + moonshift::net::hmac_sha256_hex("whsec-run", req.body));
        auto ev = json::parse(req.body);
        BOOST_TEST(ev["run"]["id"].dump() == run_id);
        BOOST_TEST(ev["run"]["environment"] == "test");
    }
    std::vector<std::string> expected = {
        "run.start",       "run.planned",       "migration.start", "migration.applied",
        "migration.start", "migration.applied", "run.finish"};
    BOOST_TEST(names == expected, boost::test_tools::per_element());
    auto finish = json::parse(webhook.requests().back().body);
    BOOST_TEST(finish["outcome"] == "ok");
    BOOST_TEST(finish["counts"]["applied"] == 2);
    BOOST_TEST(finish["migrations"][1]["checksum"].get<std::string>().size() == 64u);

    auto report = last_report(p);
    BOOST_TEST(report["notifications"]["delivered"] == 8, report.dump());
    BOOST_TEST(report["notifications"]["failed"] == 0);
    BOOST_TEST(report["notifications"]["hooks"]["webhook"]["delivered"] == 7);

    // `down` sends its own run: migration.reverted included.
    webhook.clear();
    BOOST_REQUIRE(p.ms({"down"}).exit_code == 0);
    names.clear();
    for (const auto& req : webhook.requests()) names.push_back(req.header("x-moonshift-event"));
    BOOST_TEST((std::find(names.begin(), names.end(), "migration.reverted") != names.end()));
    BOOST_TEST(names.back() == "run.finish");
}

BOOST_AUTO_TEST_CASE(failed_migration_is_reported_with_file_line_and_sqlstate) {
    http_receiver slack;
    project p("\n[notify.slack]\nwebhook_url = \"" + slack.url() + "/x\"\n");
    p.migration("001_create_users.sql", "CREATE TABLE users (id int PRIMARY KEY);\n");
    p.migration("002_bad.sql",
                "ALTER TABLE users ADD COLUMN name text;\nSELECT nope FROM users;\n");
    auto r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 1, r.out << r.err);
    BOOST_REQUIRE(slack.request_count() == 1u);
    auto message = json::parse(slack.requests().at(0).body);
    BOOST_TEST(message["blocks"][0]["text"]["text"] == "❌ moonshift up on test: failed");
    std::string error = message["blocks"][3]["text"]["text"];
    BOOST_TEST(
        error ==
        "*Error* in `migrations/002_bad.sql:2`\n```column \"nope\" does not exist (42703)```\n"
        "_Hint:_ Perhaps you meant to reference the column \"users.name\".");
}

BOOST_AUTO_TEST_CASE(receiver_down_is_a_warning_and_the_run_succeeds) {
    project p("\n[notify.slack]\nwebhook_url = \"" + down_url() +
              "/services/T/B/DOWNTOKEN\"\nretries = 0\n");
    two_migrations(p);
    auto r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001", "002"}));
    BOOST_TEST(contains(r.err, "warning: notification hook \"slack\" failed on run.finish"), r.err);
    BOOST_TEST(contains(r.err, "cannot connect"), r.err);
    BOOST_TEST(contains(r.err, "the run is not affected"), r.err);
    BOOST_TEST(p.scalar("SELECT outcome FROM moonshift.runs ORDER BY id DESC LIMIT 1") == "ok");
    auto report = last_report(p);
    BOOST_TEST(report["notifications"]["failed"] == 1);
    BOOST_TEST(report["notifications"]["failures"][0]["hook"] == "slack");
    BOOST_TEST(!contains(r.err + r.out + report.dump(), "DOWNTOKEN"));
}

BOOST_AUTO_TEST_CASE(
    required_hook_that_fails_fails_a_good_run_with_exit_3_and_keeps_the_migrations) {
    project p("\n[notify.webhook]\nurl = \"" + down_url() +
              "/hook\"\nrequired = true\nretries = 0\n"
              "events = [\"run.finish\"]\n");
    two_migrations(p);
    auto r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 3, r.out << r.err);
    BOOST_TEST(
        contains(r.err, "error: the required notification hook \"webhook\" failed on run.finish"),
        r.err);
    BOOST_TEST(
        contains(r.err,
                 "hint: fix the hook and check it with `moonshift notify test --hook webhook`"),
        r.err);
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001", "002"}),
               "the migrations stay applied");
    auto report = last_report(p);
    BOOST_TEST(report["notifications"]["failures"][0]["required"] == true);
}

BOOST_AUTO_TEST_CASE(required_hook_never_hides_a_failed_migration) {
    project p("\n[notify.webhook]\nurl = \"" + down_url() +
              "/hook\"\nrequired = true\nretries = 0\n");
    p.migration("001_bad.sql", "SELECT nope;\n");
    auto r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 1, r.out << r.err);
    BOOST_TEST(contains(r.err, "column \"nope\" does not exist"), r.err);
}

BOOST_AUTO_TEST_CASE(secrets_are_absent_from_every_output) {
    http_receiver slack, webhook;
    slack.set_default_reply({403, "invalid_token TOK3NSECRET for team TEAM42ID", {}, {}});
    project p("\n[notify.slack]\nwebhook_url = \"" + slack.url() +
              "/services/TEAM42ID/B9/TOK3NSECRET\"\n"
              "\n[notify.webhook]\nurl = \"" +
              webhook.url() +
              "/in?api_key=KEYQUERY99\"\nsecret = \"HMAC-s3cr3t\"\n"
              "\n[notify.console]\n");
    two_migrations(p);
    const std::vector<std::string> secrets = {"TOK3NSECRET", "TEAM42ID", "KEYQUERY99",
                                              "HMAC-s3cr3t"};
    std::string everything;
    for (auto args : {std::vector<std::string>{"up"},
                      {"down"},
                      {"--json", "up"},
                      {"--verbose", "notify", "test"}}) {
        auto r = p.ms(args);
        everything += r.out + r.err;
    }
    everything += p.scalar("SELECT string_agg(report::text, E'\\n') FROM moonshift.runs");
    for (const auto& req : webhook.requests()) everything += req.body;
    BOOST_TEST(contains(everything, "HTTP 403"), "the failure itself is reported");
    for (const auto& s : secrets)
        BOOST_TEST(!contains(everything, s), "the secret " << s << " leaked:\n" << everything);
}

BOOST_AUTO_TEST_CASE(project_hook_reads_the_database_but_db_exec_is_refused_in_phase_hook) {
    project p;
    two_migrations(p);
    moonshift::test::write_file(
        p.dir.path / "hooks" / "audit.lua",
        "return {\n"
        "  ['run.finish'] = function(ev)\n"
        "    print('users table has ' .. db:scalar('SELECT count(*) FROM users') .. ' rows')\n"
        "    db:exec('CREATE TABLE sneaky (id int)')\n"
        "  end,\n"
        "}\n");
    auto r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
    BOOST_TEST(contains(r.out, "users table has 0 rows"), r.out);
    BOOST_TEST(contains(r.err, "db:exec is not allowed in phase \"hook\" (read-only)"), r.err);
    BOOST_TEST(contains(r.err, "hooks/audit.lua:4"), r.err);
    BOOST_TEST(!p.table_exists("sneaky"));
}

BOOST_AUTO_TEST_CASE(unknown_event_in_a_project_hook_stops_the_run_before_anything_is_applied) {
    project p;
    two_migrations(p);
    moonshift::test::write_file(p.dir.path / "hooks" / "audit.lua",
                                "return { ['run.finsh'] = function(ev) end }\n");
    auto before = p.fingerprint();
    auto r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(contains(r.err, "hooks/audit.lua"), r.err);
    BOOST_TEST(contains(r.err, "\"run.finsh\""), r.err);
    BOOST_TEST(p.fingerprint() == before, "nothing was written");
}

BOOST_AUTO_TEST_CASE(console_hook_prints_the_run_and_json_mode_wraps_hook_output) {
    project p("\n[notify.console]\n");
    two_migrations(p);
    auto r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
    BOOST_TEST(contains(r.out, " ok: 2 applied in "), r.out);
    BOOST_TEST(r.out.find(" ok: 2 applied in ") > r.out.find("Applying 002_add_name"),
               "the summary comes last");
    BOOST_TEST(p.ms({"down"}).exit_code == 0);
    auto j = p.ms({"--json", "up"});
    BOOST_TEST(j.exit_code == 0);
    bool wrapped = false;
    std::istringstream lines(j.out);
    for (std::string line; std::getline(lines, line);) {
        auto v = json::parse(line, nullptr, false);
        BOOST_TEST(!v.is_discarded(), "every stdout line is JSON with --json: " << line);
        if (!v.is_discarded() && v.value("event", "") == "hook.output")
            wrapped = v["hook"] == "console";
    }
    BOOST_TEST(wrapped);
}

BOOST_AUTO_TEST_CASE(notify_test_sends_through_each_hook_and_fails_with_exit_3_when_one_fails) {
    http_receiver slack;
    project p("\n[notify.slack]\nwebhook_url = \"" + slack.url() +
              "/x\"\n"
              "\n[notify.webhook]\nurl = \"" +
              down_url() + "/y\"\nretries = 0\n");
    auto only = p.ms({"notify", "test", "--hook", "slack"});
    BOOST_TEST(only.exit_code == 0, only.out << only.err);
    BOOST_TEST(contains(only.out, "ok      slack run.finish"), only.out);
    BOOST_REQUIRE(slack.request_count() == 1u);
    BOOST_TEST(json::parse(slack.requests().at(0).body)["blocks"][0]["text"]["text"] ==
               "✅ moonshift notify test on test: ok (test)");
    BOOST_TEST(!p.table_exists("moonshift.runs"), "a test touches no database");

    auto all = p.ms({"notify", "test"});
    BOOST_TEST(all.exit_code == 3, all.out << all.err);
    BOOST_TEST(contains(all.out, "failed  webhook"), all.out);
    BOOST_TEST(contains(all.err, "1 of 2 notification hook(s) failed the test"), all.err);

    auto unknown = p.ms({"notify", "test", "--hook", "pager"});
    BOOST_TEST(unknown.exit_code == 2);
    BOOST_TEST(contains(unknown.err, "hooks of this environment: slack, webhook"), unknown.err);

    auto list = p.ms({"--json", "notify", "list"});
    BOOST_TEST(list.exit_code == 0);
    BOOST_TEST(last_json(list.out)["hook"] == "webhook");
}

BOOST_AUTO_TEST_CASE(bad_notify_config_is_a_usage_error_naming_the_line) {
    project p(
        "\n[notify.slack]\nwebhook_url = \"http://127.0.0.1:9/x\"\nevents = \"run.finish\"\n");
    auto r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(contains(r.err, "moonshift.toml:10: \"events\" must be an array of strings"), r.err);
}

BOOST_AUTO_TEST_SUITE_END()
