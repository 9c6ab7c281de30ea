// The hook and the metered allocator (limits.hpp).
#include "lua/limits.hpp"

#include <chrono>
#include <cstdlib>

#include "common/error.hpp"
#include "lua/boundary.hpp"
#include "lua/host.hpp"

namespace moonshift::lua {
namespace {

// What the hook stops a script for: 0 nothing, 1 time, 2 memory.
int over_limit(lua_State* L, host& h) {
    if (h.has_deadline && std::chrono::steady_clock::now() >= h.deadline) return 1;
    try {
        h.check_memory(L);
    } catch (const control_raise&) {
        return 2;
    }
    return 0;
}

// Pushes the control value; a separate function so the hook holds no C++
// object when it raises.
void push_stop(lua_State* L, int why) {
    host& h = host_of(L);
    if (why == 1)
        push_control(L, "timeout", h.timeout_message(), where(L, 0));
    else
        push_control(L, "memory", h.memory_message(), where(L, 0));
}

}  // namespace

std::function<void()> last_resort(host& h) {
    if (!h.opts.jit) return {};
    return [&h] {
        if (h.opts.log)
            h.opts.log({"error",
                        h.redact(h.call_label + ": " + h.timeout_message() +
                                 ", and a loop the JIT compiled ([lua] jit = true) runs no "
                                 "hooks: moonshift ends here, as a kill would; the server rolls "
                                 "back what is open and the next run resumes"),
                        h.call_label});
        std::_Exit(int(exit_code::migration_failed));
    };
}

// LuaJIT runs no hooks in compiled code; see options::jit and last_resort.
void limit_hook(lua_State* L, lua_Debug* ar) {
    host& h = host_of(L);
    if (h.stopping) return;
    // Not on entering or leaving a C function: the host's own error handler
    // is one, and raising there is "error in error handling". Lua code
    // (instructions, lines) is where a script is stopped.
    if (ar && (ar->event == LUA_HOOKCALL || ar->event == LUA_HOOKRET) && lua_getinfo(L, "S", ar) &&
        ar->what && ar->what[0] == 'C')
        return;
    int why = over_limit(L, h);
    if (why == 0) return;
    h.stopping = true;
    push_stop(L, why);
    lua_error(L);
}

// LuaJIT's allocator behind a meter: growth past the limit plus a quarter is
// refused (LuaJIT raises "not enough memory"); below that, the hook and
// every host call stop a script over the limit with a located message.
void* metered_alloc(void* ud, void* p, size_t osize, size_t nsize) {
    auto* m = static_cast<memory_meter*>(ud);
    if (m->limit && nsize > osize && m->used + (nsize - osize) > m->limit + m->limit / 4) {
        m->exceeded = true;
        return nullptr;
    }
    void* out = m->f(m->ud, p, osize, nsize);
    if (out || nsize == 0) m->used = m->used - osize + nsize;
    return out;
}

}  // namespace moonshift::lua
