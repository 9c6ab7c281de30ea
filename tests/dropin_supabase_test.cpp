// A Supabase project as the Supabase CLI writes it (tests/fixtures/supabase-cli:
// supabase/config.toml, migrations/<timestamp>_name.sql with RLS policies
// calling auth.uid(), seed.sql): `init` finds it, `new` follows its convention
// (timestamps; downs in supabase/rollbacks, never in supabase/migrations),
// `up`/`down` keep supabase_migrations.schema_migrations as the CLI fills it,
// `seed` loads seed.sql, and diff/drift leave Supabase's own schemas out.
#include <boost/test/unit_test.hpp>
#include <regex>

#include "support/tool_project.hpp"

using moonshift::test::tool_project;
namespace fs = std::filesystem;

namespace {

const std::string v1 = "20240105093000", v2 = "20240106120000";

struct supabase_project : tool_project {
    explicit supabase_project(bool keep = true)
        : tool_project("supabase-cli", std::string("migrations = \"supabase/migrations\"\n") +
                                           (keep ? "keep_history = \"supabase\"\n" : "")) {}
    // supabase_migrations.schema_migrations as the Supabase CLI creates and fills it.
    void fake_cli_history(const std::vector<std::string>& versions) const {
        std::string sql =
            "CREATE SCHEMA IF NOT EXISTS supabase_migrations;"
            "CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (version text NOT "
            "NULL PRIMARY KEY);"
            "ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS "
            "statements text[];"
            "ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text;";
        for (auto& v : versions)
            sql += "INSERT INTO supabase_migrations.schema_migrations VALUES ('" + v +
                   "', '{}', 'x');";
        this->sql(sql);
    }
    // What `supabase migration list` shows as applied remotely.
    std::vector<std::string> cli_rows() const {
        return rows(
            "SELECT version || '|' || name FROM supabase_migrations.schema_migrations ORDER BY "
            "version");
    }
};

std::vector<std::string> listing(const fs::path& dir) {
    std::vector<std::string> out;
    if (!fs::exists(dir)) return out;
    for (auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dropin_supabase)

BOOST_AUTO_TEST_CASE(init_in_a_supabase_repository_uses_supabase_migrations) {
    supabase_project p;
    fs::remove(p.dir.path / "moonshift.toml");
    auto r = p.must({"init"});
    BOOST_TEST(r.out.find("supabase's project: migrations in supabase/migrations") !=
               std::string::npos);
    auto toml = p.read("moonshift.toml");
    BOOST_TEST(toml.find("migrations = \"supabase/migrations\"") != std::string::npos);
    BOOST_TEST(toml.find("keep_history = \"supabase\"") != std::string::npos);
    BOOST_TEST(!fs::exists(p.dir.path / "migrations"));
    p.file("moonshift.toml", toml + "\n[env.test]\nurl = \"" + p.url + "\"\n");
    auto j = p.json({"--env", "test", "status"});
    BOOST_TEST(j["format"] == "supabase");
    BOOST_TEST(j["summary"]["pending"] == 2);
}

BOOST_AUTO_TEST_CASE(up_and_down_keep_the_cli_history_and_read_downs_from_rollbacks) {
    supabase_project p;
    p.must({"up"});
    auto dry = p.json({"down", "--dry-run"});
    BOOST_TEST(dry["report"]["would_revert"][0]["how"] == "down script");
    BOOST_TEST(p.cli_rows() == (std::vector<std::string>{v1 + "|profiles", v2 + "|notes"}));
    // The statements as the CLI records them: one element per statement.
    BOOST_TEST(p.scalar("SELECT cardinality(statements) FROM supabase_migrations.schema_migrations "
                        "WHERE version = '" +
                        v1 + "'") == "3");
    p.must({"down"});
    BOOST_TEST(!p.table_exists("public.notes"));
    BOOST_TEST(p.cli_rows() == (std::vector<std::string>{v1 + "|profiles"}));
}

BOOST_AUTO_TEST_CASE(import_then_new_then_up_lists_the_new_migration_for_the_cli) {
    supabase_project p;
    p.sql(p.read("supabase/migrations/" + v1 + "_profiles.sql"));
    p.sql(p.read("supabase/migrations/" + v2 + "_notes.sql"));
    p.fake_cli_history({v1, v2});
    auto j = p.json({"import", "--from", "supabase"});
    BOOST_TEST(j["count"] == 2);
    BOOST_TEST(p.must({"up"}).out.find("Applying") == std::string::npos);

    auto created = p.json({"new", "add_tags"});
    std::string v = created["version"];
    BOOST_TEST(std::regex_match(v, std::regex(R"(20\d{12})")));  // YYYYMMDDHHMMSS, as the CLI
    // Nothing but migrations in supabase/migrations: the CLI would take a .down.sql for one.
    BOOST_TEST(
        listing(p.dir.path / "supabase/migrations") ==
        (std::vector<std::string>{v1 + "_profiles.sql", v2 + "_notes.sql", v + "_add_tags.sql"}));
    BOOST_TEST(fs::exists(p.dir.path / "supabase/rollbacks" / (v + "_rollback_add_tags.sql")));
    p.file("supabase/migrations/" + v + "_add_tags.sql", "create table public.tags (name text);\n");
    p.file("supabase/rollbacks/" + v + "_rollback_add_tags.sql", "drop table public.tags;\n");
    p.must({"up"});
    BOOST_TEST(p.cli_rows() == (std::vector<std::string>{v1 + "|x", v2 + "|x", v + "|add_tags"}));
    p.must({"down"});
    BOOST_TEST(p.cli_rows() == (std::vector<std::string>{v1 + "|x", v2 + "|x"}));
}

BOOST_AUTO_TEST_CASE(the_cli_table_is_created_as_the_cli_would_when_missing) {
    supabase_project p;
    p.must({"up", "--to", v1});
    BOOST_TEST(p.scalar("SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE "
                        "attrelid = 'supabase_migrations.schema_migrations'::regclass AND attnum "
                        "> 0") == "version,statements,name");
}

BOOST_AUTO_TEST_CASE(seed_loads_supabase_seed_sql) {
    supabase_project p;
    p.must({"up"});
    auto r = p.must({"seed"});
    BOOST_TEST(r.out.find("supabase/seed.sql") != std::string::npos);
    BOOST_TEST(p.count("SELECT * FROM public.profiles") == 2);
}

BOOST_AUTO_TEST_CASE(drift_leaves_supabases_own_schemas_and_extensions_out_unless_asked) {
    tool_project p("supabase-cli", "migrations = \"supabase/migrations\"\n");
    fs::remove_all(p.dir.path / "supabase/migrations");
    fs::remove_all(p.dir.path / "supabase/rollbacks");
    p.file("supabase/migrations/20240101000000_t.sql", "create table public.t (id int);\n");
    p.must({"up"});
    // What the platform adds to every Supabase database.
    p.sql(
        "create table auth.users (id uuid primary key);"
        "create schema storage; create table storage.objects (id uuid);"
        "create schema extensions; create extension pgcrypto with schema extensions;"
        "create extension \"uuid-ossp\";");
    auto drift = [&p] { return p.ms({"drift", "--scratch", moonshift::test::server_url()}); };
    auto r = drift();
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 0);
    auto toml = p.read("moonshift.toml");
    toml.replace(toml.find("[project]\n"), 10, "[project]\nsupabase_schemas = \"include\"\n");
    p.file("moonshift.toml", toml);
    r = drift();
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 5);
    BOOST_TEST(r.out.find("storage.objects") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
