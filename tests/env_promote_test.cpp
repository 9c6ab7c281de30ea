// Environments as the runbooks want them: production changes need approval,
// read-only environments and change windows refuse, promotion takes only
// what staging applied and verified with the same checksum, and the built-in
// verifications run after every `up`. Two real databases play the stages.
#define BOOST_TEST_DYN_LINK
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <ctime>

#include "db/session.hpp"
#include "support/skip.hpp"
#include "support/stages.hpp"

using moonshift::test::event_names;
using moonshift::test::json_lines;
using moonshift::test::stages;
using nlohmann::json;

namespace {

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

void two_migrations(const stages& s) {
    s.migration("001_users.sql", "CREATE TABLE users (id int PRIMARY KEY, email text);\n");
    s.migration("001_users.down.sql", "DROP TABLE users;\n");
    s.migration("002_orders.sql",
                "CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users (id));\n");
    s.migration("002_orders.down.sql", "DROP TABLE orders;\n");
}

// A window of one hour that starts two hours from now (UTC): closed now.
std::string closed_window() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%02d:00-%02d:00 UTC", (tm.tm_hour + 2) % 24,
                  (tm.tm_hour + 3) % 24);
    return buf;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(env_promote)

BOOST_AUTO_TEST_CASE(production_without_a_tty_or_yes_is_refused_and_nothing_changes) {
    stages s("approve = true\n");
    two_migrations(s);
    auto r = s.ms({"--env", "production", "--json", "up"});
    BOOST_TEST(r.exit_code == 3, r.err);
    BOOST_TEST(has(r.err, "need approval"), r.err);
    BOOST_TEST(has(r.err, "--yes"), r.err);
    BOOST_TEST(s.applied(s.production).empty());
    BOOST_TEST(!s.table_exists(s.production, "users"));
    auto names = event_names(r.out);
    BOOST_TEST((std::find(names.begin(), names.end(), "gate.failed") != names.end()));
    BOOST_TEST(
        s.scalar(s.production, "SELECT outcome FROM moonshift.runs ORDER BY id DESC LIMIT 1") ==
        "refused");
    auto ok = s.ms({"--env", "production", "--yes", "up"});
    BOOST_TEST(ok.exit_code == 0, ok.err);
    BOOST_TEST((s.applied(s.production) == std::vector<std::string>{"001", "002"}));
    BOOST_TEST(
        s.scalar(s.production,
                 "SELECT report->>'approved_by' FROM moonshift.runs ORDER BY id DESC LIMIT 1") !=
        "");
}

BOOST_AUTO_TEST_CASE(typed_confirmation_on_a_terminal,
                     *boost::unit_test::precondition(moonshift::test::skip_unless(
                         [] { return std::filesystem::exists("/usr/bin/script"); },
                         "script(1) is not installed (util-linux): no terminal to type on"))) {
    stages s("approve = true\n");
    two_migrations(s);
    std::string bin = MOONSHIFT_BIN;
    // script(1) gives the command a terminal; its input is what we "type".
    auto typed = [&](const std::string& answer) {
        return moonshift::test::run_program(
            "/bin/sh",
            {"-c", "printf '" + answer + "\\n' | /usr/bin/script -qec '" + bin +
                       " --no-color --env production up' /dev/null"},
            s.dir.path);
    };
    auto wrong = typed("staging");
    BOOST_TEST(wrong.exit_code == 3, wrong.out + wrong.err);
    BOOST_TEST(has(wrong.out, "Type its name"), wrong.out);
    BOOST_TEST(s.applied(s.production).empty());
    auto right = typed("production");
    BOOST_TEST(right.exit_code == 0, right.out + right.err);
    BOOST_TEST((s.applied(s.production) == std::vector<std::string>{"001", "002"}));
}

BOOST_AUTO_TEST_CASE(read_only_and_closed_windows_refuse_every_change) {
    stages s("read_only = true\n");
    two_migrations(s);
    auto r = s.ms({"--env", "production", "--yes", "up"});
    BOOST_TEST(r.exit_code == 2, r.err);
    BOOST_TEST(has(r.err, "production is read-only"), r.err);
    BOOST_TEST(s.applied(s.production).empty());
    // Reading is fine.
    BOOST_TEST(s.ms({"--env", "production", "status"}).exit_code == 0);

    s.write_config("window = \"" + closed_window() + "\"\n");
    auto w = s.ms({"--env", "production", "up"});
    BOOST_TEST(w.exit_code == 3, w.err);
    BOOST_TEST(has(w.err, "outside the change window of production"), w.err);
    BOOST_TEST(s.applied(s.production).empty());
    s.write_config("window = [\"" + closed_window() + "\", \"00:00-24:00\"]\n");
    BOOST_TEST(s.ms({"--env", "production", "up"}).exit_code == 0);
    // down is a change too.
    s.write_config("window = \"" + closed_window() + "\"\n");
    auto d = s.ms({"--env", "production", "down"});
    BOOST_TEST(d.exit_code == 3, d.err);
    BOOST_TEST(s.applied(s.production).size() == 2u);
}

BOOST_AUTO_TEST_CASE(bad_environment_settings_name_the_line) {
    stages s("window = \"25:00-26:00\"\n");
    auto r = s.ms({"--env", "staging", "status"});
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(has(r.err, "moonshift.toml:"), r.err);
    BOOST_TEST(has(r.err, "bad window"), r.err);
    s.write_config("[env.production.triggers.x]\nkind = \"carrier-pigeon\"\n");
    r = s.ms({"--env", "staging", "status"});
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(has(r.err, "unknown trigger kind \"carrier-pigeon\""), r.err);
    s.write_config("watch = { seconds = 10, every = 0 }\n");
    r = s.ms({"--env", "staging", "status"});
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(has(r.err, "watch.every"), r.err);
    s.write_config("promote_from = \"production\"\n");
    r = s.ms({"--env", "staging", "status"});
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(has(r.err, "cannot promote from itself"), r.err);
}

BOOST_AUTO_TEST_CASE(
    promotion_takes_only_what_staging_applied_and_verified_with_the_same_checksum) {
    stages s;
    two_migrations(s);
    // Nothing in staging yet: everything is missing there.
    auto none = s.ms({"--env", "production", "--yes", "up"});
    BOOST_TEST(none.exit_code == 3, none.err);
    BOOST_TEST(has(none.err, "001_users: not applied in staging"), none.err);
    BOOST_TEST(has(none.err, "002_orders: not applied in staging"), none.err);
    BOOST_TEST(s.applied(s.production).empty());

    auto staged = s.ms({"--env", "staging", "up"});
    BOOST_REQUIRE_MESSAGE(staged.exit_code == 0, staged.err);
    BOOST_TEST(
        s.scalar(s.staging,
                 "SELECT count(*) FROM moonshift.migrations WHERE verified_at IS NOT NULL") == "2");

    // A third migration exists only on disk.
    s.migration("003_note.sql", "ALTER TABLE users ADD COLUMN note text;\n");
    auto partial = s.ms({"--env", "production", "--yes", "up"});
    BOOST_TEST(partial.exit_code == 3, partial.err);
    BOOST_TEST(has(partial.err, "003_note: not applied in staging"), partial.err);
    BOOST_TEST(!has(partial.err, "001_users:"), partial.err);
    BOOST_TEST(s.applied(s.production).empty());

    // Promote up to what staging has, with staging's durations shown.
    auto promoted =
        s.ms({"promote", "--from", "staging", "--to", "production", "--version", "002", "--yes"});
    BOOST_TEST(promoted.exit_code == 0, promoted.err);
    BOOST_TEST(has(promoted.out, "001_users took"), promoted.out);
    BOOST_TEST(has(promoted.out, "in staging"), promoted.out);
    BOOST_TEST(has(promoted.out, "Promoted 2 migration(s) from staging to production"),
               promoted.out);
    BOOST_TEST((s.applied(s.production) == std::vector<std::string>{"001", "002"}));

    // Applied in staging, but its verification has not passed there.
    BOOST_REQUIRE(s.ms({"--env", "staging", "up"}).exit_code == 0);
    s.scalar(s.staging, "UPDATE moonshift.migrations SET verified_at = NULL WHERE version = '003'");
    auto unverified = s.ms({"--env", "production", "--yes", "up"});
    BOOST_TEST(unverified.exit_code == 3, unverified.err);
    BOOST_TEST(has(unverified.err, "003_note: applied in staging but not verified there"),
               unverified.err);
    auto verify = s.ms({"--env", "staging", "verify"});
    BOOST_TEST(verify.exit_code == 0, verify.out + verify.err);
    BOOST_TEST(has(verify.out, "ok  indexes"), verify.out);

    // Staging ran another version of 003: refused by checksum.
    auto checksum =
        s.scalar(s.staging, "SELECT checksum FROM moonshift.migrations WHERE version = '003'");
    s.scalar(s.staging, "UPDATE moonshift.migrations SET checksum = 'older' WHERE version = '003'");
    auto changed = s.ms({"--env", "production", "--yes", "up"});
    BOOST_TEST(changed.exit_code == 3, changed.err);
    BOOST_TEST(has(changed.err, "003_note: applied in staging with a different checksum"),
               changed.err);
    BOOST_TEST(s.applied(s.production).size() == 2u);
    s.scalar(s.staging,
             "UPDATE moonshift.migrations SET checksum = '" + checksum + "' WHERE version = '003'");
    auto last = s.ms({"--env", "production", "--yes", "up"});
    BOOST_TEST(last.exit_code == 0, last.err);
    BOOST_TEST((s.applied(s.production) == std::vector<std::string>{"001", "002", "003"}));
}

BOOST_AUTO_TEST_CASE(
    promote_from_a_source_that_is_unreachable_is_a_usage_error_without_its_password) {
    stages s("approve = true\n",
             "[env.gone]\nurl = \"postgresql://bob:hunter2@127.0.0.1:1/nowhere\"\n");
    two_migrations(s);
    auto r = s.ms({"promote", "--from", "gone", "--to", "production", "--yes"});
    BOOST_TEST(r.exit_code == 2, r.err);
    BOOST_TEST(has(r.err, "cannot read the history of gone"), r.err);
    BOOST_TEST(!has(r.out + r.err, "hunter2"));
    BOOST_TEST(s.applied(s.production).empty());
    auto no_from = s.ms({"promote", "--to", "production", "--yes"});
    BOOST_TEST(no_from.exit_code == 2);
    BOOST_TEST(has(no_from.err, "promote needs --from"), no_from.err);
}

BOOST_AUTO_TEST_CASE(verification_after_up_lists_what_is_wrong_and_leaves_the_run_unverified) {
    stages s("", "[verify]\ncritical_tables = [\"users\", \"billing.invoices\"]\n");
    s.migration(
        "001_users.sql",
        "CREATE TABLE users (id int PRIMARY KEY);\nINSERT INTO users SELECT generate_series(1, "
        "10);\n"
        "CREATE TABLE audit (id int);\nINSERT INTO audit VALUES (1), (2);\n"
        "CREATE FUNCTION purge_audit() RETURNS void LANGUAGE sql AS 'DELETE FROM audit';\n");
    auto first = s.ms({"--env", "staging", "up"});
    BOOST_TEST(first.exit_code == 3, first.err);
    BOOST_TEST(has(first.err, "critical_tables"), first.err);
    BOOST_TEST(has(first.err, "billing.invoices does not exist"), first.err);
    // Applied, but not verified: it cannot be promoted.
    BOOST_TEST((s.applied(s.staging) == std::vector<std::string>{"001"}));
    BOOST_TEST(s.scalar(s.staging, "SELECT verified_at IS NULL FROM moonshift.migrations") == "t");
    BOOST_TEST(s.scalar(s.staging, "SELECT outcome FROM moonshift.runs ORDER BY id DESC LIMIT 1") ==
               "verify_failed");

    s.scalar(s.staging, "CREATE SCHEMA billing; CREATE TABLE billing.invoices (id int)");
    // A migration that changes a table it does not name: row counts catch it;
    // one that leaves a foreign key NOT VALID: the foreign key check does.
    s.migration("002_purge.sql",
                "SELECT purge_audit();\nCREATE TABLE orders (id int, user_id int);\n"
                "ALTER TABLE orders ADD CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES "
                "users (id) NOT VALID;\n");
    auto second = s.ms({"--env", "staging", "--json", "up"});
    BOOST_TEST(second.exit_code == 3, second.err);
    BOOST_TEST(has(second.err, "public.audit: 2 rows before, 0 after"), second.err);
    BOOST_TEST(has(second.err, "orders_user is NOT VALID"), second.err);
    BOOST_TEST(!has(second.err, "public.users:"), second.err);  // users kept its rows
    auto names = event_names(second.out);
    BOOST_TEST((std::find(names.begin(), names.end(), "verify.failed") != names.end()));

    // Fixed by hand, `verify` passes and marks both migrations verified.
    s.scalar(s.staging, "ALTER TABLE orders VALIDATE CONSTRAINT orders_user");
    auto v = s.ms({"--env", "staging", "verify"});
    BOOST_TEST(v.exit_code == 0, v.out + v.err);
    BOOST_TEST(
        s.scalar(s.staging,
                 "SELECT count(*) FROM moonshift.migrations WHERE verified_at IS NOT NULL") == "2");
}

BOOST_AUTO_TEST_CASE(verify_reports_invalid_indexes_and_tables_of_exposed_schemas_without_rls) {
    stages s("", "[lint]\nexposed_schemas = [\"api\"]\n");
    s.scalar(s.staging,
             "CREATE SCHEMA api; CREATE TABLE api.items (id int); CREATE TABLE api.secure (id int);"
             "ALTER TABLE api.secure ENABLE ROW LEVEL SECURITY;"
             "CREATE TABLE dup (v int); INSERT INTO dup VALUES (1), (1)");
    {
        moonshift::db::settings app;
        app.url = s.staging.url;
        moonshift::db::session c(app);
        BOOST_CHECK_THROW(c.exec_script("CREATE UNIQUE INDEX CONCURRENTLY dup_v ON dup (v)"),
                          moonshift::db::sql_failure);
    }
    auto r = s.ms({"--env", "staging", "verify"});
    BOOST_TEST(r.exit_code == 3, r.out + r.err);
    BOOST_TEST(has(r.err, "api.items: row level security is off"), r.err);
    BOOST_TEST(has(r.err, "api.secure: RLS on but no policy"), r.err);
    BOOST_TEST(has(r.err, "dup_v on dup is invalid"), r.err);
    BOOST_TEST(s.scalar(s.staging, "SELECT outcome FROM moonshift.runs ORDER BY id DESC LIMIT 1") ==
               "verify_failed");
}

BOOST_AUTO_TEST_CASE(a_declared_change_is_left_alone_by_the_row_count_check) {
    stages s("");
    s.migration(
        "001_audit.sql",
        "CREATE TABLE audit (id int);\nINSERT INTO audit VALUES (1), (2);\n"
        "CREATE FUNCTION purge_audit() RETURNS void LANGUAGE sql AS 'DELETE FROM audit';\n");
    BOOST_REQUIRE(s.ms({"--env", "staging", "up"}).exit_code == 0);
    s.migration("002_purge.sql", "-- moonshift:changes audit\nSELECT purge_audit();\n");
    auto r = s.ms({"--env", "staging", "up"});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(s.scalar(s.staging, "SELECT count(*) FROM audit") == "0");
    s.migration("003_bad.sql", "-- moonshift:changes\nSELECT 1;\n");
    auto bad = s.ms({"--env", "staging", "up"});
    BOOST_TEST(bad.exit_code == 2);
    BOOST_TEST(has(bad.err, "migrations/003_bad.sql:1: moonshift:changes needs table names"),
               bad.err);
}

BOOST_AUTO_TEST_SUITE_END()
