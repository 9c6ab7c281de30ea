// Connection strings taken apart with libpq's own parser: the password kept
// apart from what a child process may show on its command line, and
// registered as a secret before anything can print it.
#include <cctype>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "common/text.hpp"
#include "db/pq_lazy.hpp"
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

namespace {

// RFC 3986 percent-encoding of everything but the unreserved characters.
std::string percent_encoded(const std::string& v) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : v) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

}  // namespace

std::string shown_with_database(const std::string& url, const std::string& dbname) {
    auto kept = keywords(url);
    const bool is_url = url.rfind("postgres://", 0) == 0 || url.rfind("postgresql://", 0) == 0;
    if (!is_url && !url.empty()) {
        std::string out;
        for (const auto& [keyword, value] : kept)
            if (keyword != "dbname" && keyword != "password")
                out += keyword + "=" + quoted(value) + " ";
        return out + "dbname=" + quoted(dbname);
    }
    // A socket directory or a list of hosts goes in the parameters, its port with it.
    bool plain_host = true;
    for (const auto& [keyword, value] : kept)
        if ((keyword == "host" || keyword == "port") && value.find_first_of("/,") != value.npos)
            plain_host = false;
    std::string user, host, port, query;
    for (const auto& [keyword, value] : kept) {
        if (keyword == "user")
            user = value;
        else if (keyword == "host" && plain_host)
            host = value;
        else if (keyword == "port" && plain_host)
            port = value;
        else if (keyword != "dbname" && keyword != "password")
            query += (query.empty() ? "?" : "&") + keyword + "=" + percent_encoded(value);
    }
    if (host.find(':') != std::string::npos) host = "[" + host + "]";  // IPv6
    return "postgresql://" + (user.empty() ? "" : percent_encoded(user) + "@") + host +
           (port.empty() ? "" : ":" + port) + "/" + percent_encoded(dbname) + query;
}

std::string database_of(const std::string& url) {
    std::string user;
    for (const auto& [keyword, value] : keywords(url)) {
        if (keyword == "dbname") return value;
        if (keyword == "user") user = value;
    }
    return user;  // libpq's default: the database named after the user
}

std::string with_database(const std::string& url, const std::string& dbname) {
    std::string out;
    for (const auto& [keyword, value] : keywords(url))
        if (keyword != "dbname") out += keyword + "=" + quoted(value) + " ";
    return out + "dbname=" + quoted(dbname);
}

endpoint endpoint_of(const std::string& url) {
    remember_secrets(url);
    endpoint e;
    for (const auto& [keyword, value] : keywords(url)) {
        if (keyword == "host" || (keyword == "hostaddr" && e.host.empty())) e.host = value;
        if (keyword == "port") e.port = value;
        if (keyword == "dbname") e.dbname = value;
        if (keyword == "user") e.user = value;
    }
    return e;
}

}  // namespace moonshift::db
