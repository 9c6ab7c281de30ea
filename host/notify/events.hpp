// The one schema of events (docs/events.md). The engine emits what it knows
// at each step; run_state follows a command's events and answers each with
// its complete form: the run (id, environment, actor, commit), the
// migration, the migrations so far, counts, the error and the outcome — the
// same fields in every event, null where they do not apply.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "notify/origin.hpp"

namespace moonshift::notify {

constexpr int schema_version = 1;

// Every event name a hook may handle, in the order of a run.
const std::vector<std::string>& event_names();
bool is_event(const std::string& name);

class run_state {
  public:
    run_state(std::string environment, origin o);

    // The complete event for one the engine emitted; nullopt for "log" lines.
    std::optional<nlohmann::json> complete(const engine::event& e);

    // A complete run.finish of a made-up, successful run (`moonshift notify
    // test`), or the given event of it; run.test is true.
    nlohmann::json sample(const std::string& event_name);

  private:
    nlohmann::json base(const std::string& name, const nlohmann::json& data);
    nlohmann::json rollback_error(const nlohmann::json& outcome) const;

    std::string environment_;
    origin origin_;
    nlohmann::json run_ = nlohmann::json::object();
    nlohmann::json migrations_ = nlohmann::json::array();
    nlohmann::json last_error_;  // the last migration.failed's error, for run.finish
    nlohmann::json trigger_;     // trigger.fired's details: why a run rolls back
    nlohmann::json rollback_;    // rollback.done's details
    long long planned_ = 0;
    int seq_ = 0;
    // Random per process: run ids start again at 1 after a database reset,
    // and event ids must not repeat then.
    std::string nonce_;
};

// ISO 8601 in UTC with milliseconds: "2025-01-08T12:00:00.123Z".
std::string utc_now();

}  // namespace moonshift::notify
