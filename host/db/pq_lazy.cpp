// libpq and libpqxx by dlopen of moonshift-pq.so on first use (pq_lazy.hpp).
#define MOONSHIFT_LIBPQ_DEFINITION
#include "db/pq_lazy.hpp"

#include <dlfcn.h>

#include <atomic>
#include <mutex>
#include <system_error>
#include <thread>

#include "common/error.hpp"
#include "common/module.hpp"
#include "db/preload.hpp"

#ifndef MOONSHIFT_PQ_MODULE_DIR
#define MOONSHIFT_PQ_MODULE_DIR "../lib/moonshift"
#endif

namespace moonshift::db::libpq {
namespace {

using modules::bind;

api loaded{};
std::string failure;

void load() {
    void* h = modules::open("moonshift-pq.so", MOONSHIFT_PQ_MODULE_DIR, failure);
    if (!h) return;
    std::string missing;
#define MOONSHIFT_LIBPQ_BIND(name) bind(h, loaded.name, #name, missing);
    MOONSHIFT_LIBPQ_FUNCTIONS(MOONSHIFT_LIBPQ_BIND)
#undef MOONSHIFT_LIBPQ_BIND
    bind(h, loaded.connect, "moonshift_pq_connect", missing);
    bind(h, loaded.handle, "moonshift_pq_handle", missing);
    bind(h, loaded.close, "moonshift_pq_close", missing);
    if (!missing.empty()) failure = "moonshift-pq.so lacks " + missing;
}

}  // namespace

const api& lib() {
    static std::once_flag once;
    std::call_once(once, load);
    if (!failure.empty())
        throw error(exit_code::usage,
                    "cannot load libpq, through which moonshift connects: " + failure,
                    "reinstall moonshift (the module moonshift-pq.so comes with the binary) and "
                    "libpq5 and libpqxx-6.4 (apt-get install libpq5 libpqxx-6.4)");
    return loaded;
}

}  // namespace moonshift::db::libpq

namespace moonshift::db {

void load_libpq_in_background() {
    static std::atomic<bool> started{false};
    if (started.exchange(true)) return;  // main() may have started it already
    try {
        std::thread([] {
            try {
                libpq::lib();
            } catch (const error&) {
                // The connection asks again and reports it, with its hint.
            }
        }).detach();
    } catch (const std::system_error&) {
        // No thread to spare: the connection loads it.
    }
}

}  // namespace moonshift::db
