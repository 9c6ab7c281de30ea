// A JSON object given as named parts that stay where they are: a call into
// Lua can take a large value (a parse tree) as one field of its argument
// without copying it into a new nlohmann::json object first.
#pragma once
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>
#include <vector>

namespace moonshift::lua {

// Keys must be distinct; the values must outlive the call that pushes them.
using json_record = std::vector<std::pair<std::string_view, const nlohmann::json*>>;

}  // namespace moonshift::lua
