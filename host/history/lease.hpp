// The run's lease: the migration lock through a transaction-mode pooler
// (docs/poolers.md). A row in the history schema's `lease` table, taken
// under a transaction-scoped advisory lock, with the holder's token and an
// expiry; the holder renews it while its run lasts and deletes it at the
// end, and a holder that died loses it when it expires.
#pragma once
#include <chrono>
#include <optional>
#include <string>

#include "db/session.hpp"

namespace moonshift::history {

class lease {
  public:
    // `token` is unique to the run; `holder` says who it is (host, pid, user).
    lease(db::session& s, std::string schema, std::string token, std::string holder);

    // Takes the lease for `ttl` when it is free, expired or already this
    // token's; otherwise returns a sentence naming its holder and when it
    // expires. Creates the history schema and the table when they are not
    // there yet (a first run through a pooler).
    std::optional<std::string> take(std::chrono::seconds ttl);
    // Moves the expiry `ttl` from now; false when the lease is no longer
    // this token's (it expired and another run took it).
    bool renew(std::chrono::seconds ttl);
    // Deletes the row when it is this token's.
    void release();

    const std::string& token() const { return token_; }

  private:
    db::session& s_;
    std::string schema_, quoted_, token_, holder_;
};

}  // namespace moonshift::history
