// Reading other tools' layouts, without a database: which format a directory
// holds, versions and their order, each tool's markers, and the transaction
// needs the parser finds.
#include <boost/test/unit_test.hpp>

#include "catalog/catalog.hpp"
#include "catalog/formats.hpp"
#include "common/error.hpp"
#include "support/harness.hpp"

namespace fs = std::filesystem;
namespace catalog = moonshift::catalog;
using moonshift::test::temp_dir;
using moonshift::test::write_file;

namespace {

struct layout {
    temp_dir dir;
    void file(const std::string& rel, const std::string& content) const {
        write_file(dir.path / rel, content);
    }
    catalog::catalog read(const std::string& sub = "migrations") const {
        return catalog::discover(dir.path / sub, dir.path);
    }
    // The message of the usage error reading throws ("" when it reads).
    std::string error(const std::string& sub = "migrations") const {
        try {
            read(sub);
        } catch (const moonshift::error& e) {
            return e.what() + std::string("\nhint: ") + e.hint();
        }
        return "";
    }
};

std::vector<std::string> versions(const catalog::catalog& c) {
    std::vector<std::string> out;
    for (auto& m : c.migrations) out.push_back(m.version);
    return out;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(formats_detect)

BOOST_AUTO_TEST_CASE(versions_compare_numerically_part_by_part) {
    BOOST_TEST(catalog::compare_versions("9", "10") < 0);
    BOOST_TEST(catalog::compare_versions("1.9", "1.10") < 0);
    BOOST_TEST(catalog::compare_versions("1.10", "1.9") > 0);
    BOOST_TEST(catalog::compare_versions("1.0", "1") == 0);
    BOOST_TEST(catalog::compare_versions("01.02", "1.2.0") == 0);
    BOOST_TEST(catalog::compare_versions("2", "2.1") < 0);
    BOOST_TEST(catalog::compare_versions("2.1", "3") < 0);
    BOOST_TEST(catalog::compare_versions("57.1", "57.2") < 0);
    BOOST_TEST(catalog::compare_versions("20250108120000", "20250108120001") < 0);
    BOOST_TEST(catalog::version_key("001.020.0") == "1.20");
}

BOOST_AUTO_TEST_CASE(flyway_files_are_ordered_by_dotted_version_with_undo_repeatable_and_baseline) {
    layout l;
    l.file("migrations/V1__init.sql", "CREATE TABLE a (id int);\n");
    l.file("migrations/V1.10__ten.sql", "SELECT 10;\n");
    l.file("migrations/V1.9__nine.sql", "SELECT 9;\n");
    l.file("migrations/V2_1__underscore.sql", "SELECT 21;\n");
    l.file("migrations/U1.9__nine.sql", "SELECT -9;\n");
    l.file("migrations/R__views.sql", "CREATE OR REPLACE VIEW v AS SELECT 1;\n");
    l.file("migrations/B1.9__squashed.sql", "CREATE TABLE a (id int);\n");
    l.file("migrations/V57__readme.md", "not a migration\n");
    auto c = l.read();
    BOOST_TEST(c.format == "flyway");
    BOOST_TEST((versions(c) == std::vector<std::string>{"1", "1.9", "1.10", "2.1"}));
    BOOST_TEST(c.migrations[1].name == "nine");
    BOOST_TEST(c.migrations[1].down_label == "migrations/U1.9__nine.sql");
    BOOST_REQUIRE(c.repeatables.size() == 1u);
    BOOST_TEST(c.repeatables[0].name == "views");
    BOOST_REQUIRE(c.baselines.size() == 1u);
    BOOST_TEST(c.baselines[0].version == "1.9");
}

BOOST_AUTO_TEST_CASE(flyway_runs_non_transactional_statements_outside_a_transaction_like_flyway) {
    layout l;
    l.file("migrations/V1__t.sql", "CREATE TABLE t (id int);\n");
    l.file("migrations/V2__idx.sql", "CREATE INDEX CONCURRENTLY t_id ON t (id);\n");
    l.file("migrations/V3__conf.sql", "SELECT 1;\n");
    l.file("migrations/V3__conf.sql.conf", "executeInTransaction=false\n");
    auto c = l.read();
    BOOST_TEST(!c.migrations[0].dir.no_transaction);
    BOOST_TEST(c.migrations[1].dir.no_transaction);
    BOOST_TEST(c.migrations[2].dir.no_transaction);
}

BOOST_AUTO_TEST_CASE(golang_migrate_pairs_with_and_without_padding) {
    layout l;
    l.file("migrations/1_init.up.sql", "CREATE TABLE a (id int);\n");
    l.file("migrations/1_init.down.sql", "DROP TABLE a;\n");
    l.file("migrations/0010_ten.up.sql", "CREATE INDEX CONCURRENTLY a_id ON a (id);\n");
    l.file("migrations/0010_ten.down.sql", "DROP INDEX CONCURRENTLY a_id;\n");
    l.file("migrations/9_nine.up.sql", "SELECT 9;\n");
    auto c = l.read();
    BOOST_TEST(c.format == "golang-migrate");
    BOOST_TEST((versions(c) == std::vector<std::string>{"1", "9", "0010"}));
    // golang-migrate sends a file without a transaction of its own.
    BOOST_TEST(c.migrations[2].dir.no_transaction);
    BOOST_TEST(c.migrations[2].dir.down_own_transaction);
}

BOOST_AUTO_TEST_CASE(up_down_pairs_with_a_v_prefix_as_authelia_writes_them) {
    layout l;
    l.file("migrations/V0001.Initial_Schema.up.sql", "CREATE TABLE a (id int);\n");
    l.file("migrations/V0001.Initial_Schema.down.sql", "DROP TABLE a;\n");
    l.file("migrations/V0002.Next.up.sql", "SELECT 2;\n");
    auto c = l.read();
    BOOST_TEST(c.format == "up-down");
    BOOST_TEST((versions(c) == std::vector<std::string>{"0001", "0002"}));
    BOOST_TEST(c.migrations[0].name == "Initial_Schema");
    BOOST_TEST(!c.migrations[0].down.empty());
}

BOOST_AUTO_TEST_CASE(dbmate_sections_keep_their_lines_and_transaction_false) {
    layout l;
    l.file("db/migrations/20240101000000_users.sql",
           "-- migrate:up\nCREATE TABLE users (id int);\n\n-- migrate:down\nDROP TABLE users;\n");
    l.file("db/migrations/20240102000000_idx.sql",
           "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY users_id ON users (id);\n"
           "-- migrate:down\nDROP INDEX users_id;\n");
    // moonshift's default migrations/ is absent: dbmate's db/migrations is used.
    auto c = l.read();
    BOOST_TEST(c.format == "dbmate");
    BOOST_REQUIRE(c.migrations.size() == 2u);
    const auto& m = c.migrations[0];
    BOOST_TEST(contains(m.up_sql, "CREATE TABLE users"));
    BOOST_TEST(!contains(m.up_sql, "DROP TABLE"));
    BOOST_TEST(contains(m.down_sql, "DROP TABLE users"));
    BOOST_TEST(!contains(m.down_sql, "CREATE TABLE"));
    // Same line as in the file, so errors point at the file's own lines.
    BOOST_TEST(m.up_sql.find("CREATE TABLE") == std::string("-- migrate:up\n").size());
    BOOST_TEST(c.migrations[1].dir.no_transaction);
}

BOOST_AUTO_TEST_CASE(postgres_migrations_markers_and_numeric_order) {
    layout l;
    l.file("migrations/0001-init.sql", "CREATE TABLE a (id int);\n");
    l.file("migrations/00010-ten.sql", "SELECT 10;\n");
    l.file(
        "migrations/0002-idx.sql",
        "-- postgres-migrations disable-transaction\nCREATE INDEX CONCURRENTLY a_id ON a (id);\n");
    l.file("migrations/0003-skipped.sql", "-- postgres-migrations ignore\nDROP TABLE a;\n");
    auto c = l.read();
    BOOST_TEST(c.format == "postgres-migrations");
    BOOST_TEST((versions(c) == std::vector<std::string>{"0001", "0002", "0003", "00010"}));
    BOOST_TEST(c.migrations[1].dir.no_transaction);
    // Recorded but not run, as Supabase Storage's runner does.
    BOOST_TEST(!contains(c.migrations[2].up_sql, "DROP TABLE"));
    BOOST_TEST(contains(c.migrations[2].up_sql, "SELECT 1"));
}

BOOST_AUTO_TEST_CASE(postgres_migrations_without_the_marker_is_refused_naming_the_marker) {
    layout l;
    l.file("migrations/0001-init.sql",
           "CREATE TABLE a (id int);\nCREATE INDEX CONCURRENTLY a_id ON a (id);\n");
    auto e = l.error();
    BOOST_TEST_INFO(e);
    BOOST_TEST(contains(e, "migrations/0001-init.sql:2:1: CREATE INDEX CONCURRENTLY"));
    BOOST_TEST(contains(e, "-- postgres-migrations disable-transaction"));
}

BOOST_AUTO_TEST_CASE(supabase_directory_is_found_and_its_seed_reported_not_applied) {
    layout l;
    l.file("supabase/migrations/20240101000000_init.sql", "CREATE TABLE a (id int);\n");
    l.file("supabase/migrations/20240102000000_more.sql", "CREATE TABLE b (id int);\n");
    l.file("supabase/seed.sql", "INSERT INTO a VALUES (1);\n");
    auto c = l.read();
    BOOST_TEST(c.format == "supabase");
    BOOST_TEST(c.migrations.size() == 2u);
    BOOST_REQUIRE(c.notes.size() == 1u);
    BOOST_TEST(contains(c.notes[0], "supabase/seed.sql is seed data"));
}

BOOST_AUTO_TEST_CASE(diesel_folders_metadata_and_versions_without_dashes) {
    layout l;
    l.file("diesel.toml", "[print_schema]\nfile = \"src/schema.rs\"\n");
    l.file("migrations/00000000000000_diesel_initial_setup/up.sql",
           "CREATE TABLE setup (id int);\n");
    l.file("migrations/00000000000000_diesel_initial_setup/down.sql", "DROP TABLE setup;\n");
    l.file("migrations/2024-01-02-030405_users/up.sql", "CREATE TABLE users (id int);\n");
    l.file("migrations/2024-01-02-030405_users/down.sql", "DROP TABLE users;\n");
    l.file("migrations/2024-01-03-000000_idx/up.sql",
           "CREATE INDEX CONCURRENTLY users_id ON users (id);\n");
    l.file("migrations/2024-01-03-000000_idx/metadata.toml", "run_in_transaction = false\n");
    auto c = l.read();
    BOOST_TEST(c.format == "diesel");
    BOOST_TEST((versions(c) ==
                std::vector<std::string>{"00000000000000", "20240102030405", "20240103000000"}));
    BOOST_TEST(c.migrations[1].name == "users");
    BOOST_TEST(c.migrations[2].dir.no_transaction);
}

BOOST_AUTO_TEST_CASE(files_with_their_own_begin_commit_are_found_by_the_parser) {
    layout l;
    l.file("migrations/001_own.sql", "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\n");
    l.file("migrations/002_plain.sql",
           "-- BEGIN; in a comment is not a statement\nCREATE TABLE b (id int);\n");
    l.file("migrations/003_func.sql",
           "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM 1; END $$;\n");
    auto c = l.read();
    BOOST_TEST(c.format == "native");
    BOOST_TEST(c.migrations[0].dir.own_transaction);
    BOOST_TEST(!c.migrations[1].dir.own_transaction);
    BOOST_TEST(!c.migrations[2].dir.own_transaction);
}

BOOST_AUTO_TEST_CASE(
    native_concurrently_without_the_directive_is_refused_with_the_directive_to_add) {
    layout l;
    l.file("migrations/001_idx.sql",
           "CREATE TABLE a (id int);\nCREATE INDEX CONCURRENTLY a_id ON a (id);\n");
    auto e = l.error();
    BOOST_TEST_INFO(e);
    BOOST_TEST(contains(e, "migrations/001_idx.sql:2:1"));
    BOOST_TEST(contains(e, "-- moonshift:no-transaction"));
}

BOOST_AUTO_TEST_CASE(sqitch_plan_with_dependencies_tags_and_a_reworked_change) {
    layout l;
    l.file("sqitch.plan",
           "%syntax-version=1.0.0\n%project=flipr\n\n"
           "appschema 2024-01-01T00:00:00Z Ann <ann@example.com> # schema\n"
           "users [appschema] 2024-01-01T00:00:01Z Ann <ann@example.com> # users\n"
           "@v1.0 2024-01-01T00:00:02Z Ann <ann@example.com> # tag\n"
           "# a comment line\n"
           "users [users@v1.0] 2024-01-02T00:00:00Z Ann <ann@example.com> # users, reworked\n");
    l.file("deploy/appschema.sql", "BEGIN;\nCREATE SCHEMA flipr;\nCOMMIT;\n");
    l.file("revert/appschema.sql", "BEGIN;\nDROP SCHEMA flipr;\nCOMMIT;\n");
    l.file("verify/appschema.sql",
           "BEGIN;\nSELECT pg_catalog.has_schema_privilege('flipr', 'usage');\nROLLBACK;\n");
    l.file("deploy/users@v1.0.sql", "CREATE TABLE flipr.users (id int);\n");
    l.file("revert/users@v1.0.sql", "DROP TABLE flipr.users;\n");
    l.file("deploy/users.sql", "ALTER TABLE flipr.users ADD COLUMN name text;\n");
    l.file("revert/users.sql", "ALTER TABLE flipr.users DROP COLUMN name;\n");
    auto c = l.read();
    BOOST_TEST(c.format == "sqitch");
    BOOST_REQUIRE(c.migrations.size() == 3u);
    BOOST_TEST(c.migrations[0].name == "appschema");
    BOOST_TEST(c.migrations[1].up_label == "deploy/users@v1.0.sql");
    BOOST_TEST(c.migrations[2].up_label == "deploy/users.sql");
    // The wrapper BEGIN/COMMIT becomes moonshift's own transaction.
    BOOST_TEST(!c.migrations[0].dir.own_transaction);
    BOOST_TEST(!contains(c.migrations[0].up_sql, "BEGIN"));
    BOOST_TEST(contains(c.migrations[0].verify_sql, "has_schema_privilege"));
    BOOST_TEST(!contains(c.migrations[0].verify_sql, "ROLLBACK"));
}

BOOST_AUTO_TEST_CASE(sqitch_deploys_a_change_after_the_one_it_requires_even_when_written_before) {
    layout l;
    l.file("sqitch.plan",
           "%project=p\n"
           "b [a] 2024-01-01T00:00:00Z Ann <ann@example.com>\n"
           "a 2024-01-01T00:00:01Z Ann <ann@example.com>\n");
    l.file("deploy/a.sql", "CREATE TABLE a (id int);\n");
    l.file("deploy/b.sql", "CREATE TABLE b (id int);\n");
    auto c = l.read();
    BOOST_REQUIRE(c.migrations.size() == 2u);
    BOOST_TEST(c.migrations[0].name == "a");
    BOOST_TEST(c.migrations[1].name == "b");
}

BOOST_AUTO_TEST_CASE(mixed_formats_name_a_file_of_each) {
    layout l;
    l.file("migrations/V1__flyway.sql", "SELECT 1;\n");
    l.file("migrations/002_native.sql", "SELECT 2;\n");
    auto e = l.error();
    BOOST_TEST_INFO(e);
    BOOST_TEST(contains(e, "two migration formats are mixed"));
    BOOST_TEST(contains(e, "migrations/V1__flyway.sql is flyway"));
    BOOST_TEST(contains(e, "migrations/002_native.sql is moonshift's own"));
}

BOOST_AUTO_TEST_SUITE_END()
