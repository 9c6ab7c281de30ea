// Line and column of a byte offset, the byte-order mark aside.
#include "sql/positions.hpp"

namespace moonshift::sql::detail {

text::position position_in(std::string_view text, std::size_t offset) {
    auto p = text::position_of(text, offset);
    if (p.line == 1 && offset >= byte_order_mark.size() && text.substr(0, 3) == byte_order_mark)
        --p.column;
    return p;
}

}  // namespace moonshift::sql::detail
