// The signal handler of the run (see interrupt.hpp): async-signal-safe, it
// stores the signal, calls the cancel hook, and exits on a second signal.
#include "common/interrupt.hpp"

#include <unistd.h>

#include <atomic>
#include <csignal>

namespace moonshift::interrupt {
namespace {

volatile std::sig_atomic_t signal_seen = 0;
std::atomic<hook> cancel_hook{nullptr};
std::atomic<int> cleanups{0};

extern "C" void on_signal(int sig) {
    if (signal_seen != 0) _exit(exit_status(signal_seen));  // asked twice: leave now
    signal_seen = sig;
    if (auto h = cancel_hook.load()) h();
}

}  // namespace

void install() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    // A closed stdout (`moonshift up | head -1`) ends the printing, never the run.
    std::signal(SIGPIPE, SIG_IGN);
}

int received() noexcept { return signal_seen; }

bool stop_requested() noexcept { return signal_seen != 0 && cleanups.load() == 0; }

const char* describe() noexcept {
    switch (signal_seen) {
        case SIGINT:
            return "interrupted by SIGINT (Ctrl-C)";
        case SIGTERM:
            return "interrupted by SIGTERM";
        default:
            return "interrupted by a signal";
    }
}

void set_hook(hook h) noexcept { cancel_hook.store(h); }

cleanup::cleanup() noexcept { ++cleanups; }
cleanup::~cleanup() { --cleanups; }

}  // namespace moonshift::interrupt
