// The built-in hooks end to end through the dispatcher, its Lua runtime and
// the real receivers on 127.0.0.1: the exact Slack and webhook JSON (and the
// signature), the e-mail's recipients, subject and parts, the CI summary and
// annotations, and every failure path — each a warning in the run's report
// that leaves the run alone, unless the hook is required.
#define BOOST_TEST_DYN_LINK
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <map>
#include <optional>

#include "common/error.hpp"
#include "history/history.hpp"
#include "net/http.hpp"
#include "notify/dispatcher.hpp"
#include "support/harness.hpp"
#include "support/receivers.hpp"

using namespace std::chrono_literals;
namespace notify = moonshift::notify;
namespace test = moonshift::test;
using nlohmann::json;
using test::http_receiver;
using test::smtp_options;
using test::smtp_receiver;
using test::test_certificate;

namespace {

const std::string commit_sha = "4f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";

// Sets variables for one test and puts them back afterwards; CI variables
// of the machine running the tests are cleared, so the events are the same
// everywhere.
struct scoped_env {
    std::map<std::string, std::optional<std::string>> saved;
    scoped_env() {
        for (const char* n : {"GITHUB_ACTIONS", "GITHUB_ACTOR", "GITHUB_SHA", "GITHUB_STEP_SUMMARY",
                              "GITLAB_CI", "GITLAB_USER_LOGIN", "CI"})
            set(n, std::nullopt);
    }
    void set(const std::string& name, std::optional<std::string> value) {
        if (!saved.count(name)) {
            const char* old = std::getenv(name.c_str());
            saved[name] = old ? std::optional<std::string>(old) : std::nullopt;
        }
        if (value)
            ::setenv(name.c_str(), value->c_str(), 1);
        else
            ::unsetenv(name.c_str());
    }
    ~scoped_env() {
        for (auto& [n, v] : saved) {
            if (v)
                ::setenv(n.c_str(), v->c_str(), 1);
            else
                ::unsetenv(n.c_str());
        }
    }
};

// A project directory with a git checkout at commit_sha on branch main, a
// moonshift.toml with [env.test] and the given notification settings.
struct hooks {
    scoped_env env;
    test::temp_dir dir;
    std::vector<notify::note> notes;
    std::unique_ptr<notify::dispatcher> d;
    std::string url = "postgresql://127.0.0.1:1/none";

    hooks() {
        test::write_file(dir.path / ".git" / "HEAD", "ref: refs/heads/main\n");
        test::write_file(dir.path / ".git" / "refs" / "heads" / "main", commit_sha + "\n");
    }

    void configure(const std::string& settings, bool connect = false) {
        test::write_file(dir.path / "moonshift.toml",
                         "[env.test]\nurl = \"" + url + "\"\n\n" + settings);
        auto cfg = moonshift::project::load(dir.path / "moonshift.toml", true);
        notify::dispatcher_options o;
        o.cfg = cfg;
        o.env = moonshift::project::select(cfg, "test");
        o.url = url;
        o.connect = connect;
        o.print = [this](const notify::note& n) { notes.push_back(n); };
        d.reset();
        d = std::make_unique<notify::dispatcher>(o);
    }

    void emit(const std::string& name, json data) { d->on_event({name, std::move(data)}); }

    // The events of `moonshift up` applying 001 and 002; returns the report.
    json run_ok() {
        start();
        applied("001", "create_users", 12);
        applied("002", "add_slug", 30);
        return finish("ok", 57);
    }

    // 001 applied, 002 failing at migrations/002_add_slug.sql:3:5.
    json run_failed() {
        start();
        applied("001", "create_users", 12);
        emit("migration.start", migration("002", "add_slug"));
        auto m = migration("002", "add_slug");
        m["duration_ms"] = 3;
        m["error"] = {{"message", "column \"slug\" does not exist"},
                      {"sqlstate", "42703"},
                      {"detail", ""},
                      {"hint", ""},
                      {"file", "migrations/002_add_slug.sql"},
                      {"line", 3},
                      {"column", 5}};
        emit("migration.failed", m);
        return finish("failed", 21);
    }

    void start() {
        emit("run.start", {{"run", 7},
                           {"command", "up"},
                           {"environment", "test"},
                           {"actor", moonshift::history::current_actor()}});
        emit("run.planned", {{"run", 7}, {"pending", 2}, {"applied", 0}, {"missing", 0}});
    }
    static json migration(const std::string& v, const std::string& n) {
        return {{"version", v},
                {"name", n},
                {"checksum", "c" + v},
                {"form", "sql"},
                {"file", "migrations/" + v + "_" + n + ".sql"}};
    }
    void applied(const std::string& v, const std::string& n, long long ms) {
        emit("migration.start", migration(v, n));
        auto m = migration(v, n);
        m["duration_ms"] = ms;
        emit("migration.applied", m);
    }
    json finish(const std::string& outcome, long long ms) {
        json report = {
            {"command", "up"}, {"environment", "test"}, {"outcome", outcome}, {"duration_ms", ms}};
        emit("run.finish",
             {{"run", 7}, {"outcome", outcome}, {"duration_ms", ms}, {"report", report}});
        d->close_run(outcome, report);
        return report;
    }

    std::string printed() const {
        std::string out;
        for (const auto& n : notes) out += n.message + "\n";
        return out;
    }
};

std::string host_name() {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    return host;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

void check_no_secret(const std::string& where, const std::string& text,
                     const std::vector<std::string>& secrets) {
    for (const auto& s : secrets)
        BOOST_TEST(!contains(text, s), where << " shows the secret \"" << s << "\":\n" << text);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(notify_hooks)

BOOST_AUTO_TEST_CASE(slack_receives_an_exact_block_kit_message) {
    http_receiver slack;
    hooks h;
    h.configure("[notify.slack]\nwebhook_url = \"" + slack.url() +
                "/services/T000/B000/SLACKTOKEN\"\n"
                "channel = \"#deploys\"\n");
    auto report = h.run_ok();

    BOOST_REQUIRE(slack.wait_for(1, 1s));
    BOOST_TEST(slack.request_count() == 1u, "one message per run");
    auto got = slack.requests().at(0);
    BOOST_TEST(got.path == "/services/T000/B000/SLACKTOKEN");
    BOOST_TEST(got.header("content-type") == "application/json");
    std::string actor = moonshift::history::current_actor();
    json expected = {
        {"channel", "#deploys"},
        {"text", "✅ moonshift up on test: ok — 2 applied in 57 ms"},
        {"blocks",
         {{{"type", "header"},
           {"text",
            {{"type", "plain_text"}, {"text", "✅ moonshift up on test: ok"}, {"emoji", true}}}},
          {{"type", "section"},
           {"fields",
            {{{"type", "mrkdwn"}, {"text", "*Environment*\ntest"}},
             {{"type", "mrkdwn"}, {"text", "*Outcome*\nok — 2 applied in 57 ms"}},
             {{"type", "mrkdwn"}, {"text", "*Run*\n#7 · up"}},
             {{"type", "mrkdwn"}, {"text", "*By*\n" + actor}}}}},
          {{"type", "section"},
           {"text",
            {{"type", "mrkdwn"},
             {"text",
              "*Migrations*\n• `001_create_users` applied in 12 ms\n• `002_add_slug` applied in 30 "
              "ms"}}}},
          {{"type", "context"},
           {"elements",
            {{{"type", "mrkdwn"}, {"text", "commit `4f2a9c1` on main · host " + host_name()}}}}}}}};
    auto body = json::parse(got.body);
    BOOST_TEST(body == expected, "Slack got:\n"
                                     << body.dump(2) << "\nexpected:\n"
                                     << expected.dump(2));
    BOOST_TEST(report["notifications"]["delivered"] == 1);
    BOOST_TEST(report["notifications"]["failed"] == 0);
}

BOOST_AUTO_TEST_CASE(slack_message_of_a_failed_run_shows_the_error_at_file_and_line) {
    http_receiver slack;
    hooks h;
    h.configure("[notify.slack]\nwebhook_url = \"" + slack.url() +
                "/services/T/B/X\"\nmention = \"<!here>\"\n");
    h.run_failed();
    BOOST_REQUIRE(slack.wait_for(1, 1s));
    auto body = json::parse(slack.requests().at(0).body);
    BOOST_TEST(body["text"] ==
               "<!here> ❌ moonshift up on test: failed — 1 applied, 1 failed in 21 ms");
    BOOST_TEST(
        body["blocks"][2]["text"]["text"] ==
        "*Migrations*\n• `001_create_users` applied in 12 ms\n• `002_add_slug` failed in 3 ms");
    BOOST_TEST(
        body["blocks"][3]["text"]["text"] ==
        "*Error* in `migrations/002_add_slug.sql:3`\n```column \"slug\" does not exist (42703)```");
    BOOST_TEST(!body.contains("channel"));
}

BOOST_AUTO_TEST_CASE(slack_only_failures_stays_quiet_after_a_good_run) {
    http_receiver slack;
    hooks h;
    h.configure("[notify.slack]\nwebhook_url = \"" + slack.url() + "/x\"\nonly_failures = true\n");
    h.run_ok();
    BOOST_TEST(slack.request_count() == 0u);
    h.run_failed();
    BOOST_TEST(slack.wait_for(1, 1s));
}

BOOST_AUTO_TEST_CASE(webhook_posts_every_event_signed_with_hmac_of_the_body) {
    http_receiver receiver;
    hooks h;
    h.configure("[notify.webhook]\nurl = \"" + receiver.url() +
                "/moonshift?key=QUERYKEY\"\n"
                "secret = \"whsec-0123456789\"\nheaders = { X-Team = \"db\" }\n");
    h.run_ok();
    BOOST_REQUIRE(receiver.wait_for(7, 1s));
    auto requests = receiver.requests();
    std::vector<std::string> names;
    for (const auto& r : requests) names.push_back(r.header("x-moonshift-event"));
    std::vector<std::string> expected_names = {
        "run.start",       "run.planned",       "migration.start", "migration.applied",
        "migration.start", "migration.applied", "run.finish"};
    BOOST_TEST(names == expected_names, boost::test_tools::per_element());

    for (const auto& r : requests) {
        BOOST_TEST(r.header("x-moonshift-signature") ==
                       "sha256=" + moonshift::net::hmac_sha256_hex("whsec-0123456789", r.body),
                   "the signature is the HMAC-SHA256 of the exact body");
        auto body = json::parse(r.body);
        BOOST_TEST(r.header("x-moonshift-timestamp") ==
                       std::to_string(body["delivery"]["timestamp"].get<long long>()),
                   "the timestamp header repeats the signed one");
        BOOST_TEST(r.header("x-moonshift-delivery") == body["id"].get<std::string>());
        BOOST_TEST(r.header("x-team") == "db");
        BOOST_TEST(!body.contains("settings"), "the hook's settings are not sent");
        BOOST_TEST(!contains(r.body, "whsec-0123456789"));
    }

    auto finish = json::parse(requests.back().body);
    // time, started_at and the delivery's timestamp vary; everything else is exact.
    BOOST_TEST(finish["time"].is_string());
    BOOST_TEST(finish["run"]["started_at"].is_string());
    finish.erase("time");
    finish["run"].erase("started_at");
    finish.erase("delivery");
    // The id ends in 8 random hex digits of the process (unique across database resets).
    auto id = finish["id"].get<std::string>();
    BOOST_TEST(id.rfind("test-7-7-", 0) == 0, id);
    BOOST_TEST(id.size() == std::string("test-7-7-").size() + 8, id);
    finish["id"] = "test-7-7";
    json expected = {
        {"schema", 1},
        {"id", "test-7-7"},
        {"event", "run.finish"},
        {"run",
         {{"id", 7},
          {"command", "up"},
          {"environment", "test"},
          {"actor", moonshift::history::current_actor()},
          {"user", moonshift::history::current_actor()},
          {"ci", nullptr},
          {"commit", commit_sha},
          {"branch", "main"},
          {"commit_url", nullptr},
          {"project_dir", ""},
          {"host", host_name()},
          {"test", false}}},
        {"migration", nullptr},
        {"migrations",
         {{{"version", "001"},
           {"name", "create_users"},
           {"checksum", "c001"},
           {"form", "sql"},
           {"file", "migrations/001_create_users.sql"},
           {"direction", "up"},
           {"status", "applied"},
           {"duration_ms", 12}},
          {{"version", "002"},
           {"name", "add_slug"},
           {"checksum", "c002"},
           {"form", "sql"},
           {"file", "migrations/002_add_slug.sql"},
           {"direction", "up"},
           {"status", "applied"},
           {"duration_ms", 30}}}},
        {"counts",
         {{"planned", 2}, {"applied", 2}, {"failed", 0}, {"reverted", 0}, {"pending", 0}}},
        {"error", nullptr},
        {"outcome", "ok"},
        {"duration_ms", 57},
        {"details",
         {{"report",
           {{"command", "up"}, {"environment", "test"}, {"outcome", "ok"}, {"duration_ms", 57}}}}}};
    BOOST_TEST(finish == expected, "run.finish got:\n"
                                       << finish.dump(2) << "\nexpected:\n"
                                       << expected.dump(2));
}

BOOST_AUTO_TEST_CASE(webhook_events_filter_and_failed_migration_error) {
    http_receiver receiver;
    hooks h;
    h.configure("[notify.webhook]\nurl = \"" + receiver.url() +
                "/in\"\nevents = [\"migration.failed\"]\n");
    h.run_failed();
    BOOST_REQUIRE(receiver.wait_for(1, 1s));
    BOOST_TEST(receiver.request_count() == 1u);
    auto body = json::parse(receiver.requests().at(0).body);
    BOOST_TEST(body["event"] == "migration.failed");
    BOOST_TEST(receiver.requests().at(0).header("x-moonshift-signature").empty(),
               "no secret, no signature");
    json error = {{"message", "column \"slug\" does not exist"},
                  {"sqlstate", "42703"},
                  {"file", "migrations/002_add_slug.sql"},
                  {"line", 3},
                  {"column", 5}};
    BOOST_TEST(body["error"] == error, body["error"].dump());
    BOOST_TEST(body["migration"]["version"] == "002");
    BOOST_TEST(body["migration"]["status"] == "failed");
    BOOST_TEST(body["counts"]["failed"] == 1);
    BOOST_TEST(body["counts"]["pending"] == 0);
}

BOOST_AUTO_TEST_CASE(email_goes_to_every_recipient_with_text_and_html_over_starttls_with_auth) {
    smtp_options so;
    so.user = "mailer";
    so.password = "Sm7p-Pa55";
    so.starttls = true;
    smtp_receiver smtp(so);
    hooks h;
    h.configure("[notify.email]\nsmtp_url = \"" + smtp.url() + "\"\nstarttls = true\nca_file = \"" +
                smtp.ca_file() +
                "\"\nuser = \"mailer\"\npassword = \"Sm7p-Pa55\"\nfrom = \"moonshift "
                "<deploys@example.com>\"\n"
                "to = [\"team@example.com\", \"oncall@example.com\"]\ncc = \"lead@example.com\"\n");
    auto report = h.run_failed();
    BOOST_REQUIRE(smtp.wait_for(1, 2s));
    auto mail = smtp.messages().at(0);
    std::vector<std::string> rcpt = {"team@example.com", "oncall@example.com", "lead@example.com"};
    BOOST_TEST(mail.recipients == rcpt, boost::test_tools::per_element());
    BOOST_TEST(mail.from == "deploys@example.com");
    BOOST_TEST(mail.tls, "delivered after STARTTLS");
    BOOST_TEST(mail.auth_user == "mailer");
    BOOST_TEST(mail.subject ==
               "[moonshift] test: up FAILED — column \"slug\" does not exist (42703)");
    BOOST_TEST(mail.header("to") == "team@example.com, oncall@example.com");
    BOOST_TEST(mail.header("cc") == "lead@example.com");

    auto text = mail.body_part("text/plain");
    std::string actor = moonshift::history::current_actor();
    auto pad = [](std::string s) {
        return s + std::string(s.size() < 12 ? 13 - s.size() : 1, ' ');
    };
    auto row = [](const char* name, const char* status, const char* ms) {
        char line[200];
        std::snprintf(line, sizeof line, "  %-40s %-9s %s\n", name, status, ms);
        return std::string(line);
    };
    std::string expected_text =
        "moonshift up on test: failed\n\n" + pad("Environment:") + "test\n" + pad("Outcome:") +
        "failed — 1 applied, 1 failed in 21 ms\n" + pad("Run:") + "#7 (up)\n" + pad("By:") + actor +
        "\n" + pad("Commit:") + "4f2a9c1d8e7b (main)\n" + pad("Host:") + host_name() +
        "\n\nMigrations:\n" + row("001_create_users", "applied", "12 ms") +
        row("002_add_slug", "failed", "3 ms") +
        "\nError in migrations/002_add_slug.sql:3:\n  column \"slug\" does not exist (42703)\n" +
        "\n-- \nSent by moonshift's email hook ([notify.email] in moonshift.toml).\n";
    BOOST_TEST(text == expected_text);
    auto html = mail.body_part("text/html");
    BOOST_TEST(contains(html, "<h2 style=\"color: #cf222e\">moonshift up on test: failed</h2>"),
               html);
    BOOST_TEST(
        contains(html, "<tr><td><code>002_add_slug</code></td><td>failed</td><td>3 ms</td></tr>"),
        html);
    BOOST_TEST(contains(html, "<h3>Error in <code>migrations/002_add_slug.sql:3</code></h3>"),
               html);
    BOOST_TEST(contains(html, "<pre>column &quot;slug&quot; does not exist (42703)</pre>"), html);
    BOOST_TEST(report["notifications"]["delivered"] == 1);
}

BOOST_AUTO_TEST_CASE(console_prints_a_summary_with_who_commit_and_error) {
    hooks h;
    h.configure("[notify.console]\n");
    h.run_failed();
    std::string actor = moonshift::history::current_actor();
    BOOST_TEST(h.printed() ==
               "✗ run 7 failed: 1 applied, 1 failed in 21 ms · by " + actor +
                   " · commit 4f2a9c1 (main)\n"
                   "  migrations/002_add_slug.sql:3: column \"slug\" does not exist (42703)\n");
}

BOOST_AUTO_TEST_CASE(ci_hook_annotates_the_failed_file_and_writes_the_job_summary) {
    hooks h;
    auto summary = h.dir.path / "summary.md";
    h.env.set("GITHUB_ACTIONS", "true");
    h.env.set("GITHUB_STEP_SUMMARY", summary.string());
    h.configure("[notify.ci]\n");
    h.run_failed();
    BOOST_TEST(h.printed() ==
               "::error file=migrations/002_add_slug.sql,line=3,col=5,title=moonshift%3A "
               "002_add_slug failed on "
               "test::column \"slug\" does not exist (42703)\n");
    std::string md = test::read_file(summary);
    std::string actor = moonshift::history::current_actor();
    BOOST_TEST(
        md ==
        "### ❌ moonshift up on test: failed\n\n| Run | By | Commit | Duration "
        "|\n|---|---|---|---|\n"
        "| #7 | " +
            actor +
            " | `4f2a9c1` (main) | 21 ms |\n\n"
            "| Migration | Status | Duration |\n|---|---|---|\n"
            "| `001_create_users` | applied | 12 ms |\n| `002_add_slug` | failed | 3 ms |\n\n"
            "**Error** in `migrations/002_add_slug.sql:3`:\n\n```\ncolumn \"slug\" does not exist "
            "(42703)\n```\n\n");
}

BOOST_AUTO_TEST_CASE(ci_hook_is_silent_outside_github_actions) {
    hooks h;
    h.configure("[notify.ci]\n");
    auto report = h.run_failed();
    BOOST_TEST(h.printed() == "");
    BOOST_TEST(report["notifications"]["failed"] == 0);
}

BOOST_AUTO_TEST_CASE(receiver_down_is_a_warning_in_the_report) {
    hooks h;
    std::string url =
        "http://127.0.0.1:" + std::to_string(test::unused_port()) + "/services/T/B/DOWNTOKEN";
    h.configure("[notify.slack]\nwebhook_url = \"" + url + "\"\nretries = 1\nbackoff = \"10ms\"\n");
    json report;
    BOOST_CHECK_NO_THROW(report = h.run_ok());
    auto f = report["notifications"]["failures"];
    BOOST_REQUIRE(f.size() == 1u);
    BOOST_TEST(f[0]["hook"] == "slack");
    BOOST_TEST(f[0]["event"] == "run.finish");
    BOOST_TEST(f[0]["required"] == false);
    std::string message = f[0]["message"];
    BOOST_TEST(contains(message, "cannot connect (2 attempts)"), message);
    BOOST_TEST(contains(message, "http://127.0.0.1:"), message);
    BOOST_TEST(contains(h.printed(), "notification hook \"slack\" failed on run.finish"),
               h.printed());
    BOOST_TEST(contains(h.printed(), "the run is not affected"), h.printed());
    check_no_secret("the report", report.dump(), {"DOWNTOKEN", "/services/T/B"});
    check_no_secret("the output", h.printed(), {"DOWNTOKEN", "/services/T/B"});
}

BOOST_AUTO_TEST_CASE(slow_receiver_times_out_as_a_warning) {
    http_receiver slack;
    slack.set_delay(2s);
    hooks h;
    h.configure("[notify.slack]\nwebhook_url = \"" + slack.url() +
                "/x\"\ntimeout = \"150ms\"\nretries = 0\n");
    auto t0 = std::chrono::steady_clock::now();
    auto report = h.run_ok();
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < 1500ms), "the timeout bounds the wait");
    std::string message = report["notifications"]["failures"][0]["message"];
    BOOST_TEST(contains(message, "no answer within 150 ms"), message);
}

BOOST_AUTO_TEST_CASE(server_error_then_success_is_delivered_by_the_retry) {
    http_receiver slack;
    slack.respond_with({500, 200});
    hooks h;
    h.configure("[notify.slack]\nwebhook_url = \"" + slack.url() + "/x\"\nbackoff = \"10ms\"\n");
    auto report = h.run_ok();
    BOOST_TEST(slack.request_count() == 2u);
    BOOST_TEST(report["notifications"]["delivered"] == 1);
    BOOST_TEST(report["notifications"]["failed"] == 0);
    BOOST_TEST(h.printed() == "");
}

BOOST_AUTO_TEST_CASE(untrusted_tls_certificate_is_a_clear_failure) {
    http_receiver slack(std::make_shared<test_certificate>());
    hooks h;
    h.configure("[notify.slack]\nwebhook_url = \"" + slack.url() + "/x\"\n");
    auto report = h.run_ok();
    std::string message = report["notifications"]["failures"][0]["message"];
    BOOST_TEST(contains(message, "TLS failed"), message);
    BOOST_TEST(slack.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(wrong_smtp_credentials_are_a_clear_failure_without_the_password) {
    smtp_options so;
    so.user = "mailer";
    so.password = "right-password";
    smtp_receiver smtp(so);
    hooks h;
    h.configure("[notify.email]\nsmtp_url = \"" + smtp.url() +
                "\"\nuser = \"mailer\"\npassword = \"Wr0ng-Pa55\"\n"
                "from = \"deploys@example.com\"\nto = \"team@example.com\"\n");
    auto report = h.run_ok();
    std::string message = report["notifications"]["failures"][0]["message"];
    BOOST_TEST(contains(message, "the server refused the credentials"), message);
    BOOST_TEST(smtp.messages().empty());
    check_no_secret("the report", report.dump(), {"Wr0ng-Pa55", "mailer"});
    check_no_secret("the output", h.printed(), {"Wr0ng-Pa55", "mailer"});
}

BOOST_AUTO_TEST_CASE(required_hook_failure_fails_a_good_run_but_not_a_failed_one) {
    hooks h;
    std::string url = "http://127.0.0.1:" + std::to_string(test::unused_port()) + "/hook";
    h.configure("[notify.webhook]\nurl = \"" + url +
                "\"\nrequired = true\nretries = 0\nevents = [\"run.finish\"]\n");
    try {
        h.run_ok();
        BOOST_FAIL("a required hook that failed must fail a good run");
    } catch (const moonshift::error& e) {
        BOOST_TEST(static_cast<int>(e.code()) == 3);
        BOOST_TEST(
            contains(e.what(), "the required notification hook \"webhook\" failed on run.finish"),
            e.what());
        BOOST_TEST(contains(e.what(), "stay applied"), e.what());
        BOOST_TEST(contains(e.hint(), "moonshift notify test --hook webhook"), e.hint());
    }
    json report;
    BOOST_CHECK_NO_THROW(report = h.run_failed());
    BOOST_TEST(report["notifications"]["failures"][0]["required"] == true);
}

BOOST_AUTO_TEST_CASE(secrets_never_reach_output_report_or_other_receivers) {
    http_receiver good, bad;
    bad.set_default_reply({401, "invalid token SLACKSECRET for TEAMKEY", {}, {}});
    hooks h;
    h.configure("[notify.slack]\nwebhook_url = \"" + bad.url() +
                "/services/TEAMKEY/B1/SLACKSECRET\"\n\n"
                "[notify.webhook]\nurl = \"" +
                good.url() +
                "/in?token=QUERYSECRET\"\nsecret = \"HMACSECRET\"\n\n"
                "[notify.console]\n");
    auto report = h.run_failed();
    BOOST_TEST(report["notifications"]["failed"] == 1);
    std::string message = report["notifications"]["failures"][0]["message"];
    BOOST_TEST(contains(message, "HTTP 401"), message);
    std::vector<std::string> secrets = {"SLACKSECRET", "TEAMKEY", "QUERYSECRET", "HMACSECRET"};
    check_no_secret("the report", report.dump(), secrets);
    check_no_secret("the output", h.printed(), secrets);
    for (const auto& r : good.requests()) check_no_secret("the webhook body", r.body, secrets);
}

BOOST_AUTO_TEST_CASE(unknown_event_in_a_project_hook_is_a_load_error_naming_file_and_event) {
    hooks h;
    test::write_file(h.dir.path / "hooks" / "audit.lua",
                     "return {\n  ['run.finsh'] = function(ev) end,\n}\n");
    try {
        h.configure("");
        BOOST_FAIL("a handler named after no event must not load");
    } catch (const moonshift::error& e) {
        BOOST_TEST(static_cast<int>(e.code()) == 2);
        BOOST_TEST(contains(e.what(), "hooks/audit.lua"), e.what());
        BOOST_TEST(contains(e.what(), "\"run.finsh\""), e.what());
        BOOST_TEST(contains(e.what(), "did you mean \"run.finish\""), e.what());
    }
}

BOOST_AUTO_TEST_CASE(unknown_event_in_config_and_missing_handler_are_errors_naming_the_line) {
    hooks h;
    try {
        h.configure("[notify.console]\nevents = [\"run.finished\"]\n");
        BOOST_FAIL("an unknown event name must be refused");
    } catch (const moonshift::error& e) {
        BOOST_TEST(
            contains(e.what(),
                     "moonshift.toml:5 ([notify.console] events): unknown event \"run.finished\""),
            e.what());
    }
    try {
        h.configure("[notify.console]\nevents = [\"migration.applied\"]\n");
        BOOST_FAIL("an event the hook has no handler for must be refused");
    } catch (const moonshift::error& e) {
        BOOST_TEST(contains(e.what(), "has no handler for \"migration.applied\""), e.what());
        BOOST_TEST(contains(e.hint(), "run.finish"), e.hint());
    }
    try {
        h.configure("[notify.pager]\nurl = \"x\"\n");
        BOOST_FAIL("a hook without code must be refused");
    } catch (const moonshift::error& e) {
        BOOST_TEST(contains(e.what(), "there is no hook \"pager\""), e.what());
    }
}

BOOST_AUTO_TEST_CASE(environment_overrides_and_disables_hooks) {
    http_receiver slack;
    hooks h;
    h.configure("[notify.slack]\nwebhook_url = \"" + slack.url() +
                "/x\"\nchannel = \"#all\"\n\n"
                "[notify.console]\n\n"
                "[env.test.notify.slack]\nchannel = \"#test-env\"\n\n"
                "[env.test.notify.console]\nenabled = false\n");
    auto names = h.d->hooks();
    BOOST_REQUIRE(names.size() == 1u);
    BOOST_TEST(names[0].name == "slack");
    h.run_ok();
    BOOST_REQUIRE(slack.wait_for(1, 1s));
    BOOST_TEST(json::parse(slack.requests().at(0).body)["channel"] == "#test-env");
}

BOOST_AUTO_TEST_CASE(settings_interpolate_variables_and_a_missing_one_names_the_key) {
    http_receiver slack;
    hooks h;
    h.env.set("NOTIFY_TEST_SLACK_URL", slack.url() + "/from-env");
    h.configure("[notify.slack]\nwebhook_url = \"${NOTIFY_TEST_SLACK_URL}\"\n");
    h.run_ok();
    BOOST_REQUIRE(slack.wait_for(1, 1s));
    BOOST_TEST(slack.requests().at(0).path == "/from-env");
    h.env.set("NOTIFY_TEST_SLACK_URL", std::nullopt);
    try {
        h.configure("[notify.slack]\nwebhook_url = \"${NOTIFY_TEST_SLACK_URL}\"\n");
        BOOST_FAIL("a missing variable must be an error");
    } catch (const moonshift::error& e) {
        BOOST_TEST(contains(e.what(), "moonshift.toml:5 ([notify.slack] webhook_url)"), e.what());
        BOOST_TEST(contains(e.what(), "NOTIFY_TEST_SLACK_URL is not set"), e.what());
    }
}

BOOST_AUTO_TEST_CASE(project_hook_replaces_a_builtin_and_gets_its_settings) {
    http_receiver receiver;
    hooks h;
    test::write_file(h.dir.path / "hooks" / "slack.lua",
                     "return {\n"
                     "  ['migration.applied'] = function(ev, ctx)\n"
                     "    http.post(ev.settings.webhook_url, { text = ev.migration.name .. ' on ' "
                     ".. ctx.env })\n"
                     "  end,\n"
                     "}\n");
    h.configure("[notify.slack]\nwebhook_url = \"" + receiver.url() + "/mine\"\n");
    h.run_ok();
    BOOST_REQUIRE(receiver.wait_for(2, 1s));
    BOOST_TEST(json::parse(receiver.requests().at(0).body)["text"] == "create_users on test");
    BOOST_TEST(json::parse(receiver.requests().at(1).body)["text"] == "add_slug on test");
}

BOOST_AUTO_TEST_CASE(notify_test_sends_one_made_up_event_per_hook) {
    http_receiver slack, webhook;
    hooks h;
    h.configure("[notify.slack]\nwebhook_url = \"" + slack.url() +
                "/x\"\n\n[notify.webhook]\nurl = \"" + webhook.url() +
                "/y\"\nevents = [\"migration.failed\"]\n");
    auto results = h.d->send_test();
    BOOST_REQUIRE(results.size() == 2u);
    for (const auto& r : results) BOOST_TEST(r.ok, r.hook << ": " << r.message);
    BOOST_TEST(results[0].event == "run.finish");
    BOOST_TEST(results[1].event == "migration.failed");
    auto body = json::parse(slack.requests().at(0).body);
    BOOST_TEST(body["blocks"][0]["text"]["text"] == "✅ moonshift notify test on test: ok (test)");
    auto event = json::parse(webhook.requests().at(0).body);
    BOOST_TEST(event["run"]["test"] == true);
    BOOST_TEST(event["error"]["file"] == "migrations/001_example.sql");
    BOOST_CHECK_THROW(h.d->send_test("nope"), moonshift::error);
}

BOOST_AUTO_TEST_CASE(a_hook_that_raises_is_reported_with_its_file_and_line) {
    hooks h;
    test::write_file(h.dir.path / "hooks" / "broken.lua",
                     "return {\n  ['run.finish'] = function(ev)\n    local x = nil\n    return "
                     "x.y\n  end,\n}\n");
    h.configure("");
    auto report = h.run_ok();
    std::string message = report["notifications"]["failures"][0]["message"];
    BOOST_TEST(contains(message, "hooks/broken.lua:4:"), message);
}

BOOST_AUTO_TEST_SUITE_END()
