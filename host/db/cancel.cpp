// The cancel slots of open sessions and the hook that the signal handler
// calls (see cancel.hpp). Everything the hook touches is a lock-free atomic.
#include "db/cancel.hpp"

#include <atomic>
#include <csignal>
#include <thread>

#include "common/error.hpp"
#include "common/interrupt.hpp"

namespace moonshift::db::cancel {
namespace {

constexpr int slots = 16;
std::atomic<PGcancel*> slot[slots];
std::atomic<int> handlers_running{0};

void cancel_all() noexcept {
    ++handlers_running;
    for (auto& s : slot) {
        char message[256];
        if (PGcancel* c = s.load()) PQcancel(c, message, sizeof message);
    }
    --handlers_running;
}

}  // namespace

int enroll(PGconn* c) noexcept {
    static const bool hooked = (interrupt::set_hook(cancel_all), true);
    (void)hooked;
    PGcancel* request = c ? PQgetCancel(c) : nullptr;
    if (!request) return -1;
    for (int i = 0; i < slots; ++i) {
        PGcancel* none = nullptr;
        if (slot[i].compare_exchange_strong(none, request)) return i;
    }
    PQfreeCancel(request);
    return -1;
}

void withdraw(int i) noexcept {
    if (i < 0 || i >= slots) return;
    PGcancel* request = slot[i].exchange(nullptr);
    // A handler on another thread may still hold it; one on this thread
    // has returned before we get here.
    while (handlers_running.load() > 0) std::this_thread::yield();
    if (request) PQfreeCancel(request);
}

void refuse_when_stopping() {
    if (!interrupt::stop_requested()) return;
    int sig = interrupt::received();
    throw error(sig == SIGTERM ? exit_code::terminated : exit_code::interrupted,
                interrupt::describe(),
                "the open transaction was rolled back and the migration lock released; "
                "run the command again to carry on");
}

}  // namespace moonshift::db::cancel
