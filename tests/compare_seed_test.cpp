// `moonshift seed`: seeds/ENV/*.sql over seeds/*.sql, sorted by name, one
// transaction per file, a recorded run; --dry-run; production refused with
// nothing changed; a missing seeds folder; an SQL error named file:line:col
// that rolls its own file back and keeps the ones before it.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>

#include "support/project.hpp"

using moonshift::test::last_json;
using moonshift::test::project;
using moonshift::test::write_file;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

struct seeded_project : project {
    seeded_project(const std::string& extra = "") : project(extra) {
        migration("001_users.sql",
                  "CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);\n");
        auto r = ms({"--env", "test", "--yes", "up"});
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.out << r.err);
    }
    void seed(const std::string& file, const std::string& sql) const {
        write_file(dir.path / "seeds" / file, sql);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(compare_seed)

BOOST_FIXTURE_TEST_CASE(seeds_load_in_name_order_and_record_a_run, seeded_project) {
    seed("002_more.sql",
         "INSERT INTO users SELECT id + 1, 'copy of ' || name FROM users WHERE id = 1;\n");
    seed("001_first.sql", "INSERT INTO users VALUES (1, 'ada');\n");
    seed("README.md", "not SQL, not loaded\n");
    auto r = ms({"seed"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(scalar("SELECT string_agg(name, ',' ORDER BY id) FROM users") == "ada,copy of ada",
               "001 ran before 002");
    BOOST_TEST(r.out.find("seeds/001_first.sql") < r.out.find("seeds/002_more.sql"), r.out);
    BOOST_TEST(contains(r.out, "Seeded test with 2 file(s)."));
    BOOST_TEST(scalar("SELECT outcome FROM moonshift.runs WHERE command = 'seed'") == "ok");
    BOOST_TEST(
        scalar("SELECT report->'seeds'->1->>'file' FROM moonshift.runs WHERE command = 'seed'") ==
        "seeds/002_more.sql");
}

BOOST_FIXTURE_TEST_CASE(the_environments_own_folder_wins_over_the_shared_files, seeded_project) {
    seed("001_shared.sql", "INSERT INTO users VALUES (1, 'shared');\n");
    seed("test/001_own.sql", "INSERT INTO users VALUES (2, 'own');\n");
    auto r = ms({"seed"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(scalar("SELECT string_agg(name, ',') FROM users") == "own");
}

BOOST_FIXTURE_TEST_CASE(dry_run_lists_the_files_and_changes_nothing, seeded_project) {
    seed("001_first.sql", "INSERT INTO users VALUES (1, 'ada');\n");
    auto runs = count("SELECT 1 FROM moonshift.runs");
    auto r = ms({"seed", "--dry-run"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(contains(r.out, "would load seeds/001_first.sql"));
    BOOST_TEST(count("SELECT 1 FROM users") == 0);
    BOOST_TEST(count("SELECT 1 FROM moonshift.runs") == runs);
    auto j = last_json(ms({"seed", "--dry-run", "--json"}).out);
    BOOST_TEST(j["files"][0] == "seeds/001_first.sql");
}

BOOST_FIXTURE_TEST_CASE(production_is_refused_and_nothing_changes, moonshift::test::fresh_db) {
    project p("\n[env.production]\nurl = \"" + url + "\"\n");
    p.migration("001_users.sql", "CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);\n");
    auto up = p.ms({"--env", "production", "--yes", "up"});
    BOOST_REQUIRE_MESSAGE(up.exit_code == 0, up.out << up.err);
    write_file(p.dir.path / "seeds" / "001.sql", "INSERT INTO users VALUES (1, 'x');\n");
    pqxx::connection c(url);
    auto runs = [&] {
        pqxx::nontransaction tx(c);
        return tx.exec("SELECT count(*) FROM moonshift.runs")[0][0].as<long long>();
    };
    auto before = runs();
    auto r = p.ms({"--env", "production", "seed"});
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(contains(r.err, "environment \"production\" is a production environment"), r.err);
    BOOST_TEST(contains(r.err, "nothing was changed"), r.err);
    BOOST_TEST(runs() == before, "no run row");
    pqxx::nontransaction tx(c);
    BOOST_TEST(tx.exec("SELECT count(*) FROM users")[0][0].as<long long>() == 0);
}

BOOST_AUTO_TEST_CASE(an_environment_marked_production_is_refused) {
    seeded_project other("production = true\n");
    other.seed("001.sql", "INSERT INTO users VALUES (1, 'x');\n");
    auto r = other.ms({"seed"});
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(contains(r.err, "environment \"test\" is a production environment"), r.err);
    BOOST_TEST(other.count("SELECT 1 FROM users") == 0);
}

BOOST_FIXTURE_TEST_CASE(a_missing_seeds_folder_is_a_usage_error, seeded_project) {
    auto before = fingerprint();
    auto r = ms({"seed"});
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(contains(r.err, "there is no seeds/ folder"), r.err);
    BOOST_TEST(contains(r.err, "seeds/test/*.sql"), "the hint says where seeds go: " << r.err);
    BOOST_TEST(fingerprint() == before);
}

BOOST_FIXTURE_TEST_CASE(a_seeds_folder_without_sql_files_is_a_usage_error, seeded_project) {
    seed("notes.txt", "nothing\n");
    auto r = ms({"seed"});
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(contains(r.err, "seeds/ has no .sql files"), r.err);
}

BOOST_FIXTURE_TEST_CASE(an_sql_error_names_file_line_and_rolls_that_file_back, seeded_project) {
    seed("001_ok.sql", "INSERT INTO users VALUES (1, 'ada');\n");
    seed("002_bad.sql",
         "INSERT INTO users VALUES (2, 'bob');\n-- the next one is wrong\nINSERT INTO users VALUES "
         "(3, nmae);\n");
    seed("003_never.sql", "INSERT INTO users VALUES (4, 'eve');\n");
    auto r = ms({"seed"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(contains(r.err, "seeds/002_bad.sql:3:"), "the error points at the line");
    BOOST_TEST(contains(r.err, "column \"nmae\" does not exist (42703)"));
    BOOST_TEST(contains(r.err, "seeds/002_bad.sql was rolled back"));
    BOOST_TEST(scalar("SELECT string_agg(name, ',') FROM users") == "ada",
               "001 stays, 002 rolled back, 003 never ran");
    BOOST_TEST(scalar("SELECT outcome FROM moonshift.runs WHERE command = 'seed'") == "failed");
    BOOST_TEST(scalar("SELECT report->>'failed_file' FROM moonshift.runs WHERE command = 'seed'") ==
               "seeds/002_bad.sql");
}

BOOST_FIXTURE_TEST_CASE(an_error_without_a_position_is_located_by_statement, seeded_project) {
    seed("001_dupes.sql",
         "INSERT INTO users VALUES (1, 'ada');\n\nINSERT INTO users VALUES (1, 'again');\n");
    auto r = ms({"seed"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(contains(r.err, "seeds/001_dupes.sql:3:1: duplicate key value"));
    BOOST_TEST(count("SELECT 1 FROM users") == 0);
}

BOOST_AUTO_TEST_CASE(an_unknown_environment_is_a_usage_error) {
    project p;
    auto r = p.ms({"--env", "nope", "seed"});
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(contains(r.err, "environment \"nope\" is not defined"), r.err);
}

BOOST_AUTO_TEST_SUITE_END()
