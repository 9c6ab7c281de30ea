// web::server in the binary: the HTTP server itself is the module moonshift-web.so
// (httplib_backend.cpp), loaded here the first time a server is made, from beside the binary
// (the build tree) or from ../lib/moonshift (an installed one).
#include "web/server.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.hpp"

#ifndef MOONSHIFT_WEB_MODULE_DIR
#define MOONSHIFT_WEB_MODULE_DIR "../lib/moonshift"
#endif

namespace moonshift::web {
namespace {

using factory = detail::backend* (*)();

std::string own_directory() {
    char buf[PATH_MAX];
    auto n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return ".";
    std::string path(buf, static_cast<std::size_t>(n));
    auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : path.substr(0, slash);
}

factory load() {
    static factory make = nullptr;
    static std::string failure;
    static std::once_flag once;
    std::call_once(once, [] {
        const auto dir = own_directory();
        std::string tried;
        for (const auto& path :
             std::vector<std::string>{dir + "/moonshift-web.so",
                                      dir + "/" MOONSHIFT_WEB_MODULE_DIR "/moonshift-web.so"}) {
            if (access(path.c_str(), R_OK) != 0) {
                tried += (tried.empty() ? "" : ", ") + path;
                continue;
            }
            void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
            if (!h) {
                const char* why = dlerror();
                failure = path + ": " + (why ? why : "cannot be loaded");
                return;
            }
            make = reinterpret_cast<factory>(dlsym(h, "moonshift_web_backend"));
            if (!make) failure = path + " is not moonshift's web module";
            return;
        }
        failure = "not found (looked for " + tried + ")";
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
