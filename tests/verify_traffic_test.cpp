// The row-count verification beside a live application (issue 13): a table
// the run does not change may grow while `up` runs, and may lose rows only
// within [verify] row_count_tolerance; a run that deletes from a table it
// does not name is still caught.
#define BOOST_TEST_DYN_LINK
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "support/project.hpp"

using namespace std::chrono_literals;
using moonshift::test::project;

namespace {

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// Inserts into `events` about 200 times a second, each row committed, until stopped.
class writer {
  public:
    explicit writer(const std::string& url)
        : thread_([this, url] {
              pqxx::connection c(url);
              while (!stop_) {
                  pqxx::work tx(c);
                  tx.exec0("INSERT INTO events (at) VALUES (now())");
                  tx.commit();
                  ++rows_;
                  std::this_thread::sleep_for(5ms);
              }
          }) {}
    ~writer() { stop(); }
    long long stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
        return rows_;
    }

  private:
    std::atomic<bool> stop_{false};
    std::atomic<long long> rows_{0};
    std::thread thread_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(verify_traffic)

BOOST_AUTO_TEST_CASE(a_run_beside_a_writer_at_200_rows_a_second_ends_ok) {
    project p;
    BOOST_TEST(p.scalar("CREATE TABLE events (id bigserial PRIMARY KEY, at timestamptz); "
                        "INSERT INTO events (at) SELECT now() FROM generate_series(1, 500); "
                        "SELECT count(*) FROM events") == "500");
    for (int i = 1; i <= 4; ++i)
        p.migration("00" + std::to_string(i) + "_t.sql",
                    "CREATE TABLE t" + std::to_string(i) + " (id int);\nSELECT pg_sleep(0.4);\n");
    writer w(p.url);
    auto r = p.ms({"up"});
    auto written = w.stop();
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 0);
    // It was not held up: rows committed while the migrations ran (at 200 a
    // second, ~300 on a quiet machine; a loaded one gets fewer).
    BOOST_TEST(p.count("SELECT 1 FROM events e, moonshift.runs r WHERE r.command = 'up' AND "
                       "e.at BETWEEN r.started_at AND r.finished_at") >= 10,
               "the writer kept writing during the run: " << written);
    BOOST_TEST(p.scalar("SELECT verified_at IS NOT NULL FROM moonshift.migrations "
                        "WHERE version = '004'") == "t");
}

BOOST_AUTO_TEST_CASE(rows_lost_beyond_the_tolerance_fail_and_within_it_pass) {
    project p;
    p.scalar(
        "CREATE TABLE audit (id int); INSERT INTO audit SELECT generate_series(1, 1000); "
        "CREATE FUNCTION trim_audit(n int) RETURNS void LANGUAGE sql AS "
        "'DELETE FROM audit WHERE id <= n'; SELECT 1");
    // 5 of 1000 rows: within the default 1%.
    p.migration("001_small.sql", "SELECT trim_audit(5);\n");
    auto small = p.ms({"up"});
    BOOST_TEST(small.exit_code == 0, small.out << small.err);
    // 100 more: beyond it, and the function hides the table from the parser.
    p.migration("002_big.sql", "SELECT trim_audit(105);\n");
    auto big = p.ms({"up"});
    BOOST_TEST(big.exit_code == 3, big.out << big.err);
    BOOST_TEST(has(big.err,
                   "public.audit: 995 rows before, 895 after (lost 100, more than the "
                   "tolerance of 1%)"),
               big.err);
    // A count instead of a percentage, and a bad value named with its line.
    auto toml = moonshift::test::read_file(p.dir.path / "moonshift.toml");
    moonshift::test::write_file(p.dir.path / "moonshift.toml",
                                toml + "\n[verify]\nrow_count_tolerance = \"lots\"\n");
    auto bad = p.ms({"status"});
    BOOST_TEST(bad.exit_code == 2, bad.out << bad.err);
    BOOST_TEST(has(bad.err, "moonshift.toml:"), bad.err);
    BOOST_TEST(has(bad.err, "neither a percentage"), bad.err);
}

BOOST_AUTO_TEST_SUITE_END()
