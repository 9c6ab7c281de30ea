// A Prisma project as `prisma migrate dev` writes it (tests/fixtures/prisma:
// prisma/migrations/<timestamp>_<name>/migration.sql and migration_lock.toml):
// read as it is; `import --from prisma` from _prisma_migrations (finished and
// not rolled back rows only); with keep_history = "prisma" the table kept as
// `prisma migrate deploy` fills it, so `prisma migrate status` agrees.
#include <boost/test/unit_test.hpp>

#include "support/tool_project.hpp"

using moonshift::test::sha256_of_file;
using moonshift::test::tool_project;

namespace {

const std::string init = "20240105093000_init", posts = "20240106120000_add_posts";

struct prisma_project : tool_project {
    explicit prisma_project(bool keep = true)
        : tool_project("prisma", std::string("migrations = \"prisma/migrations\"\n") +
                                     (keep ? "keep_history = \"prisma\"\n" : "")) {}
    std::string checksum(const std::string& folder) const {
        return sha256_of_file(dir.path / "prisma" / "migrations" / folder / "migration.sql");
    }
    // _prisma_migrations as Prisma creates it.
    void fake_prisma_table() const {
        sql("CREATE TABLE \"_prisma_migrations\" (\"id\" VARCHAR(36) PRIMARY KEY NOT NULL, "
            "\"checksum\" VARCHAR(64) NOT NULL, \"finished_at\" TIMESTAMPTZ, \"migration_name\" "
            "VARCHAR(255) NOT NULL, \"logs\" TEXT, \"rolled_back_at\" TIMESTAMPTZ, \"started_at\" "
            "TIMESTAMPTZ NOT NULL DEFAULT now(), \"applied_steps_count\" INTEGER NOT NULL DEFAULT "
            "0)");
    }
    void fake_row(const std::string& id, const std::string& name, const std::string& checksum,
                  bool finished, bool rolled_back, int minute) const {
        sql("INSERT INTO _prisma_migrations VALUES ('" + id + "', '" + checksum + "', " +
            (finished ? "'2024-01-07 10:0" + std::to_string(minute) + "+00'" : "NULL") + ", '" +
            name + "', NULL, " + (rolled_back ? "'2024-01-07 11:00+00'" : "NULL") +
            ", '2024-01-07 10:0" + std::to_string(minute) + "+00', " + (finished ? "1" : "0") +
            ")");
    }
    // What `prisma migrate status` counts as applied: finished, not rolled back.
    std::vector<std::string> applied_by_prisma() const {
        return rows(
            "SELECT migration_name || '|' || checksum FROM _prisma_migrations WHERE finished_at "
            "IS NOT NULL AND rolled_back_at IS NULL ORDER BY started_at, migration_name");
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(dropin_prisma)

BOOST_AUTO_TEST_CASE(status_reads_the_migration_folders_beside_migration_lock_toml) {
    prisma_project p;
    auto j = p.json({"status"});
    BOOST_TEST(j["format"] == "prisma");
    BOOST_TEST(j["summary"]["pending"] == 2);
    BOOST_TEST(j["migrations"][0]["version"] == "20240105093000");
    BOOST_TEST(j["migrations"][1]["name"] == "add_posts");
}

BOOST_AUTO_TEST_CASE(up_and_down_keep_prismas_table_as_migrate_deploy_would) {
    prisma_project p;
    p.must({"up"});
    BOOST_TEST(p.table_exists("\"Post\""));
    BOOST_TEST(
        p.applied_by_prisma() ==
        (std::vector<std::string>{init + "|" + p.checksum(init), posts + "|" + p.checksum(posts)}));
    BOOST_TEST(p.scalar("SELECT min(applied_steps_count) FROM _prisma_migrations") == "1");
    // down runs the folder's down.sql; Prisma's row is marked rolled back, as
    // `prisma migrate resolve --rolled-back` does, so deploy would apply it again.
    p.must({"down"});
    BOOST_TEST(!p.table_exists("\"Post\""));
    BOOST_TEST(p.applied_by_prisma() == (std::vector<std::string>{init + "|" + p.checksum(init)}));
    BOOST_TEST(p.count("SELECT 1 FROM _prisma_migrations WHERE rolled_back_at IS NOT NULL") == 1);
    p.must({"up"});
    BOOST_TEST(p.applied_by_prisma().size() == 2u);
}

BOOST_AUTO_TEST_CASE(import_counts_only_finished_rows_not_rolled_back) {
    prisma_project p;
    p.sql(p.read("prisma/migrations/" + init + "/migration.sql"));
    p.fake_prisma_table();
    p.fake_row("a1", init, p.checksum(init), true, false, 1);
    // Applied once, then rolled back with `prisma migrate resolve --rolled-back`.
    p.fake_row("a2", posts, p.checksum(posts), true, true, 2);
    auto j = p.json({"import", "--from", "prisma"});
    BOOST_TEST(j["count"] == 1);
    BOOST_TEST(j["report"]["imported"][0]["version"] == "20240105093000");
    BOOST_TEST(j["report"]["not_in_database"][0]["version"] == "20240106120000");
    auto up = p.must({"up"});
    BOOST_TEST(up.out.find("Applying 20240105093000") == std::string::npos);
    BOOST_TEST(up.out.find("Applying 20240106120000_add_posts") != std::string::npos);
    // After moonshift's up, Prisma's table lists the new migration with Prisma's checksum.
    BOOST_TEST(
        p.applied_by_prisma() ==
        (std::vector<std::string>{init + "|" + p.checksum(init), posts + "|" + p.checksum(posts)}));
    BOOST_TEST(p.must({"up"}).out.find("Applying") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_database_prisma_migrated_whole_imports_whole_and_up_applies_nothing) {
    prisma_project p(false);
    p.sql(p.read("prisma/migrations/" + init + "/migration.sql"));
    p.sql(p.read("prisma/migrations/" + posts + "/migration.sql"));
    p.fake_prisma_table();
    p.fake_row("a1", init, p.checksum(init), true, false, 1);
    p.fake_row("a2", posts, std::string(64, 'f'), true, false, 2);
    auto j = p.json({"import", "--from", "prisma"});
    BOOST_TEST(j["count"] == 2);
    BOOST_TEST(j["report"]["changed_on_disk"][0]["version"] == "20240106120000");
    BOOST_TEST(p.must({"up"}).out.find("Applying") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_failed_prisma_migration_stops_import_with_the_command_that_resolves_it) {
    prisma_project p(false);
    p.fake_prisma_table();
    p.fake_row("a1", init, p.checksum(init), false, false, 1);
    auto before = p.fingerprint();
    auto r = p.ms({"import", "--from", "prisma"});
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err.find(init + " failed") != std::string::npos);
    BOOST_TEST(r.err.find("prisma migrate resolve --rolled-back " + init) != std::string::npos);
    BOOST_TEST(p.fingerprint() == before);
}

BOOST_AUTO_TEST_CASE(a_folder_without_migration_sql_is_refused_naming_it) {
    prisma_project p;
    std::filesystem::create_directories(p.dir.path / "prisma/migrations/20240107000000_empty");
    auto r = p.ms({"status"});
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err.find("prisma/migrations/20240107000000_empty: a Prisma migration folder "
                          "without migration.sql") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(new_points_at_prisma_migrate_dev) {
    prisma_project p;
    auto r = p.ms({"new", "add_tags"});
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err.find("prisma migrate dev --create-only") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
