// The lint baseline: the findings a team accepts in the history it already
// has (`moonshift lint --baseline` records them, as squawk's and eslint's
// baselines do), so that only new migrations are judged. A finding is
// known by its file, its rule and the text of its statement, so a baseline
// survives reformatting of other files but not an edit of that statement.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "lint/lint.hpp"
#include "project/config.hpp"

namespace moonshift::lint {

struct baseline {
    std::filesystem::path path;  // where it is (or would be) kept
    std::set<std::string> keys;  // fingerprints of the accepted findings
    bool present = false;        // the file exists
};

// [lint] baseline of the project (relative to moonshift.toml). A missing
// file is an empty baseline; one that is not a baseline is a usage error
// naming it.
baseline load_baseline(const project::config& cfg);

// Marks the findings the baseline accepts as suppressed ("in the lint
// baseline"); returns how many.
int apply_baseline(std::vector<finding>& findings, const std::vector<file>& files,
                   const baseline& b);

// The baseline file's content for these findings (every unsuppressed one).
nlohmann::json baseline_json(const std::vector<finding>& findings, const std::vector<file>& files);

}  // namespace moonshift::lint
