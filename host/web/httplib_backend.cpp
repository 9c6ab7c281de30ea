// The HTTP server behind `moonshift dashboard`: cpp-httplib (Debian's libcpp-httplib-dev) with one
// catch-all GET route that looks the path up in a table, so no route is a regular expression.
// Built as a module of its own (moonshift-web.so), loaded by server.cpp when a server is made:
// libcpp-httplib initialises OpenSSL when it is loaded, which no other command should pay for.
#include <httplib.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>

#include "common/error.hpp"
#include "web/server.hpp"

namespace moonshift::web {

namespace {

struct httplib_backend final : detail::backend {
    httplib::Server http;
    std::map<std::string, handler> routes;
    std::string address;
    int port = 0;

    // On a loopback address only the names of that address are served (DNS rebinding).
    bool host_allowed(const std::string& host) const {
        if (!is_loopback(address)) return true;
        auto p = ":" + std::to_string(port);
        for (const char* name : {"127.0.0.1", "localhost", "[::1]"})
            if (host == name + p || host == name) return true;
        return host == address + p ||
               (address.find(':') != std::string::npos && host == "[" + address + "]" + p);
    }

    void answer(const httplib::Request& rq, httplib::Response& rs) const {
        rs.set_header("Cache-Control", "no-store");
        rs.set_header("X-Content-Type-Options", "nosniff");
        rs.set_header("Referrer-Policy", "no-referrer");
        rs.set_header("Content-Security-Policy",
                      "default-src 'self'; script-src 'self'; style-src 'self'; "
                      "img-src 'self' data:; frame-ancestors 'none'");
        if (!host_allowed(rq.get_header_value("Host"))) {
            rs.status = 403;
            rs.set_content("This server answers requests addressed to " + address + ":" +
                               std::to_string(port) + " only.\n",
                           "text/plain; charset=utf-8");
            return;
        }
        auto it = routes.find(rq.path);
        if (it == routes.end()) {
            rs.status = 404;
            rs.set_content("Not found: " + rq.path + "\n", "text/plain; charset=utf-8");
            return;
        }
        try {
            auto r = it->second();
            rs.status = r.status;
            rs.set_content(r.body, r.content_type.c_str());
        } catch (const std::exception& e) {
            rs.status = 500;
            rs.set_content(std::string(e.what()) + "\n", "text/plain; charset=utf-8");
        }
    }

    httplib_backend() {
        http.set_keep_alive_timeout(2);  // a stop waits for idle keep-alive connections
        http.Get(".*",
                 [this](const httplib::Request& rq, httplib::Response& rs) { answer(rq, rs); });
    }

    void get(const std::string& path, handler h) override { routes[path] = std::move(h); }

    int bind(const std::string& at, int wanted) override {
        if (wanted < 0 || wanted > 65535)
            throw usage_error("port " + std::to_string(wanted) + " is not a TCP port",
                              "give a number from 1 to 65535, or 0 to pick a free one");
        errno = 0;
        int bound =
            wanted == 0 ? http.bind_to_any_port(at) : (http.bind_to_port(at, wanted) ? wanted : -1);
        if (bound <= 0) {
            std::string why = errno ? std::string(": ") + std::strerror(errno) : "";
            throw usage_error("cannot listen on " + at + ":" + std::to_string(wanted) + why,
                              wanted ? "the port may be in use: pick another with --port, or 0 "
                                       "to let the system pick one"
                                     : "--listen takes an address of this machine (127.0.0.1)");
        }
        address = at;
        port = bound;
        return bound;
    }

    void serve(const std::function<bool()>& should_stop) override {
        using namespace std::chrono_literals;
        std::thread listener([this] { http.listen_after_bind(); });
        // stop() before the loop runs would be lost: wait until it does.
        for (int i = 0; i < 500 && !http.is_running(); ++i) std::this_thread::sleep_for(10ms);
        while (http.is_running() && !should_stop()) std::this_thread::sleep_for(100ms);
        http.stop();
        listener.join();
    }
};

}  // namespace

}  // namespace moonshift::web

extern "C" moonshift::web::detail::backend* moonshift_web_backend() {
    return new moonshift::web::httplib_backend();
}
