// What reaches the terminal: a script's print and log lines without -v (warnings on stderr),
// .env values through env.get in migrations and `run` scripts, and a hint on server errors
// PostgreSQL sends without one (a missing grant, a read-only session).
#include <boost/test/unit_test.hpp>

#include "db/hints.hpp"
#include "support/project.hpp"

using namespace moonshift::test;

namespace {

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

// A login role that may create schemas in the test's database and nothing else; dropped with
// what it owns at the end.
struct limited_role : project {
    std::string role = "ms_limited_" + name;
    limited_role() {
        run_sql(url, "CREATE ROLE " + role + " LOGIN PASSWORD 'limited-pw'");
        run_sql(url, "GRANT CREATE ON DATABASE " + name + " TO " + role);
        run_sql(url, "CREATE SCHEMA locked");
    }
    ~limited_role() {
        try {
            run_sql(url, "DROP OWNED BY " + role);
            run_sql(url, "DROP ROLE " + role);
        } catch (const std::exception& e) {
            BOOST_TEST_MESSAGE("could not drop role " << role << ": " << e.what());
        }
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_output)

BOOST_FIXTURE_TEST_CASE(run_scripts_print_on_stdout_without_verbose, project) {
    write_file(dir.path / ".env", "GREETING=bonjour\n");
    write_file(dir.path / "hello.lua",
               "print('hello from run')\n"
               "log.info('an info line')\n"
               "log.debug('a debug line')\n"
               "log.warn('careful now')\n"
               "print('greeting:', env.get('GREETING'))\n");
    auto r = ms({"run", "hello.lua"});
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
    BOOST_TEST(contains(r.out, "hello from run"), r.out);
    BOOST_TEST(contains(r.out, "an info line"), r.out);
    BOOST_TEST(contains(r.out, "greeting: bonjour"), r.out << r.err);
    BOOST_TEST(!contains(r.out + r.err, "a debug line"), "log.debug needs -v");
    BOOST_TEST(contains(r.err, "careful now"), r.err);
    BOOST_TEST(!contains(r.out, "careful now"), r.out);
    auto v = ms({"-v", "run", "hello.lua"});
    BOOST_TEST(contains(v.out, "a debug line"), v.out);
}

BOOST_FIXTURE_TEST_CASE(migrations_print_and_read_dotenv, project) {
    write_file(dir.path / ".env", "TABLE_NAME=from_dotenv\n");
    migration("001_lua.lua",
              "return { up = function(db, ctx)\n"
              "  local t = env.get('TABLE_NAME')\n"
              "  print('creating', t)\n"
              "  db:exec('CREATE TABLE ' .. t .. ' (id int)')\n"
              "end }\n");
    auto r = ms({"up"});
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
    BOOST_TEST(contains(r.out, "creating from_dotenv"), r.out);
    BOOST_TEST(table_exists("from_dotenv"));
}

// A project's lint rule reads its threshold with env.get: from .env, offline and inside `up`.
BOOST_FIXTURE_TEST_CASE(lint_rules_read_dotenv, project) {
    write_file(dir.path / ".env", "BANNED_TABLE=legacy_orders\n");
    write_file(dir.path / "scripts/lint/banned-table.lua",
               "return { description = 'a table the team retired', kinds = 'CreateStmt',\n"
               "  check = function(stmt)\n"
               "    local banned = env.get('BANNED_TABLE')\n"
               "    if banned and stmt.node.relation.relname == banned then\n"
               "      return { message = banned .. ' is retired (from .env)' }\n"
               "    end\n"
               "  end }\n");
    migration("001_t.sql", "CREATE TABLE legacy_orders (id bigint);\n");
    auto offline = ms({"lint"});
    BOOST_TEST(offline.exit_code == 3, offline.out << offline.err);
    BOOST_TEST(contains(offline.out + offline.err, "legacy_orders is retired (from .env)"),
               offline.out << offline.err);
    auto up = ms({"up"});
    BOOST_TEST(up.exit_code == 3, up.out << up.err);
    BOOST_TEST(contains(up.out + up.err, "legacy_orders is retired (from .env)"), up.out << up.err);
    BOOST_TEST(!table_exists("legacy_orders"));
}

BOOST_FIXTURE_TEST_CASE(a_missing_grant_on_a_schema_gets_a_hint, limited_role) {
    migration("001_locked.sql", "CREATE TABLE locked.things (id int);\n");
    auto r = ms({"up", "--url", url_as_role(url, role, "limited-pw")});
    BOOST_TEST(r.exit_code == 1, r.out << r.err);
    BOOST_TEST(contains(r.err, "permission denied for schema locked"), r.err);
    BOOST_TEST(contains(r.err, "GRANT USAGE, CREATE ON SCHEMA locked TO " + role), r.err);
    BOOST_TEST(!contains(r.out + r.err, "limited-pw"), r.out << r.err);
}

BOOST_FIXTURE_TEST_CASE(a_read_only_database_gets_a_hint, project) {
    run_sql(url, "ALTER DATABASE " + name + " SET default_transaction_read_only = on");
    migration("001_a.sql", "CREATE TABLE a (id int);\n");
    auto r = ms({"up"});
    BOOST_TEST(r.exit_code != 0, r.out << r.err);
    BOOST_TEST(contains(r.err, "read-only"), r.err);
    BOOST_TEST(contains(r.err, "default_transaction_read_only is on"), r.err);
}

// The causes a live test cannot stage here (the test server takes plain connections and
// answers an unknown role with "password authentication failed"), on libpq's own words.
BOOST_AUTO_TEST_CASE(connection_failures_with_a_known_cause_get_their_hint) {
    using moonshift::db::connect_hint;
    BOOST_TEST(
        contains(connect_hint("connection to server at \"10.0.0.1\", port 5432 failed: FATAL: "
                              "no pg_hba.conf entry for host \"10.0.0.9\", user \"app\", "
                              "database \"app\", no encryption"),
                 "sslmode=require"));
    BOOST_TEST(contains(connect_hint("FATAL:  role \"deployer\" does not exist"),
                        "CREATE ROLE deployer LOGIN"));
    BOOST_TEST(contains(connect_hint("FATAL:  database \"shop\" does not exist"), "createdb shop"));
    BOOST_TEST(contains(connect_hint("FATAL:  password authentication failed for user \"app\""),
                        "check the password"));
    moonshift::db::server_error missing_role;
    missing_role.sqlstate = "42704";
    missing_role.message = "role \"reporting\" does not exist";
    BOOST_TEST(contains(moonshift::db::hint_for(missing_role, {"app"}), "CREATE ROLE reporting"));
    moonshift::db::server_error owner;
    owner.sqlstate = "42501";
    owner.message = "must be owner of table accounts";
    BOOST_TEST(contains(moonshift::db::hint_for(owner, {"app"}), "only the owner of accounts"));
    moonshift::db::server_error given = owner;
    given.hint = "the server's";
    BOOST_TEST(moonshift::db::hint_for(given, {"app"}) == "the server's", "the server's hint wins");
}

BOOST_AUTO_TEST_SUITE_END()
