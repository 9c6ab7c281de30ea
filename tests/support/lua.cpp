// The lua_* suites' shared fixture (support/lua.hpp).
#include "support/lua.hpp"

#include <boost/test/unit_test.hpp>
#include <regex>
#include <utility>

namespace moonshift::test {

namespace {

db::settings settings_for(const std::string& url) {
    db::settings s;
    s.url = url;
    return s;
}

// What asserts() logs last: the number of asserts that ran.
const std::string ran_prefix = "asserts that ran: ";

std::size_t asserts_written(const std::string& code) {
    static const std::regex call(R"(\bassert\s*\()");
    return static_cast<std::size_t>(std::distance(
        std::sregex_iterator(code.begin(), code.end(), call), std::sregex_iterator()));
}

}  // namespace

fresh_session::fresh_session() : session(settings_for(url)) {}

lua_runner::lua_runner(db::session* s, lua::options o, std::string label, lua::phase p)
    : rt(s, with_sink(std::move(o))), label_(std::move(label)), phase_(p) {}

lua::options lua_runner::with_sink(lua::options o) {
    o.log = [this](const lua::log_line& l) { logs.push_back(l); };
    return o;
}

lua::outcome lua_runner::ok(const std::string& code, lua::phase p,
                            const std::vector<std::string>& args) {
    try {
        return rt.run_file(label_, code, p, args);
    } catch (const std::exception& e) {
        BOOST_FAIL("the script failed: " << e.what() << "\nscript:\n" << code);
        throw;
    }
}

lua::script_error lua_runner::error_of(const std::string& code, lua::phase p) {
    try {
        rt.run_file(label_, code, p);
    } catch (const lua::script_error& e) {
        return e;
    }
    BOOST_FAIL("expected a script error from:\n" << code);
    throw;
}

void lua_runner::asserts(const std::string& code, lua::phase p,
                         const std::vector<std::string>& args) {
    // A counting assert, and the script in a block so that a `return` in it
    // skips the count below; the prefix shares line 1, so lines keep their numbers.
    std::string counted =
        "local asserts_run_ = 0; local assert = function(ok, ...) asserts_run_ = asserts_run_ + "
        "1; if not ok then error((...) or 'assertion failed!', 2) end return ok, ... end; do " +
        code + "\nend; log.info('" + ran_prefix + "' .. asserts_run_)";
    ok(counted, p, args);
    auto last = last_log();
    BOOST_TEST_REQUIRE(last.rfind(ran_prefix, 0) == 0u, "the script did not reach its last line:\n"
                                                            << code);
    logs.pop_back();  // the count is the fixture's, not the script's
    auto ran = std::stoul(last.substr(ran_prefix.size()));
    auto written = asserts_written(code);
    BOOST_TEST(written > 0u, "asserts() runs scripts that check with assert:\n" << code);
    BOOST_TEST(ran >= written, ran << " asserts ran of the " << written << " written in:\n"
                                   << code);
}

std::string lua_runner::messages() const {
    std::string out;
    for (const auto& l : logs) out += l.level + " " + l.source + " " + l.message + "\n";
    return out;
}

std::string lua_runner::last_log() const { return logs.empty() ? "" : logs.back().message; }

}  // namespace moonshift::test
