// A small HTTP server for pages moonshift serves itself (`moonshift dashboard`): fixed GET
// routes answered by callbacks, over cpp-httplib (in the module moonshift-web.so, loaded when a
// server is made, so that no other command loads it). It listens where it is told (the CLI's
// default is 127.0.0.1) and, on a loopback address, answers only requests addressed to that address
// by name (a page of another site that rebinds its name to 127.0.0.1 gets 403).
#pragma once
#include <functional>
#include <memory>
#include <string>

namespace moonshift::web {

struct response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
};
using handler = std::function<response()>;

class server {
  public:
    server();
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Answers GET path (and HEAD) with h; a handler that throws answers 500 with its message.
    void get(const std::string& path, handler h);
    // Binds address:port (port 0 picks a free one) and returns the port. Throws
    // moonshift::error (usage) when the address cannot be bound, saying why.
    int bind(const std::string& address, int port);
    // Serves until should_stop() returns true (asked a few times a second), then stops
    // accepting, finishes the requests under way and returns.
    void serve(const std::function<bool()>& should_stop);

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// True for 127.0.0.0/8, ::1 and "localhost".
inline bool is_loopback(const std::string& address) {
    return address == "localhost" || address == "::1" || address.rfind("127.", 0) == 0;
}

namespace detail {
// What the module moonshift-web.so makes (its C function moonshift_web_backend).
struct backend {
    virtual ~backend() = default;
    virtual void get(const std::string& path, handler h) = 0;
    virtual int bind(const std::string& address, int port) = 0;
    virtual void serve(const std::function<bool()>& should_stop) = 0;
};
}  // namespace detail

}  // namespace moonshift::web
