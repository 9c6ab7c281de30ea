// `moonshift diff ENV_A ENV_B` against two real databases playing two
// environments: the same schema (exit 0), every kind of difference grouped as
// +/-/~ lines (exit 5), grants, the history schema left out, --json, and bad
// input: an unknown environment, an unreachable one (its password redacted).
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>

#include "support/project.hpp"

using moonshift::test::fresh_db;
using moonshift::test::last_json;
using moonshift::test::project;
using nlohmann::json;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// The password in a postgresql:// URL ("" when there is none).
std::string password_of(const std::string& url) {
    auto scheme = url.find("://");
    auto at = url.find('@');
    if (scheme == std::string::npos || at == std::string::npos) return "";
    auto colon = url.find(':', scheme + 3);
    if (colon == std::string::npos || colon > at) return "";
    return url.substr(colon + 1, at - colon - 1);
}

void exec(const std::string& url, const std::string& sql) {
    pqxx::connection c(url);
    pqxx::nontransaction tx(c);
    tx.exec(sql);
}

// Roles are the server's: one left by an interrupted run is reused.
void create_role(const std::string& url, const std::string& name) {
    exec(url, "DO $$ BEGIN CREATE ROLE " + name +
                  " NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
}

// "test" plays staging; "production" is a second fresh database.
struct two_environments {
    fresh_db production;
    project p;
    two_environments()
        : p("\n[env.production]\nurl = \"" + production.url + "\"\nlock_wait = \"2s\"\n") {}
};

const char* schema_sql =
    "CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL);\n"
    "CREATE INDEX users_email ON users (email);\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(compare_diff)

BOOST_FIXTURE_TEST_CASE(same_schemas_exit_0_and_the_history_schema_is_left_out, two_environments) {
    // "test" gets its schema through moonshift (with its history schema),
    // production by hand: the same tables, no moonshift schema.
    p.migration("001_users.sql", schema_sql);
    auto up = p.ms({"--env", "test", "up"});
    BOOST_REQUIRE_MESSAGE(up.exit_code == 0, up.out << up.err);
    exec(production.url, schema_sql);

    auto r = p.ms({"diff", "test", "production"});
    BOOST_TEST(r.exit_code == 0, "identical schemas must exit 0: " << r.out << r.err);
    BOOST_TEST(contains(r.out, "The schemas are the same."), r.out);
    BOOST_TEST(!contains(r.out, "moonshift."), "the history schema is not compared: " << r.out);
}

BOOST_FIXTURE_TEST_CASE(differences_are_grouped_plus_minus_tilde_and_exit_5, two_environments) {
    create_role(p.url, "moonshift_diff_reader");
    exec(p.url, std::string(schema_sql) +
                    "ALTER TABLE users ADD COLUMN name text;\n"
                    "CREATE TABLE audit (id bigint);\n"
                    "ALTER TABLE users ENABLE ROW LEVEL SECURITY;\n"
                    "CREATE POLICY own ON users FOR SELECT USING (true);\n"
                    "CREATE FUNCTION one() RETURNS int LANGUAGE sql AS 'SELECT 1';\n"
                    "GRANT SELECT ON users TO moonshift_diff_reader;\n"
                    "GRANT USAGE ON SCHEMA public TO moonshift_diff_reader;\n");
    exec(production.url,
         "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, legacy int);\n");

    auto r = p.ms({"diff", "test", "production"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 5, "different schemas exit 5 (drift)");
    BOOST_TEST(contains(r.out, "- table public.audit"), r.out);
    BOOST_TEST(contains(r.out, "- column public.users.name"), r.out);
    BOOST_TEST(contains(r.out, "+ column public.users.legacy: integer"), r.out);
    BOOST_TEST(contains(r.out, "~ column public.users.id: type integer → bigint"), r.out);
    BOOST_TEST(contains(r.out, "- index public.users_email"), r.out);
    BOOST_TEST(contains(r.out, "- policy public.users.own"), r.out);
    BOOST_TEST(contains(r.out, "- function public.one()"), r.out);
    BOOST_TEST(contains(r.out, "~ table public.users: rls yes → no"), r.out);
    BOOST_TEST(contains(r.out, "- grant public.users to moonshift_diff_reader: [SELECT]"), r.out);
    BOOST_TEST(contains(r.out, "- grant schema public to moonshift_diff_reader: [USAGE]"), r.out);
    // Grouped: a heading per kind, columns before indexes.
    BOOST_TEST(contains(r.out, "\ncolumns\n"), r.out);
    BOOST_TEST(contains(r.out, "\ngrants\n"), r.out);
    BOOST_TEST(r.out.find("\ncolumns\n") < r.out.find("\nindexes\n"), r.out);
    BOOST_TEST(!contains(r.out + r.err, password_of(p.url)), "no password in the output");

    auto j = p.ms({"diff", "test", "production", "--json"});
    BOOST_TEST(j.exit_code == 5);
    auto doc = last_json(j.out);
    BOOST_TEST(doc["result"] == "diff");
    BOOST_TEST(doc["same"] == false);
    BOOST_TEST(doc["a"]["environment"] == "test");
    BOOST_TEST(doc["b"]["environment"] == "production");
    BOOST_TEST(!contains(j.out, password_of(p.url)), "no password in JSON: " << j.out);
    bool grant = false;
    for (const auto& c : doc["changes"])
        if (c["object"] == "grant" && c["name"] == "public.users to moonshift_diff_reader")
            grant = true;
    BOOST_TEST(grant, "the JSON lists the grant: " << j.out);
    exec(p.url, "DROP OWNED BY moonshift_diff_reader; DROP ROLE moonshift_diff_reader;");
}

BOOST_FIXTURE_TEST_CASE(a_changed_grant_is_a_tilde_line, two_environments) {
    create_role(p.url, "moonshift_diff_writer");
    exec(p.url, std::string(schema_sql) + "GRANT SELECT ON users TO moonshift_diff_writer;");
    exec(production.url,
         std::string(schema_sql) + "GRANT SELECT, INSERT ON users TO moonshift_diff_writer;");
    auto r = p.ms({"diff", "test", "production"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 5);
    BOOST_TEST(contains(r.out,
                        "~ grant public.users to moonshift_diff_writer: privileges [SELECT] → "
                        "[INSERT, SELECT]"),
               r.out);
    exec(p.url, "DROP OWNED BY moonshift_diff_writer;");
    exec(production.url, "DROP OWNED BY moonshift_diff_writer; DROP ROLE moonshift_diff_writer;");
}

BOOST_FIXTURE_TEST_CASE(an_unknown_environment_is_a_usage_error, two_environments) {
    auto r = p.ms({"diff", "test", "nope"});
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(contains(r.err, "environment \"nope\" is not defined"), r.err);
    BOOST_TEST(contains(r.err, "production, test"), "the hint lists the environments: " << r.err);
}

BOOST_AUTO_TEST_CASE(an_unreachable_environment_exits_2_with_its_url_redacted) {
    project p("\n[env.down]\nurl = \"postgresql://admin:hunter2secret@127.0.0.1:1/app\"\n");
    auto r = p.ms({"diff", "test", "down"});
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(contains(r.err, "environment \"down\""), r.err);
    BOOST_TEST(contains(r.err, "127.0.0.1:1"), "the message says where: " << r.err);
    BOOST_TEST(!contains(r.out + r.err, "hunter2secret"), "the password is redacted: " << r.err);
    BOOST_TEST(!contains(r.out + r.err, password_of(p.url)), r.out << r.err);

    auto j = p.ms({"diff", "test", "down", "--json"});
    BOOST_TEST(j.exit_code == 2);
    BOOST_TEST(last_json(j.out)["exit_code"] == 2);
    BOOST_TEST(!contains(j.out + j.err, "hunter2secret"), j.out);
}

BOOST_FIXTURE_TEST_CASE(diff_needs_two_environments, two_environments) {
    auto r = p.ms({"diff", "test"});
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(contains(r.err, "ENV_B"), r.err);
}

BOOST_AUTO_TEST_SUITE_END()
