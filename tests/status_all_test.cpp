// `moonshift status --all`: every environment of moonshift.toml side by side, read only:
// head, applied, unverified, pending, last run; an environment that cannot be read is named
// (its password never), and the exit code says the worst of them.
#include <boost/test/unit_test.hpp>

#include "support/stages.hpp"

using moonshift::test::json_lines;
using moonshift::test::stages;

namespace {

bool has(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

nlohmann::json env_named(const nlohmann::json& all, const std::string& name) {
    for (const auto& e : all["environments"])
        if (e["environment"] == name) return e;
    return nullptr;
}

// Staging at 002 (002 not verified yet), production at 001 with 002 pending.
struct two_stages : stages {
    two_stages() : stages("") {
        migration("001_users.sql", "CREATE TABLE users (id int PRIMARY KEY);\n");
        BOOST_REQUIRE(ms({"--env", "staging", "up"}).exit_code == 0);
        BOOST_REQUIRE(ms({"--env", "production", "up"}).exit_code == 0);
        migration("002_notes.sql", "CREATE TABLE notes (id int PRIMARY KEY);\n");
        BOOST_REQUIRE(ms({"--env", "staging", "up"}).exit_code == 0);
        scalar(
            staging,
            "UPDATE moonshift.migrations SET verified_at = NULL WHERE version = '002'; SELECT 1");
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(status_all)

BOOST_FIXTURE_TEST_CASE(every_environment_side_by_side, two_stages) {
    auto r = ms({"--json", "status", "--all"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.out + r.err);
    auto lines = json_lines(r.out);
    BOOST_REQUIRE(!lines.empty());
    auto st = env_named(lines.back(), "staging");
    auto prod = env_named(lines.back(), "production");
    BOOST_REQUIRE(st.is_object());
    BOOST_REQUIRE(prod.is_object());
    BOOST_TEST(st["head"] == "002");
    BOOST_TEST(st["summary"]["applied"] == 2);
    BOOST_TEST(st["summary"]["unverified"] == 1);
    BOOST_TEST(st["summary"]["pending"] == 0);
    BOOST_TEST(prod["head"] == "001");
    BOOST_TEST(prod["summary"]["pending"] == 1);
    BOOST_TEST(prod["summary"]["unverified"] == 0);
    BOOST_TEST(prod["last_run"]["command"] == "up");
    BOOST_TEST(prod["last_run"]["outcome"] == "ok");
    // The terminal table: a header and a line per environment.
    auto t = ms({"status", "--all"});
    BOOST_TEST(t.exit_code == 0, t.err);
    BOOST_TEST(has(t.out, "ENVIRONMENT"), t.out);
    BOOST_TEST(has(t.out, "UNVERIFIED"), t.out);
    BOOST_TEST(has(t.out, "production"), t.out);
    // For CI: pending work somewhere is exit 1; status of one environment keeps its own verified.
    BOOST_TEST(ms({"status", "--all", "--exit-code"}).exit_code == 1);
    auto one = json_lines(ms({"--json", "--env", "staging", "status"}).out);
    BOOST_REQUIRE(!one.empty());
    BOOST_TEST(one.back()["migrations"][1]["verified"] == false);
    BOOST_TEST(one.back()["migrations"][0]["verified"] == true);
}

BOOST_FIXTURE_TEST_CASE(an_unreachable_environment_is_named_without_its_password, two_stages) {
    write_config("", "[env.broken]\nurl = \"postgresql://deployer:s3cret-pw@127.0.0.1:1/app\"\n");
    auto r = ms({"status", "--all"});
    BOOST_TEST(r.exit_code == 2, r.out + r.err);
    BOOST_TEST(has(r.out, "broken"), r.out);
    BOOST_TEST(has(r.out, "unreadable"), r.out);
    BOOST_TEST(has(r.out, "staging"), r.out);  // the others are still shown
    BOOST_TEST(!has(r.out + r.err, "s3cret-pw"), r.out + r.err);
    auto j = ms({"--json", "status", "--all"});
    BOOST_TEST(!has(j.out + j.err, "s3cret-pw"));
    BOOST_TEST(env_named(json_lines(j.out).back(), "broken").contains("error"));
    // --all with one environment chosen is a usage error.
    auto both = ms({"--env", "staging", "status", "--all"});
    BOOST_TEST(both.exit_code == 2);
    BOOST_TEST(has(both.err, "--all"), both.err);
}

BOOST_AUTO_TEST_SUITE_END()
