// The two crossings between Lua and C++, each in exactly one place:
//  - into Lua: protected_call, a lua_pcall with a message handler that keeps a
//    traceback (never lua_call on user code);
//  - out of C++: bind<F>, the one trampoline every lua_CFunction goes through.
//    It catches C++ exceptions, turns them into Lua error values, and calls
//    lua_error only after the catch block has ended.
// Bindings check their Lua arguments (luaL_check*, arg_error) before they
// build any C++ object, so a Lua error never skips a destructor.
#pragma once
#include <exception>
#include <lua.hpp>
#include <string>

#include "lua/host.hpp"

namespace moonshift::lua {

// A Lua error value that a protected call inside a binding caught; the
// trampoline raises it again unchanged (a table stays a table).
class lua_raise : public std::exception {
  public:
    explicit lua_raise(int ref) : ref_(ref) {}
    int ref() const noexcept { return ref_; }
    const char* what() const noexcept override { return "Lua error"; }

  private:
    int ref_;
};

// ctx:fail, ctx:skip and the time budget: raised as a control value that the
// sandbox's pcall, xpcall and coroutine.resume pass through, so a script
// cannot swallow them.
class control_raise : public std::exception {
  public:
    control_raise(std::string kind, std::string message, std::string where = {})
        : kind_(std::move(kind)), message_(std::move(message)), where_(std::move(where)) {}
    const std::string& kind() const noexcept { return kind_; }  // "fail", "skip", "timeout"
    const std::string& message() const noexcept { return message_; }
    const std::string& location() const noexcept { return where_; }  // "" = the caller's line
    const char* what() const noexcept override { return message_.c_str(); }

  private:
    std::string kind_, message_, where_;
};

// Calls the function below nargs arguments with a traceback handler. On
// failure the error value is on top and host_of(L).last_traceback holds the
// traceback. Returns lua_pcall's status.
int protected_call(lua_State* L, int nargs, int nresults);

// The same, for bindings that call back into Lua: on failure throws lua_raise.
void call_or_throw(lua_State* L, int nargs, int nresults);

// Pushes a control value {kind=, message=, where=} (its metatable marks it).
void push_control(lua_State* L, const char* kind, const std::string& message,
                  const std::string& where);
bool is_control(lua_State* L, int idx);

namespace detail {
void stash(lua_State* L, const std::exception& e) noexcept;  // remembers the exception's Lua form
void push_stashed(lua_State* L);                             // pushes it (and forgets it)
}  // namespace detail

// The trampoline: every binding is registered as bind<F>. F may raise Lua
// errors only before it builds C++ objects (argument checks); after that it
// throws C++ exceptions, which arrive here.
template <int (*F)(lua_State*)>
int bind(lua_State* L) {
    int results = -1;
    try {
        host_of(L).check_deadline(L);  // every host API call checks time and memory
        results = F(L);
    } catch (const std::exception& e) {  // Lua errors are not std::exception: they pass
        detail::stash(L, e);
    }
    if (results < 0) {
        detail::push_stashed(L);
        return lua_error(L);
    }
    return results;
}

// The error table of a failed statement: {sqlstate, message, detail, hint,
// context, query, position, where}, whose tostring is
// "migrations/002_x.lua:7: relation \"nope\" does not exist (42P01)".
void push_sql_error(lua_State* L, const db::server_error& e, const std::string& query,
                    const std::string& where);

// Argument checks for bindings, with messages that name the API function and
// count arguments as the script wrote them (idx is the stack index):
// "db:query: argument #1 must be SQL text (a string), got number".
[[noreturn]] void arg_error(lua_State* L, const char* fn, int arg, int idx, const char* expected);
const char* check_text(lua_State* L, int idx, const char* fn, int arg, const char* expected,
                       size_t* len = nullptr);

}  // namespace moonshift::lua
