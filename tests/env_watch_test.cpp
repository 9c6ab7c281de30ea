// The watch window after `up`: rollback triggers (the application's health
// endpoint on 127.0.0.1, an SQL query, a project Lua script) sampled for a
// few seconds; one that fires rolls the run back (down scripts, or the
// backup) and exits 6, and a quiet window leaves everything applied.
#define BOOST_TEST_DYN_LINK
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <thread>

#include "db/session.hpp"
#include "support/receivers.hpp"
#include "support/skip.hpp"
#include "support/stages.hpp"

using namespace std::chrono_literals;
using moonshift::test::event_names;
using moonshift::test::http_receiver;
using moonshift::test::stages;
using nlohmann::json;
namespace db = moonshift::db;

namespace {

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

bool has_event(const std::string& out, const std::string& name) {
    auto names = event_names(out);
    return std::find(names.begin(), names.end(), name) != names.end();
}

void shop(const stages& s) {
    s.migration("001_orders.sql",
                "CREATE TABLE orders (id int PRIMARY KEY);\nCREATE TABLE failed_jobs (id int);\n");
    s.migration("001_orders.down.sql", "DROP TABLE failed_jobs;\nDROP TABLE orders;\n");
    s.migration("002_status.sql", "ALTER TABLE orders ADD COLUMN status text;\n");
    s.migration("002_status.down.sql", "ALTER TABLE orders DROP COLUMN status;\n");
}

json last_report(const stages& s) {
    return json::parse(
        s.scalar(s.production, "SELECT report::text FROM moonshift.runs ORDER BY id DESC LIMIT 1"));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(env_watch)

BOOST_AUTO_TEST_CASE(a_quiet_window_keeps_the_migrations_and_records_the_samples) {
    http_receiver app;
    stages s(
        "watch = { seconds = 2, every = 1 }\n[env.production.triggers.health]\nkind = "
        "\"http\"\nurl = \"" +
        app.health_url() + "\"\n");
    shop(s);
    auto r = s.ms({"--env", "production", "up"});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(has(r.out, "Watching production for 2"), r.out);
    BOOST_TEST((s.applied(s.production) == std::vector<std::string>{"001", "002"}));
    auto report = last_report(s);
    BOOST_TEST(report["outcome"] == "ok");
    BOOST_TEST(report["watch"]["samples"].get<int>() >= 2);
    BOOST_TEST(report["watch"]["triggers"][0]["fired"] == false);
    BOOST_TEST(app.request_count() >= 10u);  // the baseline and every sample asked the endpoint
}

BOOST_AUTO_TEST_CASE(error_rate_climbing_during_the_window_rolls_the_run_back) {
    http_receiver app;
    stages s(
        "watch = { seconds = 20, every = 1 }\n[env.production.triggers.health]\nkind = "
        "\"http\"\nurl = \"" +
        app.health_url() + "\"\nerror_rate = \"5%\"\n");
    shop(s);
    auto child = s.spawn({"--env", "production", "--json", "up"});
    // Once the migrations are in, the application starts failing.
    for (int i = 0; i < 200 && s.applied(s.production).size() < 2; ++i)
        std::this_thread::sleep_for(50ms);
    BOOST_REQUIRE(s.applied(s.production).size() == 2u);
    app.set_health_error_rate(0.5);
    auto r = child.wait();
    BOOST_TEST(r.exit_code == 6, r.err);
    BOOST_TEST(has(r.err, "trigger health fired: error rate of http://127.0.0.1:"), r.err);
    BOOST_TEST(has(r.err, "rolled back 2 of 2 migration(s)"), r.err);
    BOOST_TEST(s.applied(s.production).empty());
    BOOST_TEST(!s.table_exists(s.production, "orders"));
    BOOST_TEST(has_event(r.out, "trigger.fired"));
    BOOST_TEST(has_event(r.out, "rollback.start"));
    BOOST_TEST(has_event(r.out, "rollback.done"));
    auto report = last_report(s);
    BOOST_TEST(report["outcome"] == "rolled_back");
    BOOST_TEST(report["trigger"]["name"] == "health");
    BOOST_TEST(report["rolled_back"].size() == 2u);
    BOOST_TEST(report["rolled_back"][0]["version"] == "002");  // newest first
}

BOOST_AUTO_TEST_CASE(latency_climbing_fires_and_a_slow_baseline_does_not) {
    http_receiver app;
    app.set_health_latency(150ms);
    stages s(
        "watch = { seconds = 2, every = 1 }\n[env.production.triggers.health]\nkind = "
        "\"http\"\nurl = \"" +
        app.health_url() + "\"\nrequests = 2\n");
    shop(s);
    // Slow before and during the window: no change, no rollback.
    auto quiet = s.ms({"--env", "production", "up"});
    BOOST_TEST(quiet.exit_code == 0, quiet.err);
    BOOST_REQUIRE(s.ms({"--env", "production", "down", "--steps", "2"}).exit_code == 0);

    app.set_health_latency(5ms);
    s.write_config(
        "watch = { seconds = 20, every = 1 }\n[env.production.triggers.health]\nkind = "
        "\"http\"\nurl = \"" +
        app.health_url() + "\"\nrequests = 2\nlatency = 50\n");
    auto child = s.spawn({"--env", "production", "up"});
    for (int i = 0; i < 200 && s.applied(s.production).size() < 2; ++i)
        std::this_thread::sleep_for(50ms);
    app.set_health_latency(300ms);
    auto r = child.wait();
    BOOST_TEST(r.exit_code == 6, r.err);
    BOOST_TEST(has(r.err, "response time of"), r.err);
    BOOST_TEST(s.applied(s.production).empty());
}

BOOST_AUTO_TEST_CASE(an_sql_trigger_over_its_max_rolls_back_at_the_first_sample) {
    stages s(
        "watch = { seconds = 5, every = 1 }\n[env.production.triggers.failed_jobs]\nkind = "
        "\"sql\"\n"
        "query = \"SELECT count(*) FROM failed_jobs\"\nmax = 0\n");
    shop(s);
    s.migration("003_bad.sql", "INSERT INTO failed_jobs VALUES (1);\n");
    s.migration("003_bad.down.sql", "DELETE FROM failed_jobs;\n");
    auto r = s.ms({"--env", "production", "up"});
    BOOST_TEST(r.exit_code == 6, r.err);
    BOOST_TEST(has(r.err, "failed_jobs returned 1 (max 0)"), r.err);
    BOOST_TEST(has(r.out, "Trigger failed_jobs fired"), r.out);
    BOOST_TEST(s.applied(s.production).empty());
    BOOST_TEST(!s.table_exists(s.production, "failed_jobs"));
}

BOOST_AUTO_TEST_CASE(a_project_lua_trigger_compares_with_its_own_baseline) {
    stages s("watch = { seconds = 5, every = 1 }\n");
    shop(s);
    moonshift::test::write_file(
        s.dir.path / "scripts/triggers/orders.lua",
        "return {\n"
        "  description = 'orders must not shrink',\n"
        "  baseline = function() return { n = db:scalar('SELECT count(*) FROM pg_class') } end,\n"
        "  check = function(base)\n"
        "    local n = db:scalar(\"SELECT count(*) FROM pg_tables WHERE tablename = "
        "'bad_marker'\")\n"
        "    if n > 0 then return { fired = true, reason = 'bad_marker appeared' } end\n"
        "    return { fired = false }\n"
        "  end,\n"
        "}\n");
    s.migration("003_marker.sql", "CREATE TABLE bad_marker (id int);\n");
    s.migration("003_marker.down.sql", "DROP TABLE bad_marker;\n");
    auto r = s.ms({"--env", "production", "up"});
    BOOST_TEST(r.exit_code == 6, r.err);
    BOOST_TEST(has(r.err, "trigger scripts/triggers/orders.lua fired: bad_marker appeared"), r.err);
    BOOST_TEST(s.applied(s.production).empty());
    // A trigger script with an error stops the run before any migration.
    moonshift::test::write_file(s.dir.path / "scripts/triggers/orders.lua",
                                "return { chek = function() end }\n");
    auto bad = s.ms({"--env", "production", "up"});
    BOOST_TEST(bad.exit_code != 0);
    BOOST_TEST(has(bad.err, "scripts/triggers/orders.lua"), bad.err);
    BOOST_TEST(s.applied(s.production).empty());
}

BOOST_AUTO_TEST_CASE(a_migration_that_cannot_be_undone_stops_the_rollback_and_says_so) {
    stages s(
        "backup = \"never\"\nallow_irreversible = true\nwatch = { seconds = 5, every = 1 "
        "}\n[env.production.triggers.marker]\nkind = \"sql\"\n"
        "query = \"SELECT count(*) FROM pg_tables WHERE tablename = 'orders'\"\nmax = 0\n");
    // No down script, and a DO block: no derived reverse either.
    s.migration("001_orders.sql", "DO $$ BEGIN EXECUTE 'CREATE TABLE orders (id int)'; END $$;\n");
    auto r = s.ms({"--env", "production", "up"});
    BOOST_TEST(r.exit_code == 1, r.err);
    BOOST_TEST(has(r.err,
                   "rolled back 0 of 1 migration(s), then stopped: migrations/001_orders.sql has "
                   "no down script"),
               r.err);
    BOOST_TEST(last_report(s)["outcome"] == "rollback_failed");
}

namespace {

// The harness's server preloads the module when the machine has it.
std::string why_pg_stat_statements_is_missing() {
    db::settings settings;
    settings.url = moonshift::test::server_url();
    db::session admin(settings);
    if (admin.query("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements'")
            .empty())
        return "pg_stat_statements is not installed on the test server (postgresql-contrib)";
    auto preload = admin.query("SHOW shared_preload_libraries")[0][0].as<std::string>();
    if (preload.find("pg_stat_statements") == std::string::npos)
        return "pg_stat_statements is not in the test server's shared_preload_libraries";
    return "";
}

}  // namespace

BOOST_AUTO_TEST_CASE(pg_stat_statements_fires_when_the_busiest_queries_slow_down,
                     *boost::unit_test::precondition(moonshift::test::skip_when{
                         why_pg_stat_statements_is_missing})) {
    stages s(
        "watch = { seconds = 30, every = 1 }\n[env.production.triggers.queries]\nkind = "
        "\"pg_stat_statements\"\n"
        "top = 5\nmin_calls = 10\n");
    s.scalar(
        s.production,
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()");
    // The application's query, fast before the run.
    auto run_queries = [&](double seconds, int n) {
        db::settings app;
        app.url = s.production.url;
        db::session c(app);
        for (int i = 0; i < n; ++i) c.query("SELECT pg_sleep($1)", seconds);
    };
    run_queries(0.001, 40);
    shop(s);
    auto child = s.spawn({"--env", "production", "up"});
    for (int i = 0; i < 200 && s.applied(s.production).size() < 2; ++i)
        std::this_thread::sleep_for(50ms);
    BOOST_REQUIRE(s.applied(s.production).size() == 2u);
    run_queries(0.02, 20);  // ten times slower after the migration
    auto r = child.wait();
    BOOST_TEST(r.exit_code == 6, r.out + r.err);
    BOOST_TEST(has(r.err, "mean time of the top queries"), r.err);
    BOOST_TEST(s.applied(s.production).empty());
}

BOOST_AUTO_TEST_SUITE_END()
