// Proof on real projects' histories (../shared/corpora, or $MOONSHIFT_CORPORA):
// each whole history applies to an empty database, what has down scripts
// rolls back, everything applies again, and the final `pg_dump
// --schema-only` (normalised) equals the one from a single clean apply.
// Skipped, with a message, where the corpora are absent; they are never
// copied into the repository.
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <sstream>

#include "common/embedded.hpp"
#include "local/cluster.hpp"
#include "support/project.hpp"

namespace fs = std::filesystem;
using moonshift::test::fresh_db;
using moonshift::test::last_json;
using moonshift::test::project;
using moonshift::test::write_file;

namespace {

fs::path corpora() {
    if (const char* e = std::getenv("MOONSHIFT_CORPORA"); e && *e) return e;
    return fs::path(MOONSHIFT_SOURCE_DIR) / ".." / "shared" / "corpora";
}

struct corpus_present {
    std::string name;
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        boost::test_tools::assertion_result r(fs::is_directory(corpora() / name));
        if (!r)
            r.message() << "corpus " << (corpora() / name).string()
                        << " is absent (set MOONSHIFT_CORPORA): skipped";
        return r;
    }
};

// A project on a fresh database whose migrations are the corpus' own directory.
struct corpus_project : project {
    corpus_project(const std::string& corpus, const std::string& sub) {
        auto dir = (corpora() / corpus / sub).lexically_normal();
        write_file(this->dir.path / "moonshift.toml",
                   "[project]\nmigrations = \"" + dir.string() + "\"\n\n[env.test]\nurl = \"" +
                       url + "\"\nlock_wait = \"10s\"\n" + lint_as_warnings());
        if (fs::exists(corpora() / corpus / "bootstrap.sql")) {
            pqxx::connection c(url);
            pqxx::nontransaction tx(c);
            tx.exec(moonshift::test::read_file(corpora() / corpus / "bootstrap.sql"));
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

    // pg_dump --schema-only without moonshift's own schema, and without what
    // differs between two dumps of the same schema: the \restrict key of
    // recent pg_dump versions and the version banner.
    std::string schema_dump() const {
        auto pg_dump = fs::path(moonshift::local::cluster::find_bin_dir()) / "pg_dump";
        auto r = moonshift::test::run_program(
            pg_dump.string(), {"--schema-only", "--exclude-schema=moonshift", "--dbname", url},
            dir.path);
        BOOST_TEST_INFO(r.err);
        BOOST_REQUIRE(r.exit_code == 0);
        std::istringstream in(r.out);
        std::string line, out;
        while (std::getline(in, line)) {
            if (line.rfind("\\restrict", 0) == 0 || line.rfind("\\unrestrict", 0) == 0) continue;
            if (line.rfind("-- Dumped from", 0) == 0 || line.rfind("-- Dumped by", 0) == 0)
                continue;
            out += line + "\n";
        }
        return out;
    }

    int applied() const { return static_cast<int>(applied_versions().size()); }
};

// The shared conformance run over one corpus (Sqitch's DBIEngineTest habit).
void round_trip(const std::string& corpus, const std::string& sub, const std::string& format,
                int versions, bool has_downs) {
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
        BOOST_TEST(trip.applied() == 0);
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
    round_trip("authelia", "migrations/postgres", "up-down", 26, true);
}

BOOST_AUTO_TEST_CASE(supabase_storage_postgres_migrations_apply_in_numeric_order,
                     *boost::unit_test::precondition(corpus_present{"storage"})) {
    round_trip("storage", "migrations/tenant", "postgres-migrations", 63, false);
    // 00010 is 10: it comes after 0009, not after 0001.
    corpus_project p("storage", "migrations/tenant");
    auto j = last_json(p.ms({"--json", "status"}).out);
    BOOST_TEST(j["migrations"][9]["version"] == "00010");
    BOOST_TEST(j["migrations"][8]["version"] == "0009");
}

BOOST_AUTO_TEST_CASE(marquez_flyway_history_with_repeatables_and_concurrently,
                     *boost::unit_test::precondition(corpus_present{"marquez"})) {
    round_trip("marquez", "migration", "flyway", 81, false);
    corpus_project p("marquez", "migration");
    p.must({"up"});
    BOOST_TEST(p.count("SELECT * FROM moonshift.repeatables") == 3);
    BOOST_TEST(
        p.scalar("SELECT count(*) FROM pg_indexes WHERE indexname = 'lineage_events_event_time'") ==
        "1");
}

BOOST_AUTO_TEST_SUITE_END()
