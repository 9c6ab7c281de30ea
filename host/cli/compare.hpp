// What diff, drift and seed share: printing schema differences grouped by kind of object.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "cli/common.hpp"
#include "schema/schema.hpp"

namespace moonshift::cli {

// "columns" then "  + column public.users.email: text", ... with a legend
// saying what + and - mean here.
void print_changes(printer& out, const std::vector<schema::change>& changes,
                   const std::string& plus_means, const std::string& minus_means);

}  // namespace moonshift::cli
