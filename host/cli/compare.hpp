// What diff, drift and seed share: connecting to an environment for reading,
// and printing schema differences grouped by kind of object.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "cli/common.hpp"
#include "db/session.hpp"
#include "schema/schema.hpp"

namespace moonshift::cli {

// A connection to the environment; an unreachable one is a usage error
// (exit 2) that names the environment and its redacted URL.
std::unique_ptr<db::session> connect_environment(const project_env& p);

// "columns" then "  + column public.users.email: text", ... with a legend
// saying what + and - mean here.
void print_changes(printer& out, const std::vector<schema::change>& changes,
                   const std::string& plus_means, const std::string& minus_means);

}  // namespace moonshift::cli
