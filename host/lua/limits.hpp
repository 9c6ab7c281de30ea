// The limits of a call into Lua that LuaJIT does not keep by itself: the
// hook that stops a script past its deadline or over its memory limit, and
// the allocator wrapper that meters the heap (docs/lua-api.md).
#pragma once
#include <cstddef>
#include <lua.hpp>

namespace moonshift::lua {

// Fires every few interpreted instructions (and on every instruction once the
// watchdog saw the deadline pass); raises the time-out or memory control value.
void limit_hook(lua_State* L, lua_Debug* ar);

// LuaJIT's allocator behind the meter ud (a memory_meter*).
void* metered_alloc(void* ud, void* p, size_t osize, size_t nsize);

}  // namespace moonshift::lua
