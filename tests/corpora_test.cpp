// The conformance run (Sqitch's DBIEngineTest habit): each whole history
// applies to an empty database, what has down scripts rolls back, everything
// applies again, and the final `pg_dump --schema-only` (normalised) equals the
// one from a single clean apply. It runs everywhere over tests/fixtures (a few
// files per format, written for these tests), and over real projects'
// histories where ../shared/corpora (or $MOONSHIFT_CORPORA) has them: those
// are skipped, saying so, where absent, and never copied into the repository.
#include "support/corpora.hpp"

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <sstream>

#include "common/embedded.hpp"
#include "db/session.hpp"
#include "local/cluster.hpp"
#include "support/project.hpp"

namespace fs = std::filesystem;
using moonshift::test::corpora;
using moonshift::test::corpus_present;
using moonshift::test::fresh_db;
using moonshift::test::last_json;
using moonshift::test::project;
using moonshift::test::write_file;

namespace {

fs::path fixtures() { return fs::path(MOONSHIFT_SOURCE_DIR) / "tests" / "fixtures"; }

// A project on a fresh database whose migrations are the directory `sub` of a
// corpus (root: the corpus' directory, with its bootstrap.sql when it has one).
struct corpus_project : project {
    corpus_project(const fs::path& root, const std::string& sub) {
        auto dir = (root / sub).lexically_normal();
        write_file(this->dir.path / "moonshift.toml",
                   "[project]\nmigrations = \"" + dir.string() + "\"\n\n[env.test]\nurl = \"" +
                       url + "\"\nlock_wait = \"10s\"\n" + lint_as_warnings());
        if (fs::exists(root / "bootstrap.sql")) {
            moonshift::db::settings settings;
            settings.url = url;
            moonshift::db::session(settings).exec_script(
                moonshift::test::read_file(root / "bootstrap.sql"));
        }
    }

    // Real histories were written for other tools: the lint gate reports
    // their drops and renames as warnings here, so the test proves that they
    // apply and roll back, not what the team's lint policy would allow.
    static std::string lint_as_warnings() {
        std::string rules;
        for (auto& f : moonshift::embedded::under("scripts/lint/")) {
            auto name = fs::path(f.path).stem().string();
            rules += (rules.empty() ? "\"" : ", \"") + name + "\"";
        }
        return "\n[lint]\nwarn = [" + rules + "]\n";
    }

    void must(const std::vector<std::string>& args) const {
        auto r = ms(args);
        BOOST_TEST_INFO("moonshift " << args[0] << "\n" << r.out << r.err);
        BOOST_REQUIRE(r.exit_code == 0);
    }

    std::string schema_dump() const { return moonshift::test::schema_dump(url, dir.path); }

    int applied() const { return static_cast<int>(applied_versions().size()); }
};

// The shared conformance run over one corpus (Sqitch's DBIEngineTest habit).
// kept: the versions `down --to 0` leaves (Diesel's 00000000000000 setup is version 0).
void round_trip(const fs::path& corpus, const std::string& sub, const std::string& format,
                int versions, bool has_downs, int kept = 0) {
    corpus_project clean(corpus, sub);
    auto status = last_json(clean.ms({"--json", "status"}).out);
    BOOST_TEST(status["format"] == format);
    BOOST_TEST(status["summary"]["pending"] == versions);
    clean.must({"up"});
    BOOST_TEST(clean.applied() == versions);
    auto reference = clean.schema_dump();
    BOOST_TEST(reference.find("CREATE TABLE") != std::string::npos);

    corpus_project trip(corpus, sub);
    trip.must({"up"});
    if (has_downs) {
        trip.must({"down", "--to", "0"});
        BOOST_TEST(trip.applied() == kept);
        BOOST_TEST(trip.count("SELECT 1 FROM information_schema.tables WHERE table_schema NOT IN "
                              "('pg_catalog', 'information_schema', 'moonshift')") == 0);
    }
    trip.must({"up"});
    BOOST_TEST(trip.applied() == versions);
    auto again = trip.ms({"up"});
    BOOST_TEST(again.out.find("Nothing to apply") != std::string::npos);
    BOOST_TEST(again.out.find("Applying") ==
               std::string::npos);  // repeatables unchanged: not run again
    auto dump = trip.schema_dump();
    BOOST_TEST(dump == reference,
               "the schema after the round trip differs from a single clean apply");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(formats_corpora)

BOOST_AUTO_TEST_CASE(authelia_up_down_pairs_round_trip_to_the_same_schema,
                     *boost::unit_test::precondition(corpus_present{"authelia"})) {
    round_trip(corpora() / "authelia", "migrations/postgres", "up-down", 26, true);
}

BOOST_AUTO_TEST_CASE(supabase_storage_postgres_migrations_apply_in_numeric_order,
                     *boost::unit_test::precondition(corpus_present{"storage"})) {
    round_trip(corpora() / "storage", "migrations/tenant", "postgres-migrations", 63, false);
    // 00010 is 10: it comes after 0009, not after 0001.
    corpus_project p(corpora() / "storage", "migrations/tenant");
    auto j = last_json(p.ms({"--json", "status"}).out);
    BOOST_TEST(j["migrations"][9]["version"] == "00010");
    BOOST_TEST(j["migrations"][8]["version"] == "0009");
}

BOOST_AUTO_TEST_CASE(marquez_flyway_history_with_repeatables_and_concurrently,
                     *boost::unit_test::precondition(corpus_present{"marquez"})) {
    round_trip(corpora() / "marquez", "migration", "flyway", 81, false);
    corpus_project p(corpora() / "marquez", "migration");
    p.must({"up"});
    BOOST_TEST(p.count("SELECT * FROM moonshift.repeatables") == 3);
    BOOST_TEST(
        p.scalar("SELECT count(*) FROM pg_indexes WHERE indexname = 'lineage_events_event_time'") ==
        "1");
}

BOOST_AUTO_TEST_CASE(native_files_folders_and_no_transaction_round_trip) {
    round_trip(fixtures() / "native", "migrations", "native", 3, true);
}

BOOST_AUTO_TEST_CASE(supabase_migrations_round_trip_without_their_seed) {
    round_trip(fixtures() / "supabase", "supabase/migrations", "supabase", 2, false);
    corpus_project p(fixtures() / "supabase", "supabase/migrations");
    p.must({"up"});
    BOOST_TEST(p.count("SELECT * FROM profiles") == 0);  // seed.sql is not a migration
}

BOOST_AUTO_TEST_CASE(drizzle_kit_folder_round_trips_in_journal_order) {
    round_trip(fixtures() / "drizzle", "drizzle", "drizzle", 2, false);
}

BOOST_AUTO_TEST_CASE(prisma_migrations_round_trip_with_their_down_sql) {
    round_trip(fixtures() / "prisma", "prisma/migrations", "prisma", 2, false);
}

BOOST_AUTO_TEST_CASE(supabase_cli_project_with_rls_policies_round_trips) {
    round_trip(fixtures() / "supabase-cli", "supabase/migrations", "supabase", 2, false);
}

BOOST_AUTO_TEST_CASE(golang_migrate_pairs_round_trip_in_numeric_order) {
    round_trip(fixtures() / "golang-migrate", "migrations", "golang-migrate", 3, true);
}

BOOST_AUTO_TEST_CASE(up_down_pairs_round_trip) {
    round_trip(fixtures() / "up-down", "migrations", "up-down", 2, true);
}

BOOST_AUTO_TEST_CASE(dbmate_sections_round_trip_with_transaction_false) {
    round_trip(fixtures() / "dbmate", "db/migrations", "dbmate", 3, true);
}

BOOST_AUTO_TEST_CASE(flyway_versions_undo_baseline_and_repeatable_round_trip) {
    round_trip(fixtures() / "flyway", "migrations", "flyway", 3, true);
    corpus_project p(fixtures() / "flyway", "migrations");
    p.must({"up"});
    BOOST_TEST(p.scalar("SELECT how FROM moonshift.migrations WHERE version = '1'") == "baseline");
    BOOST_TEST(p.count("SELECT * FROM moonshift.repeatables") == 1);
    BOOST_TEST(p.scalar("SELECT cents_to_text(1234)") == "12.34");
}

BOOST_AUTO_TEST_CASE(sqitch_plan_with_a_tag_and_dependencies_round_trips) {
    round_trip(fixtures() / "sqitch", ".", "sqitch", 3, true);
}

BOOST_AUTO_TEST_CASE(diesel_folders_round_trip_with_run_in_transaction_false) {
    round_trip(fixtures() / "diesel", "migrations", "diesel", 3, true, 1);
}

BOOST_AUTO_TEST_CASE(postgres_migrations_round_trip_with_ignore_and_disable_transaction) {
    round_trip(fixtures() / "postgres-migrations", "migrations", "postgres-migrations", 4, false);
    corpus_project p(fixtures() / "postgres-migrations", "migrations");
    auto j = last_json(p.ms({"--json", "status"}).out);
    BOOST_TEST(j["migrations"][3]["version"] == "00010");  // 10 comes after 9
}

BOOST_AUTO_TEST_SUITE_END()
