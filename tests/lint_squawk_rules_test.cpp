// The lint rules that cover squawk's rule classes (issue 17), offline,
// through the real Lua rules and the built-in transaction checks: a
// statement that trips each and its safe form, and the message's file:line:col.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "lint/lint.hpp"
#include "project/config.hpp"
#include "support/harness.hpp"
#include "support/linting.hpp"

namespace lint = moonshift::lint;
namespace sql = moonshift::sql;
using moonshift::test::temp_dir;

using moonshift::test::expect_rule;
using moonshift::test::linter_fixture;

BOOST_AUTO_TEST_SUITE(lint_squawk_rules)

BOOST_FIXTURE_TEST_CASE(style_rules_are_warnings_with_the_fix, linter_fixture) {
    expect_rule(*this, "prefer-text", "CREATE TABLE t (name varchar(100));",
                "CREATE TABLE t (name text CHECK (length(name) <= 100));");
    expect_rule(*this, "prefer-text", "ALTER TABLE t ADD COLUMN code varchar(10);",
                "ALTER TABLE t ADD COLUMN code text;");
    expect_rule(*this, "ban-char", "CREATE TABLE t (code char(2));", "CREATE TABLE t (code text);");
    expect_rule(*this, "prefer-timestamptz", "CREATE TABLE t (at timestamp);",
                "CREATE TABLE t (at timestamptz);");
    expect_rule(*this, "prefer-timestamptz", "ALTER TABLE t ALTER COLUMN at TYPE timestamp;",
                "ALTER TABLE t ALTER COLUMN at TYPE timestamptz;");
    expect_rule(*this, "prefer-identity", "CREATE TABLE t (id bigserial PRIMARY KEY);",
                "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);");
    expect_rule(*this, "prefer-bigint", "CREATE TABLE t (id int PRIMARY KEY, n int);",
                "CREATE TABLE t (id bigint PRIMARY KEY, n int);");
    expect_rule(*this, "prefer-bigint", "CREATE TABLE t (id smallint, PRIMARY KEY (id));",
                "CREATE TABLE t (id bigint, PRIMARY KEY (id));");
    expect_rule(*this, "prefer-bigint", "CREATE TABLE t (id serial);",
                "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY);");
    auto r = run("CREATE TABLE t (id int PRIMARY KEY, name varchar(50), at timestamp);");
    for (const auto& f : r.findings)
        if (f.rule == "prefer-text" || f.rule == "prefer-bigint" ||
            f.rule == "prefer-timestamptz" || f.rule == "ban-char" || f.rule == "prefer-identity") {
            BOOST_TEST(f.severity == "warning", f.rule);
            BOOST_TEST(!f.hint.empty(), f.rule);
        }
    BOOST_TEST(r.text().find("migrations/002_x.sql:1:37: warning prefer-text: column name of t is "
                             "varchar(50)") != std::string::npos,
               r.text());
}

BOOST_FIXTURE_TEST_CASE(locking_and_destructive_rules_are_errors, linter_fixture) {
    expect_rule(*this, "drop-index", "DROP INDEX users_email;",
                "-- moonshift:no-transaction\nDROP INDEX CONCURRENTLY users_email;");
    expect_rule(*this, "drop-not-null", "ALTER TABLE users ALTER COLUMN email DROP NOT NULL;",
                "ALTER TABLE users ALTER COLUMN email SET DEFAULT '';");
    expect_rule(*this, "domain-check", "CREATE DOMAIN pos AS int CHECK (VALUE > 0);",
                "CREATE DOMAIN pos AS int;");
    expect_rule(*this, "domain-check",
                "ALTER DOMAIN pos ADD CONSTRAINT pos_check CHECK (VALUE > 0);",
                "ALTER DOMAIN pos DROP CONSTRAINT pos_check;");
    expect_rule(*this, "ban-drop-database", "-- moonshift:no-transaction\nDROP DATABASE old;",
                "-- moonshift:no-transaction\nCREATE DATABASE scratch;");
    auto r = run("DROP INDEX users_email;");
    for (const auto& f : r.findings)
        if (f.rule == "drop-index") BOOST_TEST(f.severity == "error");
    BOOST_TEST(r.text().find("migrations/002_x.sql:1:1: error drop-index: DROP INDEX users_email "
                             "without CONCURRENTLY") != std::string::npos,
               r.text());
}

BOOST_FIXTURE_TEST_CASE(transaction_structure_of_the_file, linter_fixture) {
    // CREATE INDEX CONCURRENTLY between the file's own BEGIN and COMMIT fails at run time.
    auto cic =
        run("BEGIN;\nCREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY t_a ON t (a);\nCOMMIT;\n");
    BOOST_TEST(cic.has("concurrently-in-transaction"), cic.text());
    BOOST_TEST(cic.text().find("migrations/002_x.sql:3:1: error concurrently-in-transaction: "
                               "CREATE INDEX CONCURRENTLY cannot run inside a transaction block, "
                               "and the file's BEGIN at line 1 opened one") != std::string::npos,
               cic.text());
    BOOST_TEST(
        !run("BEGIN;\nCREATE TABLE t (a int);\nCOMMIT;\nCREATE INDEX CONCURRENTLY t_a ON t (a);\n")
             .has("concurrently-in-transaction"));
    // A nested BEGIN, and a COMMIT with nothing open.
    auto nested = run("BEGIN;\nBEGIN;\nCREATE TABLE t (a int);\nCOMMIT;\nCOMMIT;\n");
    BOOST_TEST(nested.has("transaction-nesting"), nested.text());
    BOOST_TEST(nested.text().find("002_x.sql:2:1: error transaction-nesting: a nested BEGIN: "
                                  "inside the transaction opened at line 1") != std::string::npos,
               nested.text());
    BOOST_TEST(nested.text().find("002_x.sql:5:1: error transaction-nesting: COMMIT with no "
                                  "transaction of the file's open") != std::string::npos,
               nested.text());
    BOOST_TEST(!run("BEGIN;\nSAVEPOINT a;\nCREATE TABLE t (a int);\nRELEASE a;\nCOMMIT;\n")
                    .has("transaction-nesting"));
    // A BEGIN that is never committed.
    auto open = run("BEGIN;\nCREATE TABLE t (a int);\n");
    BOOST_TEST(open.has("unclosed-transaction"), open.text());
    BOOST_TEST(open.text().find("002_x.sql:1:1: error unclosed-transaction") != std::string::npos,
               open.text());
    BOOST_TEST(!run("BEGIN;\nCREATE TABLE t (a int);\nROLLBACK;\n").has("unclosed-transaction"));
}

BOOST_FIXTURE_TEST_CASE(a_table_created_then_renamed_is_still_created_in_the_run, linter_fixture) {
    auto r = run({{"migrations/001_a.sql", "CREATE TABLE drafts (a int);"},
                  {"migrations/002_b.sql",
                   "ALTER TABLE drafts RENAME TO posts;\nCREATE INDEX posts_a ON posts (a);\n"
                   "ALTER TABLE posts ALTER COLUMN a SET NOT NULL;\nALTER TABLE posts RENAME TO "
                   "articles;\nTRUNCATE articles;"}});
    BOOST_TEST(!r.has("require-concurrent-index"), r.text());
    BOOST_TEST(!r.has("set-not-null"), r.text());
    BOOST_TEST(!r.has("rename"), r.text());
    BOOST_TEST(!r.has("truncate"), r.text());
    // A table that existed before the run is still judged after a rename.
    BOOST_TEST(run("ALTER TABLE users RENAME TO members;\nTRUNCATE members;").has("truncate"));
}

BOOST_AUTO_TEST_SUITE_END()
