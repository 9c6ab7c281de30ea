// The migration lock through a transaction-mode pooler (docs/poolers.md):
// history/'s lease, kept alive by a thread with a connection of its own
// that renews it while the run lasts and deletes it at the end.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "db/session.hpp"
#include "history/lease.hpp"

namespace moonshift::engine {

class lease_keeper {
  public:
    // Starts renewing the lease `token` (taken already) every ttl / 3.
    lease_keeper(const db::settings& s, const std::string& schema, const std::string& token,
                 std::chrono::seconds ttl);
    // Stops renewing (engine::release_lock deletes the lease).
    ~lease_keeper();
    lease_keeper(const lease_keeper&) = delete;
    lease_keeper& operator=(const lease_keeper&) = delete;

    // True once a renewal found the lease taken by another run (it had
    // expired: this process could not reach the database for a whole ttl).
    bool lost() const { return lost_; }
    const std::string& token() const { return token_; }

  private:
    void renew_until_stopped();

    db::settings settings_;
    std::string schema_, token_;
    std::chrono::seconds ttl_;
    std::unique_ptr<db::session> session_;
    std::unique_ptr<history::lease> lease_;
    std::atomic<bool> lost_{false};
    std::mutex m_;
    std::condition_variable wake_;
    bool stop_ = false;
    std::thread thread_;
};

// A token no other run has: host, process, time and randomness.
std::string new_lease_token();

}  // namespace moonshift::engine
