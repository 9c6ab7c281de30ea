// One mutating command's hold on the database: the advisory lock taken
// first, then the history schema made current, then a row in runs. Closing
// it finishes the row and releases the lock, whatever happened in between.
#pragma once
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

namespace moonshift::engine {

class engine;

class run_scope {
  public:
    run_scope(engine& e, const std::string& command);
    ~run_scope();
    run_scope(const run_scope&) = delete;
    run_scope& operator=(const run_scope&) = delete;

    long long id() const { return run_id_; }
    nlohmann::json& report() { return report_; }
    long long elapsed_ms() const;
    // Records the outcome ("ok", "failed", ...) and releases the lock.
    void finish(const std::string& outcome);

  private:
    // ctx.on_close, and the report saved again when it added something.
    void close_notifications(const std::string& outcome);

    engine& e_;
    long long run_id_ = 0;
    bool finished_ = false;
    nlohmann::json report_ = nlohmann::json::object();
    std::chrono::steady_clock::time_point start_;
};

}  // namespace moonshift::engine
