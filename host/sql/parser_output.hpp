// Reading pg_query_parse's JSON output: the statements with their trees still
// as text, and a tree built into nlohmann::json only when one is asked for.
// Private to host/sql/.
#pragma once
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace moonshift::sql::detail {

// One entry of pg_query_parse's {"version":N,"stmts":[{"stmt":{...},
// "stmt_location":N,"stmt_len":N}, ...]} with the tree still as JSON text.
// nlohmann::json takes about six times as long as the parser itself to build
// the trees of a large file, so they are built only when asked for.
struct raw_statement {
    std::string_view tree;
    std::size_t location = 0;
    std::size_t length = 0;  // 0: to the end of the input
};

// The "stmts" of pg_query_parse's output, in order.
std::vector<raw_statement> raw_statements(std::string_view output);

// A statement's tree ({"<kind>": {...}}) as nlohmann::json.
nlohmann::json build_tree(std::string_view tree_json);

// The first key of a JSON object: the statement's kind.
std::string first_key(std::string_view object_json);

}  // namespace moonshift::sql::detail
