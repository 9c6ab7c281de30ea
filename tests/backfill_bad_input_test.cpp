// Bad backfills stop before any row is touched: a clear error naming the
// migration file and line, the exit code by kind, and the database, its
// data and the history exactly as before (the migration's DDL included).
#include <boost/test/unit_test.hpp>

#include "support/project.hpp"

using moonshift::test::project;

namespace {

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

struct bad_case {
    std::string backfill;  // the value of the migration's backfill field
    int exit_code;
    std::string message;
};

void expect_refused(const bad_case& c) {
    project p;
    p.migration("001_items.sql",
                "CREATE TABLE items (id int PRIMARY KEY, code text NOT NULL, title text, n int);\n"
                "CREATE TABLE loose (id int NOT NULL, title text);\n"
                "INSERT INTO items SELECT g, 'c' || g, 'T' || g, 0 FROM generate_series(1, 50) g;\n"
                "INSERT INTO loose SELECT g, 'T' || g FROM generate_series(1, 50) g;\n");
    BOOST_REQUIRE(p.ms({"up"}).exit_code == 0);
    std::string data = p.scalar("SELECT md5(string_agg(i::text, ',' ORDER BY id)) FROM items i") +
                       p.scalar("SELECT md5(string_agg(l::text, ',' ORDER BY id)) FROM loose l");
    std::string before = p.fingerprint();
    p.migration("002_bad.lua",
                "-- a backfill that cannot run\nreturn {\n  up = function(db) db:exec(\"ALTER "
                "TABLE items ADD "
                "COLUMN slug text\") end,\n  backfill = " +
                    c.backfill + ",\n}\n");
    auto r = p.ms({"up"});
    BOOST_TEST_INFO("backfill = " << c.backfill << "\n" << r.out << r.err);
    BOOST_TEST(r.exit_code == c.exit_code);
    BOOST_TEST(contains(r.err, "migrations/002_bad.lua:4: backfill: "), r.err);
    BOOST_TEST(contains(r.err, c.message), r.err);
    BOOST_TEST(p.fingerprint() == before, "no column added, no history row");
    BOOST_TEST(p.scalar("SELECT md5(string_agg(i::text, ',' ORDER BY id)) FROM items i") +
                   p.scalar("SELECT md5(string_agg(l::text, ',' ORDER BY id)) FROM loose l") ==
               data);
    BOOST_TEST(p.count("SELECT 1 FROM moonshift.checkpoints") == 0);
    BOOST_TEST(p.count("SELECT 1 FROM moonshift.backfills") == 0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(backfill_bad_input)

BOOST_AUTO_TEST_CASE(missing_table_is_refused_before_any_row) {
    expect_refused(
        {"{ table = \"itemz\", set = { slug = \"code\" } }", 3, "table \"itemz\" does not exist"});
}

BOOST_AUTO_TEST_CASE(missing_key_column_is_refused_before_any_row) {
    expect_refused({"{ table = \"items\", key = \"item_id\", set = { slug = \"code\" } }", 3,
                    "table items has no key column \"item_id\""});
}

BOOST_AUTO_TEST_CASE(non_unique_key_is_refused_before_any_row) {
    expect_refused({"{ table = \"items\", key = \"code\", set = { slug = \"code\" } }", 3,
                    "the key (code) of items is not unique"});
}

BOOST_AUTO_TEST_CASE(table_without_a_unique_key_is_refused_even_on_a_not_null_column) {
    expect_refused(
        {"{ table = \"loose\", key = \"id\", set = { title = \"upper(title)\" } }", 3,
         "the key (id) of loose is not unique: no primary key or unique index covers it"});
}

BOOST_AUTO_TEST_CASE(nullable_key_column_is_refused) {
    expect_refused({"{ table = \"items\", key = \"title\", set = { slug = \"code\" } }", 3,
                    "key column \"title\" of items allows NULL"});
}

BOOST_AUTO_TEST_CASE(set_expression_that_does_not_parse_is_refused_before_any_row) {
    expect_refused({"{ table = \"items\", set = { slug = \"lower(title\" } }", 2,
                    "set.slug = \"lower(title\" does not compile: syntax error"});
}

BOOST_AUTO_TEST_CASE(set_expression_naming_an_unknown_column_is_refused_before_any_row) {
    expect_refused({"{ table = \"items\", set = { slug = \"lower(titel)\" } }", 2,
                    "column \"titel\" does not exist (42703)"});
}

BOOST_AUTO_TEST_CASE(set_of_a_column_that_does_not_exist_is_refused) {
    expect_refused({"{ table = \"items\", set = { slugg = \"code\" } }", 3,
                    "table items has no column \"slugg\" to set"});
}

BOOST_AUTO_TEST_CASE(where_that_does_not_parse_is_refused) {
    expect_refused({"{ table = \"items\", where = \"slug IS NUL\", set = { slug = \"code\" } }", 2,
                    "where = \"slug IS NUL\" does not compile"});
}

BOOST_AUTO_TEST_CASE(changing_the_key_is_refused) {
    expect_refused({"{ table = \"items\", set = { id = \"id + 1\" } }", 3,
                    "column \"id\" is part of the key"});
}

BOOST_AUTO_TEST_CASE(unknown_option_and_both_set_and_transform_are_usage_errors) {
    expect_refused(
        {"{ table = \"items\", sett = { slug = \"code\" } }", 2, "unknown option \"sett\""});
    expect_refused({"{ table = \"items\", set = { slug = \"code\" }, transform = function(r) end }",
                    2, "give set or transform, not both"});
}

BOOST_AUTO_TEST_CASE(a_transform_declared_inside_up_is_refused_because_it_could_not_resume) {
    project p;
    p.migration("001_items.sql", "CREATE TABLE items (id int PRIMARY KEY, title text);\n");
    p.migration("002_bad.lua", R"lua(return {
  up = function(db)
    backfill { table = "items", transform = function(row) return { title = "x" } end }
  end,
}
)lua");
    auto r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 1, r.out << r.err);
    BOOST_TEST(
        contains(
            r.err,
            "migrations/002_bad.lua:3: backfill: a transform or pause_when declared inside up()"),
        r.err);
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001"}));
}

BOOST_AUTO_TEST_SUITE_END()
