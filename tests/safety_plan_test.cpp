// `moonshift plan` and the schema snapshot/diff it stands on, against a real
// PostgreSQL: each pending migration rehearsed in a transaction that is
// rolled back, with its time, rows, locks and schema changes; nothing is
// left behind; no-transaction migrations are listed as not rehearsed.
#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "db/session.hpp"
#include "schema/schema.hpp"
#include "support/project.hpp"

using moonshift::test::fresh_db;
using moonshift::test::last_json;
using moonshift::test::project;
namespace schema = moonshift::schema;

namespace {

bool has(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

std::vector<std::string> described(const std::vector<schema::change>& changes) {
    std::vector<std::string> out;
    for (const auto& c : changes) out.push_back(schema::describe(c));
    return out;
}

bool contains_line(const std::vector<std::string>& lines, const std::string& needle) {
    for (const auto& l : lines)
        if (has(l, needle)) return true;
    return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(safety_plan)

BOOST_FIXTURE_TEST_CASE(schema_diff_names_every_kind_of_change, fresh_db) {
    moonshift::db::settings st;
    st.url = url;
    moonshift::db::session s(st);
    s.exec_script(
        "CREATE TABLE t (id int PRIMARY KEY, name text, gone int);"
        "CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql AS 'SELECT x';");
    auto a = schema::snapshot(s);
    s.exec_script(
        "ALTER TABLE t ALTER COLUMN id TYPE bigint; ALTER TABLE t DROP COLUMN gone;"
        "ALTER TABLE t ADD COLUMN slug text NOT NULL DEFAULT 'x';"
        "CREATE INDEX t_slug ON t (slug); ALTER TABLE t ADD CONSTRAINT slug_len CHECK "
        "(length(slug) < 80);"
        "ALTER TABLE t ENABLE ROW LEVEL SECURITY; CREATE POLICY own ON t FOR SELECT USING (true);"
        "CREATE OR REPLACE FUNCTION f(x int) RETURNS int LANGUAGE sql AS 'SELECT x + 1';"
        "CREATE TABLE u (a int); CREATE TYPE mood AS ENUM ('sad', 'happy');");
    auto b = schema::snapshot(s);
    auto lines = described(schema::diff(a, b));
    std::string all;
    for (const auto& l : lines) all += l + "\n";
    BOOST_TEST(contains_line(lines, "~ column public.t.id: type integer → bigint"), all);
    BOOST_TEST(contains_line(lines, "- column public.t.gone: integer"), all);
    BOOST_TEST(contains_line(lines, "+ column public.t.slug: text NOT NULL DEFAULT 'x'::text"),
               all);
    BOOST_TEST(
        contains_line(lines,
                      "+ index public.t_slug: CREATE INDEX t_slug ON public.t USING btree (slug)"),
        all);
    BOOST_TEST(contains_line(lines, "+ constraint public.t.slug_len: CHECK"), all);
    BOOST_TEST(contains_line(lines, "~ table public.t: rls no → yes"), all);
    BOOST_TEST(contains_line(lines, "+ policy public.t.own: SELECT to public"), all);
    BOOST_TEST(contains_line(lines, "~ function public.f(x integer): body changed"), all);
    BOOST_TEST(contains_line(lines, "+ table public.u"), all);
    BOOST_TEST(contains_line(lines, "+ enum public.mood"), all);
    // A snapshot is plain JSON: it survives a round trip, and equal snapshots have no diff.
    auto again = nlohmann::json::parse(b.dump());
    BOOST_TEST(schema::diff(b, again).empty());
}

BOOST_FIXTURE_TEST_CASE(plan_rehearses_reports_and_leaves_nothing_behind, project) {
    migration("001_base.sql",
              "CREATE TABLE IF NOT EXISTS artworks (id int PRIMARY KEY, title text);\n"
              "INSERT INTO artworks SELECT g, 'Work ' || g FROM generate_series(1, 30) g;\n");
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    migration("002_slug.sql",
              "ALTER TABLE artworks ADD COLUMN IF NOT EXISTS slug text;\n"
              "UPDATE artworks SET slug = lower(replace(title, ' ', '-')) WHERE slug IS NULL;\n"
              "ALTER TABLE artworks ALTER COLUMN slug SET NOT NULL;\n");
    migration("003_index.sql",
              "-- moonshift:no-transaction\n"
              "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS artworks_slug ON artworks (slug);\n");
    auto before = fingerprint();
    auto r = ms({"plan"});
    BOOST_TEST(r.exit_code == 0, r.err + r.out);
    BOOST_TEST(has(r.out, "002_slug  ok"), r.out);
    BOOST_TEST(has(r.out, "30 row(s) affected"), r.out);
    BOOST_TEST(has(r.out, "UPDATE"), r.out);
    BOOST_TEST(has(r.out, "ACCESS EXCLUSIVE on public.artworks"), r.out);
    BOOST_TEST(has(r.out, "+ column public.artworks.slug: text NOT NULL"), r.out);
    BOOST_TEST(has(r.out, "003_index  not rehearsed"), r.out);
    BOOST_TEST(has(r.out, "CREATE INDEX CONCURRENTLY cannot run inside a transaction block"),
               r.out);
    BOOST_TEST(fingerprint() == before);  // rolled back
    BOOST_TEST((applied_versions() == std::vector<std::string>{"001"}));

    auto j = ms({"--json", "plan"});
    auto out = last_json(j.out);
    BOOST_REQUIRE(out["migrations"].size() == 2u);
    BOOST_TEST(out["migrations"][0]["rows"] == 30);
    BOOST_TEST(out["migrations"][0]["statements"].size() == 3u);
    BOOST_TEST(out["migrations"][1]["rehearsed"] == false);
}

BOOST_FIXTURE_TEST_CASE(plan_rehearses_own_transactions_and_judges_nothing_against_a_wrong_state,
                        project) {
    migration("001_base.sql", "CREATE TABLE IF NOT EXISTS t (id bigint);\n");
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    // The runbooks' own BEGIN/COMMIT: rehearsed with it taken out.
    migration("002_wrapped.sql",
              "BEGIN;\nALTER TABLE t ADD COLUMN IF NOT EXISTS c int;\nCOMMIT;\n");
    // Cannot run in a transaction: not rehearsed, and 004 (same table) depends on it.
    migration("003_index.sql",
              "-- moonshift:no-transaction\nALTER TABLE t ADD COLUMN IF NOT EXISTS e int;\n"
              "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_e ON t (e);\n");
    migration("004_more.sql", "ALTER TABLE t ADD COLUMN IF NOT EXISTS d int;\n");
    // A no-transaction file whose statements could run in one is rehearsed.
    migration("005_other.sql",
              "-- moonshift:no-transaction\nCREATE TABLE IF NOT EXISTS other (id bigint);\n");
    // An index that was not built changes nothing a later statement sees.
    migration("006_other_index.sql",
              "-- moonshift:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS other_id ON "
              "other (id);\n");
    migration("007_other_more.sql", "ALTER TABLE other ADD COLUMN IF NOT EXISTS n int;\n");
    // An enum value added by one migration and used by the next: up commits
    // between them, a rehearsal cannot.
    migration("008_mood.sql", "CREATE TYPE mood AS ENUM ('calm');\n");
    migration("009_value.sql", "ALTER TYPE mood ADD VALUE 'happy';\n");
    migration("010_use.sql", "CREATE TABLE IF NOT EXISTS days (m mood DEFAULT 'happy');\n");
    auto before = fingerprint();
    auto r = ms({"--json", "plan"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 0);
    auto out = last_json(r.out);
    BOOST_REQUIRE(out["migrations"].size() == 9u);
    auto& m = out["migrations"];
    BOOST_TEST(m[0]["rehearsed"] == true);
    BOOST_TEST(m[0]["failed"] == false);
    BOOST_TEST(m[0]["note"] == "rehearsed with its own BEGIN/COMMIT taken out");
    BOOST_TEST(m[1]["rehearsed"] == false);  // 003
    BOOST_TEST(m[2]["rehearsed"] == false);  // 004
    BOOST_TEST(has(m[2]["not_rehearsed"].get<std::string>(), "depends on 003_index"));
    BOOST_TEST(m[3]["rehearsed"] == true);   // 005
    BOOST_TEST(m[4]["rehearsed"] == false);  // 006
    BOOST_TEST(m[5]["rehearsed"] == true);   // 007
    BOOST_TEST(m[6]["rehearsed"] == true);   // 008
    BOOST_TEST(m[7]["rehearsed"] == true);   // 009
    BOOST_TEST(m[8]["rehearsed"] == false);  // 010
    BOOST_TEST(has(m[8]["not_rehearsed"].get<std::string>(), "enum value"));
    BOOST_TEST(fingerprint() == before);
    // And up agrees: everything applies.
    auto up = ms({"up"});
    BOOST_TEST(up.exit_code == 0, up.out << up.err);
    BOOST_TEST(applied_versions().size() == 10u);
}

BOOST_FIXTURE_TEST_CASE(plan_of_a_failing_migration_exits_1_and_names_the_line, project) {
    migration("001_base.sql", "CREATE TABLE IF NOT EXISTS t (id int);\n");
    migration("002_bad.sql",
              "ALTER TABLE t ADD COLUMN IF NOT EXISTS a int;\nALTER TABLE t ADD COLUMN a int;\n");
    auto r = ms({"plan"});
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(has(r.out, "001_base  ok"), r.out);
    BOOST_TEST(has(r.out, "002_bad  fails"), r.out);
    BOOST_TEST(has(r.out, "migrations/002_bad.sql:2:"), r.out);
    BOOST_TEST(has(r.out, "42701"), r.out);
    BOOST_TEST(!table_exists("t"));
}

BOOST_FIXTURE_TEST_CASE(plan_reports_the_schema_diff_of_the_quickstart_example, project) {
    // The example's own migrations, SQL and Lua, on an empty database.
    std::filesystem::path from =
        std::filesystem::path(MOONSHIFT_SOURCE_DIR) / "examples/quickstart/migrations";
    for (const auto& f : std::filesystem::directory_iterator(from))
        std::filesystem::copy_file(f.path(), dir.path / "migrations" / f.path().filename(),
                                   std::filesystem::copy_options::overwrite_existing);
    auto r = ms({"plan"});
    BOOST_TEST(r.exit_code == 0, r.err + r.out);
    BOOST_TEST(has(r.out, "+ table public.artists"), r.out);
    BOOST_TEST(has(r.out, "+ index public.artworks_artist_id"), r.out);
    BOOST_TEST(
        has(r.out, "+ constraint public.artworks.artworks_artist_id_fkey: FOREIGN KEY (artist_id)"),
        r.out);
    BOOST_TEST(has(r.out, "+ column public.artworks.slug: text NOT NULL"), r.out);
    BOOST_TEST(has(r.out, "004_artworks_slug_index  not rehearsed"), r.out);
    // The Lua migration is rehearsed too: its precheck, up and verify.
    BOOST_TEST(has(r.out, "005_artwork_titles  ok"), r.out);
    BOOST_TEST(has(r.out, "+ column public.artworks.original_title: text"), r.out);
    BOOST_TEST(!table_exists("artists"));
}

BOOST_AUTO_TEST_SUITE_END()
