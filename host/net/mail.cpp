// SMTP delivery: the MIME message is built here (quoted-printable UTF-8 parts,
// RFC 2047 headers), the conversation is libcurl's. Credentials never reach a
// message; the server's last reply does, because it says what went wrong.
#include "net/mail.hpp"

#define CURL_DISABLE_TYPECHECK  // calls go through curl_lazy.hpp
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <memory>
#include <thread>

#include "common/text.hpp"
#include "net/curl_lazy.hpp"

namespace moonshift::net {
namespace {

struct address {
    std::string display;  // may be empty
    std::string addr;     // local@domain
};

delivery_error invalid(const std::string& what) {
    return delivery_error("invalid", 0, 0, "Cannot send mail: " + what);
}

address parse_address(const std::string& raw) {
    address a;
    std::string s = text::trim(raw);
    if (auto lt = s.find('<'); lt != std::string::npos) {
        auto gt = s.find('>', lt);
        if (gt == std::string::npos || gt + 1 != s.size())
            throw invalid("the address \"" + s + "\" is not valid");
        a.display = text::trim(s.substr(0, lt));
        if (a.display.size() >= 2 && a.display.front() == '"' && a.display.back() == '"')
            a.display = a.display.substr(1, a.display.size() - 2);
        a.addr = text::trim(s.substr(lt + 1, gt - lt - 1));
    } else {
        a.addr = s;
    }
    auto at = a.addr.find('@');
    bool ok = at != std::string::npos && at > 0 && at + 1 < a.addr.size();
    for (char c : a.addr)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '<' || c == '>' ||
            c == ',' || c == ';')
            ok = false;
    for (char c : a.display)
        if (c == '\r' || c == '\n') ok = false;
    if (!ok) throw invalid("the address \"" + s + "\" is not valid");
    return a;
}

bool printable_ascii(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e)
            return false;
    return true;
}

std::string base64(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3), '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(bytes.data()),
                            static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

// A header value: printable ASCII as is, anything else as RFC 2047 encoded
// words of at most 39 bytes each (so a folded line stays under 78 columns),
// never splitting a UTF-8 sequence.
std::string encode_header_text(std::string_view s) {
    if (printable_ascii(s)) return std::string(s);
    std::string clean;  // a header cannot carry line breaks, encoded or not
    for (char c : s) clean.push_back(c == '\r' || c == '\n' || c == '\t' ? ' ' : c);
    std::string out;
    std::size_t i = 0;
    while (i < clean.size()) {
        std::size_t end = std::min(clean.size(), i + 39);
        while (end < clean.size() && end > i + 1 &&
               (static_cast<unsigned char>(clean[end]) & 0xC0) == 0x80)
            --end;
        if (!out.empty()) out += "\r\n ";
        out += "=?UTF-8?B?" + base64(std::string_view(clean).substr(i, end - i)) + "?=";
        i = end;
    }
    return out;
}

std::string format_address(const address& a) {
    if (a.display.empty()) return a.addr;
    if (!printable_ascii(a.display)) return encode_header_text(a.display) + " <" + a.addr + ">";
    std::string quoted = "\"";
    for (char c : a.display) {
        if (c == '"' || c == '\\') quoted.push_back('\\');
        quoted.push_back(c);
    }
    return quoted + "\" <" + a.addr + ">";
}

// Quoted-printable (RFC 2045): lines of at most 76 columns, CRLF line ends.
std::string quoted_printable(std::string_view body) {
    static const char hex[] = "0123456789ABCDEF";
    std::string lf = text::normalize_newlines(body);
    std::string out;
    std::size_t column = 0;
    for (std::size_t i = 0; i < lf.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(lf[i]);
        if (c == '\n') {
            out += "\r\n";
            column = 0;
            continue;
        }
        const bool line_end = i + 1 == lf.size() || lf[i + 1] == '\n';
        std::string token;
        if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !line_end)) {
            token.push_back(static_cast<char>(c));
        } else {
            token = {'=', hex[c >> 4], hex[c & 15]};
        }
        if (column + token.size() > 75) {
            out += "=\r\n";
            column = 0;
        }
        out += token;
        column += token.size();
    }
    return out;
}

std::string random_hex(std::size_t bytes) {
    std::string raw(bytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1)
        throw std::runtime_error("no random bytes for a Message-ID");
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : raw) {
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 15]);
    }
    return out;
}

// RFC 5322 date in UTC, with English names whatever the locale.
std::string rfc5322_date(std::time_t t) {
    static const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
                  tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    return buf;
}

std::string address_header(const char* name, const std::vector<address>& list) {
    std::string out = std::string(name) + ": ";
    for (std::size_t i = 0; i < list.size(); ++i) {
        if (i) out += ",\r\n ";
        out += format_address(list[i]);
    }
    return out + "\r\n";
}

std::string part(const char* type, std::string_view body) {
    return std::string("Content-Type: ") + type +
           "; charset=utf-8\r\n"
           "Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
           quoted_printable(body) + "\r\n";
}

std::vector<address> parse_all(const std::vector<std::string>& raw) {
    std::vector<address> out;
    for (const auto& r : raw) out.push_back(parse_address(r));
    return out;
}

struct upload {
    const std::string* data;
    std::size_t offset = 0;
};

size_t on_read(char* buffer, size_t size, size_t n, void* user) {
    auto* up = static_cast<upload*>(user);
    std::size_t len = std::min(size * n, up->data->size() - up->offset);
    std::copy_n(up->data->data() + up->offset, len, buffer);
    up->offset += len;
    return len;
}

// Keeps the server's last refusal (a 4xx or 5xx reply line), which says why;
// what libcurl sends (AUTH included) is never looked at.
int on_debug(CURL*, curl_infotype type, char* data, size_t size, void* user) {
    if (type == CURLINFO_HEADER_IN) {
        std::string lines = text::trim(std::string_view(data, size));
        auto nl = lines.rfind('\n');
        std::string line = text::trim(nl == std::string::npos ? lines : lines.substr(nl + 1));
        if (!line.empty() && (line[0] == '4' || line[0] == '5'))
            *static_cast<std::string*>(user) = line.substr(0, 200);
    }
    return 0;
}

}  // namespace

std::string format_mail(const mail_message& m) {
    address from = parse_address(m.from);
    std::vector<address> to = parse_all(m.to), cc = parse_all(m.cc);
    std::string domain = from.addr.substr(from.addr.find('@') + 1);
    std::time_t now = std::time(nullptr);

    std::string out = "From: " + format_address(from) + "\r\n";
    if (!to.empty()) out += address_header("To", to);
    if (!cc.empty()) out += address_header("Cc", cc);
    out += "Subject: " + encode_header_text(m.subject) + "\r\n";
    out += "Date: " + rfc5322_date(now) + "\r\n";
    out += "Message-ID: <" + random_hex(16) + "." + std::to_string(now) + "@" + domain + ">\r\n";
    out += "MIME-Version: 1.0\r\n";
    out += "Auto-Submitted: auto-generated\r\n";  // RFC 3834: no auto-replies, please
    out += "X-Mailer: moonshift/" MOONSHIFT_VERSION "\r\n";
    if (m.html.empty()) return out + part("text/plain", m.text);
    if (m.text.empty()) return out + part("text/html", m.html);
    // "=_" never occurs in quoted-printable output, so the boundary cannot either.
    std::string boundary = "=_moonshift_" + random_hex(12);
    out += "Content-Type: multipart/alternative;\r\n boundary=\"" + boundary + "\"\r\n\r\n";
    out += "This is a multi-part message in MIME format.\r\n";
    out += "--" + boundary + "\r\n" + part("text/plain", m.text);
    out += "--" + boundary + "\r\n" + part("text/html", m.html);
    return out + "--" + boundary + "--\r\n";
}

namespace {

using slist_ptr = std::unique_ptr<curl_slist, void (*)(curl_slist*)>;

// RCPT TO of every To and Cc address.
slist_ptr recipients(const mail_message& m) {
    if (m.to.empty() && m.cc.empty()) throw invalid("the message has no recipient");
    slist_ptr rcpt(nullptr, curl_slist_free_all);
    for (const auto* list : {&m.to, &m.cc}) {
        for (const auto& r : *list) {
            curl_slist* next =
                curl_slist_append(rcpt.get(), ("<" + parse_address(r).addr + ">").c_str());
            if (!next) throw std::bad_alloc();
            rcpt.release();
            rcpt.reset(next);
        }
    }
    return rcpt;
}

// Where the handle's callbacks write; the same for every attempt.
struct conversation {
    char errbuf[CURL_ERROR_SIZE] = {};
    std::string last_reply;
    upload up;
};

void configure(CURL* h, const smtp_settings& s, const std::string& mail_from, curl_slist* rcpt,
               std::size_t payload_size, conversation& c) {
    curl_easy_setopt(h, CURLOPT_URL, s.url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c.errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(s.timeout.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(s.timeout.count()));
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from.c_str());
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, &on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &c.up);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(payload_size));
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);  // feeds on_debug; nothing is printed
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, &on_debug);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, &c.last_reply);
    if (!s.user.empty()) {
        curl_easy_setopt(h, CURLOPT_USERNAME, s.user.c_str());
        curl_easy_setopt(h, CURLOPT_PASSWORD, s.password.c_str());
    }
    if (s.starttls) curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    if (!s.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, s.ca_file.c_str());
    if (s.insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

// Why an attempt failed, in delivery_error's terms, and whether another may do better.
struct smtp_failure {
    std::string kind = "connect", what = "the connection failed", hint;
    bool retryable = true;
};

smtp_failure describe(CURLcode rc, long code, std::chrono::milliseconds timeout) {
    if (rc == CURLE_LOGIN_DENIED || rc == CURLE_AUTH_ERROR)
        return {"auth", "the server refused the credentials", "Check the SMTP user and password.",
                false};
    if (rc == CURLE_USE_SSL_FAILED)
        return {"tls", "the server does not offer STARTTLS",
                "Use smtps:// if the server expects TLS from the start, or turn starttls off.",
                false};
    if (detail::is_tls_failure(rc))
        return {"tls", "TLS failed",
                "Give the CA that signed the server's certificate (ca_file), or fix the "
                "server's certificate.",
                false};
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return {"timeout", "no answer within " + text::format_duration(timeout),
                "The mail server is slow or unreachable; raise the timeout or check it.", true};
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
        rc == CURLE_COULDNT_RESOLVE_PROXY)
        return {"connect", "cannot connect",
                "Check that the mail server is running and reachable from here.", true};
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL)
        return {"invalid", "the URL cannot be used", "", false};
    if (code >= 400)  // 4xx replies are transient by definition
        return {"smtp", "the server refused the message",
                "Check the sender and recipient addresses and the server's policy.", code < 500};
    return {};
}

}  // namespace

void send_mail(const smtp_settings& s, const mail_message& m) {
    detail::init_curl();
    auto secrets = detail::url_secrets(s.url);
    secrets.push_back(s.user);
    secrets.push_back(s.password);
    const std::string target = "Mail through " + display_url(s.url);

    auto scheme_end = s.url.find("://");
    std::string scheme = s.url.substr(0, scheme_end == std::string::npos ? 0 : scheme_end);
    if (scheme != "smtp" && scheme != "smtps")
        throw delivery_error(
            "invalid", 0, 0,
            detail::scrub(target + ": the URL must start with smtp:// or smtps://", secrets));
    address from = parse_address(m.from);
    slist_ptr rcpt = recipients(m);
    const std::string payload = format_mail(m);
    const std::string mail_from = "<" + from.addr + ">";

    std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) throw std::runtime_error("cannot create a curl handle");
    CURL* h = curl.get();
    conversation c;
    c.up.data = &payload;
    configure(h, s, mail_from, rcpt.get(), payload.size(), c);

    const int max_attempts = 1 + std::max(0, s.retries);
    auto delay = s.backoff;
    for (int attempt = 1;; ++attempt) {
        c.up.offset = 0;
        c.errbuf[0] = 0;
        c.last_reply.clear();
        CURLcode rc = curl_easy_perform(h);
        if (rc == CURLE_OK) return;
        long code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        smtp_failure f = describe(rc, code, s.timeout);
        if (!f.retryable || attempt >= max_attempts) {
            std::string msg = target + ": " + f.what + " (" + std::to_string(attempt) +
                              (attempt == 1 ? " attempt)" : " attempts)");
            std::string detail_text = c.errbuf[0] ? c.errbuf : curl_easy_strerror(rc);
            msg += ": " + detail_text;
            if (!c.last_reply.empty() && (f.kind == "auth" || f.kind == "smtp"))
                msg += "; the server said \"" + c.last_reply + "\"";
            throw delivery_error(f.kind, attempt, static_cast<int>(code),
                                 detail::scrub(msg, secrets), f.hint);
        }
        std::this_thread::sleep_for(delay);
        delay *= 2;
    }
}

}  // namespace moonshift::net
