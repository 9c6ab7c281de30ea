// What the http and mail modules share: who may reach the network when,
// reading their option tables, and the error value of the try_* forms.
// Internal to host/lua/ (http_module.cpp, mail_module.cpp).
#pragma once
#include <chrono>
#include <initializer_list>
#include <lua.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lua/host.hpp"
#include "net/http.hpp"

namespace moonshift::lua {

// Raises a Lua error (call before building C++ objects) when fn cannot run
// now: while a file loads, or in a phase that holds the migration's locks
// (precheck, up, verify, down). Network calls belong to hooks, checks and
// `moonshift run`.
void check_net_call(lua_State* L, const char* fn);

// Raw reads of an options table at index t (no metamethods run). Each throws
// std::runtime_error naming fn and the key when the value has the wrong type.
class option_reader {
  public:
    option_reader(lua_State* L, int t, std::string fn) : L_(L), t_(t), fn_(std::move(fn)) {}
    // Throws when the table has a key that is not in `known` (a typo).
    void only(std::initializer_list<const char*> known) const;
    std::optional<std::string> string(const char* key) const;
    std::optional<bool> boolean(const char* key) const;
    std::optional<int> count(const char* key) const;
    // A number of seconds (0.5) or a duration string ("500ms", "2s").
    std::optional<std::chrono::milliseconds> duration(const char* key) const;
    // A string or an array of strings.
    std::optional<std::vector<std::string>> strings(const char* key) const;
    // {["Name"] = "value", ...}
    net::header_list headers(const char* key) const;
    bool has(const char* key) const;
    int push(const char* key) const;  // pushes the raw value; returns its type

  private:
    [[noreturn]] void wrong(const char* key, const char* expected) const;
    lua_State* L_;
    int t_;
    std::string fn_;
};

// The per-attempt timeout, shortened so that the call ends before the
// script's time budget does.
std::chrono::milliseconds within_budget(const host& h, std::chrono::milliseconds timeout);

// nil, {kind=, message=, status=, attempts=}: the answer of the try_* forms.
int push_failure(lua_State* L, const net::delivery_error& e);

}  // namespace moonshift::lua
