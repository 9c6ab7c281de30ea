// Comparing the migrations on disk with the history in the database.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "history/history.hpp"

namespace moonshift::engine {

enum class state {
    applied,       // on disk and recorded, same checksum
    pending,       // on disk, not recorded, after the last applied version
    out_of_order,  // on disk, not recorded, but older than an applied version
    changed,       // recorded with another checksum than the file now has
    missing,       // recorded, no longer on disk
};
const char* state_name(state s);

struct entry {
    std::string version, name;
    state st;
    const catalog::migration* file = nullptr;  // null when missing
    std::optional<history::applied> row;       // empty when not applied
};

struct plan {
    std::shared_ptr<const catalog::catalog> files;  // what entries' file pointers point into
    std::vector<entry> entries;                     // by version
    std::vector<const entry*> with(state s) const;
    std::vector<const entry*> to_apply(
        bool include_out_of_order) const;            // pending (+ out of order), by version
    std::vector<const entry*> applied_desc() const;  // applied/changed/missing, newest first
};

plan make_plan(std::shared_ptr<const catalog::catalog> cat,
               const std::vector<history::applied>& rows);

}  // namespace moonshift::engine
