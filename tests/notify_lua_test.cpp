// The Lua modules for hooks — http, mail, ci — through the real runtime and
// the real receivers: answers, JSON helpers, the nil-err forms, the host
// allow-list, the phases that may not reach the network, the time budget.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <cstdlib>

#include "lua/runtime.hpp"
#include "support/harness.hpp"
#include "support/receivers.hpp"

using namespace std::chrono_literals;
namespace lua = moonshift::lua;
namespace test = moonshift::test;
using lua::phase;

namespace {

struct runner {
    std::vector<lua::log_line> logs;
    lua::runtime rt;

    explicit runner(std::vector<std::string> allow = {}) : rt(nullptr, options(std::move(allow))) {}

    lua::options options(std::vector<std::string> allow) {
        lua::options o;
        o.log = [this](const lua::log_line& l) { logs.push_back(l); };
        o.http_allow_hosts = std::move(allow);
        return o;
    }

    std::string run(const std::string& code, phase p = phase::hook) {
        logs.clear();
        rt.run_file("hooks/t.lua", code, p);
        std::string out;
        for (const auto& l : logs) out += l.message + "\n";
        return out;
    }

    std::string error_of(const std::string& code, phase p = phase::hook) {
        try {
            rt.run_file("hooks/t.lua", code, p);
        } catch (const std::exception& e) {
            return e.what();
        }
        BOOST_FAIL("expected an error from:\n" << code);
        return {};
    }
};

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

std::string lua_str(const std::string& s) { return "'" + s + "'"; }

}  // namespace

BOOST_AUTO_TEST_SUITE(notify_lua)

BOOST_AUTO_TEST_CASE(http_get_answers_status_headers_body_and_decoded_json) {
    test::http_receiver receiver;
    receiver.set_default_reply(
        {200, R"({"ok":true,"items":[1,2]})", {{"Content-Type", "application/json"}}, {}});
    runner r;
    auto out = r.run("local res = http.get(" + lua_str(receiver.url() + "/status?x=1") +
                     ", {headers = {['X-Probe'] = 'yes'}})\n"
                     "print(res.status, res.ok, res.headers['content-type'], res.json.ok, "
                     "#res.json.items, res.body)\n");
    BOOST_TEST(out == "200 true application/json true 2 {\"ok\":true,\"items\":[1,2]}\n");
    auto got = receiver.requests().at(0);
    BOOST_TEST(got.method == "GET");
    BOOST_TEST(got.target == "/status?x=1");
    BOOST_TEST(got.header("x-probe") == "yes");
}

BOOST_AUTO_TEST_CASE(http_post_of_a_table_sends_json_and_a_string_as_it_is) {
    test::http_receiver receiver;
    runner r;
    r.run("http.post(" + lua_str(receiver.url() + "/a") +
          ", {name = 'moonshift', tags = json.array()})\n"
          "http.post(" +
          lua_str(receiver.url() + "/b") +
          ", 'plain text', {headers = {['Content-Type'] = 'text/plain'}})\n"
          "http.request{method = 'put', url = " +
          lua_str(receiver.url() + "/c") + ", json = {n = 1}}\n");
    auto reqs = receiver.requests();
    BOOST_REQUIRE(reqs.size() == 3u);
    BOOST_TEST(reqs[0].body == R"({"name":"moonshift","tags":[]})");
    BOOST_TEST(reqs[0].header("content-type") == "application/json");
    BOOST_TEST(reqs[1].body == "plain text");
    BOOST_TEST(reqs[1].header("content-type") == "text/plain");
    BOOST_TEST(reqs[2].method == "PUT");
    BOOST_TEST(reqs[2].body == R"({"n":1})");
}

BOOST_AUTO_TEST_CASE(http_retries_server_errors_and_raises_when_they_persist) {
    test::http_receiver receiver;
    receiver.respond_with({503, 200});
    runner r;
    BOOST_TEST(r.run("print(http.post(" + lua_str(receiver.url()) +
                     ", 'x', {backoff = 0.01}).attempts)") == "2\n");
    receiver.set_default_reply({500, "broken", {}, {}});
    auto e = r.error_of("http.post(" + lua_str(receiver.url() + "/secret-path") +
                        ", 'x', {retries = 1, backoff = '5ms'})");
    BOOST_TEST(contains(e, "the server answered HTTP 500 (2 attempts): broken"), e);
    BOOST_TEST(contains(e, "hooks/t.lua:1:"), e);
    BOOST_TEST(!contains(e, "secret-path"), e);
    BOOST_TEST(r.run("print(http.get(" + lua_str(receiver.url()) +
                     ", {any_status = true, retries = 0}).status)") == "500\n");
}

BOOST_AUTO_TEST_CASE(try_forms_return_nil_and_an_error_table) {
    runner r;
    std::string url = "http://127.0.0.1:" + std::to_string(test::unused_port()) + "/x";
    auto out = r.run("local res, err = http.try_post(" + lua_str(url) +
                     ", {a = 1}, {retries = 0})\n"
                     "print(res, err.kind, err.status, err.attempts, err.message:find('cannot "
                     "connect') ~= nil)\n");
    BOOST_TEST(out == "nil connect 0 1 true\n");
}

BOOST_AUTO_TEST_CASE(http_refuses_hosts_outside_the_allow_list) {
    test::http_receiver receiver;
    runner allowed({"127.0.0.1"});
    BOOST_TEST(allowed.run("print(http.get(" + lua_str(receiver.url()) + ").status)") == "200\n");
    runner other({"hooks.slack.com", "*.example.com"});
    auto e = other.error_of("http.get(" + lua_str(receiver.url() + "/private/token123") + ")");
    BOOST_TEST(contains(e, "http.get: http://127.0.0.1:"), e);
    BOOST_TEST(contains(e, "is not allowed: its host is not in [http] allow_hosts"), e);
    BOOST_TEST(!contains(e, "token123"), e);
    BOOST_TEST(receiver.request_count() == 1u);
}

BOOST_AUTO_TEST_CASE(network_is_refused_in_migration_phases_and_while_loading) {
    runner r;
    for (auto p : {phase::precheck, phase::up, phase::verify, phase::down}) {
        auto e = r.error_of("http.get('http://127.0.0.1:1/')", p);
        BOOST_TEST(contains(e, std::string("http.get is not allowed in phase \"") +
                                   lua::phase_name(p) + "\""),
                   e);
        e = r.error_of(
            "mail.send({url = 'smtp://127.0.0.1:1'}, {from = 'a@b.c', to = 'd@e.f', text = 'x'})",
            p);
        BOOST_TEST(contains(e, "mail.send is not allowed in phase"), e);
    }
    try {
        r.rt.load("hooks/eager.lua", "http.get('http://127.0.0.1:1/')\nreturn {}", {});
        BOOST_FAIL("a request while loading must be refused");
    } catch (const lua::script_error& e) {
        BOOST_TEST(contains(e.what(), "not available while a file loads"), e.what());
    }
}

BOOST_AUTO_TEST_CASE(bad_options_name_the_function_and_the_option) {
    runner r;
    auto e = r.error_of("http.get('http://127.0.0.1:1/', {timout = 5})");
    BOOST_TEST(contains(e, "http.get: unknown option \"timout\""), e);
    e = r.error_of("http.get('http://127.0.0.1:1/', {timeout = 'soon'})");
    BOOST_TEST(contains(e, "option \"timeout\" must be a number of seconds or a duration"), e);
    e = r.error_of("http.get(42)");
    BOOST_TEST(contains(e, "http.get: argument #1 must be a URL (a string), got number"), e);
    e = r.error_of("mail.send({url = 'smtp://127.0.0.1:1'}, {to = 'x@y.z', text = 'hi'})");
    BOOST_TEST(contains(e, "the message needs a sender (from)"), e);
}

BOOST_AUTO_TEST_CASE(the_time_budget_shortens_a_slow_request) {
    test::http_receiver slow;
    slow.set_delay(3s);
    runner r;
    r.rt.set_deadline(300ms);
    auto t0 = std::chrono::steady_clock::now();
    auto e = r.error_of("http.get(" + lua_str(slow.url()) + ", {timeout = 10})");
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < 1500ms), "the call ends with the budget");
    BOOST_TEST(contains(e, "no answer within"), e);
}

BOOST_AUTO_TEST_CASE(mail_send_delivers_and_try_send_reports_refused_credentials) {
    test::smtp_options so;
    so.user = "mailer";
    so.password = "pw-right";
    test::smtp_receiver smtp(so);
    runner r;
    std::string server = "{url = " + lua_str(smtp.url()) + ", user = 'mailer', password = ";
    r.run("mail.send(" + server +
          "'pw-right'}, {from = 'Moon <m@example.com>', to = {'a@example.com', "
          "'b@example.com'}, subject = 'Hi ✓', text = 'plain', html = '<p>rich</p>'})");
    BOOST_REQUIRE(smtp.wait_for(1, 1s));
    auto m = smtp.messages().at(0);
    BOOST_TEST(m.recipients == (std::vector<std::string>{"a@example.com", "b@example.com"}),
               boost::test_tools::per_element());
    BOOST_TEST(m.subject == "Hi ✓");
    BOOST_TEST(m.body_part("text/plain") == "plain");
    BOOST_TEST(m.body_part("text/html") == "<p>rich</p>");
    auto out =
        r.run("local ok, err = mail.try_send(" + server +
              "'pw-wrong'}, {from = 'm@example.com', to = "
              "'a@example.com', text = 'x'})\nprint(ok, err.kind, err.message:find('pw%-wrong'))");
    BOOST_TEST(out == "nil auth nil\n");
}

BOOST_AUTO_TEST_CASE(ci_summary_appends_to_the_step_summary_file) {
    test::temp_dir dir;
    auto file = dir.path / "summary.md";
    runner r;
    ::unsetenv("GITHUB_STEP_SUMMARY");
    BOOST_TEST(r.run("print(ci.summary('# nothing'))") == "false\n");
    ::setenv("GITHUB_STEP_SUMMARY", file.c_str(), 1);
    r.run("ci.summary('### one')\nci.summary('### two')");
    ::unsetenv("GITHUB_STEP_SUMMARY");
    BOOST_TEST(test::read_file(file) == "### one\n### two\n");
    auto e = r.error_of("ci.summary('x')", phase::up);
    BOOST_TEST(contains(e, "ci.summary is not allowed in phase \"up\""), e);
}

BOOST_AUTO_TEST_CASE(hmac_helper_matches_rfc4231) {
    runner r;
    BOOST_TEST(r.run("print(http.hmac_sha256('Jefe', 'what do ya want for nothing?'))") ==
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843\n");
}

BOOST_AUTO_TEST_SUITE_END()
