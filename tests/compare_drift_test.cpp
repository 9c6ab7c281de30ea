// `moonshift drift`: an environment against the schema its recorded
// migrations produce on a scratch database (--scratch pointing at the test
// server, and once on the project's own local cluster): no drift, a change
// made by hand, pending files that were never recorded, a recorded file that
// changed or went missing, migrations that no longer apply on an empty
// database, an unreachable environment — and the scratch database always gone.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>

#include "support/project.hpp"

using moonshift::test::last_json;
using moonshift::test::project;
using nlohmann::json;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

void exec(const std::string& url, const std::string& sql) {
    pqxx::connection c(url);
    pqxx::nontransaction tx(c);
    tx.exec(sql);
}

long long scratch_databases() {
    pqxx::connection c(moonshift::test::server_url());
    pqxx::nontransaction tx(c);
    return tx
        .exec("SELECT count(*) FROM pg_database WHERE datname LIKE 'moonshift\\_drift\\_%'")[0][0]
        .as<long long>();
}

struct drift_project : project {
    drift_project() {
        migration("001_create_users.sql", "CREATE TABLE users (id int PRIMARY KEY, email text);\n");
        migration(
            "002_add_name.sql",
            "ALTER TABLE users ADD COLUMN name text;\nCREATE INDEX users_name ON users (name);\n");
        auto r = ms({"up"});
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.out << r.err);
    }
    moonshift::test::cli_result drift(std::vector<std::string> extra = {}) const {
        std::vector<std::string> args = {"drift", "--scratch", moonshift::test::server_url()};
        args.insert(args.end(), extra.begin(), extra.end());
        return ms(args);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(compare_drift)

BOOST_FIXTURE_TEST_CASE(an_environment_built_by_its_migrations_has_no_drift, drift_project) {
    auto r = drift();
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(contains(r.out, "No drift: test matches its 2 recorded migration(s)."));
    BOOST_TEST(scratch_databases() == 0, "the scratch database is dropped");
}

BOOST_FIXTURE_TEST_CASE(a_change_made_by_hand_is_drift_exit_5, drift_project) {
    exec(url, "ALTER TABLE users ADD COLUMN hotfix text; DROP INDEX users_name;");
    auto r = drift();
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 5);
    BOOST_TEST(contains(r.out, "+ column public.users.hotfix: text"));
    BOOST_TEST(contains(r.out, "- index public.users_name"));
    BOOST_TEST(contains(r.out, "2 difference(s): test has drifted from its recorded migrations."));
    BOOST_TEST(scratch_databases() == 0, "the scratch database is dropped");

    auto j = drift({"--json"});
    BOOST_TEST(j.exit_code == 5);
    auto doc = last_json(j.out);
    BOOST_TEST(doc["result"] == "drift");
    BOOST_TEST(doc["same"] == false);
    BOOST_TEST(doc["recorded"] == 2);
    BOOST_TEST(doc["changes"].size() == 2u, j.out);
    // The environment's history is as it was: drift only reads it.
    BOOST_TEST(count("SELECT 1 FROM moonshift.runs WHERE command <> 'up'") == 0);
}

BOOST_FIXTURE_TEST_CASE(pending_files_never_recorded_are_not_replayed, drift_project) {
    migration("003_add_phone.sql", "ALTER TABLE users ADD COLUMN phone text;\n");
    migration("0015_between.sql",
              "CREATE TABLE between_them (id int);\n");  // older than 002, never applied
    auto r = drift();
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 0, "only recorded migrations make the expected schema");
    BOOST_TEST(applied_versions().size() == 2u, "the environment is left as it was");
}

BOOST_FIXTURE_TEST_CASE(a_changed_recorded_file_is_reported_not_skipped, drift_project) {
    migration("002_add_name.sql", "ALTER TABLE users ADD COLUMN name varchar(50);\n");
    auto before = scratch_databases();
    auto r = drift();
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 5);
    BOOST_TEST(contains(r.out, "1 recorded migration(s) of test cannot be replayed as they ran:"));
    BOOST_TEST(contains(r.out, "changed  migrations/002_add_name.sql (recorded checksum "));
    BOOST_TEST(scratch_databases() == before);

    auto doc = last_json(drift({"--json"}).out);
    BOOST_REQUIRE(doc["problems"].size() == 1u);
    BOOST_TEST(doc["problems"][0]["state"] == "changed");
    BOOST_TEST(doc["problems"][0]["version"] == "002");
}

BOOST_FIXTURE_TEST_CASE(a_missing_recorded_file_is_reported_not_skipped, drift_project) {
    std::filesystem::remove(dir.path / "migrations" / "001_create_users.sql");
    auto r = drift();
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 5);
    BOOST_TEST(contains(r.out, "missing  001_create_users (no file on disk; recorded checksum "));
    BOOST_TEST(scratch_databases() == 0);
}

BOOST_FIXTURE_TEST_CASE(migrations_that_do_not_apply_on_an_empty_database_fail_and_drop_the_scratch,
                        moonshift::test::project) {
    // The table came from outside the migrations; the recorded migration only alters it.
    exec(url, "CREATE TABLE legacy (id int);");
    migration("001_alter_legacy.sql", "ALTER TABLE legacy ADD COLUMN note text;\n");
    auto up = ms({"up"});
    BOOST_REQUIRE_MESSAGE(up.exit_code == 0, up.out << up.err);
    auto r = ms({"drift", "--scratch", moonshift::test::server_url()});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(contains(
        r.err, "the recorded migrations of \"test\" do not apply on an empty scratch database"));
    BOOST_TEST(contains(r.err, "migrations/001_alter_legacy.sql:1:"),
               "the failure points into the file");
    BOOST_TEST(scratch_databases() == 0, "the scratch database is dropped after a failure too");
}

BOOST_FIXTURE_TEST_CASE(a_scratch_server_that_refuses_is_a_usage_error, drift_project) {
    auto r = ms({"drift", "--scratch", "postgresql://nobody:topsecret9@127.0.0.1:1/x"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(contains(
        r.err, "the scratch server postgresql://nobody:***@127.0.0.1:1/x: cannot connect to"));
    BOOST_TEST(contains(r.err, "127.0.0.1:1"));
    BOOST_TEST(!contains(r.out + r.err, "topsecret9"), "the scratch URL's password is redacted");
}

BOOST_AUTO_TEST_CASE(an_unreachable_environment_exits_2_with_its_url_redacted) {
    project p("\n[env.gone]\nurl = \"postgresql://admin:hunter2secret@127.0.0.1:1/app\"\n");
    auto r = p.ms({"drift", "--env", "gone", "--scratch", moonshift::test::server_url()});
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(contains(r.err, "environment \"gone\""), r.err);
    BOOST_TEST(!contains(r.out + r.err, "hunter2secret"), r.out << r.err);
}

BOOST_AUTO_TEST_CASE(an_unknown_environment_is_a_usage_error) {
    project p;
    auto r = p.ms({"drift", "--env", "nope"});
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(contains(r.err, "environment \"nope\" is not defined"), r.err);
}

BOOST_FIXTURE_TEST_CASE(without_scratch_the_projects_local_cluster_is_used, drift_project) {
    // A role of the environment's server that a migration grants to: the
    // fresh local cluster gets it, so the grant replays.
    exec(url,
         "DO $$ BEGIN CREATE ROLE moonshift_drift_app NOLOGIN; "
         "EXCEPTION WHEN duplicate_object THEN NULL; END $$");
    migration("003_grant.sql", "GRANT SELECT ON users TO moonshift_drift_app;\n");
    auto up = ms({"up"});
    BOOST_REQUIRE_MESSAGE(up.exit_code == 0, up.out << up.err);
    exec(url, "CREATE TABLE manual (id int);");
    auto r = ms({"drift"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 5);
    BOOST_TEST(contains(r.out, "+ table public.manual"));
    BOOST_TEST(!contains(r.out, "grant"), "the grant replayed on the scratch database");
    BOOST_TEST(contains(r.err, "started the local PostgreSQL cluster"));
    BOOST_TEST(contains(r.err, "created the environment's roles"));
    BOOST_TEST(contains(r.err, "moonshift_drift_app"));

    // A scratch database left by a killed drift (its process is gone) is
    // dropped by the next drift on the project's cluster.
    auto cluster = ms({"local", "url"});
    BOOST_REQUIRE_MESSAGE(cluster.exit_code == 0, cluster.out << cluster.err);
    std::string local_url = cluster.out.substr(0, cluster.out.find('\n'));
    exec(local_url, "CREATE DATABASE moonshift_drift_2147483_1");
    auto again = ms({"drift"});
    BOOST_TEST(again.exit_code == 5, again.out << again.err);
    {
        pqxx::connection c(local_url);
        pqxx::nontransaction tx(c);
        BOOST_TEST(
            tx.exec("SELECT count(*) FROM pg_database WHERE datname LIKE 'moonshift\\_drift\\_%'")
                    [0][0]
                        .as<long long>() == 0,
            "the stale scratch database and this run's are gone");
    }
    BOOST_TEST(std::filesystem::exists(dir.path / ".moonshift" / "local"));
    auto stop = ms({"local", "stop"});
    BOOST_TEST(stop.exit_code == 0, stop.out << stop.err);
}

BOOST_AUTO_TEST_SUITE_END()
