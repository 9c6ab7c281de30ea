// `--report FILE`: the Markdown report of the run a command performed — up,
// down, redo and a failed up against a real database, an error before any run,
// an unwritable file — and the renderer on its own for the sections the
// engine's reports carry (verification, watch, rollback, promotion, lint,
// backups, notifications), unknown keys and malformed values.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "cli/report.hpp"
#include "common/text.hpp"
#include "history/history.hpp"
#include "support/project.hpp"

using moonshift::test::project;
using moonshift::test::read_file;
using nlohmann::json;
namespace report = moonshift::cli::report;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

struct report_project : project {
    report_project() {
        migration("001_create_users.sql", "CREATE TABLE users (id int PRIMARY KEY, email text);\n");
        migration("001_create_users.down.sql", "DROP TABLE users;\n");
        migration("002_add_name.sql", "ALTER TABLE users ADD COLUMN name text;\n");
        migration("002_add_name.down.sql", "ALTER TABLE users DROP COLUMN name;\n");
    }
    std::string file() const { return (dir.path / "report.md").string(); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(compare_report)

BOOST_FIXTURE_TEST_CASE(up_writes_a_markdown_report_with_migrations_and_durations, report_project) {
    auto r = ms({"up", "--report", file()});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    auto md = read_file(file());
    BOOST_TEST_INFO(md);
    BOOST_TEST(contains(md, "## ✅ moonshift up on test: ok"));
    BOOST_TEST(contains(md, "| Environment | test |"));
    BOOST_TEST(contains(md, "| Actor | " + moonshift::history::current_actor() + " |"));
    BOOST_TEST(contains(md, "| Run | #"));
    BOOST_TEST(contains(md, "### Migrations"));
    BOOST_TEST(contains(md, "| `001_create_users` | applied | "));
    BOOST_TEST(contains(md, "| `002_add_name` | applied | "));
    BOOST_TEST(!contains(md, "| `002_add_name` | applied | – |"),
               "each migration has its duration");
    BOOST_TEST(contains(md, "### Lint"));
    BOOST_TEST(!contains(md, "### Error"));
}

BOOST_FIXTURE_TEST_CASE(down_and_redo_reports_list_the_reverted_migrations, report_project) {
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    auto r = ms({"down", "--report", file()});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.out << r.err);
    auto md = read_file(file());
    BOOST_TEST(contains(md, "moonshift down on test: ok"), md);
    BOOST_TEST(contains(md, "| `002_add_name` | reverted | "), md);

    r = ms({"redo", "--report", file()});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.out << r.err);
    md = read_file(file());
    BOOST_TEST(contains(md, "| `001_create_users` | reverted | "), md);
    BOOST_TEST(contains(md, "| `001_create_users` | applied | "), md);
}

BOOST_FIXTURE_TEST_CASE(a_failed_up_reports_its_error_with_file_and_line, report_project) {
    migration("003_broken.sql", "ALTER TABLE users\n  ADD COLUMN x nosuchtype;\n");
    auto r = ms({"up", "--report", file()});
    BOOST_TEST(r.exit_code == 1, r.out << r.err);
    auto md = read_file(file());
    BOOST_TEST_INFO(md);
    BOOST_TEST(contains(md, "## ❌ moonshift up on test: failed"));
    BOOST_TEST(contains(md, "### Error"));
    BOOST_TEST(contains(md, "migrations/003_broken.sql:2:"));
    BOOST_TEST(contains(md, "| `001_create_users` | applied | "), "what did apply is listed");
}

BOOST_FIXTURE_TEST_CASE(verify_reports_the_project_verifications, report_project) {
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    moonshift::test::write_file(
        dir.path / "scripts" / "verify" / "users.lua",
        "if db:scalar(\"SELECT count(*) FROM users\") < 0 then ctx:fail(\"impossible\") end\n");
    auto r = ms({"verify", "--report", file()});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.out << r.err);
    auto md = read_file(file());
    BOOST_TEST_INFO(md);
    BOOST_TEST(contains(md, "## ✅ moonshift verify on test: ok"));
    BOOST_TEST(contains(md, "### Verification"));
    BOOST_TEST(contains(md, "✅ All verifications passed."));
    BOOST_TEST(contains(md, "| `script scripts/verify/users.lua` | ✅ |"));
    BOOST_TEST(contains(md, "| Duration | "), "the run's duration comes from its finish");

    moonshift::test::write_file(dir.path / "scripts" / "verify" / "users.lua",
                                "ctx:fail(\"users are missing\")\n");
    r = ms({"verify", "--report", file()});
    BOOST_TEST(r.exit_code == 3, r.out << r.err);
    md = read_file(file());
    BOOST_TEST(contains(md, "## ❌ moonshift verify on test: verify_failed"), md);
    BOOST_TEST(contains(md, "❌ Verification failed."), md);
    BOOST_TEST(contains(md, "users are missing"), md);
}

BOOST_AUTO_TEST_CASE(an_error_before_any_run_is_still_reported_with_the_password_redacted) {
    project p("\n[env.gone]\nurl = \"postgresql://admin:hunter2secret@127.0.0.1:1/app\"\n");
    auto path = (p.dir.path / "r.md").string();
    auto r = p.ms({"--env", "gone", "up", "--report", path});
    BOOST_TEST(r.exit_code == 2, r.out << r.err);  // a refused connection: configuration
    auto md = read_file(path);
    BOOST_TEST_INFO(md);
    BOOST_TEST(contains(md, "moonshift up on gone: failed"));
    BOOST_TEST(contains(md, "cannot connect to postgresql://admin:***@127.0.0.1:1/app"));
    BOOST_TEST(!contains(md, "hunter2secret"));
}

BOOST_FIXTURE_TEST_CASE(an_unwritable_report_file_is_a_usage_error_before_anything_runs,
                        report_project) {
    auto r = ms({"up", "--report", (dir.path / "no" / "such" / "dir" / "r.md").string()});
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(contains(r.err, "does not exist; nothing was run"), r.err);
    BOOST_TEST(applied_versions().empty(), "the run did not happen");
}

BOOST_AUTO_TEST_CASE(the_renderer_shows_every_section_of_a_full_report) {
    json run = {
        {"command", "up"},
        {"environment", "production"},
        {"actor", "alice (ci: octo)"},
        {"run", 42},
        {"outcome", "rolled_back"},
        {"duration_ms", 65000},
        {"applied", {{{"version", "003"}, {"name", "add_index"}, {"duration_ms", 1200}}}},
        {"safety",
         {{"lint",
           {{"errors", 0},
            {"warnings", 1},
            {"suppressed", 1},
            {"findings",
             {{{"file", "migrations/003_add_index.sql"},
               {"line", 1},
               {"column", 1},
               {"rule", "index-concurrently"},
               {"severity", "warning"},
               {"message", "CREATE INDEX | blocks writes"},
               {"suppressed", false}},
              {{"file", "migrations/003_add_index.sql"},
               {"line", 4},
               {"column", 1},
               {"rule", "drop-column"},
               {"severity", "error"},
               {"message", "drops a column"},
               {"suppressed", true},
               {"reason", "unused since v2"}}}}}}}},
        {"checks",
         {{{"script", "scripts/checks/disk.lua"}, {"outcome", "ok"}, {"duration_ms", 5}}}},
        {"backups",
         {{{"id", 7},
           {"version", "003"},
           {"migration", "add_index"},
           {"rows", 1000},
           {"reason", "drops a column"},
           {"tables", {{{"table", "public.users"}}}}}}},
        {"verification",
         {{"ok", false},
          {"results",
           {{{"check", "rls"},
             {"ok", false},
             {"message", "2 tables without RLS"},
             {"items", {"public.a", "public.b"}}},
            {{"check", "indexes"},
             {"ok", true},
             {"message", "no invalid index"},
             {"items", json::array()}}}}}},
        {"watch",
         {{"seconds", 60},
          {"every", 10},
          {"samples", 3},
          {"triggers",
           {{{"name", "health"},
             {"kind", "http"},
             {"fired", true},
             {"reason", "error rate 12% > 5%"},
             {"baseline", 0.5},
             {"last", 12.0}}}}}},
        {"rolled_back", {{{"version", "003"}, {"name", "add_index"}, {"how", "down script"}}}},
        {"promotion",
         {{"from", "staging"},
          {"migrations",
           {{{"version", "003"},
             {"name", "add_index"},
             {"checksum", "abcdef0123456789"},
             {"source_duration_ms", 900}}}},
          {"missing",
           {{{"version", "004"}, {"name", "later"}, {"why", "not applied in staging"}}}}}},
        {"trigger", {{"name", "health"}, {"kind", "http"}, {"reason", "error rate 12% > 5%"}}},
        {"verifications", {{{"script", "scripts/verify/x.lua"}, {"outcome", "ok"}}}},
        {"notifications",
         {{"delivered", 3},
          {"failed", 1},
          {"failures", {{{"hook", "slack"}, {"event", "run.finish"}, {"message", "HTTP 500"}}}}}},
        {"error", "trigger \"health\" fired; connect postgresql://u:pw12345@db/x failed"},
        {"something_new", {{"from", "a later moonshift"}}},
    };
    auto md = report::render(run);
    BOOST_TEST_INFO(md);
    BOOST_TEST(contains(md, "## ↩️ moonshift up on production: rolled_back"));
    BOOST_TEST(contains(md, "| Actor | alice (ci: octo) |"));
    BOOST_TEST(contains(md, "| Run | #42 |"));
    BOOST_TEST(contains(md, "| `003_add_index` | applied | " +
                                moonshift::text::format_duration(std::chrono::milliseconds(1200)) +
                                " |"));
    BOOST_TEST(contains(md, "### Promotion"));
    BOOST_TEST(contains(md, "From **staging**"));
    BOOST_TEST(contains(md, "`abcdef012345`"));
    BOOST_TEST(contains(md, "0 error(s), 1 warning(s), 1 allowed on purpose."));
    BOOST_TEST(contains(md, "CREATE INDEX \\| blocks writes"), "pipes in cells are escaped");
    BOOST_TEST(contains(md, "allowed: unused since v2"));
    BOOST_TEST(contains(md, "### Checks"));
    BOOST_TEST(contains(md, "`scripts/checks/disk.lua` | ✅ ok"));
    BOOST_TEST(contains(md, "### Backups"));
    BOOST_TEST(contains(md, "| #7 | `003_add_index` | public.users | 1000 | drops a column |"));
    BOOST_TEST(contains(md, "❌ Verification failed."));
    BOOST_TEST(contains(md, "| `rls` | ❌ | 2 tables without RLS |"));
    BOOST_TEST(contains(md, "- public.a"));
    BOOST_TEST(contains(md, "| `indexes` | ✅ | no invalid index |"));
    BOOST_TEST(contains(md, "Watched for 60 s, every 10 s (3 sample(s))."));
    BOOST_TEST(contains(md, "| `health` | http | 🔥 yes | error rate 12% > 5% | 0.5 | 12.0 |"));
    BOOST_TEST(contains(md, "### Rollback"));
    BOOST_TEST(contains(md, "| `003_add_index` | down script |"));
    BOOST_TEST(contains(md, "3 delivered, 1 failed."));
    BOOST_TEST(contains(md, "`slack` on `run.finish`: HTTP 500"));
    BOOST_TEST(contains(md, "### Error"));
    BOOST_TEST(!contains(md, "pw12345"), "secrets are redacted");
    BOOST_TEST(contains(md, "something_new"), "unknown keys are kept, as JSON");
    BOOST_TEST(contains(md, "- `004_later`: not applied in staging"));
    BOOST_TEST(contains(md, "🔥 Trigger **health** (http) fired: error rate 12% > 5%"));
    BOOST_TEST(!contains(md, "### Project verifications"),
               "the built-in verification lists the scripts; no second table");
    BOOST_TEST(!contains(md, "\"trigger\""), "the trigger is not repeated as JSON");
}

BOOST_AUTO_TEST_CASE(the_renderer_survives_absent_and_malformed_sections) {
    auto empty = report::render(json::object());
    BOOST_TEST(contains(empty, "## ℹ️ moonshift run"), empty);
    BOOST_TEST(contains(empty, "| Outcome | unknown |"), empty);
    BOOST_TEST(!contains(empty, "###"), "no empty sections: " << empty);

    json odd = {{"command", "up"},
                {"outcome", "ok"},
                {"applied", "not a list"},
                {"watch", 5},
                {"verification", json::array()},
                {"promotion", {{"from", 3}}},
                {"backups", {1, 2}},
                {"rolled_back", json::array()},
                {"duration_ms", "soon"}};
    std::string md;
    BOOST_CHECK_NO_THROW(md = report::render(odd));
    BOOST_TEST_INFO(md);
    BOOST_TEST(contains(md, "moonshift up: ok"));
    BOOST_TEST(contains(md, "Nothing needed rolling back."));
    BOOST_TEST(contains(md, "From **3**"));
    auto dry = report::render({{"command", "up"},
                               {"dry_run", true},
                               {"would_apply", {{{"version", "004"}, {"name", "later"}}}},
                               {"repeatables", {"R__views.sql"}}});
    BOOST_TEST(contains(dry, "| Dry run | nothing was changed |"), dry);
    BOOST_TEST(contains(dry, "| `004_later` | would apply (dry run) | – |"), dry);
    BOOST_TEST(contains(dry, "Repeatable migrations re-applied: `R__views.sql`"), dry);
    BOOST_CHECK_NO_THROW(report::render(json("just a string")));
    BOOST_TEST(contains(report::render_all({json{{"command", "down"}}, json{{"command", "up"}}}),
                        "\n---\n"));
}

BOOST_AUTO_TEST_SUITE_END()
