// The fixture the lua_* suites share: a real LuaJIT runtime (on a session to
// a fresh database, or on none), every log line its scripts wrote, and the
// ways a test runs a script — one that must succeed, one that must fail, and
// one whose checks are Lua asserts, proven in C++ to have run.
#pragma once
#include <string>
#include <vector>

#include "db/session.hpp"
#include "lua/runtime.hpp"
#include "support/harness.hpp"

namespace moonshift::test {

// A fresh database and one session on it (a base before lua_runner, so the
// session outlives the runtime that uses it).
struct fresh_session : fresh_db {
    fresh_session();
    db::session session;
};

class lua_runner {
  public:
    // Scripts run as `label` (their chunk name) in phase `p` unless a call says otherwise.
    lua_runner(db::session* s, lua::options o, std::string label, lua::phase p);

    std::vector<lua::log_line> logs;
    lua::runtime rt;

    // Runs a script that must succeed; a failure shows the script's own message.
    lua::outcome ok(const std::string& code) { return ok(code, phase_); }
    lua::outcome ok(const std::string& code, lua::phase p,
                    const std::vector<std::string>& args = {});
    // The script_error a script must raise.
    lua::script_error error_of(const std::string& code) { return error_of(code, phase_); }
    lua::script_error error_of(const std::string& code, lua::phase p);
    // Runs a script whose checks are Lua `assert`s and checks, in C++, that
    // it reached its last line and that every assert written in it ran at
    // least once (an assert in a callback that is never called fails here).
    // Line numbers in messages stay the script's own.
    void asserts(const std::string& code) { asserts(code, phase_); }
    void asserts(const std::string& code, lua::phase p, const std::vector<std::string>& args = {});

    std::string messages() const;  // every log line, one per line
    std::string last_log() const;

  private:
    lua::options with_sink(lua::options o);
    std::string label_;
    lua::phase phase_;
};

}  // namespace moonshift::test
