// The C string libpg_query reads and the offset of its error cursor.
#include "sql/libpg_query.hpp"

#include "common/text.hpp"
#include "sql/positions.hpp"
#include "sql/sql.hpp"

namespace moonshift::sql::detail {

std::size_t cursor_offset(std::string_view text, int cursorpos) {
    return cursorpos > 0 ? text::char_to_byte_offset(text, std::size_t(cursorpos) - 1) : 0;
}

std::string c_input(std::string_view sql, const std::string& file_label) {
    if (auto nul = sql.find('\0'); nul != std::string_view::npos)
        throw parse_error(sql, nul, file_label, "the file contains a NUL byte",
                          "SQL migrations must be text files.");
    std::string input(sql);
    if (sql.substr(0, 3) == byte_order_mark) input.replace(0, 3, "   ");
    return input;
}

}  // namespace moonshift::sql::detail
