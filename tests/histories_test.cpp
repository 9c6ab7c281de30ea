// Histories as their own tools run them (issue 14), each on a small fixture
// in tests/fixtures/ that reproduces what real projects' folders did: a
// Diesel down script that cannot run in a transaction, Diesel's text order of
// versions, two Sqitch projects in one database, and an import from a table
// that is not the tool's history.
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <pqxx/pqxx>

#include "support/project.hpp"

using moonshift::test::last_json;
using moonshift::test::project;
namespace fs = std::filesystem;

namespace {

bool has(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

fs::path fixture(const std::string& name) {
    return fs::path(MOONSHIFT_SOURCE_DIR) / "tests" / "fixtures" / name;
}

// A project on a fresh database whose migrations are a fixture's folder
// (read in place: nothing writes there).
struct fixture_project : project {
    explicit fixture_project(const fs::path& migrations) {
        moonshift::test::write_file(dir.path / "moonshift.toml",
                                    "[project]\nmigrations = \"" + migrations.string() +
                                        "\"\n\n[env.test]\nurl = \"" + url +
                                        "\"\nlock_wait = \"10s\"\n");
    }
    void sql(const std::string& text) const {
        pqxx::connection c(url);
        pqxx::nontransaction tx(c);
        tx.exec(text);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(histories)

BOOST_AUTO_TEST_CASE(a_diesel_down_script_that_cannot_run_in_a_transaction_refuses_only_itself) {
    auto dir = fixture("diesel-down-concurrently") / "migrations";
    fixture_project p(dir);
    auto r = p.ms({"status"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);  // the history is read, not refused whole
    r = p.ms({"up"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    BOOST_TEST(p.applied_versions().size() == 4u);
    // run_in_transaction = false: its down runs outside a transaction (DROP
    // INDEX CONCURRENTLY would fail in one).
    r = p.ms({"down"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    BOOST_TEST(p.scalar("SELECT to_regclass('books_isbn') IS NULL") == "t");
    // The next down script would run in a transaction, as Diesel would run it:
    // refused before anything changes, naming the down script and the file to change.
    r = p.ms({"down"});
    BOOST_TEST(r.exit_code == 2, r.err);
    BOOST_TEST(has(r.err, "2024-05-02-080000_books_title_idx/down.sql:1:1"), r.err);
    BOOST_TEST(has(r.err, "2024-05-02-080000_books_title_idx/metadata.toml"), r.err);
    BOOST_TEST(!has(r.err, "at the top of"), r.err);  // not the up script
    BOOST_TEST(p.scalar("SELECT to_regclass('books_title') IS NOT NULL") == "t");
    BOOST_TEST(p.applied_versions().size() == 3u);
}

BOOST_AUTO_TEST_CASE(diesel_versions_order_as_text_like_diesel) {
    fixture_project p(fixture("diesel-mixed-versions") / "migrations");
    // The database as Diesel left it: the 14-digit version, then the 18-digit
    // one (text order), the third not applied yet.
    p.sql(
        "CREATE TABLE __diesel_schema_migrations (version varchar(50) PRIMARY KEY, run_on "
        "timestamp NOT NULL DEFAULT now());"
        "INSERT INTO __diesel_schema_migrations (version) VALUES ('20240101000000'), "
        "('202402010000000000');"
        "CREATE TABLE authors (id int PRIMARY KEY, name text NOT NULL);"
        "CREATE TABLE titles (id int PRIMARY KEY, author_id int REFERENCES authors);");
    auto r = p.ms({"import", "--from", "diesel"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    r = p.ms({"--json", "status"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    auto j = last_json(r.out);
    BOOST_TEST(j["summary"]["out_of_order"] == 0, r.out);
    BOOST_TEST(j["summary"]["pending"] == 1, r.out);
    r = p.ms({"up"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    BOOST_TEST(p.table_exists("prizes"));
    // Down goes back in the same order: the 14-digit March one first.
    r = p.ms({"down"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    BOOST_TEST(!p.table_exists("prizes"));
    BOOST_TEST(p.table_exists("titles"));
}

BOOST_AUTO_TEST_CASE(two_sqitch_projects_in_one_database_keep_separate_histories) {
    fixture_project billing(fixture("sqitch-two-projects") / "billing");
    auto shipping_dir = fixture("sqitch-two-projects") / "shipping";
    project& db = billing;
    // The second project on the same database (its own directory and toml).
    moonshift::test::temp_dir other;
    moonshift::test::write_file(other.path / "moonshift.toml",
                                "[project]\nmigrations = \"" + shipping_dir.string() +
                                    "\"\n\n[env.test]\nurl = \"" + db.url +
                                    "\"\nlock_wait = \"10s\"\n");
    auto shipping = [&](std::vector<std::string> args) {
        args.insert(args.begin(), "--no-color");
        return moonshift::test::run_cli(args, other.path);
    };
    auto r = billing.ms({"up"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    r = shipping({"--json", "status"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    auto j = last_json(r.out);
    BOOST_TEST(j["summary"]["pending"] == 2, r.out);  // not billing's two, "changed"
    BOOST_TEST(j["summary"]["changed"] == 0, r.out);
    r = shipping({"up"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    BOOST_TEST(billing.table_exists("shipping.parcels"));
    BOOST_TEST(billing.count("SELECT 1 FROM moonshift.migrations") == 4);
    r = billing.ms({"--json", "status"});
    j = last_json(r.out);
    BOOST_TEST(j["summary"]["applied"] == 2, r.out);
    BOOST_TEST(j["summary"]["changed"] == 0, r.out);
    // Rolling one back leaves the other's rows alone.
    r = shipping({"down", "--to", "0"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    BOOST_TEST(!billing.table_exists("shipping.parcels"));
    BOOST_TEST(billing.table_exists("billing.invoices"));
    BOOST_TEST(billing.count("SELECT 1 FROM moonshift.migrations") == 2);
}

BOOST_AUTO_TEST_CASE(rows_recorded_before_projects_were_keyed_stay_the_first_projects) {
    fixture_project billing(fixture("sqitch-two-projects") / "billing");
    auto r = billing.ms({"up"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    // A history written before the project key: every row has project ''.
    billing.sql("UPDATE moonshift.migrations SET project = ''");
    r = billing.ms({"--json", "status"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    BOOST_TEST(last_json(r.out)["summary"]["applied"] == 2, r.out);
    r = billing.ms({"up"});  // nothing to apply; the rows become billing's
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    BOOST_TEST(billing.count("SELECT 1 FROM moonshift.migrations WHERE project = 'billing'") == 2);
}

BOOST_AUTO_TEST_CASE(import_from_a_table_without_the_tools_columns_is_one_line_exit_2) {
    fixture_project p(fixture("golang-migrate") / "migrations");
    p.sql(
        "CREATE TABLE versions_only (version bigint PRIMARY KEY); INSERT INTO versions_only "
        "VALUES (1)");
    auto r = p.ms({"import", "--from", "golang-migrate", "--table", "versions_only"});
    BOOST_TEST(r.exit_code == 2, r.err);
    BOOST_TEST(has(r.err,
                   "versions_only is not golang-migrate's history table: expected the "
                   "columns version, dirty"),
               r.err);
    BOOST_TEST(has(r.err, "--table"), r.err);
    BOOST_TEST(!p.table_exists("moonshift.migrations"));
    // A dirty column that is not a boolean does not fit either.
    p.sql("CREATE TABLE odd (version bigint, dirty text); INSERT INTO odd VALUES (1, 'maybe')");
    r = p.ms({"import", "--from", "golang-migrate", "--table", "odd"});
    BOOST_TEST(r.exit_code == 2, r.err);
    BOOST_TEST(has(r.err, "odd is not golang-migrate's history table"), r.err);
}

BOOST_AUTO_TEST_SUITE_END()
