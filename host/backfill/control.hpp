// Backfills seen from outside the run that executes them: status, pause and
// resume (`moonshift backfill ...`, from another terminal), and the
// before-images that `down` writes back.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "db/session.hpp"

namespace moonshift::backfill {

// [{version, part, table, state, rows_done, rows_total, rows_per_second,
//   eta_s, batch_size, message, pause_requested, alive, updated_at}];
// state "interrupted" when its process is gone. Empty before the schema has them.
nlohmann::json status(db::session& s, const std::string& schema_quoted);

// Sets pause_requested on the backfills of `version` (all when empty);
// returns how many it changed. The runner polls it between batches.
int set_paused(db::session& s, const std::string& schema_quoted, const std::string& version,
               bool paused);

// True when `version` has before-images (keep_before = true).
bool has_before(db::session& s, const std::string& schema_quoted, const std::string& version);

// Writes the before-images of `version` back and forgets them, in the
// caller's transaction. Returns the rows restored.
long long restore_before(db::session& s, const std::string& schema_quoted,
                         const std::string& version);

}  // namespace moonshift::backfill
