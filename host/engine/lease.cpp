// The migration lock: the session's advisory lock, or through a
// transaction-mode pooler the history schema's lease (lease.hpp).
#include "engine/lease.hpp"

#include <unistd.h>

#include <random>
#include <thread>

#include "engine/engine.hpp"

namespace moonshift::engine {

std::string new_lease_token() {
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    std::random_device rd;
    auto now = std::chrono::system_clock::now().time_since_epoch().count();
    return std::string(host) + ":" + std::to_string(::getpid()) + ":" + std::to_string(now) + ":" +
           std::to_string(rd());
}

lease_keeper::lease_keeper(const db::settings& s, const std::string& schema,
                           const std::string& token, std::chrono::seconds ttl)
    : settings_(s), schema_(schema), token_(token), ttl_(ttl) {
    thread_ = std::thread([this] { renew_until_stopped(); });
}

lease_keeper::~lease_keeper() {
    {
        std::lock_guard<std::mutex> hold(m_);
        stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void lease_keeper::renew_until_stopped() {
    const auto every = std::max<std::chrono::milliseconds>(std::chrono::seconds(1), ttl_ / 3);
    std::unique_lock<std::mutex> hold(m_);
    while (!wake_.wait_for(hold, every, [this] { return stop_; })) {
        hold.unlock();
        try {
            if (!session_) session_ = std::make_unique<db::session>(settings_);
            if (!history::lease(*session_, schema_, token_, "").renew(ttl_)) lost_ = true;
        } catch (const std::exception&) {
            session_.reset();  // a new connection on the next try
        }
        hold.lock();
        if (lost_) return;
    }
}

void engine::take_lock() {
    const auto wait = ctx_.env.lock_wait.value_or(ctx_.cfg.lock_wait);
    auto waiting = [&](const std::string& msg) { log("warn", msg); };
    if (!session_->pooled()) {
        session_->lock(store_->schema(), wait, waiting);
        return;
    }
    log("info", "through a transaction-mode pooler (" + session_->pooled_because() +
                    "): the run's lock is a lease in " + store_->schema() +
                    ".lease, and settings are SET LOCAL in each transaction");
    const auto ttl = std::chrono::duration_cast<std::chrono::seconds>(ctx_.cfg.pooler_lease);
    const auto deadline = std::chrono::steady_clock::now() + wait;
    auto next_report = std::chrono::steady_clock::now();
    auto token = new_lease_token();
    history::lease l(
        *session_, store_->schema(), token,
        "moonshift pid " + std::to_string(::getpid()) + " (" + history::current_actor() + ")");
    for (;;) {
        auto holder = l.take(ttl);
        if (!holder) break;
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline)
            throw error(exit_code::lock_held,
                        "another moonshift run holds the migration lease: " + *holder,
                        "wait for it to finish, or raise lock_wait in moonshift.toml; the lease of "
                        "a run that died expires " +
                            std::to_string(ttl.count()) +
                            " s after its last renewal ([project] pooler_lease)");
        if (now >= next_report) {
            waiting("waiting for the migration lease held by " + *holder);
            next_report = now + std::chrono::seconds(1);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    db::settings s = session_->config();
    lease_ = std::make_unique<lease_keeper>(s, store_->schema(), token, ttl);
}

void engine::release_lock() {
    if (lease_) {
        const std::string token = lease_->token();
        lease_.reset();  // renewals stop
        try {
            session_->rollback_open();  // a failed block would refuse the delete
            history::lease(*session_, store_->schema(), token, "").release();
        } catch (const std::exception&) {
            // The connection is gone: the lease expires pooler_lease after its last renewal.
        }
        return;
    }
    session_->unlock(store_->schema());
}

void engine::check_lease() const {
    if (lease_ && lease_->lost())
        throw error(exit_code::lock_held,
                    "the migration lease expired before this run renewed it, and another run took "
                    "it: this run stops",
                    "check the connection to the database; raise [project] pooler_lease");
}

}  // namespace moonshift::engine
