// One batch of a backfill, inside the transaction the runner opened: the
// next `size` rows after `after` in key order (never OFFSET), changed by
// SQL (`set`) or by the Lua transform, old values saved when keep_before.
#pragma once
#include <string>
#include <vector>

#include "backfill/runner.hpp"
#include "backfill/target.hpp"

namespace moonshift::backfill {

struct batch_input {
    db::session& db;
    const lua::backfill_spec& s;
    target& t;
    const job& j;
    const std::vector<std::string>& after;  // last key of the previous batch; empty = the start
    long long size;
    std::string temp;  // the transform's temporary table
};

struct batch_result {
    long long seen = 0;             // rows looked at; 0 = nothing left
    long long changed = 0;          // rows updated
    std::vector<std::string> last;  // the new position (key values as text)
};

batch_result set_batch(const batch_input& in);
batch_result transform_batch(const batch_input& in);

}  // namespace moonshift::backfill
