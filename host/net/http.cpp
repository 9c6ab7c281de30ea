// HTTP client over libcurl: one easy handle per send, retried with doubling
// backoff; every message is built from display_url() and scrubbed of the
// URL's secrets, because webhook URLs are credentials.
#include "net/http.hpp"

#define CURL_DISABLE_TYPECHECK  // calls go through curl_lazy.hpp
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>
#include <thread>

#include "common/text.hpp"
#include "net/curl_lazy.hpp"
#include "net/url.hpp"

namespace moonshift::net {

delivery_error::delivery_error(std::string kind, int attempts, int status, std::string message,
                               std::string hint)
    // A delivery that fails the run (a `required` hook) stops it like a failed check would.
    : moonshift::error(exit_code::check_failed, std::move(message), std::move(hint)),
      kind_(std::move(kind)),
      attempts_(attempts),
      status_(status) {}

std::string http_response::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (k.size() == name.size() &&
            std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) ==
                       std::tolower(static_cast<unsigned char>(b));
            }))
            return v;
    }
    return {};
}

namespace {

using detail::lower;
using detail::parse_url;
using detail::url_parts;

constexpr std::size_t max_response_bytes = 8 * 1024 * 1024;

std::string plural(int n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// A response body quoted in an error: short, on one line.
std::string snippet(std::string_view body) {
    std::string out;
    for (char c : body.substr(0, 200)) {
        unsigned char u = static_cast<unsigned char>(c);
        out.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
    }
    out = text::trim(out);
    if (body.size() > 200) out += "…";
    return out;
}

enum class failure { none, connect, lost, timeout, tls, invalid, too_large, other };

failure classify(CURLcode rc) {
    switch (rc) {
        case CURLE_OK:
            return failure::none;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
            return failure::connect;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
            return failure::lost;
        case CURLE_OPERATION_TIMEDOUT:
            return failure::timeout;
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
            return failure::invalid;
        case CURLE_WRITE_ERROR:
            return failure::too_large;
        default:
            return detail::is_tls_failure(rc) ? failure::tls : failure::other;
    }
}

bool has_crlf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

bool valid_method(const std::string& m) {
    return !m.empty() && std::all_of(m.begin(), m.end(), [](char c) {
        return std::isupper(static_cast<unsigned char>(c)) != 0;
    });
}

struct attempt_state {
    std::string body;
    header_list headers;
    bool too_large = false;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
    auto* st = static_cast<attempt_state*>(user);
    if (st->body.size() + size * n > max_response_bytes) {
        st->too_large = true;
        return 0;
    }
    st->body.append(data, size * n);
    return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto* st = static_cast<attempt_state*>(user);
    std::string_view line(data, size * n);
    if (line.rfind("HTTP/", 0) == 0) {
        st->headers.clear();  // a new response (after 100 Continue, or an interim one)
    } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
        st->headers.emplace_back(lower(text::trim(line.substr(0, colon))),
                                 text::trim(line.substr(colon + 1)));
    }
    return size * n;
}

struct failure_text {
    std::string kind, what, hint;
};

failure_text describe(failure f, std::chrono::milliseconds timeout) {
    const char* unreachable = "Check that the receiver is running and reachable from here.";
    switch (f) {
        case failure::connect:
            return {"connect", "cannot connect", unreachable};
        case failure::lost:
            return {"connect", "the connection failed", unreachable};
        case failure::timeout:
            return {"timeout", "no answer within " + text::format_duration(timeout),
                    "The receiver is slow or unreachable; raise the timeout or check it."};
        case failure::tls:
            return {"tls", "TLS failed",
                    "Give the CA that signed the server's certificate (ca_file), or fix the "
                    "server's certificate."};
        case failure::invalid:
            return {"invalid", "the request cannot be sent", {}};
        case failure::too_large:
            return {"http", "the answer is larger than 8 MiB", {}};
        default:
            return {"connect", "the request failed", unreachable};
    }
}

using easy_ptr = std::unique_ptr<CURL, void (*)(CURL*)>;
using slist_ptr = std::unique_ptr<curl_slist, void (*)(curl_slist*)>;

}  // namespace

namespace detail {

bool is_tls_failure(int curl_code) {
    switch (static_cast<CURLcode>(curl_code)) {
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
        case CURLE_SSL_ENGINE_INITFAILED:
        case CURLE_USE_SSL_FAILED:
            return true;
        default:
            return false;
    }
}

void init_curl() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace detail

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
    static const unsigned char empty = 0;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    const void* k = key.empty() ? static_cast<const void*>(&empty) : key.data();
    const auto* d = data.empty() ? &empty : reinterpret_cast<const unsigned char*>(data.data());
    if (!HMAC(EVP_sha256(), k, static_cast<int>(key.size()), d, data.size(), digest, &len))
        throw std::runtime_error("HMAC-SHA256 failed");
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out.push_back(hex[digest[i] >> 4]);
        out.push_back(hex[digest[i] & 15]);
    }
    return out;
}

namespace {

// What every message of one send() starts with and must not reveal.
struct send_context {
    std::string target;  // "POST https://hooks.example.com/…"
    std::vector<std::string> secrets;

    delivery_error invalid(const std::string& why) const {
        return delivery_error("invalid", 0, 0, detail::scrub(target + ": " + why, secrets));
    }
};

void check_request(const http_request& req, const send_context& ctx) {
    url_parts parts = parse_url(req.url);
    if (!parts.ok || parts.host.empty()) throw ctx.invalid("the URL cannot be parsed");
    if (parts.scheme != "http" && parts.scheme != "https")
        throw ctx.invalid("only http and https URLs are supported");
    if (!valid_method(req.method))
        throw ctx.invalid("the method must be an upper-case word like POST");
}

void append_header(slist_ptr& headers, const std::string& line) {
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (!next) throw std::bad_alloc();
    headers.release();
    headers.reset(next);
}

// The request's headers as curl's list; a name or value that could split the
// request (CR, LF, a colon in the name) is refused.
slist_ptr curl_headers(const http_request& req, const send_context& ctx) {
    slist_ptr headers(nullptr, curl_slist_free_all);
    bool has_expect = false;
    for (const auto& [name, value] : req.headers) {
        if (name.empty() || has_crlf(name) || has_crlf(value) ||
            name.find(':') != std::string::npos)
            throw ctx.invalid("header \"" + name.substr(0, 40) + "\" has an invalid name or value");
        if (lower(name) == "expect") has_expect = true;
        // "Name;" is curl's way to send a header with an empty value.
        append_header(headers, value.empty() ? name + ";" : name + ": " + value);
    }
    // Without this curl waits up to a second for "100 Continue" on larger bodies.
    if (!has_expect) append_header(headers, "Expect:");
    return headers;
}

// Sets everything on the handle that stays the same across attempts.
void configure(CURL* h, const http_request& req, curl_slist* headers, char* errbuf,
               attempt_state& st) {
    curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.timeout.count()));
    curl_easy_setopt(h, CURLOPT_USERAGENT, "moonshift/" MOONSHIFT_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &st);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &st);
    if (!req.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, req.ca_file.c_str());
    if (req.insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (req.method == "GET" && req.body.empty()) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (req.method == "HEAD") {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else {
        if (req.method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.c_str());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }
}

// The server answered with a status that is not accepted, for the last time.
delivery_error status_error(const send_context& ctx, long status, int attempt,
                            const std::string& body) {
    std::string msg = ctx.target + ": the server answered HTTP " + std::to_string(status) + " (" +
                      plural(attempt, "attempt") + ")";
    if (status >= 300 && status < 400) msg += "; redirects are not followed";
    if (auto s = snippet(body); !s.empty()) msg += ": " + s;
    std::string hint = status >= 500 || status == 429
                           ? "The receiver is failing or overloaded; try again later."
                       : status >= 300 && status < 400
                           ? "Use the final URL the receiver redirects to."
                           : "The receiver refused the request; check the URL, its token and the "
                             "payload.";
    return delivery_error("http", attempt, static_cast<int>(status),
                          detail::scrub(msg, ctx.secrets), hint);
}

// The transfer itself failed (connect, TLS, timeout, too large), for the last time.
delivery_error transfer_error(const send_context& ctx, CURL* h, failure f, CURLcode rc,
                              const char* errbuf, int attempt, std::chrono::milliseconds timeout) {
    std::string detail_text = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    if (f == failure::too_large) detail_text.clear();
    auto [kind, what, hint] = describe(f, timeout);
    std::string msg = ctx.target + ": " + what + " (" + plural(attempt, "attempt") + ")";
    if (!detail_text.empty()) msg += ": " + detail_text;
    long status = 0;
    if (f == failure::too_large) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return delivery_error(kind, attempt, static_cast<int>(status), detail::scrub(msg, ctx.secrets),
                          hint);
}

}  // namespace

http_response send(const http_request& req) {
    detail::init_curl();
    const auto started = std::chrono::steady_clock::now();
    const send_context ctx{req.method + " " + display_url(req.url), detail::url_secrets(req.url)};
    check_request(req, ctx);
    slist_ptr headers = curl_headers(req, ctx);

    easy_ptr curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) throw std::runtime_error("cannot create a curl handle");
    CURL* h = curl.get();
    char errbuf[CURL_ERROR_SIZE] = {};
    attempt_state st;
    configure(h, req, headers.get(), errbuf, st);

    const int max_attempts = 1 + std::max(0, req.retries);
    auto delay = req.backoff;
    for (int attempt = 1;; ++attempt) {
        st = attempt_state{};
        errbuf[0] = 0;
        CURLcode rc = curl_easy_perform(h);
        failure f = classify(rc);
        if (f == failure::too_large || (f != failure::none && st.too_large)) f = failure::too_large;
        const bool last = attempt >= max_attempts;

        if (f == failure::none) {
            long status = 0;
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
            const bool success = status >= 200 && status < 300;
            const bool retryable = status >= 500 || status == 429;
            if (success || (req.accept_any_status && (!retryable || last))) {
                http_response r;
                r.status = static_cast<int>(status);
                r.body = std::move(st.body);
                r.headers = std::move(st.headers);
                r.attempts = attempt;
                r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - started);
                return r;
            }
            if (!retryable || last) throw status_error(ctx, status, attempt, st.body);
        } else {
            const bool retryable =
                f == failure::connect || f == failure::lost || f == failure::timeout;
            if (!retryable || last)
                throw transfer_error(ctx, h, f, rc, errbuf, attempt, req.timeout);
        }
        std::this_thread::sleep_for(delay);
        delay *= 2;
    }
}

}  // namespace moonshift::net
