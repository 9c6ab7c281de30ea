// Where statements begin and end: the parser's boundaries narrowed to the
// statement's own text, or psql's way of splitting for SQL that does not
// parse. Private to host/sql/.
#pragma once
#include <cstddef>
#include <string_view>

#include "sql/positions.hpp"
#include "sql/sql.hpp"

namespace moonshift::sql::detail {

struct range {
    std::size_t begin = 0;
    std::size_t end = 0;  // exclusive
};

// The range without the whitespace and comments the parser counts as part
// of the statement.
range narrow(range r, std::string_view input);

// A statement (text, offset, line, column) for a range of sql.
statement make_statement(std::string_view sql, range r, position_walker& positions);

}  // namespace moonshift::sql::detail
