// The gate of every `up` and `moonshift lint` against a real PostgreSQL:
// lint errors stop the run before anything is applied, suppressions are
// recorded with their reasons, table sizes from the catalog decide, and bad
// input (SQL that does not parse, a broken rule) is refused up front.
#include <boost/test/unit_test.hpp>

#include "support/project.hpp"

using moonshift::test::last_json;
using moonshift::test::project;
using moonshift::test::write_file;

namespace {

bool has(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

struct users_project : project {
    explicit users_project(const std::string& extra = "") : project(extra) {
        migration("001_users.sql",
                  "CREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY, email text);\n"
                  "INSERT INTO users SELECT g, 'u' || g || '@example.com' FROM generate_series(1, "
                  "20) g;\n");
        auto r = ms({"up"});
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(safety_gate)

BOOST_FIXTURE_TEST_CASE(a_lint_error_stops_up_before_any_migration_runs, users_project) {
    migration("002_fine.sql", "CREATE TABLE IF NOT EXISTS notes (id int);\n");
    migration("003_risky.sql",
              "ALTER TABLE users ADD COLUMN n int;\nALTER TABLE users DROP COLUMN email;\n");
    auto before = fingerprint();
    auto r = ms({"up"});
    BOOST_TEST(r.exit_code == 3, r.err);
    BOOST_TEST(
        has(r.err, "migrations/003_risky.sql:2:13: error drop-column: DROP COLUMN users.email"),
        r.err);
    BOOST_TEST(has(r.err, "moonshift:allow"), r.err);
    BOOST_TEST(fingerprint() == before);  // not even 002 ran
    BOOST_TEST(scalar("SELECT outcome FROM moonshift.runs ORDER BY id DESC LIMIT 1") == "refused");
}

BOOST_FIXTURE_TEST_CASE(up_lint_warn_lets_errors_through_for_one_run_with_its_reason,
                        users_project) {
    migration("002_risky.sql", "ALTER TABLE users DROP COLUMN email;\n");
    auto before = fingerprint();
    auto no_reason = ms({"up", "--lint=warn"});
    BOOST_TEST(no_reason.exit_code == 2, no_reason.err);
    BOOST_TEST(has(no_reason.err, "needs --reason"), no_reason.err);
    BOOST_TEST(fingerprint() == before);
    auto r = ms({"up", "--lint=warn", "--reason", "adopting the existing history"});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(has(r.err,
                   "1 error(s) let through for this run (--lint=warn): adopting the "
                   "existing history"),
               r.err);
    BOOST_TEST(has(r.err, "error drop-column"), r.err);
    auto report = scalar(
        "SELECT report->'safety'->'lint'->'let_through'->>'reason' FROM moonshift.runs "
        "WHERE command = 'up' ORDER BY id DESC LIMIT 1");
    BOOST_TEST(report == "adopting the existing history");
    // The next run judges again.
    migration("003_risky.sql", "ALTER TABLE users DROP COLUMN id;\n");
    BOOST_TEST(ms({"up"}).exit_code == 3);
}

BOOST_FIXTURE_TEST_CASE(an_allowed_finding_runs_and_its_reason_is_recorded, users_project) {
    migration("002_drop_email.sql",
              "-- moonshift:allow drop-column email moved to auth.users in v3\nALTER TABLE users "
              "DROP COLUMN email;\n");
    migration("002_drop_email.down.sql", "ALTER TABLE users ADD COLUMN email text;\n");
    auto r = ms({"up"});
    BOOST_TEST(r.exit_code == 0, r.err);
    auto report = scalar(
        "SELECT report::text FROM moonshift.runs WHERE command = 'up' ORDER BY id DESC LIMIT 1");
    BOOST_TEST(has(report, "email moved to auth.users in v3"), report);
    BOOST_TEST(has(report, "\"suppressed\": true"), report);
}

BOOST_FIXTURE_TEST_CASE(sql_that_does_not_parse_is_refused_at_file_line_col_before_anything_runs,
                        users_project) {
    migration("002_fine.sql", "CREATE TABLE IF NOT EXISTS notes (id int);\n");
    migration("003_typo.sql", "CREATE TABLE IF NOT EXISTS t (\n  id int,\n  name txet nope\n);\n");
    auto before = fingerprint();
    auto r = ms({"up"});
    // The gate's verdict, the same exit code as `moonshift lint` gives it.
    BOOST_TEST(r.exit_code == 3, r.err);
    BOOST_TEST(has(r.err, "migrations/003_typo.sql:3:"), r.err);
    BOOST_TEST(has(r.err, "syntax error"), r.err);
    BOOST_TEST(fingerprint() == before);
    auto l = ms({"lint"});
    BOOST_TEST(l.exit_code == 3, l.out << l.err);
    BOOST_TEST(has(l.out + l.err, "migrations/003_typo.sql:3:"), l.out << l.err);
}

BOOST_FIXTURE_TEST_CASE(a_broken_project_rule_names_its_file_and_nothing_runs, users_project) {
    write_file(dir.path / "scripts/lint/house.lua",
               "return { check = function(stmt) return stmt..nope end }\n");
    migration("002_fine.sql", "CREATE TABLE IF NOT EXISTS notes (id int);\n");
    auto before = fingerprint();
    auto r = ms({"up"});
    BOOST_TEST(r.exit_code == 2, r.err);
    BOOST_TEST(has(r.err, "scripts/lint/house.lua"), r.err);
    BOOST_TEST(fingerprint() == before);
}

BOOST_FIXTURE_TEST_CASE(lint_prints_file_line_col_rule_message_and_exits_3, users_project) {
    migration("002_x.sql",
              "CREATE INDEX users_email ON users (email);\nUPDATE users SET email = NULL;\n");
    // Offline and named: the table's size is unknown (linting every file
    // would count users as created by 001 in the same run).
    auto r = ms({"lint", "--offline", "migrations/002_x.sql"});
    BOOST_TEST(r.exit_code == 3);
    BOOST_TEST(has(r.out, "migrations/002_x.sql:1:29: error require-concurrent-index:"), r.out);
    BOOST_TEST(has(r.out, "migrations/002_x.sql:2:8: error require-where:"), r.out);
    BOOST_TEST(has(r.out, "1 file(s): 2 error(s)"), r.out);
    auto j = ms({"--json", "lint", "--offline", "migrations/002_x.sql"});
    BOOST_TEST(j.exit_code == 3);
    BOOST_TEST(last_json(j.out)["errors"] == 2);
    BOOST_TEST(has(j.out, "\"rule\":\"require-where\""), j.out);
}

BOOST_FIXTURE_TEST_CASE(lint_reports_unparseable_files_as_syntax_errors, project) {
    write_file(dir.path / "bad.sql", "SELECT 1;\nSELEC 2;\n");
    auto r = ms({"lint", "--offline", "bad.sql"});
    BOOST_TEST(r.exit_code == 3);
    BOOST_TEST(has(r.out, "bad.sql:2:1: error syntax:"), r.out);
}

BOOST_FIXTURE_TEST_CASE(lint_with_no_files_lints_only_pending_migrations, users_project) {
    migration("002_clean.sql", "CREATE TABLE IF NOT EXISTS notes (id int);\n");
    auto r = ms({"lint"});
    BOOST_TEST(r.exit_code == 0, r.out + r.err);
    BOOST_TEST(has(r.out, "1 file(s): 0 error(s)"), r.out);  // 001 is applied: not linted
}

BOOST_FIXTURE_TEST_CASE(table_size_from_the_catalog_decides_the_index_rule, project) {
    // small_table lowered so that a few thousand rows make a "large" table.
    write_file(dir.path / "moonshift.toml",
               "[project]\nmigrations = \"migrations\"\n\n[env.test]\nurl = \"" + url +
                   "\"\nlock_wait = \"2s\"\n\n[lint]\nsmall_table = \"64kB\"\n");
    migration("001_tables.sql",
              "CREATE TABLE IF NOT EXISTS tiny (id int, v text);\nINSERT INTO tiny SELECT g, 'x' "
              "FROM generate_series(1, 10) g;\n"
              "CREATE TABLE IF NOT EXISTS big (id int, v text);\n"
              "INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 5000) g;\n");
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    migration("002_idx_tiny.sql", "CREATE INDEX IF NOT EXISTS tiny_v ON tiny (v);\n");
    migration("003_idx_big.sql", "CREATE INDEX IF NOT EXISTS big_v ON big (v);\n");
    auto r = ms({"lint"});
    BOOST_TEST(r.exit_code == 3);
    BOOST_TEST(!has(r.out, "002_idx_tiny.sql"), r.out);
    BOOST_TEST(has(r.out, "003_idx_big.sql:1:"), r.out);
    BOOST_TEST(has(r.out, "blocks writes to big ("), r.out);  // the size is in the message
    // Offline, the size is unknown: the rule assumes the worst.
    auto offline = ms({"lint", "--offline", "migrations/002_idx_tiny.sql"});
    BOOST_TEST(offline.exit_code == 3, offline.out);
}

BOOST_FIXTURE_TEST_CASE(rls_rule_applies_on_a_supabase_like_target, project) {
    // Supabase's API roles and its auth schema make the target "Supabase-like".
    // Roles belong to the whole server (other databases have them too, so the
    // schema decides); they go again before the next test.
    scalar(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN CREATE "
        "ROLE anon; END IF;"
        " IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN CREATE ROLE "
        "authenticated;"
        " END IF; END $$; SELECT 1");
    scalar("CREATE SCHEMA auth; SELECT 1");
    struct drop_roles {
        const project& p;
        ~drop_roles() {
            try {
                p.scalar("DROP ROLE IF EXISTS anon; DROP ROLE IF EXISTS authenticated; SELECT 1");
            } catch (...) {
            }
        }
    } cleanup{*this};
    migration("001_profiles.sql", "CREATE TABLE IF NOT EXISTS profiles (id uuid PRIMARY KEY);\n");
    auto r = ms({"up"});
    BOOST_TEST(r.exit_code == 3, r.err);
    BOOST_TEST(has(r.err, "rls-required"), r.err);
    migration("001_profiles.sql",
              "CREATE TABLE IF NOT EXISTS profiles (id uuid PRIMARY KEY);\n"
              "ALTER TABLE profiles ENABLE ROW LEVEL SECURITY;\n"
              "CREATE POLICY profiles_read ON profiles FOR SELECT USING (true);\n");
    auto ok = ms({"up"});
    BOOST_TEST(ok.exit_code == 0, ok.err);
}

BOOST_FIXTURE_TEST_CASE(a_project_rule_can_read_the_target_through_db, users_project) {
    write_file(dir.path / "scripts/lint/no-drop-with-rows.lua",
               "return { kinds = 'DropStmt', check = function(stmt)\n"
               "  local n = db:scalar('SELECT count(*) FROM users')\n"
               "  if n > 0 then return { message = 'users still has ' .. n .. ' rows', severity = "
               "'warning' } end\n"
               "end }\n");
    migration("002_drop.sql", "DROP TABLE IF EXISTS nothing_here;\n");
    auto r = ms({"lint", "migrations/002_drop.sql"});
    BOOST_TEST(has(r.out, "warning no-drop-with-rows: users still has 20 rows"), r.out + r.err);
}

BOOST_FIXTURE_TEST_CASE(drop_table_if_exists_of_a_table_the_target_lacks_is_no_error,
                        users_project) {
    migration("002_drop.sql", "DROP TABLE IF EXISTS nothing_here;\n");
    auto r = ms({"lint"});
    BOOST_TEST(r.exit_code == 0, r.out + r.err);
    BOOST_TEST(!has(r.out, "drop-table"), r.out);
    migration("002_drop.sql", "DROP TABLE IF EXISTS users;\n");
    auto d = ms({"lint"});
    BOOST_TEST(d.exit_code == 3, d.out + d.err);
    BOOST_TEST(has(d.out, "error drop-table: DROP TABLE users deletes"), d.out);
}

BOOST_FIXTURE_TEST_CASE(lint_rules_lists_every_rule, project) {
    auto r = ms({"lint", "--rules"});
    BOOST_TEST(r.exit_code == 0);
    for (const char* rule :
         {"require-concurrent-index", "volatile-default", "set-not-null",
          "not-null-without-default", "column-type-change", "drop-table", "drop-column", "truncate",
          "rename", "constraint-without-not-valid", "require-where", "blocking-maintenance",
          "public-grant", "managed-schema", "prefer-if-not-exists", "rls-required"})
        BOOST_TEST(has(r.out, rule), rule);
}

BOOST_FIXTURE_TEST_CASE(mixing_concurrent_index_without_the_directive_is_refused, users_project) {
    migration("002_idx.sql",
              "ALTER TABLE users ADD COLUMN IF NOT EXISTS n int;\n"
              "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_n ON users (n);\n");
    auto before = fingerprint();
    auto r = ms({"up"});
    BOOST_TEST(r.exit_code != 0);
    BOOST_TEST(has(r.err, "migrations/002_idx.sql:2:"), r.err);
    BOOST_TEST(has(r.err, "CREATE INDEX CONCURRENTLY cannot run inside a transaction block"),
               r.err);
    BOOST_TEST(has(r.err, "moonshift:no-transaction"), r.err);
    BOOST_TEST(fingerprint() == before);
}

BOOST_AUTO_TEST_SUITE_END()
