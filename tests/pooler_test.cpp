// Through a transaction-mode pooler (docs/poolers.md): a real PgBouncer with
// pool_mode = transaction in front of the test server. up, down and status
// work through it, two concurrent runs take turns on the lease, what cannot
// run there is refused with the direct connection to use, and the pooler is
// found without any setting.
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <pqxx/pqxx>

#include "support/pgbouncer.hpp"
#include "support/project.hpp"
#include "support/skip.hpp"

using moonshift::test::pgbouncer;
using moonshift::test::project;

namespace {

bool has(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

const auto needs_pgbouncer = boost::unit_test::precondition(
    moonshift::test::skip_when{[] { return moonshift::test::pgbouncer_missing(); }});

// A project whose only environment reaches its fresh database through
// PgBouncer in transaction mode, with no pooler setting at all.
struct pooled_project : project {
    pgbouncer bouncer{moonshift::test::server_url()};
    explicit pooled_project(const std::string& project_extra = "") {
        moonshift::test::write_file(dir.path / "moonshift.toml",
                                    "[project]\nmigrations = \"migrations\"\n" + project_extra +
                                        "\n[env.test]\nurl = \"" + bouncer.url(name) +
                                        "\"\nlock_wait = \"60s\"\n");
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(pooler)

BOOST_FIXTURE_TEST_CASE(up_status_down_work_through_pgbouncer_in_transaction_mode, pooled_project,
                        *needs_pgbouncer) {
    migration("001_users.sql", "CREATE TABLE users (id int PRIMARY KEY);\n");
    migration("001_users.down.sql", "DROP TABLE users;\n");
    migration("002_posts.sql", "CREATE TABLE posts (id int PRIMARY KEY);\n");
    migration("002_posts.down.sql", "DROP TABLE posts;\n");
    auto r = ms({"up", "-v"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err + r.out);
    // Found without a setting, and said so.
    BOOST_TEST(has(r.out + r.err, "through a transaction-mode pooler"), r.out + r.err);
    BOOST_TEST((applied_versions() == std::vector<std::string>{"001", "002"}));
    // A session advisory lock would have stayed behind on a pooled server
    // connection and refused this second run; the lease was released.
    migration("003_tags.sql", "CREATE TABLE tags (id int PRIMARY KEY);\n");
    migration("003_tags.down.sql", "DROP TABLE tags;\n");
    r = ms({"up"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err + r.out);
    BOOST_TEST(count("SELECT 1 FROM moonshift.lease") == 0);
    r = ms({"status"});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(has(r.out, "003"), r.out);
    r = ms({"down"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err + r.out);
    BOOST_TEST(!table_exists("tags"));
    BOOST_TEST((applied_versions() == std::vector<std::string>{"001", "002"}));
    r = ms({"down", "--to", "0"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err + r.out);
    BOOST_TEST(applied_versions().empty());
    BOOST_TEST(count("SELECT 1 FROM moonshift.runs WHERE outcome <> 'ok'") == 0);
    // No advisory lock outlived its run on any server connection.
    BOOST_TEST(count("SELECT 1 FROM pg_locks WHERE locktype = 'advisory'") == 0);
}

BOOST_FIXTURE_TEST_CASE(two_concurrent_ups_through_pgbouncer_apply_each_migration_once,
                        pooled_project, *needs_pgbouncer) {
    migration("001_hits.sql", "CREATE TABLE hits (n int);\nSELECT pg_sleep(5);\n");
    migration("002_hit.sql", "INSERT INTO hits VALUES (2);\n");
    auto a = spawn({"up"});
    auto b = spawn({"up"});
    auto ra = a.wait();
    auto rb = b.wait();
    BOOST_TEST(ra.exit_code == 0, ra.err);
    BOOST_TEST(rb.exit_code == 0, rb.err);
    BOOST_TEST(count("SELECT 1 FROM hits") == 1);  // 002 ran once
    BOOST_TEST((applied_versions() == std::vector<std::string>{"001", "002"}));
    // One of them waited for the other's lease.
    BOOST_TEST(has(ra.err + rb.err, "waiting for the migration lease held by"), ra.err + rb.err);
}

BOOST_FIXTURE_TEST_CASE(a_no_transaction_migration_is_refused_through_the_pooler, pooled_project,
                        *needs_pgbouncer) {
    migration("001_users.sql", "CREATE TABLE users (id int PRIMARY KEY, email text);\n");
    migration("002_email.sql",
              "-- moonshift:no-transaction\nCREATE INDEX CONCURRENTLY users_email ON users "
              "(email);\n");
    auto r = ms({"up"});
    BOOST_TEST(r.exit_code == 2, r.err);
    BOOST_TEST(has(r.err, "migrations/002_email.sql runs outside a transaction"), r.err);
    BOOST_TEST(has(r.err, "transaction-mode pooler"), r.err);
    BOOST_TEST(has(r.err, "port 5432"), r.err);  // the direct connection to use
    BOOST_TEST(has(r.err, "nothing was changed"), r.err);
    BOOST_TEST(applied_versions().empty());
    BOOST_TEST(!table_exists("users"));
}

// Without PgBouncer: the lease as pooler = "transaction" takes it on a direct
// connection, held by a run that died (it expires) or by a live one (refused).
// testdb asks whether the connection is pooled before it builds a template (the probe runs then,
// not on connect): through the pooler it is refused with the connection to use, and no database
// is made.
BOOST_FIXTURE_TEST_CASE(testdb_through_the_pooler_is_refused_before_it_makes_anything,
                        pooled_project, *needs_pgbouncer) {
    migration("001_a.sql", "CREATE TABLE a (id int);\n");
    const std::string ours = "SELECT 1 FROM pg_database WHERE datname LIKE 'moonshift\\_%'";
    const auto before = count(ours);
    auto r = ms({"testdb"});
    BOOST_TEST(r.exit_code == 2, r.out + r.err);
    BOOST_TEST(has(r.err, "testdb needs a direct connection, not a transaction pooler"), r.err);
    BOOST_TEST(has(r.err, "changed between two transactions"), r.err);  // how it was found
    BOOST_TEST(has(r.err, "port 5432"), r.err);
    BOOST_TEST(count(ours) == before);
}

BOOST_AUTO_TEST_CASE(a_dead_runs_lease_expires_and_a_live_ones_refuses) {
    project p;
    auto settings = [&](const std::string& lock_wait) {
        moonshift::test::write_file(
            p.dir.path / "moonshift.toml",
            "[project]\nmigrations = \"migrations\"\npooler = \"transaction\"\n"
            "pooler_lease = \"3s\"\n\n[env.test]\nurl = \"" +
                p.url + "\"\nlock_wait = \"" + lock_wait + "\"\n");
    };
    settings("60s");
    auto r = p.ms({"up"});  // the history schema, with its lease table
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    p.scalar(
        "INSERT INTO moonshift.lease (name, token, holder, expires_at) VALUES "
        "('run', 'dead', 'moonshift pid 1 (ghost)', clock_timestamp() + interval '2 s') "
        "RETURNING 1");
    p.migration("001_a.sql", "CREATE TABLE a (id int);\n");
    r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(has(r.err, "waiting for the migration lease held by moonshift pid 1 (ghost)"),
               r.err);
    BOOST_TEST((p.applied_versions() == std::vector<std::string>{"001"}));
    BOOST_TEST(p.count("SELECT 1 FROM moonshift.lease") == 0);

    p.scalar(
        "INSERT INTO moonshift.lease (name, token, holder, expires_at) VALUES "
        "('run', 'live', 'moonshift pid 2 (busy)', clock_timestamp() + interval '1 h') "
        "RETURNING 1");
    p.migration("002_b.sql", "CREATE TABLE b (id int);\n");
    settings("1s");
    r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 4, r.err);
    BOOST_TEST(has(r.err, "holds the migration lease: moonshift pid 2 (busy)"), r.err);
    BOOST_TEST(!p.table_exists("b"));
}

BOOST_AUTO_TEST_CASE(a_direct_connection_is_not_taken_for_a_pooler) {
    project p;
    p.migration("001_a.sql", "CREATE TABLE a (id int);\n");
    auto r = p.ms({"up", "-v"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    BOOST_TEST(!has(r.out + r.err, "transaction-mode pooler"), r.out + r.err);
    BOOST_TEST(p.count("SELECT 1 FROM moonshift.lease") == 0);
}

// The probe is sent when a command first needs to know (up, down: before their first
// transaction), not on connect: `status` reads the history in two statements (is it there, its
// rows) and sends no probe. Seen on the wire, under strace.
BOOST_AUTO_TEST_CASE(status_sends_no_pooler_probe_and_two_statements,
                     *boost::unit_test::precondition(moonshift::test::skip_when{
                         moonshift::test::why_no_strace})) {
    project p;
    p.migration("001_a.sql", "CREATE TABLE a (id int);\n");
    p.migration("002_b.sql", "CREATE TABLE b (id int);\n");
    BOOST_REQUIRE(p.ms({"up"}).exit_code == 0);
    const auto log = p.dir.path / "strace.log";
    auto r = moonshift::test::run_program(
        "/usr/bin/strace",
        {"-f", "-s", "400", "-e", "trace=sendto", "-o", log.string(), MOONSHIFT_BIN, "status"},
        p.dir.path);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.out << r.err);
    BOOST_TEST(has(r.out, "2 applied, 0 pending"), r.out);
    std::ifstream in(log);
    std::vector<std::string> statements;
    for (std::string line; std::getline(in, line);)
        if (has(line, "sendto(") && has(line, "SELECT")) statements.push_back(line);
    for (const auto& s : statements) BOOST_TEST(!has(s, "pg_backend_pid"), s);
    BOOST_TEST(statements.size() == 2u);
    // A command that needs to know still finds out: on a direct connection, no lease.
    p.migration("003_c.sql", "CREATE TABLE c (id int);\n");
    r = p.ms({"up", "-v"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    BOOST_TEST(!has(r.out + r.err, "transaction-mode pooler"), r.out + r.err);
}

BOOST_AUTO_TEST_CASE(an_unknown_pooler_mode_names_the_line) {
    project p;
    moonshift::test::write_file(
        p.dir.path / "moonshift.toml",
        "[project]\npooler = \"sometimes\"\n\n[env.test]\nurl = \"" + p.url + "\"\n");
    auto r = p.ms({"status"});
    BOOST_TEST(r.exit_code == 2, r.err);
    BOOST_TEST(has(r.err, "moonshift.toml:2"), r.err);
    BOOST_TEST(has(r.err, "\"auto\", \"transaction\" or \"none\""), r.err);
}

BOOST_AUTO_TEST_SUITE_END()
