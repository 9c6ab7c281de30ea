// The wall-clock watchdog of a runtime: one thread that watches the deadline
// of the call in progress. At the deadline it sets a hook on the state
// (lua_sethook may be called from another thread), so interpreted code stops
// at its next instruction; a grace period later it cancels the statement the
// run's session is running, so a script waiting on the server stops too.
// C functions of the sandbox that can run long (string.find and friends)
// check the deadline themselves (string_match.cpp). With the JIT on, a
// compiled loop runs no hooks at all: for that case the owner may give a last
// resort, called `hard_grace` past the deadline when the call still has not
// ended (the runtime's ends the process, as a kill would).
#pragma once
#include <chrono>
#include <condition_variable>
#include <functional>
#include <lua.hpp>
#include <memory>
#include <mutex>
#include <thread>

#include "db/session.hpp"

namespace moonshift::lua {

class watchdog {
  public:
    using clock = std::chrono::steady_clock;
    // How long past the deadline a statement is cancelled: the hook gets
    // the first chance, so a script that is only running Lua ends cleanly.
    static constexpr std::chrono::milliseconds grace{250};
    static constexpr std::chrono::milliseconds hard_grace{3000};

    watchdog(lua_State* L, lua_Hook on_deadline, std::function<void()> last_resort = {});
    ~watchdog();
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;

    // Watches the call that starts now; the thread starts on first use.
    void arm(clock::time_point deadline, db::session* session);
    // The call ended: nothing fires for it after this returns.
    void disarm();
    // The watchdog cancelled a statement of the call in progress.
    bool cancelled() const;

  private:
    void loop();
    lua_State* L_;
    lua_Hook hook_;
    std::function<void()> last_resort_;
    mutable std::mutex m_;
    std::condition_variable cv_;
    std::thread thread_;
    bool stop_ = false, armed_ = false, hooked_ = false, cancelled_ = false, resorted_ = false;
    clock::time_point deadline_;
    // When the thread's wait ends by itself (max: it waits for a notify).
    clock::time_point waiting_until_ = clock::time_point::max();
    std::shared_ptr<db::session::canceller> canceller_;
    db::session* session_ = nullptr;
};

}  // namespace moonshift::lua
