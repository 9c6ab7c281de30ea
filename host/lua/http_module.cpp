// The `http` module: requests with timeouts, retries with backoff and JSON
// helpers, through net::send. Raising forms (http.get/post/request) and
// nil-err forms (http.try_*); hosts limited by [http] allow_hosts. Available
// in hooks, checks and `moonshift run` (net_access.hpp).
#include <algorithm>
#include <cctype>
#include <chrono>
#include <stdexcept>
#include <string>

#include "lua/boundary.hpp"
#include "lua/convert.hpp"
#include "lua/host.hpp"
#include "lua/modules.hpp"
#include "lua/net_access.hpp"
#include "net/http.hpp"

namespace moonshift::lua {
namespace {

struct call {
    const char* fn;
    const char* method;  // nullptr: from the options (http.request)
    bool raise;
};

constexpr call request_call{"http.request", nullptr, true};
constexpr call get_call{"http.get", "GET", true};
constexpr call post_call{"http.post", "POST", true};
constexpr call try_request_call{"http.try_request", nullptr, false};
constexpr call try_get_call{"http.try_get", "GET", false};
constexpr call try_post_call{"http.try_post", "POST", false};

bool is_json(const std::string& content_type) {
    std::string lower = content_type;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return lower.find("json") != std::string::npos;
}

void push_response(lua_State* L, const net::http_response& r) {
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, r.status);
    lua_setfield(L, -2, "status");
    lua_pushboolean(L, r.status >= 200 && r.status < 300);
    lua_setfield(L, -2, "ok");
    lua_pushlstring(L, r.body.data(), r.body.size());
    lua_setfield(L, -2, "body");
    lua_createtable(L, 0, static_cast<int>(r.headers.size()));
    for (const auto& [name, value] : r.headers) {
        // Repeated headers are joined as HTTP allows: "a, b".
        lua_getfield(L, -1, name.c_str());
        std::string joined =
            lua_isstring(L, -1) ? std::string(lua_tostring(L, -1)) + ", " + value : value;
        lua_pop(L, 1);
        lua_pushlstring(L, joined.data(), joined.size());
        lua_setfield(L, -2, name.c_str());
    }
    lua_setfield(L, -2, "headers");
    lua_pushinteger(L, r.attempts);
    lua_setfield(L, -2, "attempts");
    lua_pushnumber(L, static_cast<double>(r.elapsed.count()));
    lua_setfield(L, -2, "elapsed_ms");
    if (is_json(r.header("content-type"))) {
        nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
        if (!j.is_discarded()) {
            push_json(L, j);
            lua_setfield(L, -2, "json");
        }
    }
}

// The arguments of an http call (Lua errors: before any C++ object is
// built): the index of its options table and of a post's body, 0 for none.
void check_http_args(lua_State* L, const call* C, int& opts, int& body_arg) {
    opts = 0;
    body_arg = 0;
    if (!C->method) {
        if (lua_type(L, 1) != LUA_TTABLE)
            arg_error(L, C->fn, 1, 1, "an options table {method=, url=, ...}");
        opts = 1;
    } else {
        check_text(L, 1, C->fn, 1, "a URL (a string)");
        bool post = std::string(C->method) == "POST";
        int o = post ? 3 : 2;
        if (post) {
            int t = lua_type(L, 2);
            if (t != LUA_TSTRING && t != LUA_TTABLE && t != LUA_TNIL && t != LUA_TNONE)
                arg_error(L, C->fn, 2, 2, "a body: a string, or a table sent as JSON");
            body_arg = 2;
        }
        if (!lua_isnoneornil(L, o) && lua_type(L, o) != LUA_TTABLE)
            arg_error(L, C->fn, o, o, "an options table");
        if (lua_type(L, o) == LUA_TTABLE) opts = o;
    }
}

// The request the options and the body describe; true when the body is JSON.
bool read_request(lua_State* L, const call* C, int opts, int body_arg, net::http_request& req) {
    bool json_body = false;
    if (C->method) {
        req.method = C->method;
        req.url = lua_tostring(L, 1);
    }
    if (opts) {
        option_reader o(L, opts, C->fn);
        if (C->method)
            o.only({"headers", "timeout", "retries", "backoff", "ca_file", "any_status", "json",
                    "body"});
        else
            o.only({"method", "url", "headers", "body", "json", "timeout", "retries", "backoff",
                    "ca_file", "any_status"});
        if (!C->method) {
            auto url = o.string("url");
            if (!url) throw std::runtime_error(std::string(C->fn) + ": option \"url\" is required");
            req.url = *url;
            std::string method = o.string("method").value_or("GET");
            std::transform(method.begin(), method.end(), method.begin(),
                           [](unsigned char c) { return std::toupper(c); });
            req.method = method;
        }
        req.headers = o.headers("headers");
        if (auto v = o.duration("timeout")) req.timeout = *v;
        if (auto v = o.count("retries")) req.retries = *v;
        if (auto v = o.duration("backoff")) req.backoff = *v;
        if (auto v = o.string("ca_file")) req.ca_file = *v;
        if (auto v = o.boolean("any_status")) req.accept_any_status = *v;
        if (o.has("json") && (o.has("body") || body_arg))
            throw std::runtime_error(std::string(C->fn) + ": give either a body or json, not both");
        if (auto v = o.string("body")) req.body = *v;
        if (o.has("json")) {
            o.push("json");
            req.body = to_json(L, -1).dump();
            lua_pop(L, 1);
            json_body = true;
        }
    }
    if (body_arg && lua_type(L, body_arg) == LUA_TSTRING) {
        size_t n = 0;
        const char* s = lua_tolstring(L, body_arg, &n);
        req.body.assign(s, n);
    } else if (body_arg && lua_type(L, body_arg) == LUA_TTABLE) {
        req.body = to_json(L, body_arg).dump();
        json_body = true;
    }
    return json_body;
}

// http.request(opts) | http.get(url [, opts]) | http.post(url, body [, opts])
template <const call* C>
int http_call(lua_State* L) {
    check_net_call(L, C->fn);
    int opts = 0, body_arg = 0;
    check_http_args(L, C, opts, body_arg);
    host& h = host_of(L);
    net::http_request req;
    req.retries = 2;
    req.timeout = std::chrono::seconds(10);
    bool json_body = read_request(L, C, opts, body_arg, req);
    if (json_body && std::none_of(req.headers.begin(), req.headers.end(), [](const auto& kv) {
            std::string k = kv.first;
            std::transform(k.begin(), k.end(), k.begin(),
                           [](unsigned char c) { return std::tolower(c); });
            return k == "content-type";
        }))
        req.headers.emplace_back("Content-Type", "application/json");

    if (!net::host_allowed(req.url, h.opts.http_allow_hosts))
        throw std::runtime_error(
            std::string(C->fn) + ": " + net::display_url(req.url) +
            " is not allowed: its host is not in [http] allow_hosts of moonshift.toml");
    auto full = req.timeout;
    req.timeout = within_budget(h, req.timeout);
    if (req.timeout < full) req.retries = 0;  // no time left for another attempt

    if (C->raise) {
        auto res = net::send(req);
        push_response(L, res);
        return 1;
    }
    try {
        auto res = net::send(req);
        push_response(L, res);
        return 1;
    } catch (const net::delivery_error& e) {
        return push_failure(L, e);
    }
}

// http.hmac_sha256(key, data): the lower-case hex HMAC-SHA256, for signatures.
int http_hmac(lua_State* L) {
    size_t klen = 0, dlen = 0;
    const char* key = check_text(L, 1, "http.hmac_sha256", 1, "a key (a string)", &klen);
    const char* data = check_text(L, 2, "http.hmac_sha256", 2, "the data (a string)", &dlen);
    std::string hex =
        net::hmac_sha256_hex(std::string_view(key, klen), std::string_view(data, dlen));
    lua_pushlstring(L, hex.data(), hex.size());
    return 1;
}

}  // namespace

void register_http(lua_State* L, int sandbox) {
    static const luaL_Reg functions[] = {
        {"request", bind<http_call<&request_call>>},
        {"get", bind<http_call<&get_call>>},
        {"post", bind<http_call<&post_call>>},
        {"try_request", bind<http_call<&try_request_call>>},
        {"try_get", bind<http_call<&try_get_call>>},
        {"try_post", bind<http_call<&try_post_call>>},
        {"hmac_sha256", bind<http_hmac>},
        {nullptr, nullptr},
    };
    lua_newtable(L);
    luaL_register(L, nullptr, functions);
    lua_setfield(L, sandbox, "http");
}

}  // namespace moonshift::lua
