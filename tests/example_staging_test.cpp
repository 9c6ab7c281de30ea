// examples/staging-production, end to end against two real databases and a
// real health endpoint on 127.0.0.1: staging first, promotion with approval,
// verification, and a watch window that rolls back the bad migration.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <thread>

#include "support/receivers.hpp"
#include "support/stages.hpp"

using namespace std::chrono_literals;
using moonshift::test::http_receiver;
using moonshift::test::stages;
namespace fs = std::filesystem;

BOOST_AUTO_TEST_SUITE(example_staging)

BOOST_AUTO_TEST_CASE(the_whole_story_runs_as_the_readme_tells_it) {
    stages s;
    http_receiver app;
    fs::remove_all(s.dir.path / "migrations");
    fs::remove(s.dir.path / "moonshift.toml");
    fs::copy(fs::path(MOONSHIFT_SOURCE_DIR) / "examples/staging-production", s.dir.path,
             fs::copy_options::recursive);
    moonshift::test::env_changes env = {{"STAGING_DATABASE_URL", s.staging.url},
                                        {"PRODUCTION_DATABASE_URL", s.production.url},
                                        {"APP_HEALTH_URL", app.health_url()}};
    auto step = [&](std::vector<std::string> args) {
        auto r = s.ms(args, env);
        BOOST_TEST_INFO(r.out + r.err);
        return r;
    };

    // Staging first (the default environment), up to 003.
    auto staged = step({"up", "--to", "003"});
    BOOST_REQUIRE(staged.exit_code == 0);
    BOOST_TEST((s.applied(s.staging) == std::vector<std::string>{"001", "002", "003"}));

    // Production without approval (no terminal, no --yes): refused.
    auto refused = step({"promote", "--to", "production"});
    BOOST_TEST(refused.exit_code == 3);
    BOOST_TEST(s.applied(s.production).empty());
    // Approved: promoted, verified, watched for a quiet window.
    auto promoted = step({"--yes", "promote", "--to", "production"});
    BOOST_REQUIRE(promoted.exit_code == 0);
    BOOST_TEST(promoted.out.find("Watching production") != std::string::npos);
    BOOST_TEST((s.applied(s.production) == std::vector<std::string>{"001", "002", "003"}));
    BOOST_TEST(s.scalar(s.production,
                        "SELECT count(*) FROM moonshift.migrations WHERE verified_at IS NULL") ==
               "0");

    // 004 in staging, then in production, where the application starts failing.
    BOOST_REQUIRE(step({"up"}).exit_code == 0);
    auto child = s.spawn({"--yes", "promote", "--to", "production"}, env);
    for (int i = 0; i < 300 && s.applied(s.production).size() < 4; ++i)
        std::this_thread::sleep_for(50ms);
    BOOST_REQUIRE(s.applied(s.production).size() == 4u);
    app.set_health_error_rate(0.4);
    auto rolled = child.wait();
    BOOST_TEST(rolled.exit_code == 6, rolled.out + rolled.err);
    BOOST_TEST(rolled.err.find("trigger health fired") != std::string::npos, rolled.err);
    BOOST_TEST((s.applied(s.production) == std::vector<std::string>{"001", "002", "003"}));
    BOOST_TEST(
        s.scalar(s.production,
                 "SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders' "
                 "AND column_name = 'status'") == "0");
    // 004 has no down script: its derived reverse undid it, and nothing needs `repair`.
    BOOST_TEST(s.scalar(s.production,
                        "SELECT report->'rolled_back'->0->>'how' FROM "
                        "moonshift.runs ORDER BY id DESC LIMIT 1") == "derived");
    BOOST_TEST(step({"--env", "production", "status"}).exit_code == 0);

    // History tells the story.
    auto history = step({"--env", "production", "history"});
    BOOST_TEST(history.exit_code == 0);
    BOOST_TEST(history.out.find("rolled_back") != std::string::npos, history.out);
    BOOST_TEST(history.out.find("refused") != std::string::npos, history.out);
}

BOOST_AUTO_TEST_SUITE_END()
