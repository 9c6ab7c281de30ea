// Backfills of real migrations against a real PostgreSQL: set and transform,
// composite keys, the three places a backfill is declared, the history row
// only after the batches, resume after a failed batch without processing a
// row twice, keep_before + down, and progress events reaching a hook.
#include <boost/test/unit_test.hpp>

#include "support/project.hpp"
#include "support/receivers.hpp"

using moonshift::test::last_json;
using moonshift::test::project;
using nlohmann::json;

namespace {

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

// n artworks with titles "Title N!" and no slug.
void artworks(const project& p, int n) {
    p.migration(
        "001_artworks.sql",
        "CREATE TABLE artworks (id bigint PRIMARY KEY, title text NOT NULL, touched int NOT NULL "
        "DEFAULT 0);\n"
        "INSERT INTO artworks (id, title) SELECT g, 'Title ' || g || '!' FROM generate_series(1, " +
            std::to_string(n) + ") g;\n");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(backfill_apply)

BOOST_AUTO_TEST_CASE(set_backfill_in_a_field_fills_every_row_and_records_the_migration_after_it) {
    project p;
    artworks(p, 2500);
    p.migration("002_slugs.lua", R"lua(return {
  up = function(db) db:exec("ALTER TABLE artworks ADD COLUMN slug text") end,
  backfill = {
    table = "artworks", key = "id", where = "slug IS NULL",
    set = { slug = [[lower(regexp_replace(title, '\W+', '-', 'g'))]], touched = "touched + 1" },
    batch = 300,
  },
}
)lua");
    auto r = p.ms({"up", "--json"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(p.count("SELECT 1 FROM artworks WHERE slug IS NULL") == 0);
    BOOST_TEST(p.scalar("SELECT slug FROM artworks WHERE id = 42") == "title-42-");
    BOOST_TEST(p.count("SELECT 1 FROM artworks WHERE touched <> 1") == 0,
               "every row changed exactly once");
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001", "002"}));
    // Bookkeeping of a finished backfill is gone; the progress lines were printed.
    BOOST_TEST(p.count("SELECT 1 FROM moonshift.checkpoints") == 0);
    BOOST_TEST(p.count("SELECT 1 FROM moonshift.backfills") == 0);
    BOOST_TEST(contains(r.out, "\"event\":\"backfill.progress\""), r.out);
    BOOST_TEST(contains(r.out, "\"state\":\"done\""), r.out);
}

BOOST_AUTO_TEST_CASE(transform_runs_a_lua_function_per_row_and_skips_rows_it_returns_nil_for) {
    project p;
    artworks(p, 3000);
    p.migration("002_slugs.lua", R"lua(local function slugify(s)
  return (s:lower():gsub("[^%w]+", "-"):gsub("^-+", ""):gsub("-+$", ""))
end
return {
  up = function(db) db:exec("ALTER TABLE artworks ADD COLUMN slug text") end,
  backfill = {
    table = "artworks",
    transform = function(row)
      if row.id % 10 == 0 then return nil end
      return { slug = slugify(row.title), touched = row.touched + 1 }
    end,
    batch = { start = 200, target = "50ms", max = 1000 },
  },
}
)lua");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(p.scalar("SELECT slug FROM artworks WHERE id = 7") == "title-7");
    BOOST_TEST(p.count("SELECT 1 FROM artworks WHERE slug IS NULL") == 300);
    BOOST_TEST(p.count("SELECT 1 FROM artworks WHERE id % 10 <> 0 AND touched <> 1") == 0);
    BOOST_TEST(p.count("SELECT 1 FROM artworks WHERE id % 10 = 0 AND touched <> 0") == 0);
}

BOOST_AUTO_TEST_CASE(composite_keys_walk_in_key_order_with_set_and_transform) {
    project p;
    p.migration("001_lines.sql",
                "CREATE TABLE lines (tenant text NOT NULL, n int NOT NULL, amount int NOT NULL, "
                "doubled int, "
                "label text, PRIMARY KEY (tenant, n));\n"
                "INSERT INTO lines (tenant, n, amount) SELECT t, g, g FROM unnest(ARRAY['a','b "
                "b','c\tt']) t, "
                "generate_series(1, 700) g;\n");
    p.migration("002_doubled.lua", R"lua(return {
  backfill = {
    { table = "lines", key = { "tenant", "n" }, set = { doubled = "amount * 2" }, batch = 97 },
    { table = "lines", key = { "tenant", "n" }, batch = 101,
      transform = function(row) return { label = row.tenant .. "#" .. row.n } end },
  },
}
)lua");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(p.count("SELECT 1 FROM lines WHERE doubled IS DISTINCT FROM amount * 2") == 0);
    BOOST_TEST(p.count("SELECT 1 FROM lines WHERE label IS DISTINCT FROM tenant || '#' || n") == 0);
    BOOST_TEST(p.scalar("SELECT label FROM lines WHERE tenant = E'c\\tt' AND n = 5") == "c\tt#5");
}

// The batch's last key is found without sorting the batch (batch.cpp last_key): an integer key
// by max(), any other by OFFSET; at the table's end, where the rows left are fewer than a
// batch, exactly a batch, or none, every row is still changed once.
BOOST_AUTO_TEST_CASE(uuid_and_integer_keys_at_every_end_of_the_table) {
    project p;
    p.migration("001_docs.sql",
                "CREATE TABLE docs (id uuid PRIMARY KEY, k int NOT NULL UNIQUE, body text, "
                "size int, size2 int, hits int NOT NULL DEFAULT 0);\n"
                "INSERT INTO docs (id, k, body) SELECT md5(g::text)::uuid, g, repeat('x', g % 50) "
                "FROM generate_series(1, 600) g;\n"
                "CREATE FUNCTION docs_hit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "NEW.hits := OLD.hits + 1; RETURN NEW; END $$;\n"
                "CREATE TRIGGER docs_hit BEFORE UPDATE ON docs FOR EACH ROW EXECUTE FUNCTION "
                "docs_hit();\n");
    // 300 rows match the where: batches of 100 end exactly at the table's end, batches of 7
    // end with fewer left, the integer key's batches of 600 take all in one.
    p.migration("002_sizes.lua", R"lua(return {
  backfill = {
    { table = "docs", key = "id", where = "k % 2 = 0", set = { size = "length(body)" }, batch = 100 },
    { table = "docs", key = "id", where = "k % 2 = 1", set = { size = "length(body)" }, batch = 7 },
    { table = "docs", key = "k", set = { size2 = "length(body)" }, batch = 600 },
  },
}
)lua");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(p.count("SELECT 1 FROM docs WHERE size IS DISTINCT FROM length(body)") == 0);
    BOOST_TEST(p.count("SELECT 1 FROM docs WHERE size2 IS DISTINCT FROM length(body)") == 0);
    BOOST_TEST(p.count("SELECT 1 FROM docs WHERE hits <> 2") == 0);  // each row twice: once a part
}

BOOST_AUTO_TEST_CASE(backfill_declared_in_up_and_in_a_folders_backfill_lua) {
    project p;
    artworks(p, 1200);
    p.migration("002_upper.lua", R"lua(return {
  up = function(db)
    db:exec("ALTER TABLE artworks ADD COLUMN upper_title text")
    backfill { table = "artworks", set = { upper_title = "upper(title)" }, batch = 500 }
  end,
}
)lua");
    p.migration("003_lengths/up.sql", "ALTER TABLE artworks ADD COLUMN title_length int;\n");
    p.migration("003_lengths/backfill.lua",
                "backfill { table = 'artworks', batch = 250,\n"
                "  transform = function(row) return { title_length = #row.title } end }\n");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(p.count("SELECT 1 FROM artworks WHERE upper_title IS DISTINCT FROM upper(title)") ==
               0);
    BOOST_TEST(
        p.count("SELECT 1 FROM artworks WHERE title_length IS DISTINCT FROM length(title)") == 0);
    BOOST_TEST(p.applied_versions().size() == 3u);
}

BOOST_AUTO_TEST_CASE(
    a_failing_transform_names_the_row_and_the_next_up_resumes_without_redoing_rows) {
    project p;
    artworks(p, 2000);
    p.migration("002_flags.sql",
                "CREATE TABLE flags (broken bigint);\nINSERT INTO flags VALUES (1234);\n");
    p.migration("003_touch.lua", R"lua(return {
  up = function(db) db:exec("ALTER TABLE artworks ADD COLUMN slug text") end,
  backfill = {
    table = "artworks", batch = 100,
    transform = function(row)
      if row.title == "Title 1234!" then error("cannot slugify " .. row.title) end
      return { touched = row.touched + 1, slug = "s" .. row.id }
    end,
  },
}
)lua");
    auto r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 1, r.out << r.err);
    BOOST_TEST(contains(r.err, "migrations/003_touch.lua:6: cannot slugify Title 1234!"), r.err);
    BOOST_TEST(contains(r.err, "row id=1234"), r.err);
    BOOST_TEST(contains(r.err, "stack traceback"), r.err);
    // The DDL committed, the batches before the bad one too; no history row.
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001", "002"}));
    BOOST_TEST(p.count("SELECT 1 FROM artworks WHERE touched = 1") == 1200);
    BOOST_TEST(p.count("SELECT 1 FROM artworks WHERE touched = 1 AND id > 1200") == 0);
    BOOST_TEST(
        p.scalar(
            "SELECT position->>'rows_done' FROM moonshift.checkpoints WHERE kind = 'backfill:0'") ==
        "1200");
    BOOST_TEST(p.scalar("SELECT state FROM moonshift.backfills") == "failed");
    auto st = p.ms({"backfill", "status"});
    BOOST_TEST(contains(st.out, "003 artworks: failed, 1200/2000 rows (60%)"), st.out);

    // Fix the data; the next up resumes at row 1201 (the ALTER TABLE does not run again).
    p.scalar("UPDATE artworks SET title = 'Title 1234?' WHERE id = 1234");
    r = p.ms({"up"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(p.count("SELECT 1 FROM artworks WHERE touched <> 1") == 0,
               "no row skipped, none twice");
    BOOST_TEST(p.applied_versions().size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_failing_set_batch_stops_with_the_checkpoint_at_the_last_good_batch) {
    project p;
    artworks(p, 1000);
    p.migration("002_ratio.lua", R"lua(return {
  up = function(db) db:exec("ALTER TABLE artworks ADD COLUMN ratio int") end,
  backfill = { table = "artworks", batch = 100, set = { ratio = "100 / (id - 555)", touched = "touched + 1" } },
}
)lua");
    auto r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 1, r.out << r.err);
    BOOST_TEST(contains(r.err,
                        "migrations/002_ratio.lua:3: backfill of artworks: the batch from the row "
                        "after key (500) "
                        "failed: division by zero (22012)"),
               r.err);
    BOOST_TEST(p.count("SELECT 1 FROM artworks WHERE touched = 1") == 500);
    p.scalar("UPDATE artworks SET id = 100000 WHERE id = 555");
    r = p.ms({"up"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(p.count("SELECT 1 FROM artworks WHERE touched <> 1") == 0);
}

BOOST_AUTO_TEST_CASE(keep_before_lets_down_restore_the_old_values_exactly) {
    project p;
    p.migration("001_users.sql",
                "CREATE TABLE users (id int PRIMARY KEY, email text, score numeric(6,2));\n"
                "INSERT INTO users SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE ' User' || g || "
                "'@Example.COM ' END, "
                "g / 3.0 FROM generate_series(1, 900) g;\n");
    BOOST_REQUIRE(p.ms({"up"}).exit_code == 0);
    std::string before = p.scalar(
        "SELECT md5(string_agg(id || ':' || coalesce(email, '<null>') || ':' || score, ',' "
        "ORDER BY id)) FROM users");
    p.migration("002_normalize.lua", R"lua(return {
  backfill = { table = "users", batch = 128, keep_before = true,
               set = { email = "lower(trim(email))", score = "round(score)" } },
}
)lua");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(p.scalar("SELECT email FROM users WHERE id = 5") == "user5@example.com");
    BOOST_TEST(p.count("SELECT 1 FROM moonshift.backfill_before") == 900);
    r = p.ms({"down"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(
        p.scalar("SELECT md5(string_agg(id || ':' || coalesce(email, '<null>') || ':' || score, "
                 "',' ORDER BY "
                 "id)) FROM users") == before);
    BOOST_TEST(p.count("SELECT 1 FROM moonshift.backfill_before") == 0);
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001"}));
}

BOOST_AUTO_TEST_CASE(progress_events_reach_a_webhook_hook) {
    moonshift::test::http_receiver webhook;
    project p("\n[notify.webhook]\nurl = \"" + webhook.url() +
              "/events\"\nevents = [\"backfill.progress\"]\n");
    artworks(p, 3000);
    p.migration("002_slow.lua", R"lua(return {
  backfill = { table = "artworks", batch = 100, set = { touched = "touched + 1" },
               throttle = { max_rows_per_second = 1500 } },
}
)lua");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    std::vector<json> events;
    for (auto& req : webhook.requests())
        if (req.header("x-moonshift-event") == "backfill.progress")
            events.push_back(json::parse(req.body));
    // About 2 s of work: the first, one a second at most, and the last.
    BOOST_TEST(events.size() >= 3u);
    BOOST_TEST(events.size() <= 5u);
    BOOST_REQUIRE(!events.empty());
    auto last = events.back();
    BOOST_TEST(last["details"]["state"] == "done", last.dump());
    BOOST_TEST(last["details"]["rows_done"] == 3000);
    BOOST_TEST(last["details"]["rows_total"] == 3000);
    BOOST_TEST(last["migration"]["version"] == "002", last.dump());
    BOOST_TEST(last["details"]["elapsed_ms"].get<long long>() >= 1500,
               "the throttle held it near 1500 rows/s");
}

BOOST_AUTO_TEST_SUITE_END()
