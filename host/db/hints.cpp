// Hints for known causes of server and connection errors (db/hints.hpp). The server's own hint
// always wins; these only fill the silence, and say what to grant, create or change.
#include "db/hints.hpp"

#include <regex>

namespace moonshift::db {
namespace {

bool has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// The first "quoted" name in a message: permission denied for schema "app" → app.
std::string quoted(const std::string& message, const std::string& after) {
    static const std::regex name(R"re(^"?([^" ]+)"?)re");
    auto at = message.find(after);
    if (at == std::string::npos) return "";
    std::string rest = message.substr(at + after.size());
    std::smatch m;
    return std::regex_search(rest, m, name) ? m[1].str() : "";
}

std::string privilege_hint(const std::string& msg, const std::string& role) {
    std::string who = role.empty() ? "the connected role" : "the role " + role;
    std::string to = role.empty() ? "the role" : role;
    if (auto s = quoted(msg, "permission denied for schema "); !s.empty())
        return who + " may not use schema " + s + ": GRANT USAGE, CREATE ON SCHEMA " + s + " TO " +
               to + "; (as the schema's owner), or connect as its owner";
    for (const char* kind : {"table ", "relation ", "sequence ", "view "})
        if (auto t = quoted(msg, std::string("permission denied for ") + kind); !t.empty())
            return who + " lacks a privilege on " + t +
                   ": GRANT SELECT, INSERT, UPDATE, DELETE ON " + t + " TO " + to +
                   "; (as its owner), or connect as the owner";
    static const std::regex owner(R"re(must be owner of (?:\w+ )*?"?([^" ]+)"?$)re");
    if (std::smatch m; std::regex_search(msg, m, owner))
        if (std::string t = m[1].str(); !t.empty())
            return "only the owner of " + t +
                   " (or a member of its owning role) may change it: "
                   "connect as the owner, or GRANT the owning role TO " +
                   to + ";";
    if (auto d = quoted(msg, "permission denied for database "); !d.empty())
        return who + " may not create schemas in database " + d + ": GRANT CREATE ON DATABASE " +
               d + " TO " + to + ";";
    if (auto f = quoted(msg, "permission denied for function "); !f.empty())
        return who + " may not call " + f + ": GRANT EXECUTE ON FUNCTION " + f + " TO " + to + ";";
    if (has(msg, "permission denied to create role"))
        return who + " needs CREATEROLE: ALTER ROLE " + to + " CREATEROLE; (as a superuser)";
    if (has(msg, "permission denied to create extension") || has(msg, "must be superuser"))
        return "this needs a superuser (or, on a managed service, its admin role): run it as that "
               "role, or ask the provider to enable it";
    return who +
           " lacks a privilege this statement needs: grant it (as the object's owner), or "
           "connect as the owner";
}

}  // namespace

std::string hint_for(const server_error& e, const connection_facts& c) {
    const std::string& role = c.role;
    if (!e.hint.empty()) return e.hint;
    const std::string& msg = e.message;
    if (e.sqlstate == "42501") return privilege_hint(msg, role);
    if ((e.sqlstate == "42704" || e.sqlstate == "28000") && has(msg, "role \"") &&
        has(msg, "does not exist"))
        return "roles belong to the server, not the database: create it (CREATE ROLE " +
               quoted(msg, "role ") + ";) in every environment before the migration that uses it";
    if (e.sqlstate == "25006" && c.standby)
        return "the URL points at a standby (a read-only replica): use the primary's URL";
    if (e.sqlstate == "25006" && c.default_read_only)
        return "default_transaction_read_only is on for this role or database (ALTER ROLE/DATABASE "
               "… SET default_transaction_read_only = off), or the URL points at a read-only "
               "standby or pooler: use the primary's URL";
    return "";
}

std::string connect_hint(const std::string& m) {
    if (has(m, "Connection refused"))
        return "nothing listens at that host and port: start the server (`moonshift local start` "
               "for a local environment), check host and port in the URL, or `moonshift wait` in "
               "CI";
    if (has(m, "password authentication failed"))
        return "check the password in the URL (or PGPASSWORD / ~/.pgpass)";
    if (has(m, "role \"") && has(m, "does not exist"))
        return "the URL's user is not a role on this server: fix the user in the URL, or create it "
               "(CREATE ROLE " +
               quoted(m, "role ") + " LOGIN PASSWORD '…';)";
    if (has(m, "database \"") && has(m, "does not exist"))
        return "create the database (createdb " + quoted(m, "database ") +
               ") or fix its name in the URL";
    if (has(m, "no encryption") || has(m, "SSL off") || has(m, "SSL connection is required") ||
        has(m, "requires SSL"))
        return "the server accepts only SSL connections: add sslmode=require to the URL "
               "(postgresql://…/db?sslmode=require)";
    if (has(m, "server does not support SSL"))
        return "this server has no SSL: use sslmode=prefer (or disable) in the URL";
    if (has(m, "timeout expired"))
        return "the server did not answer: check host, port and firewall, or `moonshift wait` in "
               "CI";
    return "check the URL, that the server runs, and `moonshift wait` in CI";
}

}  // namespace moonshift::db
