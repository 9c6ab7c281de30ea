// Real HTTP(S) and SMTP servers on 127.0.0.1 for tests: they listen on a free
// port in their own thread, record what arrives and answer from a script the
// test controls. Never a mock: the client under test speaks to a socket.
#pragma once
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace moonshift::test {

using header_list = std::vector<std::pair<std::string, std::string>>;

// A TCP port on 127.0.0.1 that nothing listens on: the "receiver down" case.
int unused_port();

// A self-signed certificate for 127.0.0.1 and localhost (EC P-256, valid for a
// day), made at run time and written with its key to a temporary directory
// that the destructor removes. A client trusts it by passing cert_file() as
// its CA file; every instance is a different, unrelated certificate.
class test_certificate {
  public:
    test_certificate();
    ~test_certificate();
    test_certificate(const test_certificate&) = delete;
    test_certificate& operator=(const test_certificate&) = delete;
    const std::string& cert_file() const { return cert_file_; }
    const std::string& key_file() const { return key_file_; }

  private:
    std::string dir_, cert_file_, key_file_;
};

struct recorded_request {
    std::string method;
    std::string target;  // as sent: path and query
    std::string path;
    std::string query;
    header_list headers;  // names lower-cased, in the order received
    std::string body;
    bool tls = false;

    // The first header of that name (case-insensitive), or "".
    std::string header(std::string_view name) const;
};

struct http_reply {
    int status = 200;
    std::string body;
    header_list headers;
    std::chrono::milliseconds delay{0};  // added to the receiver's delay
};

class http_receiver {
  public:
    http_receiver();  // plain HTTP
    // HTTPS with this certificate.
    explicit http_receiver(std::shared_ptr<const test_certificate> certificate);
    ~http_receiver();
    http_receiver(const http_receiver&) = delete;
    http_receiver& operator=(const http_receiver&) = delete;

    std::string url() const;  // http://127.0.0.1:PORT or https://127.0.0.1:PORT
    int port() const;
    std::string ca_file() const;  // the certificate to trust; "" for plain HTTP

    // Replies to the next requests, in order (routes excepted); after them the
    // default reply. respond_with({500, 200}): 500 first, then 200.
    void respond_with(std::vector<int> statuses);
    void respond_with(std::vector<http_reply> replies);
    void set_default_reply(http_reply reply);         // 200 "ok" at first
    void set_delay(std::chrono::milliseconds delay);  // before every reply

    // A fixed endpoint answering every request for that path with the same
    // reply, outside the script. Tests change it while a client polls it.
    void set_route(const std::string& path, http_reply reply);
    // The route "/health" (200 {"status":"ok"} at first): its status and body,
    // its latency, and the fraction of its answers that are 500 instead
    // (spread evenly and deterministically: 0.25 fails every fourth).
    void set_health(int status, std::string body);
    void set_health_latency(std::chrono::milliseconds latency);
    void set_health_error_rate(double fraction);
    std::string health_url() const;

    std::vector<recorded_request> requests() const;  // health requests included
    std::size_t request_count() const;
    // True once n requests have arrived; false after the timeout.
    bool wait_for(std::size_t n, std::chrono::milliseconds timeout) const;
    void clear();

    struct state;

  private:
    std::unique_ptr<state> state_;
};

struct recorded_mail {
    std::string from;                     // envelope MAIL FROM
    std::vector<std::string> recipients;  // envelope RCPT TO, in order
    std::string data;                     // DATA, dot-unstuffed, CRLF line ends
    std::string subject;                  // Subject header, unfolded, RFC 2047 decoded
    bool tls = false;                     // delivered over TLS (smtps or STARTTLS)
    std::string auth_user;                // "" when not authenticated

    // A header of the message (first of that name, unfolded, not decoded), or "".
    std::string header(std::string_view name) const;
    // The body of the first part whose Content-Type is content_type (the whole
    // body for a single-part message of that type), transfer-decoded, with LF
    // line ends and without the line break before the boundary. "" if none.
    std::string body_part(std::string_view content_type) const;
};

struct smtp_options {
    std::string user, password;  // when set, AUTH is offered and required before MAIL FROM
    std::string auth_mechanisms = "PLAIN LOGIN";          // what EHLO advertises
    bool starttls = false;                                // offer STARTTLS
    bool implicit_tls = false;                            // smtps: TLS from the first byte
    std::shared_ptr<const test_certificate> certificate;  // made when TLS is on and none given
    std::vector<std::string> reject_recipients;           // RCPT TO these gets 550
};

class smtp_receiver {
  public:
    smtp_receiver();
    explicit smtp_receiver(smtp_options options);
    ~smtp_receiver();
    smtp_receiver(const smtp_receiver&) = delete;
    smtp_receiver& operator=(const smtp_receiver&) = delete;

    std::string url() const;  // smtp://127.0.0.1:PORT or smtps://127.0.0.1:PORT
    int port() const;
    std::string ca_file() const;  // "" without TLS

    void set_delay(std::chrono::milliseconds delay);  // before every reply

    std::vector<recorded_mail> messages() const;
    bool wait_for(std::size_t n, std::chrono::milliseconds timeout) const;
    int auth_failures() const;
    // Every command line received, in order (AUTH payloads included: test credentials only).
    std::vector<std::string> commands() const;

    struct state;

  private:
    std::unique_ptr<state> state_;
};

}  // namespace moonshift::test
