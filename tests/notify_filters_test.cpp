// Which runs a hook hears about, and what the incident messages say (issue
// 13): a rolled-back run's Slack message, e-mail and console line say why in
// their first line; `on = [...]` picks runs by outcome or by what they did
// ("Slack on apply, e-mail on every rollback"); a run that changed nothing
// reaches no hook unless it asks (`unchanged = true`, `on = ["always"]`);
// `notify test` says when nothing was sent. Real receivers on 127.0.0.1.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "support/project.hpp"
#include "support/receivers.hpp"
#include "support/stages.hpp"

using namespace std::chrono_literals;
using moonshift::test::http_receiver;
using moonshift::test::project;
using moonshift::test::smtp_receiver;
using moonshift::test::stages;
using nlohmann::json;

namespace {

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::string email_section(const smtp_receiver& smtp, const std::string& more) {
    return "smtp_url = \"" + smtp.url() +
           "\"\nfrom = \"moonshift <deploys@example.com>\"\nto = \"oncall@example.com\"\n" + more;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(notify_filters)

BOOST_AUTO_TEST_CASE(a_rollback_says_why_first_and_on_routes_apply_to_slack_rollback_to_email) {
    http_receiver slack;
    smtp_receiver smtp;
    stages s(
        "watch = { seconds = 5, every = 1 }\n[env.production.triggers.failed_jobs]\n"
        "kind = \"sql\"\nquery = \"SELECT count(*) FROM failed_jobs\"\nmax = 0\n",
        "[notify.slack]\nwebhook_url = \"" + slack.url() + "/services/T1/B1/X\"\n" +
            "on = [\"applied\"]\n\n[notify.email]\n" +
            email_section(smtp, "on = [\"rollback\"]\n") + "\n[notify.console]\n");
    s.migration("001_jobs.sql", "CREATE TABLE failed_jobs (id int);\n");
    s.migration("001_jobs.down.sql", "DROP TABLE failed_jobs;\n");
    s.migration("002_bad.sql", "INSERT INTO failed_jobs VALUES (1);\n");
    s.migration("002_bad.down.sql", "DELETE FROM failed_jobs;\n");
    auto r = s.ms({"--env", "production", "up"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 6);
    const std::string why = "trigger failed_jobs fired: failed_jobs returned 1 (max 0)";

    // Slack (on = applied: the run applied two before it rolled them back).
    BOOST_REQUIRE(slack.request_count() == 1u);
    auto message = json::parse(slack.requests().at(0).body);
    std::string header = message["blocks"][0]["text"]["text"];
    BOOST_TEST(has(header, "moonshift up on production: rolled_back — " + why), header);
    BOOST_TEST(has(message["text"].get<std::string>(), why));

    // E-mail (on = rollback): the subject says why.
    BOOST_REQUIRE(smtp.wait_for(1, 5s));
    auto mail = smtp.messages().at(0);
    BOOST_TEST(has(mail.subject, "[moonshift] production: up ROLLED_BACK — " + why), mail.subject);

    // The console line: outcome and reason on one line.
    BOOST_TEST(has(r.out, "rolled_back: 2 applied, 2 reverted"), r.out);
    BOOST_TEST(has(r.out, "— " + why), r.out);

    // The run's report records who was told what.
    auto report = json::parse(
        s.scalar(s.production, "SELECT report::text FROM moonshift.runs ORDER BY id DESC LIMIT 1"));
    BOOST_TEST(report["notifications"]["hooks"]["email"]["delivered"] == 1);
    BOOST_TEST(report["notifications"]["hooks"]["slack"]["delivered"] == 1);

    // A manual down of the kept table: e-mail (a rollback), no Slack (nothing applied).
    s.write_config("", "[notify.slack]\nwebhook_url = \"" + slack.url() +
                           "/services/T1/B1/X\"\non = [\"applied\"]\n\n[notify.email]\n" +
                           email_section(smtp, "on = [\"rollback\"]\n"));
    s.migration("002_bad.sql", "SELECT 1;\n");
    s.migration("002_bad.down.sql", "SELECT 1;\n");
    auto up = s.ms({"--env", "production", "up"});
    BOOST_TEST(up.exit_code == 0, up.out << up.err);
    BOOST_TEST(slack.request_count() == 2u);  // applied
    auto down = s.ms({"--env", "production", "down", "--steps", "1"});
    BOOST_TEST(down.exit_code == 0, down.out << down.err);
    BOOST_REQUIRE(smtp.wait_for(2, 5s));
    BOOST_TEST(has(smtp.messages().at(1).subject, "[moonshift] production: down ok"),
               smtp.messages().at(1).subject);
    BOOST_TEST(slack.request_count() == 2u, "a down applies nothing: no Slack");
}

BOOST_AUTO_TEST_CASE(a_run_that_changed_nothing_reaches_only_hooks_that_ask) {
    http_receiver quiet, loud;
    project p("\n[notify.quiet]\nhook = \"webhook\"\nurl = \"" + quiet.url() +
              "/q\"\n\n[notify.loud]\nhook = \"webhook\"\nurl = \"" + loud.url() +
              "/l\"\nunchanged = true\n");
    p.migration("001_a.sql", "CREATE TABLE a (id int);\n");
    auto first = p.ms({"up"});
    BOOST_TEST(first.exit_code == 0, first.out << first.err);
    auto sent_quiet = quiet.request_count(), sent_loud = loud.request_count();
    BOOST_TEST(sent_quiet >= 4u, "run.start, run.planned, migration.*, run.finish");
    BOOST_TEST(sent_loud == sent_quiet);

    auto noop = p.ms({"up"});
    BOOST_TEST(noop.exit_code == 0, noop.out << noop.err);
    BOOST_TEST(quiet.request_count() == sent_quiet, "a no-op up posts nothing by default");
    BOOST_TEST(loud.request_count() > sent_loud, "unchanged = true hears about it");
    std::string last = loud.requests().back().body;
    BOOST_TEST(json::parse(last)["event"] == "run.finish");
    auto report =
        json::parse(p.scalar("SELECT report::text FROM moonshift.runs ORDER BY id DESC LIMIT 1"));
    BOOST_TEST(report["notifications"]["hooks"]["quiet"]["delivered"] == 0);
}

BOOST_AUTO_TEST_CASE(notify_test_says_when_nothing_was_sent) {
    smtp_receiver smtp;
    http_receiver slack;
    project p("\n[notify.email]\n" + email_section(smtp, "only_failures = true\n") +
              "\n[notify.slack]\nwebhook_url = \"" + slack.url() + "/x\"\non = [\"rollback\"]\n");
    auto r = p.ms({"notify", "test"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(has(r.out, "skipped email run.finish: only_failures = true — nothing was sent"));
    BOOST_TEST(
        has(r.out, "skipped slack run.finish: filtered: on = [\"rollback\"] — nothing was sent"));
    BOOST_TEST(!has(r.out, "ok      email"));
    BOOST_TEST(smtp.messages().empty());
    BOOST_TEST(slack.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(bad_on_values_are_usage_errors_naming_the_line) {
    project p("\n[notify.slack]\nwebhook_url = \"http://127.0.0.1:9/x\"\non = [\"rollbak\"]\n");
    p.migration("001_a.sql", "CREATE TABLE a (id int);\n");
    auto r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(has(r.err, "unknown run or event \"rollbak\""), r.err);
    BOOST_TEST(has(r.err, "moonshift.toml:"), r.err);
    BOOST_TEST(!p.table_exists("a"));

    project q(
        "\n[notify.slack]\nwebhook_url = \"http://127.0.0.1:9/x\"\non = [\"failure\"]\n"
        "events = [\"run.finish\"]\n");
    auto both = q.ms({"up"});
    BOOST_TEST(both.exit_code == 2, both.out << both.err);
    BOOST_TEST(has(both.err, "has both `events` and `on`"), both.err);
}

BOOST_AUTO_TEST_SUITE_END()
