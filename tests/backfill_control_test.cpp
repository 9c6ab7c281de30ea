// `moonshift backfill status|pause|resume` from another process while a
// backfill runs; waits on a Lua health predicate are reported, not silent.
#include <boost/test/unit_test.hpp>
#include <thread>

#include "support/project.hpp"

using moonshift::test::last_json;
using moonshift::test::project;

namespace {

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

template <class F>
bool eventually(F f, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        try {
            if (f()) return true;
        } catch (const std::exception&) {
            // not there yet (the table is created by the run being watched)
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return f();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(backfill_control)

BOOST_AUTO_TEST_CASE(pause_and_resume_from_another_process_while_it_runs) {
    project p;
    p.migration("001_t.sql",
                "CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL DEFAULT 0);\n"
                "INSERT INTO t (id) SELECT generate_series(1, 6000);\n");
    p.migration("002_bf.lua", R"lua(return {
  backfill = { table = "t", batch = 100, set = { n = "n + 1" }, throttle = { max_rows_per_second = 2000 } },
}
)lua");
    auto run = p.spawn({"up"});
    BOOST_REQUIRE(eventually([&] { return p.count("SELECT 1 FROM t WHERE n = 1") > 300; }));
    auto r = p.ms({"backfill", "pause"});
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
    BOOST_TEST(contains(r.out, "Pause requested for 1 backfill(s)"), r.out);
    BOOST_REQUIRE(
        eventually([&] { return p.scalar("SELECT state FROM moonshift.backfills") == "paused"; }));
    long long at_pause = p.count("SELECT 1 FROM t WHERE n = 1");
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    BOOST_TEST(p.count("SELECT 1 FROM t WHERE n = 1") == at_pause, "no batch while paused");
    auto st = p.ms({"backfill", "status", "--json"});
    BOOST_TEST(st.exit_code == 0, st.err);
    auto j = last_json(st.out);
    BOOST_REQUIRE(j["backfills"].size() == 1u);
    BOOST_TEST(j["backfills"][0]["state"] == "paused");
    BOOST_TEST(j["backfills"][0]["rows_done"].get<long long>() == at_pause);
    BOOST_TEST(j["backfills"][0]["rows_total"] == 6000);
    r = p.ms({"backfill", "resume"});
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
    auto done = run.wait();
    BOOST_TEST(done.exit_code == 0, done.out << done.err);
    BOOST_TEST(p.count("SELECT 1 FROM t WHERE n <> 1") == 0);
    BOOST_TEST(contains(done.err, "paused at"), done.err);
    BOOST_TEST(p.ms({"backfill", "status"}).out.find("No backfill") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_lua_pause_when_predicate_makes_it_wait_and_says_why) {
    project p;
    p.migration("001_t.sql",
                "CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL DEFAULT 0);\n"
                "CREATE TABLE gate (closed boolean);\nINSERT INTO gate VALUES (true);\n"
                "INSERT INTO t (id) SELECT generate_series(1, 500);\n");
    // The predicate sees health numbers; here it waits on a counter of its own.
    p.migration("002_bf.lua", R"lua(local calls = 0
return {
  backfill = { table = "t", batch = 100, set = { n = "n + 1" },
    throttle = { pause_when = function(health)
      calls = calls + 1
      assert(type(health.replication_lag) == "number" and type(health.rows_done) == "number")
      if calls <= 4 then return "the nightly report is running" end
      return false
    end } },
}
)lua");
    auto r = p.ms({"up", "--json"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(contains(r.out, "backfill of t waits: the nightly report is running"), r.out);
    BOOST_TEST(contains(r.out, "\"waiting\":\"the nightly report is running\""), r.out);
    BOOST_TEST(p.count("SELECT 1 FROM t WHERE n <> 1") == 0);
}

BOOST_AUTO_TEST_CASE(status_without_backfills_and_pause_of_nothing) {
    project p;
    p.migration("001_t.sql", "CREATE TABLE t (id int PRIMARY KEY);\n");
    BOOST_REQUIRE(p.ms({"up"}).exit_code == 0);
    auto r = p.ms({"backfill", "status"});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(contains(r.out, "No backfill is running"), r.out);
    r = p.ms({"backfill", "pause"});
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(contains(r.err, "no backfill to pause"), r.err);
}

BOOST_AUTO_TEST_SUITE_END()
