// examples/backfill runs as shipped: split names with a transform, slugs with
// set + keep_before, progress, and down back to the start.
#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "support/project.hpp"

using moonshift::test::project;

BOOST_AUTO_TEST_SUITE(backfill_example)

BOOST_AUTO_TEST_CASE(the_backfill_example_applies_and_rolls_back) {
    namespace fs = std::filesystem;
    project p;
    fs::path from = fs::path(MOONSHIFT_SOURCE_DIR) / "examples/backfill/migrations";
    fs::copy(from, p.dir.path / "migrations",
             fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    auto r = p.ms({"up", "--json"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(p.applied_versions().size() == 4u);
    BOOST_TEST(p.scalar("SELECT first_name || '|' || last_name FROM people WHERE id = 5") ==
               "Donald Maria|Knuth");
    BOOST_TEST(p.scalar("SELECT first_name || '|' || last_name FROM people WHERE id = 1") ==
               "Grace|Hopper");
    BOOST_TEST(p.count("SELECT 1 FROM people WHERE first_name IS NULL OR last_name IS NULL") == 0);
    BOOST_TEST(p.scalar("SELECT slug FROM artworks WHERE id = 3") == "portrait-café-tortoni-3");
    BOOST_TEST(p.count("SELECT 1 FROM artworks WHERE slug IS NULL") == 0);
    BOOST_TEST(r.out.find("\"table\":\"people\"") != std::string::npos);
    BOOST_TEST(r.out.find("\"state\":\"done\"") != std::string::npos);

    r = p.ms({"down", "--steps", "2"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001", "002"}));
    BOOST_TEST(p.count("SELECT 1 FROM information_schema.columns WHERE column_name IN ('slug', "
                       "'first_name')") == 0);
    BOOST_TEST(p.count("SELECT 1 FROM moonshift.backfill_before") == 0);
}

BOOST_AUTO_TEST_SUITE_END()
