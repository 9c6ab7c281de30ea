// libcurl by dlopen on first use (curl_lazy.hpp).
#define CURL_DISABLE_TYPECHECK
#include "net/curl_lazy.hpp"

#include <curl/curl.h>

#include <mutex>
#include <string>

#include "common/error.hpp"
#include "common/module.hpp"

namespace moonshift::net::curl {

using modules::bind;

const api& lib() {
    static api a{};
    static std::once_flag once;
    static std::string failure;
    std::call_once(once, [] {
        void* h = modules::open_system("libcurl.so.4", failure);
        if (!h) return;
        std::string missing;
        bind(h, a.global_init, "curl_global_init", missing);
        bind(h, a.easy_init, "curl_easy_init", missing);
        bind(h, a.easy_setopt, "curl_easy_setopt", missing);
        bind(h, a.easy_perform, "curl_easy_perform", missing);
        bind(h, a.easy_getinfo, "curl_easy_getinfo", missing);
        bind(h, a.easy_cleanup, "curl_easy_cleanup", missing);
        bind(h, a.easy_strerror, "curl_easy_strerror", missing);
        bind(h, a.slist_append, "curl_slist_append", missing);
        bind(h, a.slist_free_all, "curl_slist_free_all", missing);
        bind(h, a.free, "curl_free", missing);
        bind(h, a.url, "curl_url", missing);
        bind(h, a.url_cleanup, "curl_url_cleanup", missing);
        bind(h, a.url_get, "curl_url_get", missing);
        bind(h, a.url_set, "curl_url_set", missing);
        if (!missing.empty()) failure = "libcurl.so.4 lacks " + missing;
    });
    if (!failure.empty())
        throw error(exit_code::usage,
                    "cannot load libcurl, which hooks and webhooks use: " + failure,
                    "install it: apt-get install libcurl4");
    return a;
}

}  // namespace moonshift::net::curl
