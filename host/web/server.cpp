// web::server in the binary: the HTTP server itself is the module moonshift-web.so
// (httplib_backend.cpp), loaded here the first time a server is made, from beside the binary
// (the build tree) or from ../lib/moonshift (an installed one).
#include "web/server.hpp"

#include <dlfcn.h>

#include <mutex>
#include <string>

#include "common/error.hpp"
#include "common/module.hpp"

#ifndef MOONSHIFT_WEB_MODULE_DIR
#define MOONSHIFT_WEB_MODULE_DIR "../lib/moonshift"
#endif

namespace moonshift::web {
namespace {

using factory = detail::backend* (*)();

factory load() {
    static factory make = nullptr;
    static std::string failure;
    static std::once_flag once;
    std::call_once(once, [] {
        void* h = modules::open("moonshift-web.so", MOONSHIFT_WEB_MODULE_DIR, failure);
        if (!h) return;
        make = reinterpret_cast<factory>(dlsym(h, "moonshift_web_backend"));
        if (!make) failure = "moonshift-web.so is not moonshift's web module";
    });
    if (!make)
        throw error(exit_code::usage, "cannot load moonshift's web server module: " + failure,
                    "reinstall moonshift: the module comes with the binary");
    return make;
}

}  // namespace

struct server::impl {
    std::unique_ptr<detail::backend> backend;
};

server::server() : impl_(std::make_unique<impl>()) { impl_->backend.reset(load()()); }
server::~server() = default;

void server::get(const std::string& path, handler h) { impl_->backend->get(path, std::move(h)); }
int server::bind(const std::string& address, int port) {
    return impl_->backend->bind(address, port);
}
void server::serve(const std::function<bool()>& should_stop) { impl_->backend->serve(should_stop); }

}  // namespace moonshift::web
