// A drizzle-kit project as drizzle-kit writes it (tests/fixtures/drizzle:
// drizzle/NNNN_name.sql, meta/_journal.json and snapshots): read in the
// journal's order, meta/ never taken for a migration; `import --from drizzle`
// from drizzle.__drizzle_migrations; and with keep_history = "drizzle" that
// table kept as drizzle's migrator fills it (sha256 of the file, the journal's when).
#include <boost/test/unit_test.hpp>

#include "support/tool_project.hpp"

using moonshift::test::sha256_of_file;
using moonshift::test::tool_project;

namespace {

const std::string when0 = "1733400000000", when1 = "1733486400000";

struct drizzle_project : tool_project {
    explicit drizzle_project(bool keep = true)
        : tool_project("drizzle", std::string("migrations = \"drizzle\"\n") +
                                      (keep ? "keep_history = \"drizzle\"\n" : "")) {}
    std::string hash(const std::string& tag) const {
        return sha256_of_file(dir.path / "drizzle" / (tag + ".sql"));
    }
    // drizzle.__drizzle_migrations as drizzle's migrator leaves it.
    void fake_drizzle_history(const std::vector<std::pair<std::string, std::string>>& rows) const {
        std::string sql =
            "CREATE SCHEMA IF NOT EXISTS drizzle;"
            "CREATE TABLE IF NOT EXISTS drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, "
            "hash text NOT NULL, created_at bigint);";
        for (auto& [hash, when] : rows)
            sql += "INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES ('" + hash +
                   "', " + when + ");";
        this->sql(sql);
    }
    std::vector<std::string> drizzle_rows() const {
        return rows(
            "SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY created_at");
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(dropin_drizzle)

BOOST_AUTO_TEST_CASE(status_reads_the_journal_and_never_takes_meta_for_a_migration) {
    drizzle_project p;
    auto j = p.json({"status"});
    BOOST_TEST(j["format"] == "drizzle");
    BOOST_TEST(j["summary"]["pending"] == 2);
    BOOST_TEST(j["migrations"][0]["version"] == "0000");
    BOOST_TEST(j["migrations"][0]["name"] == "wise_hulk");
    BOOST_TEST(j["migrations"][1]["version"] == "0001");
}

BOOST_AUTO_TEST_CASE(up_and_down_keep_drizzles_table_with_the_hash_drizzle_computes) {
    drizzle_project p;
    p.file("rollbacks/0001_rollback_brave_posts.sql", "DROP TABLE posts;\n");
    p.must({"up"});
    BOOST_TEST(p.applied_versions() == (std::vector<std::string>{"0000", "0001"}));
    BOOST_TEST(p.table_exists("posts"));
    // What drizzle's migrator would have written: drizzle-kit migrate now applies nothing.
    BOOST_TEST(p.drizzle_rows() ==
               (std::vector<std::string>{p.hash("0000_wise_hulk") + "|" + when0,
                                         p.hash("0001_brave_posts") + "|" + when1}));
    p.must({"down"});
    BOOST_TEST(!p.table_exists("posts"));
    BOOST_TEST(p.drizzle_rows() ==
               (std::vector<std::string>{p.hash("0000_wise_hulk") + "|" + when0}));
    p.must({"up"});
    BOOST_TEST(p.drizzle_rows().size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_failed_migration_writes_neither_history) {
    drizzle_project p;
    p.sql("CREATE TABLE posts (id int)");  // 0001 fails: the table exists
    auto r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(p.applied_versions() == (std::vector<std::string>{"0000"}));
    BOOST_TEST(p.drizzle_rows() ==
               (std::vector<std::string>{p.hash("0000_wise_hulk") + "|" + when0}));
}

BOOST_AUTO_TEST_CASE(import_matches_drizzles_rows_by_hash_and_up_then_applies_only_the_rest) {
    drizzle_project p;
    p.sql(p.read("drizzle/0000_wise_hulk.sql"));
    p.fake_drizzle_history({{p.hash("0000_wise_hulk"), when0}});
    auto j = p.json({"import", "--from", "drizzle"});
    BOOST_TEST(j["count"] == 1);
    BOOST_TEST(j["report"]["imported"][0]["version"] == "0000");
    BOOST_TEST(j["report"]["not_in_database"][0]["version"] == "0001");
    BOOST_TEST(j["report"]["changed_on_disk"].empty());
    auto up = p.must({"up"});
    BOOST_TEST(up.out.find("Applying 0000") == std::string::npos);
    BOOST_TEST(up.out.find("Applying 0001_brave_posts") != std::string::npos);
    // After moonshift's up, drizzle's table lists the new migration with drizzle's hash.
    BOOST_TEST(p.drizzle_rows() ==
               (std::vector<std::string>{p.hash("0000_wise_hulk") + "|" + when0,
                                         p.hash("0001_brave_posts") + "|" + when1}));
    auto again = p.must({"up"});
    BOOST_TEST(again.out.find("Applying") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_database_drizzle_migrated_whole_imports_whole_and_up_applies_nothing) {
    drizzle_project p(false);
    p.sql(p.read("drizzle/0000_wise_hulk.sql"));
    p.sql(p.read("drizzle/0001_brave_posts.sql"));
    // drizzle's migrator counts every entry up to the newest created_at as applied.
    p.fake_drizzle_history({{p.hash("0001_brave_posts"), when1}});
    auto j = p.json({"import", "--from", "drizzle"});
    BOOST_TEST(j["count"] == 2);
    auto up = p.must({"up"});
    BOOST_TEST(up.out.find("Applying") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_row_whose_file_changed_is_matched_by_the_journals_when) {
    drizzle_project p(false);
    p.sql(p.read("drizzle/0000_wise_hulk.sql"));
    p.fake_drizzle_history({{std::string(64, 'a'), when0}});
    auto j = p.json({"import", "--from", "drizzle"});
    BOOST_TEST(j["report"]["changed_on_disk"][0]["version"] == "0000");
    BOOST_TEST(j["report"]["imported"][0]["version"] == "0000");
}

BOOST_AUTO_TEST_CASE(pieces_between_breakpoints_run_as_statements_of_their_own) {
    drizzle_project p;
    // A custom migration (drizzle-kit generate --custom) without semicolons:
    // drizzle's migrator splits on the breakpoints, so does moonshift.
    p.file("drizzle/0002_custom_seed.sql",
           "CREATE TABLE tags (name text)\n--> statement-breakpoint\n"
           "INSERT INTO tags VALUES ('a')\n");
    auto journal = p.read("drizzle/meta/_journal.json");
    journal.replace(journal.rfind("}\n  ]"), 1,
                    "},\n    {\"idx\": 2, \"version\": \"7\", \"when\": 1733572800000, \"tag\": "
                    "\"0002_custom_seed\", \"breakpoints\": true}");
    p.file("drizzle/meta/_journal.json", journal);
    p.must({"up"});
    BOOST_TEST(p.scalar("SELECT name FROM tags") == "a");
}

BOOST_AUTO_TEST_CASE(a_journal_naming_a_missing_file_is_refused_naming_both) {
    drizzle_project p;
    std::filesystem::remove(p.dir.path / "drizzle" / "0001_brave_posts.sql");
    auto before = p.fingerprint();
    for (auto cmd : {"status", "up"}) {
        auto r = p.ms({cmd});
        BOOST_TEST_INFO(r.err);
        BOOST_TEST(r.exit_code == 2);
        BOOST_TEST(r.err.find("drizzle/meta/_journal.json: entry 2") != std::string::npos);
        BOOST_TEST(r.err.find("drizzle/0001_brave_posts.sql, which does not exist") !=
                   std::string::npos);
        BOOST_TEST(r.err.find("drizzle-kit drop") != std::string::npos);
    }
    BOOST_TEST(p.fingerprint() == before);
}

BOOST_AUTO_TEST_CASE(a_malformed_journal_is_refused_with_its_line) {
    drizzle_project p;
    p.file("drizzle/meta/_journal.json",
           "{\n  \"version\": \"7\",\n  \"entries\": [\n    {\"idx\": 0,,}\n  ]\n}\n");
    auto r = p.ms({"status"});
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err.find("drizzle/meta/_journal.json:4:") != std::string::npos);
    BOOST_TEST(r.err.find("not valid JSON") != std::string::npos);
    p.file("drizzle/meta/_journal.json", "{\"entries\": [{\"idx\": 0}]}");
    r = p.ms({"status"});
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err.find("entry 1 needs a \"tag\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_sql_file_the_journal_does_not_name_is_refused) {
    drizzle_project p;
    p.file("drizzle/0002_stray.sql", "SELECT 1;\n");
    auto r = p.ms({"status"});
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err.find("drizzle/0002_stray.sql: not in drizzle/meta/_journal.json") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(keep_history_of_another_layout_is_refused_before_any_change) {
    drizzle_project p(false);
    p.file("moonshift.toml",
           "[project]\nmigrations = \"drizzle\"\nkeep_history = \"prisma\"\n\n"
           "[env.test]\nurl = \"" +
               p.url + "\"\n");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.err);
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err.find("keep_history = \"prisma\"") != std::string::npos);
    BOOST_TEST(!p.table_exists("users"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dropin_drizzle_in_supabase)

// drizzle-kit writing into supabase/migrations (out: "./supabase/migrations"),
// pushed by either tool: both tables are kept.
BOOST_AUTO_TEST_CASE(drizzle_kit_files_in_supabase_migrations_keep_both_histories) {
    tool_project p("drizzle",
                   "migrations = \"supabase/migrations\"\n"
                   "keep_history = [\"supabase\", \"drizzle\"]\n");
    std::filesystem::create_directories(p.dir.path / "supabase");
    std::filesystem::rename(p.dir.path / "drizzle", p.dir.path / "supabase" / "migrations");
    p.file("supabase/config.toml", "project_id = \"x\"\n");
    p.must({"up"});
    BOOST_TEST(p.rows("SELECT version || '|' || name FROM supabase_migrations.schema_migrations "
                      "ORDER BY version") ==
               (std::vector<std::string>{"0000|wise_hulk", "0001|brave_posts"}));
    BOOST_TEST(p.count("SELECT * FROM drizzle.__drizzle_migrations") == 2);
    auto j = p.json({"status"});
    BOOST_TEST(j["format"] == "drizzle");
}

BOOST_AUTO_TEST_SUITE_END()
