// The allow-list sandbox: which parts of Lua a script sees, and the strict
// environment each script gets.
#pragma once
#include <lua.hpp>
#include <string>
#include <string_view>

#include "lua/host.hpp"

namespace moonshift::lua {

// Opens the safe libraries one by one into the state, builds the shared
// sandbox table (registry: host.sandbox_ref) with the host modules, and the
// metatables of the runtime's values. Raises Lua errors: call it protected.
void open_sandbox(lua_State* L, host& h);

// Pushes a fresh environment for one script: reads fall through to the
// sandbox, an undeclared name raises "undeclared global 'x'", and
// assignments to globals are refused.
void push_environment(lua_State* L);

// Compiles source in text mode (bytecode is refused) as chunk "@label", so
// messages read "label:LINE: ...", and gives it a fresh environment. A UTF-8
// BOM and a first "#!" line are ignored. Returns luaL_loadbufferx's status;
// the function or the error message is on top. Does not raise.
// Pushes a read-only view of the table at idx: a userdata whose reads go to
// the table and whose writes raise "NAME is read-only" (rawset, table.insert
// and setmetatable refuse a userdata), so no script can change what the
// next script sees.
void push_read_only(lua_State* L, int idx, const char* name);

// Replaces find, match, gmatch and gsub in the string table at stack index
// string_table by versions that check the deadline (string_match.cpp).
void replace_string_matching(lua_State* L, int string_table);

int load_text(lua_State* L, const std::string& label, std::string_view source);

}  // namespace moonshift::lua
