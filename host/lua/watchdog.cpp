// The watchdog thread (watchdog.hpp).
#include "lua/watchdog.hpp"

namespace moonshift::lua {

watchdog::watchdog(lua_State* L, lua_Hook on_deadline, std::function<void()> last_resort)
    : L_(L), hook_(on_deadline), last_resort_(std::move(last_resort)) {}

watchdog::~watchdog() {
    {
        std::lock_guard<std::mutex> g(m_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void watchdog::arm(clock::time_point deadline, db::session* session) {
    {
        std::lock_guard<std::mutex> g(m_);
        if (session != session_) {
            canceller_.reset();
            session_ = session;
        }
        // Made on the Lua thread, before the call: PQgetCancel must not race
        // with the connection's own use.
        if (session_ && !canceller_) canceller_ = session_->make_canceller();
        armed_ = true;
        hooked_ = false;
        cancelled_ = false;
        resorted_ = false;
        deadline_ = deadline;
        if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
        // A thread already waiting until this deadline or earlier wakes by
        // itself and looks again: no wake-up (a futex call) per call, which
        // the linter's one call per statement would pay a thousand times.
        if (deadline >= waiting_until_) return;
    }
    cv_.notify_all();
}

void watchdog::disarm() {
    // Waits for a cancel in flight: PQcancel returns once the server has the
    // request, and an idle backend ignores it, so no later statement of the
    // host is cancelled by it.
    std::lock_guard<std::mutex> g(m_);
    armed_ = false;
}

bool watchdog::cancelled() const {
    std::lock_guard<std::mutex> g(m_);
    return cancelled_;
}

void watchdog::loop() {
    std::unique_lock<std::mutex> g(m_);
    while (!stop_) {
        // The stages of one call past its deadline: hook, cancel, last resort.
        bool cancel_left = !cancelled_ && canceller_;
        bool resort_left = last_resort_ && !resorted_;
        if (!armed_ || (hooked_ && !cancel_left && !resort_left)) {
            waiting_until_ = clock::time_point::max();
            cv_.wait(g);
            continue;
        }
        auto at = !hooked_ ? deadline_ : cancel_left ? deadline_ + grace : deadline_ + hard_grace;
        if (clock::now() < at) {
            waiting_until_ = at;
            cv_.wait_until(g, at);
            continue;
        }
        waiting_until_ = clock::time_point::max();  // busy: arm must wake it after this
        if (!hooked_) {
            // Every instruction, call and line: the hook raises the time-out.
            lua_sethook(L_, hook_, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
            hooked_ = true;
        } else if (cancel_left) {
            cancelled_ = canceller_->cancel();
            if (!cancelled_) canceller_.reset();  // nothing more to try for this call
        } else {
            resorted_ = true;
            g.unlock();
            last_resort_();  // the runtime's does not return
            g.lock();
        }
    }
}

}  // namespace moonshift::lua
