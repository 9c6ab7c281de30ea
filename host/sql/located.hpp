// Parser errors as located messages: file:line:col, the source line and a
// caret. Private to host/sql/ (format_located is public in sql/sql.hpp).
#pragma once
#include <string>
#include <string_view>

#include "sql/libpg_query.hpp"

namespace moonshift::sql::detail {

// Throws parse_error for libpg_query's error e on input (the C copy of sql),
// with a clearer message for psql meta-commands and variables.
[[noreturn]] void throw_parse_error(std::string_view sql, const std::string& input,
                                    const PgQueryError& e, const std::string& file_label);

}  // namespace moonshift::sql::detail
