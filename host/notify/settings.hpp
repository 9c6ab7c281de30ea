// The notification hooks in effect for one environment: every [notify.NAME]
// with [env.ENV.notify.NAME] merged over it, plus every Lua file in the
// project's hooks/ (enabled by being there), each with its code found and
// its settings interpolated.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "project/config.hpp"

namespace moonshift::notify {

struct hook_config {
    std::string name;    // [notify.NAME], or the file's stem
    std::string hook;    // whose code runs: the `hook` key, else name
    std::string label;   // "hooks/audit.lua" (the project's) or "builtin:hooks/slack.lua"
    std::string source;  // the Lua text
    bool builtin = false;
    bool required = false;
    std::optional<std::vector<std::string>> events;  // unset: every event it has a handler for
    // `on`: the runs (run_conditions()) and events it hears about; unset: `events`.
    std::optional<std::vector<std::string>> on;
    bool unchanged = false;  // also runs that changed nothing (a no-op `up`)
    nlohmann::json settings = nlohmann::json::object();  // interpolated
    std::vector<std::string> secrets;                    // setting values that must never be shown
    std::string where;    // "moonshift.toml:12 ([notify.slack])", for messages
    int events_line = 0;  // line of `events` (or `on`), for messages
};

// The words of `on` besides event names, each a test of a finished run:
// its outcomes (ok, failed, rolled_back, ...), "applied" (it applied one or
// more), "reverted" (it reverted one or more: a down, a triggered rollback),
// "rollback" (reverted, or ended rolled_back / rollback_failed), "failure"
// (any outcome but ok) and "always".
const std::vector<std::string>& run_conditions();
// Whether the finished run (a complete run.finish event) meets the condition.
bool run_meets(const std::string& condition, const nlohmann::json& finish);
// A run that changed nothing: ended ok with nothing applied, failed or reverted.
bool unchanged_run(const nlohmann::json& finish);

// The built-in hooks: console, slack, email, webhook, ci.
const std::vector<std::string>& builtin_hooks();

// Throws usage errors (exit 2) naming moonshift.toml:LINE: an unknown hook,
// a missing ${VAR}, an unknown event name in `events`.
std::vector<hook_config> hooks_for(const project::config& cfg, const project::environment& env);

}  // namespace moonshift::notify
