// tools/chaos, briefly: random kill -9 of the client and immediate shutdowns
// of the server during runs that mix transactional, no-transaction (with
// CREATE INDEX CONCURRENTLY), Lua and backfill migrations; after each round
// the next `up` finishes and every statement ran exactly once. A person runs
// it for longer with `tools/chaos --minutes N` (bench/RESULTS.md).
#include <boost/test/unit_test.hpp>

#include "support/harness.hpp"

BOOST_AUTO_TEST_SUITE(chaos)

BOOST_AUTO_TEST_CASE(faults_for_40_seconds_leave_no_repeat_no_loss_no_stuck_project) {
    moonshift::test::temp_dir cwd;
    auto r = moonshift::test::run_program(
        std::string(MOONSHIFT_SOURCE_DIR) + "/tools/chaos", {"--seconds", "40"}, cwd.path,
        {{"MOONSHIFT", std::string(MOONSHIFT_BIN)}}, std::chrono::seconds(240));
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(r.out.find(" 0 repeats, 0 lost, 0 stuck") != std::string::npos);
    // It did break things: at least one round with at least one fault.
    BOOST_TEST(r.out.find("chaos: 0 rounds") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
