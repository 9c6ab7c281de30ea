// `moonshift import --from TOOL` against databases set up the way each tool
// leaves them: its own history table (same columns as the tool creates) and
// the schema its migrations made. Nothing is re-applied, the other table is
// untouched, and differences both ways are reported.
#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>

#include "catalog/formats.hpp"
#include "support/project.hpp"

using moonshift::test::last_json;
using moonshift::test::project;
using moonshift::test::write_file;

namespace {

struct adopted : project {
    explicit adopted(const std::string& dir = "migrations") {
        write_file(this->dir.path / "moonshift.toml", "[project]\nmigrations = \"" + dir +
                                                          "\"\n\n[env.test]\nurl = \"" + url +
                                                          "\"\nlock_wait = \"2s\"\n");
    }
    void file(const std::string& rel, const std::string& content) const {
        write_file(dir.path / rel, content);
    }
    void sql(const std::string& text) const {
        pqxx::connection c(url);
        pqxx::nontransaction tx(c);
        tx.exec(text);
    }
    // Every row of the other tool's table, to prove import leaves it alone.
    std::string rows_of(const std::string& table) const {
        return scalar("SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM " + table + " t");
    }
    nlohmann::json import(const std::string& tool, int expected_exit = 0) const {
        auto r = ms({"--json", "import", "--from", tool});
        BOOST_TEST_INFO(r.out << r.err);
        BOOST_TEST(r.exit_code == expected_exit);
        return last_json(r.out);
    }
    std::string how(const std::string& version) const {
        return scalar("SELECT how FROM moonshift.migrations WHERE version = '" + version + "'");
    }
};

std::vector<std::string> versions_in(const nlohmann::json& list) {
    std::vector<std::string> out;
    for (auto& x : list) out.push_back(x.value("version", ""));
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(formats_import)

BOOST_AUTO_TEST_CASE(flyway_history_is_adopted_with_checksums_compared_and_nothing_reapplied) {
    adopted p;
    std::string v1 = "CREATE TABLE a (id int);\n", v2 = "CREATE TABLE b (id int);\n",
                v3 = "CREATE TABLE c (id int);\n";
    std::string view = "CREATE OR REPLACE VIEW v AS SELECT id FROM a;\n";
    p.file("migrations/V1__a.sql", v1);
    p.file("migrations/V2__b.sql", v2);
    p.file("migrations/V3__c.sql", v3);
    p.file("migrations/R__v.sql", view);
    p.sql(v1 + v2 + view +
          "CREATE TABLE flyway_schema_history (installed_rank integer NOT NULL PRIMARY KEY, "
          "version varchar(50), "
          "description varchar(200) NOT NULL, type varchar(20) NOT NULL, script varchar(1000) NOT "
          "NULL, "
          "checksum integer, installed_by varchar(100) NOT NULL, installed_on timestamp NOT NULL "
          "DEFAULT now(), "
          "execution_time integer NOT NULL, success boolean NOT NULL);");
    auto sum = [](const std::string& s) {
        return std::to_string(moonshift::catalog::flyway_checksum(s));
    };
    p.sql(
        "INSERT INTO flyway_schema_history VALUES "
        "(1, '1', 'a', 'SQL', 'V1__a.sql', " +
        sum(v1) +
        ", 'me', now(), 1, true),"
        "(2, '1.5', 'java', 'JDBC', 'db.migration.V1_5__java', NULL, 'me', now(), 1, true),"
        "(3, '2', 'b', 'SQL', 'V2__b.sql', " +
        sum("CREATE TABLE b (id bigint);\n") +
        ", 'me', now(), 1, true),"
        "(4, NULL, 'v', 'SQL', 'R__v.sql', " +
        sum(view) + ", 'me', now(), 1, true)");
    auto before = p.rows_of("flyway_schema_history");
    auto j = p.import("flyway");
    auto rep = j["report"];
    BOOST_TEST(j["count"] == 2);
    BOOST_TEST((versions_in(rep["imported"]) == std::vector<std::string>{"1", "2"}));
    BOOST_TEST((versions_in(rep["not_on_disk"]) == std::vector<std::string>{"1.5"}));
    BOOST_TEST((versions_in(rep["not_in_database"]) == std::vector<std::string>{"3"}));
    BOOST_TEST((versions_in(rep["changed_on_disk"]) == std::vector<std::string>{"2"}));
    BOOST_TEST(rep["repeatables"][0]["state"] == "imported");
    BOOST_TEST(p.how("1") == "imported");
    BOOST_TEST(p.rows_of("flyway_schema_history") == before);
    // Nothing applied twice: only V3 runs (V1/V2 would fail on existing tables).
    auto up = p.ms({"up"});
    BOOST_TEST_INFO(up.err);
    BOOST_TEST(up.exit_code == 0);
    BOOST_TEST(up.out.find("Applying 3_c") != std::string::npos);
    BOOST_TEST(up.out.find("Applying 1_a") == std::string::npos);
    BOOST_TEST(up.out.find("R__v") == std::string::npos);
    BOOST_TEST(p.rows_of("flyway_schema_history") == before);
}

BOOST_AUTO_TEST_CASE(a_changed_repeatable_is_applied_again_after_import) {
    adopted p;
    p.file("migrations/V1__a.sql", "CREATE TABLE a (id int, name text);\n");
    p.file("migrations/R__v.sql", "CREATE OR REPLACE VIEW v AS SELECT id, name FROM a;\n");
    p.sql(
        "CREATE TABLE a (id int, name text); CREATE VIEW v AS SELECT id FROM a;"
        "CREATE TABLE flyway_schema_history (installed_rank integer PRIMARY KEY, version "
        "varchar(50), "
        "description varchar(200) NOT NULL, type varchar(20) NOT NULL, script varchar(1000) NOT "
        "NULL, "
        "checksum integer, installed_by varchar(100) NOT NULL, installed_on timestamp NOT NULL "
        "DEFAULT now(), "
        "execution_time integer NOT NULL, success boolean NOT NULL);"
        "INSERT INTO flyway_schema_history VALUES (1, '1', 'a', 'SQL', 'V1__a.sql', 0, 'me', "
        "now(), 1, true),"
        "(2, NULL, 'v', 'SQL', 'R__v.sql', 12345, 'me', now(), 1, true)");
    auto j = p.import("flyway");
    BOOST_TEST(j["report"]["repeatables"][0]["state"].get<std::string>().find("changed") == 0u);
    BOOST_REQUIRE(p.ms({"up"}).exit_code == 0);
    BOOST_TEST(p.scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'v'") ==
               "2");
}

BOOST_AUTO_TEST_CASE(a_failed_flyway_row_refuses_the_import) {
    adopted p;
    p.file("migrations/V1__a.sql", "CREATE TABLE a (id int);\n");
    p.sql(
        "CREATE TABLE flyway_schema_history (installed_rank integer PRIMARY KEY, version "
        "varchar(50), "
        "description varchar(200) NOT NULL, type varchar(20) NOT NULL, script varchar(1000) NOT "
        "NULL, "
        "checksum integer, installed_by varchar(100) NOT NULL, installed_on timestamp NOT NULL "
        "DEFAULT now(), "
        "execution_time integer NOT NULL, success boolean NOT NULL);"
        "INSERT INTO flyway_schema_history VALUES (1, '1', 'a', 'SQL', 'V1__a.sql', 0, 'me', "
        "now(), 1, false)");
    auto r = p.ms({"import", "--from", "flyway"});
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err.find("V1__a.sql failed when Flyway ran it") != std::string::npos);
    BOOST_TEST(!p.table_exists("moonshift.migrations"));
}

BOOST_AUTO_TEST_CASE(golang_migrate_version_covers_everything_below_it_and_dirty_is_refused) {
    adopted p;
    p.file("migrations/1_a.up.sql", "CREATE TABLE a (id int);\n");
    p.file("migrations/2_b.up.sql", "CREATE TABLE b (id int);\n");
    p.file("migrations/3_c.up.sql", "CREATE TABLE c (id int);\n");
    p.sql(
        "CREATE TABLE a (id int); CREATE TABLE b (id int);"
        "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT "
        "NULL);"
        "INSERT INTO schema_migrations VALUES (2, true)");
    auto r = p.ms({"import", "--from", "golang-migrate"});
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err.find("version 2 is dirty") != std::string::npos);
    BOOST_TEST(!p.table_exists("moonshift.migrations"));
    p.sql("UPDATE schema_migrations SET dirty = false");
    auto j = p.import("golang-migrate");
    BOOST_TEST((versions_in(j["report"]["imported"]) == std::vector<std::string>{"1", "2"}));
    BOOST_TEST((versions_in(j["report"]["not_in_database"]) == std::vector<std::string>{"3"}));
    BOOST_REQUIRE(p.ms({"up"}).exit_code == 0);
    BOOST_TEST(p.table_exists("c"));
}

BOOST_AUTO_TEST_CASE(supabase_dbmate_and_diesel_tables_list_their_versions) {
    {
        adopted p("supabase/migrations");
        p.file("supabase/migrations/20240101000000_a.sql", "CREATE TABLE a (id int);\n");
        p.file("supabase/migrations/20240102000000_b.sql", "CREATE TABLE b (id int);\n");
        p.sql(
            "CREATE TABLE a (id int); CREATE SCHEMA supabase_migrations;"
            "CREATE TABLE supabase_migrations.schema_migrations (version text PRIMARY KEY, "
            "statements text[], name text);"
            "INSERT INTO supabase_migrations.schema_migrations VALUES ('20240101000000', NULL, "
            "'a'),"
            "('20231231000000', NULL, 'gone')");
        auto j = p.import("supabase");
        BOOST_TEST(
            (versions_in(j["report"]["imported"]) == std::vector<std::string>{"20240101000000"}));
        BOOST_TEST((versions_in(j["report"]["not_on_disk"]) ==
                    std::vector<std::string>{"20231231000000"}));
        BOOST_TEST((versions_in(j["report"]["not_in_database"]) ==
                    std::vector<std::string>{"20240102000000"}));
    }
    {
        adopted p("db/migrations");
        p.file("db/migrations/20240101000000_a.sql",
               "-- migrate:up\nCREATE TABLE a (id int);\n-- migrate:down\nDROP TABLE a;\n");
        p.sql(
            "CREATE TABLE a (id int); CREATE TABLE schema_migrations (version varchar(128) PRIMARY "
            "KEY);"
            "INSERT INTO schema_migrations VALUES ('20240101000000')");
        auto j = p.import("dbmate");
        BOOST_TEST(j["count"] == 1);
        BOOST_TEST(p.ms({"up"}).out.find("Nothing to apply") != std::string::npos);
        // The adopted migration rolls back with its dbmate down section.
        BOOST_TEST(p.ms({"down"}).exit_code == 0);
        BOOST_TEST(!p.table_exists("a"));
    }
    {
        adopted p;
        p.file("diesel.toml", "\n");
        p.file("migrations/00000000000000_diesel_initial_setup/up.sql", "SELECT 1;\n");
        p.file("migrations/2024-01-02-030405_users/up.sql", "CREATE TABLE users (id int);\n");
        p.sql(
            "CREATE TABLE users (id int); CREATE TABLE __diesel_schema_migrations "
            "(version varchar(50) PRIMARY KEY, run_on timestamp NOT NULL DEFAULT "
            "CURRENT_TIMESTAMP);"
            "INSERT INTO __diesel_schema_migrations (version) VALUES ('00000000000000'), "
            "('20240102030405')");
        auto j = p.import("diesel");
        BOOST_TEST(j["count"] == 2);
        BOOST_TEST(p.how("20240102030405") == "imported");
    }
}

BOOST_AUTO_TEST_CASE(sqitch_registry_is_matched_by_change_name_with_script_hashes) {
    adopted p(".");
    p.file("sqitch.plan",
           "%project=flipr\n"
           "appschema 2024-01-01T00:00:00Z Ann <ann@example.com>\n"
           "users [appschema] 2024-01-01T00:00:01Z Ann <ann@example.com>\n"
           "posts [users] 2024-01-01T00:00:02Z Ann <ann@example.com>\n");
    std::string deploy = "BEGIN;\nCREATE SCHEMA flipr;\nCOMMIT;\n";
    p.file("deploy/appschema.sql", deploy);
    p.file("deploy/users.sql", "CREATE TABLE flipr.users (id int);\n");
    p.file("deploy/posts.sql", "CREATE TABLE flipr.posts (id int);\n");
    p.sql(
        "CREATE SCHEMA flipr; CREATE TABLE flipr.users (id int); CREATE SCHEMA sqitch;"
        "CREATE TABLE sqitch.changes (change_id text PRIMARY KEY, script_hash text, change text "
        "NOT NULL, "
        "project text NOT NULL, note text NOT NULL DEFAULT '', committed_at timestamptz NOT NULL "
        "DEFAULT clock_timestamp(), "
        "committer_name text NOT NULL, committer_email text NOT NULL, planned_at timestamptz NOT "
        "NULL, "
        "planner_name text NOT NULL, planner_email text NOT NULL);"
        "INSERT INTO sqitch.changes VALUES ('id1', '" +
        moonshift::catalog::sha1_hex(deploy) +
        "', 'appschema', 'flipr', '', clock_timestamp(), 'Ann', 'ann@x', now(), 'Ann', 'ann@x');"
        "INSERT INTO sqitch.changes VALUES ('id2', 'feedface', 'users', 'flipr', '', "
        "clock_timestamp(), 'Ann', 'ann@x', now(), 'Ann', 'ann@x');"
        "INSERT INTO sqitch.changes VALUES ('id9', NULL, 'other', 'another_project', '', "
        "clock_timestamp(), 'Ann', 'ann@x', now(), 'Ann', 'ann@x')");
    auto before = p.rows_of("sqitch.changes");
    auto j = p.import("sqitch");
    BOOST_TEST((versions_in(j["report"]["imported"]) == std::vector<std::string>{"1", "2"}));
    BOOST_TEST((versions_in(j["report"]["changed_on_disk"]) == std::vector<std::string>{"2"}));
    BOOST_TEST(j["report"]["not_on_disk"].empty());  // another project's changes are not ours
    BOOST_REQUIRE(p.ms({"up"}).exit_code == 0);
    BOOST_TEST(p.table_exists("flipr.posts"));
    BOOST_TEST(p.rows_of("sqitch.changes") == before);
}

BOOST_AUTO_TEST_CASE(postgres_migrations_table_named_with_table_option) {
    adopted p;
    p.file("migrations/0001-a.sql", "CREATE TABLE a (id int);\n");
    p.file("migrations/0002-b.sql", "CREATE TABLE b (id int);\n");
    p.sql(
        "CREATE TABLE a (id int); CREATE SCHEMA storage; CREATE TABLE storage.migrations "
        "(id integer PRIMARY KEY, name varchar(100) UNIQUE NOT NULL, hash varchar(40) NOT NULL, "
        "executed_at timestamp DEFAULT current_timestamp); INSERT INTO storage.migrations VALUES "
        "(0, 'create-migrations-table', 'x'), (1, 'a', 'y')");
    auto r = p.ms(
        {"--json", "import", "--from", "postgres-migrations", "--table", "storage.migrations"});
    BOOST_TEST_INFO(r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    auto j = last_json(r.out);
    BOOST_TEST((versions_in(j["report"]["imported"]) == std::vector<std::string>{"0001"}));
    BOOST_TEST((versions_in(j["report"]["not_on_disk"]) == std::vector<std::string>{"0"}));
}

BOOST_AUTO_TEST_CASE(a_missing_history_table_and_a_format_mismatch_are_clear_errors) {
    adopted p;
    p.file("migrations/V1__a.sql", "CREATE TABLE a (id int);\n");
    auto r = p.ms({"import", "--from", "flyway"});
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err.find("there is no table flyway_schema_history") != std::string::npos);
    auto m = p.ms({"import", "--from", "dbmate"});
    BOOST_TEST(m.exit_code == 2);
    BOOST_TEST(m.err.find("--from dbmate, but migrations holds flyway migrations") !=
               std::string::npos);
    BOOST_TEST(!p.table_exists("moonshift.migrations"));
}

BOOST_AUTO_TEST_SUITE_END()
