// Connection strings taken apart with libpq's own parser: the password kept
// apart from what a child process may show on its command line, and
// registered as a secret before anything can print it.
#include <libpq-fe.h>

#include <utility>
#include <vector>

#include "common/error.hpp"
#include "common/text.hpp"
#include "db/session.hpp"

namespace moonshift::db {
namespace {

// A keyword value in libpq's quoting: 'text' with ' and \ escaped.
std::string quoted(const std::string& v) {
    std::string out = "'";
    for (char c : v) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}

}  // namespace

void remember_secrets(const std::string& url) {
    text::add_secrets_in(url);
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
    if (err) PQfreemem(err);
    if (!opts) return;
    for (auto* o = opts; o->keyword; ++o)
        if (o->val && std::string(o->keyword) == "password") text::add_secret(o->val);
    PQconninfoFree(opts);
}

split_connection without_password(const std::string& url) {
    split_connection out;
    if (url.empty()) return out;
    remember_secrets(url);
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
    if (!opts) {
        std::string message = err ? text::trim(err) : "cannot parse it";
        if (err) PQfreemem(err);
        throw usage_error("the connection string " + redacted(url) +
                          " is not valid: " + text::redact(message));
    }
    std::vector<std::pair<std::string, std::string>> kept;
    for (auto* o = opts; o->keyword; ++o) {
        if (!o->val) continue;
        if (std::string(o->keyword) == "password")
            out.password = o->val;
        else
            kept.emplace_back(o->keyword, o->val);
    }
    for (const auto& [keyword, value] : kept) {
        // The caller hands the password over in a passfile of its own.
        if (keyword == "passfile" && !out.password.empty()) continue;
        out.conninfo += (out.conninfo.empty() ? "" : " ") + keyword + "=" + quoted(value);
    }
    PQconninfoFree(opts);
    return out;
}

}  // namespace moonshift::db
