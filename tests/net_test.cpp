// net::send and net::send_mail against the real receivers on 127.0.0.1: what
// arrives, retries, and every failure path (down, slow, 5xx, bad TLS, wrong
// credentials) with messages that keep the URL's secrets.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <optional>

#include "net/http.hpp"
#include "net/mail.hpp"
#include "support/receivers.hpp"

using namespace std::chrono_literals;
namespace net = moonshift::net;
using moonshift::test::http_receiver;
using moonshift::test::smtp_options;
using moonshift::test::smtp_receiver;
using moonshift::test::test_certificate;

namespace {

template <class F>
std::optional<net::delivery_error> failure_of(F&& f) {
    try {
        f();
    } catch (const net::delivery_error& e) {
        return e;
    }
    return std::nullopt;
}

// Fast defaults: tests wait milliseconds, not the production seconds.
net::http_request post(const std::string& url, std::string body = "{}") {
    net::http_request r;
    r.method = "POST";
    r.url = url;
    r.headers = {{"Content-Type", "application/json"}};
    r.body = std::move(body);
    r.timeout = 2000ms;
    r.backoff = 5ms;
    return r;
}

net::smtp_settings smtp_to(const smtp_receiver& receiver) {
    net::smtp_settings s;
    s.url = receiver.url();
    s.timeout = 2000ms;
    s.retries = 0;
    s.backoff = 5ms;
    return s;
}

net::mail_message simple_mail() {
    net::mail_message m;
    m.from = "moonshift@example.com";
    m.to = {"team@example.com"};
    m.subject = "Run finished";
    m.text = "All migrations applied.";
    return m;
}

void check_no_secret(const std::string& message, const std::vector<std::string>& secrets) {
    for (const auto& s : secrets)
        BOOST_TEST(message.find(s) == std::string::npos,
                   "the message \"" << message << "\" shows the secret \"" << s << "\"");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(net_http)

BOOST_AUTO_TEST_CASE(post_delivers_json_and_headers_exactly) {
    http_receiver receiver;
    auto req = post(receiver.url() + "/hooks/run?source=ci", R"({"event":"run.finish","ok":true})");
    req.headers.push_back({"X-Moonshift-Event", "run.finish"});
    req.headers.push_back({"X-Empty", ""});
    auto res = net::send(req);

    BOOST_TEST(res.status == 200);
    BOOST_TEST(res.body == "ok");
    BOOST_TEST(res.attempts == 1);
    BOOST_TEST(res.header("Content-Type") == "text/plain");
    BOOST_REQUIRE(receiver.wait_for(1, 1s));
    auto got = receiver.requests().at(0);
    BOOST_TEST(got.method == "POST");
    BOOST_TEST(got.path == "/hooks/run");
    BOOST_TEST(got.query == "source=ci");
    BOOST_TEST(got.body == R"({"event":"run.finish","ok":true})");
    BOOST_TEST(got.header("content-type") == "application/json");
    BOOST_TEST(got.header("x-moonshift-event") == "run.finish");
    BOOST_TEST(got.header("content-length") == std::to_string(req.body.size()));
    BOOST_TEST(got.header("user-agent").rfind("moonshift/", 0) == 0);
    BOOST_TEST(got.header("expect").empty(), "no 100-continue round trip");
    bool empty_header_sent = false;
    for (const auto& [k, v] : got.headers) empty_header_sent |= k == "x-empty" && v.empty();
    BOOST_TEST(empty_header_sent, "a header with an empty value is sent");
}

BOOST_AUTO_TEST_CASE(hmac_matches_rfc4231_vectors) {
    // RFC 4231 test case 1 and 2.
    BOOST_TEST(net::hmac_sha256_hex(std::string(20, '\x0b'), "Hi There") ==
               "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    BOOST_TEST(net::hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    BOOST_TEST(net::hmac_sha256_hex("", "").size() == 64u);
}

BOOST_AUTO_TEST_CASE(signature_header_arrives_as_computed) {
    http_receiver receiver;
    const std::string body = "what do ya want for nothing?";
    auto req = post(receiver.url() + "/hook", body);
    req.headers.push_back(
        {"X-Moonshift-Signature", "sha256=" + net::hmac_sha256_hex("Jefe", body)});
    net::send(req);
    BOOST_REQUIRE(receiver.wait_for(1, 1s));
    BOOST_TEST(receiver.requests().at(0).header("x-moonshift-signature") ==
               "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

BOOST_AUTO_TEST_CASE(server_error_then_success_is_retried) {
    http_receiver receiver;
    receiver.respond_with({500, 200});
    auto res = net::send(post(receiver.url()));
    BOOST_TEST(res.status == 200);
    BOOST_TEST(res.attempts == 2);
    BOOST_TEST(receiver.request_count() == 2u);
}

BOOST_AUTO_TEST_CASE(too_many_requests_is_retried) {
    http_receiver receiver;
    receiver.respond_with({429, 503, 204});
    auto res = net::send(post(receiver.url()));
    BOOST_TEST(res.status == 204);
    BOOST_TEST(res.attempts == 3);
}

BOOST_AUTO_TEST_CASE(server_errors_exhaust_retries_with_http_error) {
    http_receiver receiver;
    receiver.set_default_reply({500, "database on fire", {}, {}});
    auto req = post(receiver.url());
    req.retries = 2;
    auto err = failure_of([&] { net::send(req); });
    BOOST_REQUIRE(err);
    BOOST_TEST(err->kind() == "http");
    BOOST_TEST(err->status() == 500);
    BOOST_TEST(err->attempts() == 3);
    BOOST_TEST(receiver.request_count() == 3u);
    BOOST_TEST(std::string(err->what()).find("HTTP 500") != std::string::npos, err->what());
    BOOST_TEST(std::string(err->what()).find("database on fire") != std::string::npos, err->what());
}

BOOST_AUTO_TEST_CASE(client_errors_are_not_retried) {
    http_receiver receiver;
    receiver.set_default_reply({404, "no such hook", {}, {}});
    auto err = failure_of([&] { net::send(post(receiver.url())); });
    BOOST_REQUIRE(err);
    BOOST_TEST(err->kind() == "http");
    BOOST_TEST(err->status() == 404);
    BOOST_TEST(err->attempts() == 1);
    BOOST_TEST(receiver.request_count() == 1u);
}

BOOST_AUTO_TEST_CASE(accept_any_status_returns_the_answer) {
    http_receiver receiver;
    receiver.respond_with({503, 503, 503});
    auto req = post(receiver.url());
    req.accept_any_status = true;
    req.retries = 1;
    auto res = net::send(req);
    BOOST_TEST(res.status == 503);
    BOOST_TEST(res.attempts == 2);
}

BOOST_AUTO_TEST_CASE(receiver_down_is_a_quick_connect_error) {
    auto req = post("http://127.0.0.1:" + std::to_string(moonshift::test::unused_port()) + "/hook");
    req.retries = 1;
    auto started = std::chrono::steady_clock::now();
    auto err = failure_of([&] { net::send(req); });
    auto took = std::chrono::steady_clock::now() - started;
    BOOST_REQUIRE(err);
    BOOST_TEST(err->kind() == "connect");
    BOOST_TEST(err->attempts() == 2);
    BOOST_TEST(err->status() == 0);
    BOOST_TEST((took < 1s), "a refused connection fails at once");
    BOOST_TEST(!err->hint().empty());
}

BOOST_AUTO_TEST_CASE(slow_receiver_times_out) {
    http_receiver receiver;
    receiver.set_delay(3s);
    auto req = post(receiver.url());
    req.timeout = 150ms;
    req.retries = 1;
    auto started = std::chrono::steady_clock::now();
    auto err = failure_of([&] { net::send(req); });
    auto took = std::chrono::steady_clock::now() - started;
    BOOST_REQUIRE(err);
    BOOST_TEST(err->kind() == "timeout");
    BOOST_TEST(err->attempts() == 2);
    BOOST_TEST((took < 1500ms), "each attempt stops at its timeout");
    BOOST_TEST(std::string(err->what()).find("150 ms") != std::string::npos, err->what());
}

BOOST_AUTO_TEST_CASE(tls_with_the_right_ca_succeeds) {
    auto cert = std::make_shared<test_certificate>();
    http_receiver receiver(cert);
    auto req = post(receiver.url() + "/hook");
    req.ca_file = receiver.ca_file();
    auto res = net::send(req);
    BOOST_TEST(res.status == 200);
    BOOST_REQUIRE(receiver.wait_for(1, 1s));
    BOOST_TEST(receiver.requests().at(0).tls);
}

BOOST_AUTO_TEST_CASE(tls_with_an_untrusted_certificate_fails) {
    http_receiver receiver(std::make_shared<test_certificate>());
    test_certificate other;
    for (std::string ca : {other.cert_file(), std::string()}) {  // another CA; the system's
        auto req = post(receiver.url() + "/hook");
        req.ca_file = ca;
        auto err = failure_of([&] { net::send(req); });
        BOOST_REQUIRE(err);
        BOOST_TEST(err->kind() == "tls", err->what());
        BOOST_TEST(err->attempts() == 1, "a certificate does not get better by retrying");
    }
    BOOST_TEST(receiver.request_count() == 0u);

    auto insecure = post(receiver.url() + "/hook");
    insecure.insecure = true;
    BOOST_TEST(net::send(insecure).status == 200);
}

BOOST_AUTO_TEST_CASE(errors_never_show_the_urls_secrets) {
    const std::vector<std::string> secrets = {"alice",  "s3cr3t-pw", "T0K3N-PATH",
                                              "abc123", "xyz789",    "token="};
    auto with_secrets = [](const std::string& base) {
        auto at = base.find("://") + 3;
        return base.substr(0, at) + "alice:s3cr3t-pw@" + base.substr(at) +
               "/hook/T0K3N-PATH?token=abc123&sig=xyz789";
    };
    auto check = [&](const net::http_request& req, const std::string& kind) {
        auto err = failure_of([&] { net::send(req); });
        BOOST_REQUIRE(err);
        BOOST_TEST(err->kind() == kind);
        check_no_secret(err->what(), secrets);
        check_no_secret(err->hint(), secrets);
        BOOST_TEST(std::string(err->what()).find(net::display_url(req.url)) != std::string::npos,
                   err->what());
    };

    http_receiver echoing;  // a receiver that echoes the secrets back in its error body
    echoing.set_default_reply({500, "bad token abc123 for alice at /hook/T0K3N-PATH", {}, {}});
    auto req = post(with_secrets(echoing.url()));
    req.retries = 0;
    check(req, "http");

    req.url = with_secrets("http://127.0.0.1:" + std::to_string(moonshift::test::unused_port()));
    check(req, "connect");

    http_receiver slow;
    slow.set_delay(2s);
    req.url = with_secrets(slow.url());
    req.timeout = 100ms;
    check(req, "timeout");

    http_receiver tls(std::make_shared<test_certificate>());
    req.url = with_secrets(tls.url());
    req.timeout = 2s;
    check(req, "tls");

    BOOST_TEST(net::display_url(with_secrets("https://127.0.0.1:8443")) ==
               "https://127.0.0.1:8443/…");
    BOOST_TEST(net::display_url("https://hooks.slack.com/services/T000/B000/XXXX") ==
               "https://hooks.slack.com:443/…");
    BOOST_TEST(net::display_url("http://example.com") == "http://example.com:80");
    BOOST_TEST(net::display_url("not a url") == "(invalid URL)");
}

BOOST_AUTO_TEST_CASE(invalid_requests_are_refused_before_sending) {
    auto err = failure_of([] { net::send(post("ftp://127.0.0.1/x")); });
    BOOST_REQUIRE(err);
    BOOST_TEST(err->kind() == "invalid");
    auto bad_header = post("http://127.0.0.1:1/x");
    bad_header.headers.push_back({"X-Injected", "a\r\nX-Evil: 1"});
    err = failure_of([&] { net::send(bad_header); });
    BOOST_REQUIRE(err);
    BOOST_TEST(err->kind() == "invalid");
}

BOOST_AUTO_TEST_CASE(host_allow_list) {
    BOOST_TEST(net::host_allowed("https://anything.example/x", {}));
    const std::vector<std::string> allow = {"hooks.slack.com", "*.example.com"};
    BOOST_TEST(net::host_allowed("https://hooks.slack.com/services/T/B/X", allow));
    BOOST_TEST(net::host_allowed("https://HOOKS.Slack.com./x", allow));
    BOOST_TEST(net::host_allowed("https://ci.example.com/x", allow));
    BOOST_TEST(!net::host_allowed("https://example.com/x", allow));
    BOOST_TEST(!net::host_allowed("https://evil-example.com/x", allow));
    BOOST_TEST(!net::host_allowed("https://hooks.slack.com.evil.io/x", allow));
    BOOST_TEST(!net::host_allowed("https://evil.io/?hooks.slack.com", allow));
    BOOST_TEST(!net::host_allowed("https://hooks.slack.com@evil.io/", allow));
    BOOST_TEST(!net::host_allowed("not a url", allow));
}

BOOST_AUTO_TEST_CASE(health_endpoint_changes_while_polled) {
    http_receiver receiver;
    net::http_request get;
    get.url = receiver.health_url();
    get.retries = 0;
    get.timeout = 2s;
    get.accept_any_status = true;
    BOOST_TEST(net::send(get).body == R"({"status":"ok"})");

    receiver.set_health(503, R"({"status":"degraded"})");
    auto res = net::send(get);
    BOOST_TEST(res.status == 503);
    BOOST_TEST(res.body == R"({"status":"degraded"})");

    receiver.set_health(200, "fine");
    receiver.set_health_error_rate(0.5);
    int errors = 0;
    for (int i = 0; i < 10; ++i) errors += net::send(get).status == 500;
    BOOST_TEST(errors == 5);

    receiver.set_health_error_rate(0);
    receiver.set_health_latency(200ms);
    get.timeout = 50ms;
    auto err = failure_of([&] { net::send(get); });
    BOOST_REQUIRE(err);
    BOOST_TEST(err->kind() == "timeout");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(net_mail)

BOOST_AUTO_TEST_CASE(mail_arrives_with_recipients_subject_and_both_parts) {
    smtp_receiver receiver;
    net::mail_message m;
    m.from = "Moonshift <ops@example.com>";
    m.to = {"dev@example.com", "Bjørn Ødegård <bjorn@example.com>"};
    m.cc = {"\"Lead, Team\" <lead@example.com>"};
    m.subject = "Production: 3 migrations appliquées ✓ — run 42 of the quarterly release train";
    m.text = "Applied:\n  003_add_slug (12 ms)\n.hidden line starts with a dot\n" +
             std::string(120, 'x') + "\nCafé = ok ";
    m.html = "<p>Applied <b>003_add_slug</b> — 12&nbsp;ms</p>";
    net::send_mail(smtp_to(receiver), m);

    BOOST_REQUIRE(receiver.wait_for(1, 1s));
    auto got = receiver.messages().at(0);
    BOOST_TEST(got.from == "ops@example.com");
    BOOST_TEST((got.recipients == std::vector<std::string>{"dev@example.com", "bjorn@example.com",
                                                           "lead@example.com"}));
    BOOST_TEST(got.subject == m.subject);
    BOOST_TEST(got.body_part("text/plain") == m.text);
    BOOST_TEST(got.body_part("text/html") == m.html);
    BOOST_TEST(got.header("mime-version") == "1.0");
    BOOST_TEST(got.header("content-type").rfind("multipart/alternative;", 0) == 0);
    BOOST_TEST(!got.header("date").empty());
    BOOST_TEST(got.header("message-id").find("@example.com>") != std::string::npos);
    BOOST_TEST(got.header("from") == "\"Moonshift\" <ops@example.com>");
    BOOST_TEST(got.header("cc") == "\"Lead, Team\" <lead@example.com>");
    BOOST_TEST(got.data.find("charset=utf-8") != std::string::npos);
    for (std::size_t at = 0, next; at < got.data.size(); at = next + 2) {
        next = got.data.find("\r\n", at);
        BOOST_TEST(next - at <= 78u, "line too long: " << got.data.substr(at, next - at));
    }
}

BOOST_AUTO_TEST_CASE(text_only_mail_is_a_single_part) {
    smtp_receiver receiver;
    net::send_mail(smtp_to(receiver), simple_mail());
    BOOST_REQUIRE(receiver.wait_for(1, 1s));
    auto got = receiver.messages().at(0);
    BOOST_TEST(got.header("content-type") == "text/plain; charset=utf-8");
    BOOST_TEST(got.body_part("text/plain") == "All migrations applied.");
    BOOST_TEST(got.subject == "Run finished");
}

BOOST_AUTO_TEST_CASE(auth_with_right_credentials_delivers) {
    for (std::string mechanism : {"PLAIN", "LOGIN"}) {
        smtp_options o;
        o.user = "mailer";
        o.password = "right-horse-battery";
        o.auth_mechanisms = mechanism;
        smtp_receiver receiver(o);
        auto s = smtp_to(receiver);
        s.user = o.user;
        s.password = o.password;
        net::send_mail(s, simple_mail());
        BOOST_REQUIRE(receiver.wait_for(1, 1s));
        BOOST_TEST(receiver.messages().at(0).auth_user == "mailer", mechanism);
    }
}

BOOST_AUTO_TEST_CASE(auth_with_wrong_password_is_an_auth_error_without_secrets) {
    smtp_options o;
    o.user = "mailer";
    o.password = "right-horse-battery";
    smtp_receiver receiver(o);
    auto s = smtp_to(receiver);
    s.user = "mailer";
    s.password = "wrong-staple-pw";
    s.retries = 2;
    auto err = failure_of([&] { net::send_mail(s, simple_mail()); });
    BOOST_REQUIRE(err);
    BOOST_TEST(err->kind() == "auth");
    BOOST_TEST(err->status() == 535);
    BOOST_TEST(err->attempts() == 1, "wrong credentials are not retried");
    check_no_secret(err->what(), {"wrong-staple-pw", "right-horse-battery", "mailer"});
    BOOST_TEST(std::string(err->what()).find("refused the credentials") != std::string::npos,
               err->what());
    BOOST_TEST(receiver.messages().empty());
    BOOST_TEST(receiver.auth_failures() == 1);
}

BOOST_AUTO_TEST_CASE(starttls_with_trusted_ca_delivers_over_tls) {
    smtp_options o;
    o.starttls = true;
    o.user = "mailer";
    o.password = "pw-over-tls";
    smtp_receiver receiver(o);
    auto s = smtp_to(receiver);
    s.starttls = true;
    s.ca_file = receiver.ca_file();
    s.user = o.user;
    s.password = o.password;
    net::send_mail(s, simple_mail());
    BOOST_REQUIRE(receiver.wait_for(1, 1s));
    BOOST_TEST(receiver.messages().at(0).tls);
    auto commands = receiver.commands();
    auto starttls = std::find(commands.begin(), commands.end(), "STARTTLS");
    auto auth = std::find_if(commands.begin(), commands.end(),
                             [](const std::string& c) { return c.rfind("AUTH", 0) == 0; });
    BOOST_TEST((starttls < auth), "credentials are sent only after STARTTLS");
}

BOOST_AUTO_TEST_CASE(starttls_failures_are_tls_errors) {
    smtp_options o;
    o.starttls = true;
    smtp_receiver untrusted(o);
    test_certificate other;
    auto s = smtp_to(untrusted);
    s.starttls = true;
    s.ca_file = other.cert_file();
    auto err = failure_of([&] { net::send_mail(s, simple_mail()); });
    BOOST_REQUIRE(err);
    BOOST_TEST(err->kind() == "tls", err->what());

    smtp_receiver no_tls;  // does not offer STARTTLS
    s = smtp_to(no_tls);
    s.starttls = true;
    err = failure_of([&] { net::send_mail(s, simple_mail()); });
    BOOST_REQUIRE(err);
    BOOST_TEST(err->kind() == "tls", err->what());
    BOOST_TEST(no_tls.messages().empty());
}

BOOST_AUTO_TEST_CASE(smtps_delivers_with_tls_from_the_start) {
    smtp_options o;
    o.implicit_tls = true;
    smtp_receiver receiver(o);
    BOOST_TEST(receiver.url().rfind("smtps://", 0) == 0);
    auto s = smtp_to(receiver);
    s.ca_file = receiver.ca_file();
    net::send_mail(s, simple_mail());
    BOOST_REQUIRE(receiver.wait_for(1, 1s));
    BOOST_TEST(receiver.messages().at(0).tls);
}

BOOST_AUTO_TEST_CASE(mail_receiver_down_is_a_quick_connect_error) {
    net::smtp_settings s;
    s.url = "smtp://127.0.0.1:" + std::to_string(moonshift::test::unused_port());
    s.password = "never-shown";
    s.user = "someone";
    s.retries = 1;
    s.backoff = 5ms;
    auto started = std::chrono::steady_clock::now();
    auto err = failure_of([&] { net::send_mail(s, simple_mail()); });
    BOOST_REQUIRE(err);
    BOOST_TEST(err->kind() == "connect");
    BOOST_TEST(err->attempts() == 2);
    BOOST_TEST((std::chrono::steady_clock::now() - started < 1s));
    check_no_secret(err->what(), {"never-shown", "someone"});
}

BOOST_AUTO_TEST_CASE(refused_recipient_is_an_smtp_error) {
    smtp_options o;
    o.reject_recipients = {"nobody@example.com"};
    smtp_receiver receiver(o);
    auto m = simple_mail();
    m.to = {"nobody@example.com"};
    auto s = smtp_to(receiver);
    s.retries = 2;
    auto err = failure_of([&] { net::send_mail(s, m); });
    BOOST_REQUIRE(err);
    BOOST_TEST(err->kind() == "smtp", err->what());
    BOOST_TEST(err->status() == 550);
    BOOST_TEST(err->attempts() == 1, "a 5xx reply is permanent");
    BOOST_TEST(std::string(err->what()).find("Recipient address rejected") != std::string::npos,
               err->what());
}

BOOST_AUTO_TEST_CASE(bad_addresses_are_refused_before_connecting) {
    net::smtp_settings s;
    s.url = "smtp://127.0.0.1:1";
    auto m = simple_mail();
    m.to = {"victim@example.com>\r\nRCPT TO:<extra@example.com"};
    auto err = failure_of([&] { net::send_mail(s, m); });
    BOOST_REQUIRE(err);
    BOOST_TEST(err->kind() == "invalid");
    m = simple_mail();
    m.to.clear();
    err = failure_of([&] { net::send_mail(s, m); });
    BOOST_REQUIRE(err);
    BOOST_TEST(err->kind() == "invalid");
}

BOOST_AUTO_TEST_SUITE_END()
