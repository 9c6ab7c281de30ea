// Where backups live and how long: the database store ([backup] store =
// "database") surviving the loss of the project directory, refused up front
// when the role cannot create its schema, invisible to drift; retention by
// age; the warning on a CI runner whose backup directory dies with the job.
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <pqxx/pqxx>

#include "support/project.hpp"
#include "support/shop.hpp"

using moonshift::test::last_json;
using moonshift::test::project;
using moonshift::test::rows_of;
using moonshift::test::shop;
using moonshift::test::temp_dir;
using moonshift::test::write_file;

namespace {

bool has(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

struct in_db_shop : shop {
    in_db_shop() : shop(true) {}
};

}  // namespace

BOOST_AUTO_TEST_SUITE(backup_store)

BOOST_FIXTURE_TEST_CASE(a_database_backup_outlives_the_project_directory, in_db_shop) {
    auto users_before = rows_of(*this, "users");
    migration("002_trim.sql",
              "-- moonshift:allow drop-column unused\nALTER TABLE users DROP COLUMN note;\n"
              "-- moonshift:allow require-where early users only\n"
              "DELETE FROM users WHERE id > 800 AND id NOT IN (SELECT user_id FROM orders);\n");
    auto r = ms({"up"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    auto id = scalar("SELECT id FROM moonshift.backups WHERE version = '002'");
    BOOST_REQUIRE(!id.empty());
    // The runner is gone: nothing of the project directory is left.
    std::filesystem::remove_all(dir.path);
    BOOST_REQUIRE(!std::filesystem::exists(dir.path));
    // A new runner with a fresh checkout of the configuration only.
    temp_dir runner;
    write_file(runner.path / "moonshift.toml",
               "[project]\nmigrations = \"migrations\"\n\n[env.test]\nurl = \"" + url +
                   "\"\nbackup_store = \"database\"\n");
    std::filesystem::create_directories(runner.path / "migrations");
    auto restore =
        moonshift::test::run_cli({"--no-color", "--yes", "backup", "restore", id}, runner.path, {});
    BOOST_REQUIRE_MESSAGE(restore.exit_code == 0, restore.err + restore.out);
    auto users_after = rows_of(*this, "users");
    BOOST_TEST(users_after == users_before);
}

BOOST_FIXTURE_TEST_CASE(a_role_that_cannot_create_the_backup_schema_is_stopped_before_anything,
                        shop) {
    std::string role = "ms_nobackup_" + name;
    moonshift::test::run_sql(url, "CREATE ROLE " + role + " LOGIN PASSWORD 'nb-pw'");
    moonshift::test::run_sql(
        url, "GRANT ALL ON SCHEMA public, moonshift TO " + role +
                 "; GRANT ALL ON ALL TABLES IN SCHEMA public, moonshift TO " + role +
                 "; GRANT ALL ON ALL SEQUENCES IN SCHEMA public, moonshift TO " + role +
                 "; ALTER TABLE users OWNER TO " + role + "; ALTER TABLE orders OWNER TO " + role +
                 "; REVOKE CREATE ON DATABASE " + name + " FROM PUBLIC");
    write_file(dir.path / "moonshift.toml",
               "[project]\nmigrations = \"migrations\"\n\n[env.test]\nurl = \"" +
                   moonshift::test::url_as_role(url, role, "nb-pw") +
                   "\"\nbackup_store = \"database\"\n");
    migration("002_fine.sql", "CREATE TABLE IF NOT EXISTS notes (id int);\n");
    migration("003_drop.sql",
              "-- moonshift:allow drop-column test\nALTER TABLE users DROP "
              "COLUMN note;\n");
    auto before = fingerprint();
    auto r = ms({"up"});
    BOOST_TEST(r.exit_code == 2, r.err);
    BOOST_TEST(has(r.err, "moonshift_backups"), r.err);
    BOOST_TEST(has(r.err, "CREATE SCHEMA"), r.err);  // the hint: what to run once
    BOOST_TEST(!has(r.err, "nb-pw"), r.err);
    BOOST_TEST(fingerprint() == before);  // not even 002
    moonshift::test::run_sql(url, "REASSIGN OWNED BY " + role + " TO CURRENT_USER; DROP OWNED BY " +
                                      role + "; DROP ROLE " + role);
}

BOOST_FIXTURE_TEST_CASE(backup_copies_are_not_drift, in_db_shop) {
    BOOST_REQUIRE(ms({"backup", "create", "users"}).exit_code == 0);
    BOOST_REQUIRE(count("SELECT 1 FROM pg_tables WHERE schemaname = 'moonshift_backups'") == 1);
    auto r = ms({"drift", "--scratch", moonshift::test::server_url()});
    BOOST_TEST(r.exit_code == 0, r.out + r.err);
    BOOST_TEST(has(r.out, "No drift"), r.out);
}

// One per day for 2 days, one per week for 2 weeks, one per month for 12
// months: ages are set on the rows (the server's clock decides).
BOOST_FIXTURE_TEST_CASE(retention_keeps_backups_by_age, in_db_shop) {
    write_file(dir.path / "moonshift.toml",
               "[project]\nmigrations = \"migrations\"\n\n[env.test]\nurl = \"" + url +
                   "\"\nbackup_store = \"database\"\n\n[backup]\nkeep_daily = 7\nkeep_weekly = "
                   "2\nkeep_monthly = 12\n");
    // Ages from midnight today (UTC), so two "3 days ago" share a day whatever the hour.
    const std::vector<std::string> ages = {"",
                                           "-1 day +1 hour",
                                           "-3 days +2 hours",
                                           "-3 days +1 hour",
                                           "-10 days +1 hour",
                                           "-50 days +1 hour",
                                           "-400 days +1 hour"};
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < ages.size(); ++i) {
        auto c = ms({"--json", "backup", "create", "orders"});
        BOOST_REQUIRE_MESSAGE(c.exit_code == 0, c.err);
        ids.push_back(std::to_string(last_json(c.out)["backup"]["id"].get<long long>()));
        if (!ages[i].empty())
            scalar(
                "UPDATE moonshift.backups SET created_at = date_trunc('day', now() AT TIME ZONE "
                "'UTC') AT TIME ZONE 'UTC' + interval '" +
                ages[i] + "' WHERE id = " + ids.back() + "; SELECT 1");
    }
    auto dry = ms({"--json", "backup", "prune", "--dry-run"});
    BOOST_REQUIRE_MESSAGE(dry.exit_code == 0, dry.err);
    BOOST_TEST(scalar("SELECT count(*) FROM moonshift.backups WHERE status = 'complete'") == "7");
    auto p = ms({"backup", "prune"});
    BOOST_REQUIRE_MESSAGE(p.exit_code == 0, p.err);
    std::vector<std::string> pruned;
    for (std::size_t i = 0; i < ids.size(); ++i)
        if (scalar("SELECT status FROM moonshift.backups WHERE id = " + ids[i]) == "pruned")
            pruned.push_back(ages[i]);
    // The older of the two on one day, and the one past a year; the others each hold a period.
    BOOST_TEST((pruned == std::vector<std::string>{"-3 days +1 hour", "-400 days +1 hour"}));
    // Their copies are dropped with them; the kept ones stay.
    BOOST_TEST(count("SELECT 1 FROM pg_tables WHERE schemaname = 'moonshift_backups'") == 5);
}

BOOST_FIXTURE_TEST_CASE(a_ci_runner_is_warned_that_its_backup_directory_dies_with_the_job, shop) {
    migration("002_drop.sql",
              "-- moonshift:allow drop-column test\nALTER TABLE users DROP "
              "COLUMN note;\n");
    auto r = ms({"up"}, {{"CI", "true"}});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(has(r.out + r.err, "on this CI runner"), r.out + r.err);
    BOOST_TEST(has(r.out + r.err, "store = \"database\""), r.out + r.err);
    // Told where they go, the runner is not warned again.
    write_file(dir.path / "moonshift.toml",
               "[project]\nmigrations = \"migrations\"\n\n[env.test]\nurl = \"" + url +
                   "\"\nbackup_store = \"database\"\n");
    migration("003_drop.sql",
              "-- moonshift:allow drop-column test\nALTER TABLE users DROP "
              "COLUMN score;\n");
    auto quiet = ms({"up"}, {{"CI", "true"}});
    BOOST_REQUIRE_MESSAGE(quiet.exit_code == 0, quiet.err);
    BOOST_TEST(!has(quiet.out + quiet.err, "on this CI runner"), quiet.out + quiet.err);
    BOOST_TEST(scalar("SELECT location FROM moonshift.backups WHERE version = '003'") ==
               "database:moonshift_backups");
}

BOOST_AUTO_TEST_SUITE_END()
