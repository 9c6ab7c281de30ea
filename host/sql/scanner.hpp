// The tokens of libpg_query's scanner, comments included. Private to host/sql/.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace moonshift::sql::detail {

// Values of pg_query.proto's enum Token; single characters are their ASCII code.
constexpr int token_ident = 258;
constexpr int token_sql_comment = 275;
constexpr int token_c_comment = 276;

struct token {
    std::size_t start = 0;
    std::size_t end = 0;  // exclusive
    int kind = 0;
    int keyword_kind = 0;  // 0: not a keyword
};
inline bool is_comment(const token& t) {
    return t.kind == token_sql_comment || t.kind == token_c_comment;
}
inline bool is_word(const token& t) { return t.kind == token_ident || t.keyword_kind != 0; }

// All tokens of the input, comments included, from pg_query_scan. False when
// the scanner rejects the input, with the byte offset of the error.
bool scan(const std::string& input, std::vector<token>& tokens,
          std::size_t* error_offset = nullptr);

}  // namespace moonshift::sql::detail
