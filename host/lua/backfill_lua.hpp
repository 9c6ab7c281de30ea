// Internal to host/lua/: the backfill module's pieces that runtime.cpp calls
// inside its call windows (backfill_module.cpp).
#pragma once
#include <functional>
#include <lua.hpp>
#include <string>
#include <vector>

#include "lua/backfill_spec.hpp"
#include "lua/host.hpp"

namespace moonshift::lua {

// Reads the spec table (or an array of them) at idx; throws error(usage)
// naming `file:line` and the option at fault.
std::vector<backfill_spec> read_backfill_specs(lua_State* L, int idx, const std::string& file,
                                               int line, const std::string& origin);

// Calls the transform for every row of b. `fail(status)` turns the error on
// top of the stack into an exception (the call window's fail); the row's key
// is added to its message.
void run_transform(lua_State* L, const backfill_spec& s, transform_batch& b,
                   const std::function<int(int nargs, int nresults)>& call,
                   const std::function<void(int status)>& fail);

}  // namespace moonshift::lua
