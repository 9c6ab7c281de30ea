// Preflight and auto-rollback for forward-only histories: `up` on an
// environment with a watch window or triggers names what it could not roll
// back and refuses it (exit 3) unless allowed; the watch window rolls back a
// migration without a down script through its derived reverse, and `status`
// is clean afterwards without `repair`.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <thread>

#include "support/receivers.hpp"
#include "support/stages.hpp"

using namespace std::chrono_literals;
using moonshift::test::http_receiver;
using moonshift::test::stages;
using nlohmann::json;

namespace {

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

json last_report(const stages& s) {
    return json::parse(
        s.scalar(s.production, "SELECT report::text FROM moonshift.runs ORDER BY id DESC LIMIT 1"));
}

const char* do_block = "DO $$ BEGIN EXECUTE 'CREATE TABLE made_by_do (id int)'; END $$;\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(undo_watch)

BOOST_AUTO_TEST_CASE(the_watch_window_rolls_back_a_forward_only_migration_and_status_is_clean) {
    http_receiver app;
    stages s(
        "watch = { seconds = 20, every = 1 }\n[env.production.triggers.health]\nkind = "
        "\"http\"\nurl = \"" +
        app.health_url() + "\"\nerror_rate = \"5%\"\n");
    s.migration("001_orders.sql",
                "CREATE TABLE orders (id int PRIMARY KEY, total numeric);\n"
                "CREATE INDEX orders_total ON orders (total);\n");
    s.migration("002_status.sql",
                "ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new';\n");
    auto child = s.spawn({"--env", "production", "--json", "up"});
    for (int i = 0; i < 200 && s.applied(s.production).size() < 2; ++i)
        std::this_thread::sleep_for(50ms);
    BOOST_REQUIRE(s.applied(s.production).size() == 2u);
    app.set_health_error_rate(0.5);
    auto r = child.wait();
    BOOST_TEST(r.exit_code == 6, r.err);
    BOOST_TEST(has(r.err, "rolled back 2 of 2 migration(s)"), r.err);
    BOOST_TEST(s.applied(s.production).empty());
    BOOST_TEST(!s.table_exists(s.production, "orders"));
    auto report = last_report(s);
    BOOST_TEST(report["outcome"] == "rolled_back");
    BOOST_TEST(report["rolled_back"][0]["how"] == "derived");
    // Nothing to repair in any environment.
    for (const char* env : {"production", "staging"}) {
        auto st = s.ms({"--env", env, "status"});
        BOOST_TEST(st.exit_code == 0, env << ": " << st.err);
    }
    BOOST_TEST(s.ms({"--env", "production", "up", "--dry-run"}).exit_code == 0);
}

BOOST_AUTO_TEST_CASE(up_with_triggers_refuses_what_it_could_not_roll_back_unless_allowed) {
    stages s(
        "watch = { seconds = 1, every = 1 }\n[env.production.triggers.marker]\n"
        "kind = \"sql\"\nquery = \"SELECT 0\"\nmax = 0\n");
    s.migration("001_orders.sql", "CREATE TABLE orders (id int);\n");
    s.migration("002_do.sql", do_block);
    auto r = s.ms({"--env", "production", "up"});
    BOOST_TEST(r.exit_code == 3, r.err);
    BOOST_TEST(has(r.err,
                   "production has a watch window or triggers, and these could not be "
                   "rolled back"),
               r.err);
    BOOST_TEST(has(r.err,
                   "migrations/002_do.sql: line 1: DO is outside what a derived reverse "
                   "restores"),
               r.err);
    BOOST_TEST(!has(r.err, "001_orders"), r.err);
    BOOST_TEST(s.applied(s.production).empty());
    BOOST_TEST(!s.table_exists(s.production, "orders"));
    BOOST_TEST(last_report(s)["outcome"] == "refused");

    auto allowed = s.ms({"--env", "production", "up", "--allow-irreversible"});
    BOOST_TEST(allowed.exit_code == 0, allowed.err);
    BOOST_TEST(s.applied(s.production).size() == 2u);
}

BOOST_AUTO_TEST_CASE(allow_irreversible_in_the_environment_lets_up_apply_and_warn) {
    stages s(
        "allow_irreversible = true\n[env.production.triggers.marker]\n"
        "kind = \"sql\"\nquery = \"SELECT 0\"\nmax = 0\n");
    s.migration("001_do.sql", do_block);
    auto r = s.ms({"--env", "production", "up"});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(has(r.out + r.err, "applying anyway"), r.out + r.err);
    // Without a watch window or triggers there is nothing to refuse.
    BOOST_TEST(s.ms({"--env", "staging", "up"}).exit_code == 0);
}

BOOST_AUTO_TEST_SUITE_END()
