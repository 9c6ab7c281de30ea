// URLs: their parts, the parts that are secrets, how one may be shown, and
// whether its host is allowed. Webhook URLs are credentials.
#include "net/url.hpp"

#define CURL_DISABLE_TYPECHECK  // calls go through curl_lazy.hpp
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "common/text.hpp"
#include "net/curl_lazy.hpp"
#include "net/http.hpp"

namespace moonshift::net {
namespace detail {
namespace {

std::string percent_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() &&
            std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out.push_back(
                static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
            i += 2;
        } else if (s[i] == '+') {
            out.push_back(' ');
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

}  // namespace

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

url_parts parse_url(const std::string& url) {
    url_parts p;
    std::unique_ptr<CURLU, void (*)(CURLU*)> h(curl_url(), curl_url_cleanup);
    if (!h ||
        curl_url_set(h.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
        return p;
    auto get = [&](CURLUPart part, unsigned flags = 0) {
        char* out = nullptr;
        std::string value;
        if (curl_url_get(h.get(), part, &out, flags) == CURLUE_OK && out) value = out;
        curl_free(out);
        return value;
    };
    p.ok = true;
    p.scheme = lower(get(CURLUPART_SCHEME));
    p.user = get(CURLUPART_USER);
    p.password = get(CURLUPART_PASSWORD);
    p.host = get(CURLUPART_HOST);
    p.port = get(CURLUPART_PORT, CURLU_DEFAULT_PORT);
    p.path = get(CURLUPART_PATH);
    p.query = get(CURLUPART_QUERY);
    return p;
}

std::vector<std::string> url_secrets(const std::string& url) {
    std::vector<std::string> out;
    auto add = [&](const std::string& s) {
        if (s.empty()) return;
        out.push_back(s);
        auto decoded = percent_decode(s);
        if (decoded != s) out.push_back(decoded);
    };
    url_parts p = parse_url(url);
    if (!p.ok) {
        add(url);  // cannot tell the parts apart: hide it whole
        return out;
    }
    add(p.user);
    add(p.password);
    if (p.path != "/") add(p.path);
    add(p.query);
    std::string_view q = p.query;
    while (!q.empty()) {
        auto amp = q.find('&');
        auto pair = q.substr(0, amp);
        if (auto eq = pair.find('='); eq != std::string_view::npos)
            add(std::string(pair.substr(eq + 1)));
        else
            add(std::string(pair));
        if (amp == std::string_view::npos) break;
        q.remove_prefix(amp + 1);
    }
    return out;
}

std::string scrub(std::string message, const std::vector<std::string>& secrets) {
    return text::redact(message, secrets);
}

}  // namespace detail

using detail::parse_url;
using detail::url_parts;

std::string display_url(const std::string& url) {
    url_parts p = parse_url(url);
    if (!p.ok || p.host.empty()) return "(invalid URL)";
    std::string out = p.scheme + "://" + p.host;
    if (!p.port.empty()) out += ":" + p.port;
    if ((!p.path.empty() && p.path != "/") || !p.query.empty()) out += "/…";
    return out;
}

bool host_allowed(const std::string& url, const std::vector<std::string>& allow_hosts) {
    if (allow_hosts.empty()) return true;
    url_parts p = parse_url(url);
    if (!p.ok || p.host.empty()) return false;
    auto normalize = [](std::string h) {
        h = detail::lower(text::trim(h));
        if (!h.empty() && h.back() == '.') h.pop_back();
        if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
        return h;
    };
    std::string host = normalize(p.host);
    for (const auto& entry : allow_hosts) {
        std::string allowed = normalize(entry);
        if (allowed.rfind("*.", 0) == 0) {
            std::string suffix = allowed.substr(1);  // ".example.com"
            if (host.size() > suffix.size() &&
                host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0)
                return true;
        } else if (!allowed.empty() && host == allowed) {
            return true;
        }
    }
    return false;
}

}  // namespace moonshift::net
