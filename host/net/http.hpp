// HTTP client for notification hooks and the Lua `http` module: libcurl with
// per-attempt timeouts, retries with backoff, and errors that never show secrets.
#pragma once
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace moonshift::net {

using header_list = std::vector<std::pair<std::string, std::string>>;

// A delivery that did not succeed. kind() is one of:
//   "connect"  the server could not be reached, or dropped the connection
//   "timeout"  no complete answer within the timeout
//   "tls"      handshake or certificate verification failed
//   "http"     the server answered with a status that is not a success (status())
//   "auth"     (mail) the server refused the credentials
//   "smtp"     (mail) the server refused the message or a recipient (status())
//   "invalid"  the request itself is unusable: bad URL, header or address
// The message names the target as scheme://host:port/… only: no userinfo,
// path or query, which is where webhook secrets live.
class delivery_error : public moonshift::error {
  public:
    delivery_error(std::string kind, int attempts, int status, std::string message,
                   std::string hint = {});
    const std::string& kind() const noexcept { return kind_; }
    int attempts() const noexcept { return attempts_; }
    int status() const noexcept { return status_; }  // HTTP status or SMTP reply code; 0 if none

  private:
    std::string kind_;
    int attempts_;
    int status_;
};

struct http_request {
    std::string method = "GET";
    std::string url;
    header_list headers;
    std::string body;
    std::chrono::milliseconds timeout{10000};  // per attempt, connect included
    int retries = 2;                           // extra attempts after the first
    std::chrono::milliseconds backoff{200};    // before the first retry; doubles each retry
    std::string ca_file;                       // PEM bundle to trust instead of the system's
    bool insecure = false;                     // skip certificate verification (tests only)
    // By default any final status outside 2xx throws delivery_error("http").
    // When true, every HTTP answer is returned (after the retries for 5xx and
    // 429) and only transport failures throw: for callers that read the status.
    bool accept_any_status = false;
};

struct http_response {
    int status = 0;
    std::string body;
    header_list headers;  // names lower-cased, in the order received
    int attempts = 0;
    std::chrono::milliseconds elapsed{};  // all attempts and backoffs

    // First header with that name (case-insensitive), or empty.
    std::string header(std::string_view name) const;
};

// Sends the request; retries connect errors, timeouts, 5xx and 429, never
// other 4xx, TLS failures or an invalid request. Throws delivery_error.
// Redirects are not followed.
http_response send(const http_request& request);

// Lower-case hex HMAC-SHA256 of data under key.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

// True when the URL's host is in the list (case-insensitive; "*.example.com"
// matches any subdomain of example.com). An empty list allows every host; an
// unparseable URL is never allowed by a non-empty list.
bool host_allowed(const std::string& url, const std::vector<std::string>& allow_hosts);

// The URL as it may be shown to people: scheme://host:port, followed by "/…"
// when it has a path or query. "(invalid URL)" when it cannot be parsed.
std::string display_url(const std::string& url);

namespace detail {
// Shared by http.cpp and mail.cpp.
void init_curl();
// True for the curl codes (CURLcode) of a failed TLS handshake or verification.
bool is_tls_failure(int curl_code);
// Replaces every occurrence of each secret (those of 3 or more characters)
// with "***", then applies text::redact.
std::string scrub(std::string message, const std::vector<std::string>& secrets);
// The parts of a URL that must not be shown: userinfo, path, query values.
std::vector<std::string> url_secrets(const std::string& url);
}  // namespace detail

}  // namespace moonshift::net
