// Which statements PostgreSQL refuses inside a transaction block, read from
// their parse trees. Private to host/sql/.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace moonshift::sql::detail {

// Why PostgreSQL would refuse the statement inside a transaction block, or
// empty. node is the statement's own node (the value under its kind).
std::string no_transaction_reason(const std::string& kind, const nlohmann::json& node);

// Whether the tree must be read to tell if the statement refuses a
// transaction block (no_transaction_reason needs only the kind otherwise).
bool classification_needs_tree(const std::string& kind, std::string_view tree_json);

}  // namespace moonshift::sql::detail
