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

// Every keyword of a URL or keyword string that has a value, as libpq reads
// it. Throws usage_error (the URL redacted) when libpq cannot parse it.
std::vector<std::pair<std::string, std::string>> keywords(const std::string& url) {
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
    if (!opts) {
        std::string message = err ? text::trim(err) : "cannot parse it";
        if (err) PQfreemem(err);
        throw usage_error("the connection string " + redacted(url) +
                          " is not valid: " + text::redact(message));
    }
    std::vector<std::pair<std::string, std::string>> out;
    for (auto* o = opts; o->keyword; ++o)
        if (o->val) out.emplace_back(o->keyword, o->val);
    PQconninfoFree(opts);
    return out;
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
    auto kept = keywords(url);
    for (const auto& [keyword, value] : kept)
        if (keyword == "password") out.password = value;
    for (const auto& [keyword, value] : kept) {
        // The caller hands the password over in a passfile of its own.
        if (keyword == "password" || (keyword == "passfile" && !out.password.empty())) continue;
        out.conninfo += (out.conninfo.empty() ? "" : " ") + keyword + "=" + quoted(value);
    }
    return out;
}

std::string with_database(const std::string& url, const std::string& dbname) {
    std::string out;
    for (const auto& [keyword, value] : keywords(url))
        if (keyword != "dbname") out += keyword + "=" + quoted(value) + " ";
    return out + "dbname=" + quoted(dbname);
}

}  // namespace moonshift::db
