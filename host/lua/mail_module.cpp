// The `mail` module: mail.send(server, message) over SMTP (net::send_mail:
// STARTTLS, AUTH, text and HTML parts); mail.try_send returns true or
// nil, err. Available in hooks, checks and `moonshift run`.
#include <stdexcept>
#include <string>

#include "lua/boundary.hpp"
#include "lua/host.hpp"
#include "lua/modules.hpp"
#include "lua/net_access.hpp"
#include "net/mail.hpp"

namespace moonshift::lua {
namespace {

template <bool Raise>
int mail_send(lua_State* L) {
    const char* fn = Raise ? "mail.send" : "mail.try_send";
    check_net_call(L, fn);
    if (lua_type(L, 1) != LUA_TTABLE)
        arg_error(L, fn, 1, 1, "the server {url=, user=, password=, starttls=}");
    if (lua_type(L, 2) != LUA_TTABLE)
        arg_error(L, fn, 2, 2, "the message {from=, to=, subject=, text=, html=}");

    host& h = host_of(L);
    net::smtp_settings server;
    {
        option_reader o(L, 1, std::string(fn) + " server");
        o.only({"url", "user", "password", "starttls", "ca_file", "timeout", "retries", "backoff"});
        auto url = o.string("url");
        if (!url)
            throw std::runtime_error(
                std::string(fn) + ": the server needs a url (smtp://host:587 or smtps://host:465)");
        server.url = *url;
        server.user = o.string("user").value_or("");
        server.password = o.string("password").value_or("");
        server.starttls = o.boolean("starttls").value_or(false);
        server.ca_file = o.string("ca_file").value_or("");
        if (auto v = o.duration("timeout")) server.timeout = *v;
        if (auto v = o.count("retries")) server.retries = *v;
        if (auto v = o.duration("backoff")) server.backoff = *v;
    }
    net::mail_message m;
    {
        option_reader o(L, 2, std::string(fn) + " message");
        o.only({"from", "to", "cc", "subject", "text", "html"});
        m.from = o.string("from").value_or("");
        m.to = o.strings("to").value_or(std::vector<std::string>{});
        m.cc = o.strings("cc").value_or(std::vector<std::string>{});
        m.subject = o.string("subject").value_or("");
        m.text = o.string("text").value_or("");
        m.html = o.string("html").value_or("");
        if (m.from.empty())
            throw std::runtime_error(std::string(fn) + ": the message needs a sender (from)");
        if (m.to.empty() && m.cc.empty())
            throw std::runtime_error(std::string(fn) + ": the message needs a recipient (to)");
        if (m.text.empty() && m.html.empty())
            throw std::runtime_error(std::string(fn) + ": the message needs a text or html body");
    }
    server.timeout = within_budget(h, server.timeout);
    if (Raise) {
        net::send_mail(server, m);
        lua_pushboolean(L, 1);
        return 1;
    }
    try {
        net::send_mail(server, m);
    } catch (const net::delivery_error& e) {
        return push_failure(L, e);
    }
    lua_pushboolean(L, 1);
    return 1;
}

}  // namespace

void register_mail(lua_State* L, int sandbox) {
    static const luaL_Reg functions[] = {
        {"send", bind<mail_send<true>>},
        {"try_send", bind<mail_send<false>>},
        {nullptr, nullptr},
    };
    lua_newtable(L);
    luaL_register(L, nullptr, functions);
    lua_setfield(L, sandbox, "mail");
}

}  // namespace moonshift::lua
