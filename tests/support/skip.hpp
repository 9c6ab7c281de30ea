// Preconditions for tests that cannot run their subject on every machine: the
// test is skipped (and counted as skipped, not passed) with a sentence saying
// why. Use on a test case:
//     BOOST_AUTO_TEST_CASE(name, *boost::unit_test::precondition(
//                                    moonshift::test::skip_unless(has_script, "…")))
// or, where the reason is computed, skip_when(fn) with fn returning "" to run.
#pragma once
#include <boost/test/unit_test.hpp>
#include <functional>
#include <string>
#include <utility>

namespace moonshift::test {

// Runs the test when why_not() returns "", and otherwise skips it, saying why.
struct skip_when {
    std::function<std::string()> why_not;
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        auto reason = why_not();
        boost::test_tools::assertion_result r(reason.empty());
        if (!reason.empty()) r.message() << reason;
        return r;
    }
};

inline skip_when skip_unless(std::function<bool()> can_run, std::string reason) {
    return {[can_run = std::move(can_run), reason = std::move(reason)] {
        return can_run() ? std::string() : reason;
    }};
}

}  // namespace moonshift::test
