// The host's error type: a message for people plus the exit code that says
// what kind of failure it was (DESIGN.md, "Interfaces").
#pragma once
#include <stdexcept>
#include <string>

namespace moonshift {

enum class exit_code : int {
    ok = 0,
    migration_failed = 1,
    usage = 2,          // usage or configuration error
    check_failed = 3,   // a check, lint or verification stopped the run
    lock_held = 4,      // the advisory lock is held elsewhere
    drift = 5,          // an applied migration changed on disk; `diff`/`drift`: schemas differ
    rolled_back = 6,    // a trigger rolled the run back
    interrupted = 130,  // SIGINT (128 + 2): the open work rolled back, the lock released
    terminated = 143,   // SIGTERM (128 + 15), the same
};

class error : public std::runtime_error {
  public:
    error(exit_code code, std::string message, std::string hint = {})
        : std::runtime_error(std::move(message)), code_(code), hint_(std::move(hint)) {}
    exit_code code() const noexcept { return code_; }
    const std::string& hint() const noexcept { return hint_; }

  private:
    exit_code code_;
    std::string hint_;
};

inline error usage_error(std::string message, std::string hint = {}) {
    return error(exit_code::usage, std::move(message), std::move(hint));
}

}  // namespace moonshift
