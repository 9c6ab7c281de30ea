// Running other tools' directories as they are, through the CLI against a
// real PostgreSQL: each format applies and rolls back, `status` names it,
// files with their own BEGIN/COMMIT and CREATE INDEX CONCURRENTLY run where
// their tool's marker says, Flyway's repeatable and baseline migrations,
// Sqitch's verify scripts.
#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>

#include "support/project.hpp"

using moonshift::test::last_json;
using moonshift::test::project;
using moonshift::test::write_file;

namespace {

// A project whose migrations live in `dir` (relative to the project).
struct foreign : project {
    explicit foreign(const std::string& dir = "migrations") {
        write_file(this->dir.path / "moonshift.toml", "[project]\nmigrations = \"" + dir +
                                                          "\"\n\n[env.test]\nurl = \"" + url +
                                                          "\"\nlock_wait = \"2s\"\n");
    }
    void file(const std::string& rel, const std::string& content) const {
        write_file(dir.path / rel, content);
    }
    std::string format() const {
        return last_json(ms({"--json", "status"}).out).value("format", "");
    }
    // Recorded versions in numeric order; all zeros (Diesel's setup) is 0.
    std::vector<std::string> versions() const {
        std::vector<std::string> out;
        if (!table_exists("moonshift.migrations")) return out;
        pqxx::connection c(url);
        pqxx::nontransaction tx(c);
        for (auto row : tx.exec("SELECT version FROM moonshift.migrations "
                                "ORDER BY coalesce(nullif(ltrim(version, '0'), ''), '0')::numeric"))
            out.push_back(row[0].c_str());
        return out;
    }
    bool index_exists(const std::string& name) const {
        return scalar("SELECT count(*) FROM pg_indexes WHERE indexname = '" + name + "'") == "1";
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(formats_apply)

BOOST_AUTO_TEST_CASE(supabase_directory_applies_and_status_names_the_format_and_the_seed) {
    foreign p("supabase/migrations");
    p.file("supabase/migrations/20240101000000_init.sql", "CREATE TABLE a (id int);\n");
    p.file("supabase/migrations/20240102000000_more.sql", "CREATE TABLE b (id int);\n");
    p.file("supabase/seed.sql", "INSERT INTO a VALUES (1);\n");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(p.table_exists("b"));
    BOOST_TEST(p.count("SELECT * FROM a") == 0);  // the seed is not a migration
    auto st = last_json(p.ms({"--json", "status"}).out);
    BOOST_TEST(st["format"] == "supabase");
    BOOST_TEST(st["notes"][0].get<std::string>().find("seed.sql") != std::string::npos);
    BOOST_TEST(st["dir"] == "supabase/migrations");
    BOOST_TEST(p.ms({"status"}).out.find("format: supabase (supabase/migrations)") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(golang_migrate_orders_numerically_and_rolls_back) {
    foreign p;
    p.file("migrations/0008_eight.up.sql", "SELECT 8;\n");
    p.file("migrations/9_nine.up.sql", "CREATE TABLE nine (id int PRIMARY KEY);\n");
    p.file("migrations/9_nine.down.sql", "DROP TABLE nine;\n");
    // Alphabetically "10" sorts before "9", and nine would not exist yet.
    p.file("migrations/10_ten.up.sql", "CREATE TABLE ten (id int REFERENCES nine (id));\n");
    p.file("migrations/10_ten.down.sql", "DROP TABLE ten;\n");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"0008", "9", "10"}));
    BOOST_TEST(r.out.find("Applying 9_nine") < r.out.find("Applying 10_ten"));
    BOOST_TEST(p.format() == "golang-migrate");
    BOOST_TEST(p.ms({"down", "--steps", "2"}).exit_code == 0);
    BOOST_TEST(!p.table_exists("nine"));
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"0008"}));
}

BOOST_AUTO_TEST_CASE(golang_migrate_runs_concurrently_outside_a_transaction_without_a_marker) {
    foreign p;
    p.file("migrations/1_t.up.sql", "CREATE TABLE t (id int);\n");
    p.file("migrations/1_t.down.sql", "DROP TABLE t;\n");
    p.file("migrations/2_idx.up.sql", "CREATE INDEX CONCURRENTLY t_id ON t (id);\n");
    p.file("migrations/2_idx.down.sql", "DROP INDEX CONCURRENTLY t_id;\n");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(p.index_exists("t_id"));
    auto d = p.ms({"down"});
    BOOST_TEST_INFO(d.err);
    BOOST_TEST(d.exit_code == 0);
    BOOST_TEST(!p.index_exists("t_id"));
}

BOOST_AUTO_TEST_CASE(own_begin_commit_runs_unnested_and_its_history_row_follows) {
    foreign p;
    p.file("migrations/1_own.up.sql",
           "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\n"
           "CREATE INDEX CONCURRENTLY a_id ON a (id);\n"
           "BEGIN;\nCREATE TABLE b (id int);\nCOMMIT;\n");
    p.file("migrations/1_own.down.sql", "BEGIN;\nDROP TABLE b;\nDROP TABLE a;\nCOMMIT;\n");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    // Nested, the server would have warned "there is already a transaction in progress".
    BOOST_TEST(r.err.find("already a transaction") == std::string::npos);
    BOOST_TEST(p.table_exists("b"));
    BOOST_TEST(p.index_exists("a_id"));
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"1"}));
    BOOST_TEST(p.count("SELECT * FROM moonshift.checkpoints") == 0);
    auto d = p.ms({"down"});
    BOOST_TEST_INFO(d.err);
    BOOST_TEST(d.exit_code == 0);
    BOOST_TEST(!p.table_exists("a"));
    BOOST_TEST(p.applied_versions().empty());
}

BOOST_AUTO_TEST_CASE(
    a_failure_inside_the_files_own_transaction_rolls_it_back_and_resumes_at_its_begin) {
    foreign p;
    p.file("migrations/001_own.sql",
           "CREATE TABLE before_tx (id int);\n"
           "BEGIN;\nCREATE TABLE inside (id int);\nINSERT INTO missing VALUES (1);\nCOMMIT;\n");
    auto r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(r.err.find("migrations/001_own.sql:4:13") != std::string::npos);
    BOOST_TEST(p.table_exists("before_tx"));  // committed before the file's BEGIN
    BOOST_TEST(!p.table_exists("inside"));    // rolled back with the file's transaction
    BOOST_TEST(p.applied_versions().empty());
    BOOST_TEST(p.scalar("SELECT outcome FROM moonshift.runs ORDER BY id DESC LIMIT 1") == "failed");
    // The next run resumes at the file's BEGIN: before_tx is not created
    // again (that would fail), the transaction runs whole.
    p.scalar("CREATE TABLE missing (id int)");
    auto again = p.ms({"up"});
    BOOST_TEST_INFO(again.err);
    BOOST_TEST(again.exit_code == 0);
    BOOST_TEST(p.table_exists("inside"));
    BOOST_TEST(p.count("SELECT * FROM missing") == 1);
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001"}));
}

BOOST_AUTO_TEST_CASE(dbmate_sections_and_transaction_false) {
    foreign p("db/migrations");
    p.file("db/migrations/20240101000000_users.sql",
           "-- migrate:up\nCREATE TABLE users (id int);\n\n-- migrate:down\nDROP TABLE users;\n");
    p.file("db/migrations/20240102000000_idx.sql",
           "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY users_id ON users (id);\n\n"
           "-- migrate:down\nDROP INDEX users_id;\n");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(p.index_exists("users_id"));
    BOOST_TEST(p.format() == "dbmate");
    BOOST_TEST(p.ms({"down", "--to", "0"}).exit_code == 0);
    BOOST_TEST(!p.table_exists("users"));
}

BOOST_AUTO_TEST_CASE(dbmate_concurrently_without_transaction_false_is_refused_naming_the_marker) {
    foreign p("db/migrations");
    p.file("db/migrations/20240102000000_idx.sql",
           "-- migrate:up\nCREATE TABLE t (id int);\nCREATE INDEX CONCURRENTLY t_id ON t (id);\n");
    auto before = p.fingerprint();
    auto r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err.find("db/migrations/20240102000000_idx.sql:3:1: CREATE INDEX CONCURRENTLY") !=
               std::string::npos);
    BOOST_TEST(r.err.find("-- migrate:up transaction:false") != std::string::npos);
    BOOST_TEST(p.fingerprint() == before);
}

BOOST_AUTO_TEST_CASE(an_sql_error_in_a_dbmate_file_points_at_the_files_own_line) {
    foreign p("db/migrations");
    p.file("db/migrations/1_x.sql",
           "-- migrate:down\nDROP TABLE t;\n-- migrate:up\nCREATE TABLE t (id nosuchtype);\n");
    auto r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.err.find("db/migrations/1_x.sql:4:20") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(flyway_repeatables_run_after_versioned_and_again_only_when_changed) {
    foreign p;
    p.file("migrations/V1__t.sql", "CREATE TABLE t (id int);\n");
    p.file("migrations/V1.1__log.sql", "CREATE TABLE r_log (n int);\n");
    p.file("migrations/R__view.sql",
           "CREATE OR REPLACE VIEW v AS SELECT id FROM t;\nINSERT INTO r_log VALUES (1);\n");
    p.file("migrations/V2__col.sql", "ALTER TABLE t ADD COLUMN name text;\n");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(r.out.find("Applying R__view") != std::string::npos);
    BOOST_TEST(r.out.find("Applying R__view") > r.out.find("Applying 2_col"));
    BOOST_TEST(p.count("SELECT * FROM r_log") == 1);
    BOOST_TEST(p.ms({"up"}).exit_code == 0);
    BOOST_TEST(p.count("SELECT * FROM r_log") == 1);  // unchanged: not run again
    p.file("migrations/R__view.sql",
           "CREATE OR REPLACE VIEW v AS SELECT id, name FROM t;\nINSERT INTO r_log VALUES (2);\n");
    auto st = last_json(p.ms({"--json", "status"}).out);
    BOOST_TEST(st["repeatables"][0]["state"] == "changed");
    BOOST_TEST(st["summary"]["changed"] == 0);  // a changed repeatable is not drift
    BOOST_REQUIRE(p.ms({"up"}).exit_code == 0);
    BOOST_TEST(p.count("SELECT * FROM r_log") == 2);
    BOOST_TEST(p.scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'v'") ==
               "2");
    BOOST_TEST(p.count("SELECT * FROM moonshift.repeatables") == 1);
    BOOST_TEST(p.format() == "flyway");
}

BOOST_AUTO_TEST_CASE(flyway_undo_scripts_are_the_down_direction) {
    foreign p;
    p.file("migrations/V1__t.sql", "CREATE TABLE t (id int);\n");
    p.file("migrations/U1__t.sql", "DROP TABLE t;\n");
    p.file("migrations/V1.1__u.sql", "CREATE TABLE u (id int);\n");
    p.file("migrations/U1.1__u.sql", "DROP TABLE u;\n");
    BOOST_REQUIRE(p.ms({"up"}).exit_code == 0);
    BOOST_TEST(p.ms({"down"}).exit_code == 0);
    BOOST_TEST(!p.table_exists("u"));
    BOOST_TEST(p.table_exists("t"));
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"1"}));
}

BOOST_AUTO_TEST_CASE(
    flyway_baseline_migration_replaces_earlier_versions_on_an_empty_database_only) {
    foreign p;
    p.file("migrations/V1__a.sql", "CREATE TABLE a (id int);\n");
    p.file("migrations/V2__b.sql", "CREATE TABLE b (id int);\n");
    p.file("migrations/V3__c.sql", "CREATE TABLE c (id int);\n");
    p.file("migrations/B2__ab.sql",
           "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\nCREATE TABLE from_baseline (x "
           "int);\n");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(p.table_exists("from_baseline"));
    BOOST_TEST(p.table_exists("c"));
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"1", "2", "3"}));
    BOOST_TEST(p.scalar("SELECT how FROM moonshift.migrations WHERE version = '1'") == "baseline");
    BOOST_TEST(p.scalar("SELECT how FROM moonshift.migrations WHERE version = '3'") == "applied");
    auto st = last_json(p.ms({"--json", "status"}).out);
    BOOST_TEST(st["summary"]["applied"] == 3);
    BOOST_TEST(st["summary"]["pending"] == 0);

    // A database that already has history ignores B files.
    foreign q;
    q.file("migrations/V1__a.sql", "CREATE TABLE a (id int);\n");
    BOOST_REQUIRE(q.ms({"up"}).exit_code == 0);
    q.file("migrations/V2__b.sql", "CREATE TABLE b (id int);\n");
    q.file("migrations/B2__ab.sql",
           "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\nCREATE TABLE from_baseline (x "
           "int);\n");
    BOOST_REQUIRE(q.ms({"up"}).exit_code == 0);
    BOOST_TEST(!q.table_exists("from_baseline"));
    BOOST_TEST(q.table_exists("b"));
}

BOOST_AUTO_TEST_CASE(sqitch_deploys_with_verify_in_one_transaction_and_reverts) {
    foreign p(".");
    p.file("sqitch.plan",
           "%syntax-version=1.0.0\n%project=flipr\n\n"
           "appschema 2024-01-01T00:00:00Z Ann <ann@example.com> # schema\n"
           "users [appschema] 2024-01-01T00:00:01Z Ann <ann@example.com> # users\n");
    p.file("deploy/appschema.sql",
           "-- Deploy flipr:appschema to pg\n\nBEGIN;\n\nCREATE SCHEMA flipr;\n\nCOMMIT;\n");
    p.file("revert/appschema.sql", "BEGIN;\nDROP SCHEMA flipr;\nCOMMIT;\n");
    p.file("verify/appschema.sql",
           "BEGIN;\nSELECT 1/COUNT(*) FROM pg_namespace WHERE nspname = 'flipr';\nROLLBACK;\n");
    p.file("deploy/users.sql",
           "BEGIN;\nCREATE TABLE flipr.users (nickname text PRIMARY KEY);\nCOMMIT;\n");
    p.file("revert/users.sql", "BEGIN;\nDROP TABLE flipr.users;\nCOMMIT;\n");
    p.file("verify/users.sql",
           "BEGIN;\nSELECT nickname FROM flipr.users WHERE FALSE;\nROLLBACK;\n");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(r.err.find("already a transaction") == std::string::npos);
    BOOST_TEST(p.table_exists("flipr.users"));
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"1", "2"}));
    BOOST_TEST(p.format() == "sqitch");
    BOOST_TEST(last_json(p.ms({"--json", "status"}).out)["dir"] == "sqitch.plan");
    BOOST_TEST(p.ms({"down", "--to", "0"}).exit_code == 0);
    BOOST_TEST(p.scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'flipr'") == "0");
}

BOOST_AUTO_TEST_CASE(a_failing_sqitch_verify_rolls_the_change_back_with_exit_3) {
    foreign p(".");
    p.file("sqitch.plan", "%project=flipr\nusers 2024-01-01T00:00:01Z Ann <ann@example.com>\n");
    p.file("deploy/users.sql", "BEGIN;\nCREATE TABLE users (nick text);\nCOMMIT;\n");
    p.file("verify/users.sql", "BEGIN;\nSELECT nickname FROM users WHERE FALSE;\nROLLBACK;\n");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 3);
    BOOST_TEST(r.err.find("Verify script \"verify/users.sql\" failed") != std::string::npos);
    BOOST_TEST(r.err.find("verify/users.sql:2:8") != std::string::npos);
    BOOST_TEST(!p.table_exists("users"));
    BOOST_TEST(p.applied_versions().empty());
}

BOOST_AUTO_TEST_CASE(diesel_folders_apply_with_run_in_transaction_false) {
    foreign p;
    p.file("diesel.toml", "[print_schema]\nfile = \"src/schema.rs\"\n");
    p.file("migrations/00000000000000_diesel_initial_setup/up.sql",
           "CREATE TABLE setup (id int);\n");
    p.file("migrations/00000000000000_diesel_initial_setup/down.sql", "DROP TABLE setup;\n");
    p.file("migrations/2024-01-02-030405_users/up.sql", "CREATE TABLE users (id int);\n");
    p.file("migrations/2024-01-02-030405_users/down.sql", "DROP TABLE users;\n");
    p.file("migrations/2024-01-03-000000_idx/up.sql",
           "CREATE INDEX CONCURRENTLY users_id ON users (id);\n");
    p.file("migrations/2024-01-03-000000_idx/down.sql", "DROP INDEX CONCURRENTLY users_id;\n");
    p.file("migrations/2024-01-03-000000_idx/metadata.toml", "run_in_transaction = false\n");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(p.index_exists("users_id"));
    BOOST_TEST((p.versions() ==
                std::vector<std::string>{"00000000000000", "20240102030405", "20240103000000"}));
    BOOST_TEST(p.format() == "diesel");
    auto d = p.ms({"down", "--steps", "2"});
    BOOST_TEST_INFO(d.err);
    BOOST_TEST(d.exit_code == 0);
    BOOST_TEST(!p.table_exists("users"));
}

BOOST_AUTO_TEST_SUITE_END()
