// The limits of a call into Lua that LuaJIT does not keep by itself: the
// hook that stops a script past its deadline or over its memory limit, and
// the allocator wrapper that meters the heap (docs/lua-api.md).
#pragma once
#include <cstddef>
#include <functional>
#include <lua.hpp>

namespace moonshift::lua {

// Fires every few interpreted instructions (and on every instruction once the
// watchdog saw the deadline pass); raises the time-out or memory control value.
void limit_hook(lua_State* L, lua_Debug* ar);

struct host;

// The watchdog's last resort with the JIT on (empty with it off, where the hook
// always fires): a compiled loop that never calls the host runs no hook, so a
// few seconds past the deadline the process logs why and ends with exit 1, as
// a kill would end it — the server rolls back the open transaction and
// releases the lock, and the next run resumes (docs/lua-api.md).
std::function<void()> last_resort(host& h);

// LuaJIT's allocator behind the meter ud (a memory_meter*).
void* metered_alloc(void* ud, void* p, size_t osize, size_t nsize);

}  // namespace moonshift::lua
