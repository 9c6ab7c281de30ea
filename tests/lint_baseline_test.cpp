// Adopting moonshift on an existing history (issue 17): real histories trip
// the lint gate; `moonshift lint --baseline` records what is there, after
// which `up` runs them with no [lint] edits, and a new unsafe migration added
// after the baseline still stops `up`. Over ../shared/corpora (skipped, saying
// so, where absent); the corpus is copied into the test's temporary project,
// never into the repository.
#include <boost/test/unit_test.hpp>

#include "db/session.hpp"
#include "support/corpora.hpp"
#include "support/project.hpp"

namespace fs = std::filesystem;
using moonshift::test::corpora;
using moonshift::test::corpus_present;
using moonshift::test::project;
using moonshift::test::write_file;

namespace {

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// A project whose migrations are a copy of the corpus' `sub` folder, with the
// default lint settings (no [lint] section).
struct adopted : project {
    fs::path migrations;
    adopted(const std::string& corpus, const std::string& sub) {
        auto root = corpora() / corpus;
        migrations = dir.path / "history";
        fs::copy(root / sub, migrations, fs::copy_options::recursive);
        write_file(dir.path / "moonshift.toml",
                   "[project]\nmigrations = \"history\"\n\n[env.test]\nurl = \"" + url +
                       "\"\nlock_wait = \"10s\"\n");
        if (fs::exists(root / "bootstrap.sql")) {
            moonshift::db::settings settings;
            settings.url = url;
            moonshift::db::session(settings).exec_script(
                moonshift::test::read_file(root / "bootstrap.sql"));
        }
    }

    // Without a baseline the gate stops the history; with one it applies,
    // and the baseline is what made the difference.
    void adopt(std::size_t migrations_in_history) {
        auto before = ms({"up"});
        BOOST_TEST(before.exit_code == 3, "the history trips the gate:\n" << before.err);
        BOOST_TEST(applied_versions().empty());
        auto b = ms({"lint", "--baseline"});
        BOOST_TEST_INFO(b.out << b.err);
        BOOST_REQUIRE(b.exit_code == 0);
        BOOST_TEST(has(b.out, "in lint-baseline.json"));
        BOOST_TEST(fs::exists(dir.path / "lint-baseline.json"));
        auto up = ms({"up"});
        BOOST_TEST_INFO(up.out << up.err);
        BOOST_REQUIRE(up.exit_code == 0);
        BOOST_TEST(applied_versions().size() == migrations_in_history);
        auto lint = ms({"lint", "--offline"});
        BOOST_TEST(lint.exit_code == 0, lint.out << lint.err);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(lint_baseline)

BOOST_AUTO_TEST_CASE(authelia_adopted_with_a_baseline_and_a_new_drop_still_stops_up,
                     *boost::unit_test::precondition(corpus_present{"authelia"})) {
    adopted p("authelia", "migrations/postgres");
    p.adopt(26);
    write_file(p.migrations / "V0027.DropTotp.up.sql",
               "ALTER TABLE totp_configurations DROP COLUMN secret;\n");
    write_file(p.migrations / "V0027.DropTotp.down.sql",
               "ALTER TABLE totp_configurations ADD COLUMN secret bytea;\n");
    auto r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 3, r.out << r.err);
    BOOST_TEST(has(r.err, "V0027.DropTotp.up.sql:1:"), r.err);
    BOOST_TEST(has(r.err, "error drop-column"), r.err);
    BOOST_TEST(p.applied_versions().size() == 26u);
}

BOOST_AUTO_TEST_CASE(supabase_storage_adopted_with_a_baseline,
                     *boost::unit_test::precondition(corpus_present{"storage"})) {
    adopted p("storage", "migrations/tenant");
    p.adopt(63);
    write_file(p.migrations / "0064-truncate-objects.sql", "TRUNCATE storage.objects;\n");
    auto r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 3, r.out << r.err);
    BOOST_TEST(has(r.err, "0064-truncate-objects.sql:1:"), r.err);
}

BOOST_AUTO_TEST_CASE(a_baseline_that_is_not_one_is_named) {
    project p;
    p.migration("001_a.sql", "CREATE TABLE a (id bigint);\n");
    write_file(p.dir.path / "lint-baseline.json", "{\"nope\": 1}\n");
    auto r = p.ms({"lint", "--offline"});
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(has(r.err, "lint-baseline.json is not a lint baseline"), r.err);
}

BOOST_AUTO_TEST_SUITE_END()
