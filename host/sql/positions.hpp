// Bytes to lines and columns in a migration file, where a byte-order mark
// takes no column and a column counts characters. Private to host/sql/.
#pragma once
#include <cstddef>
#include <string_view>

#include "common/text.hpp"

namespace moonshift::sql::detail {

constexpr std::string_view byte_order_mark = "\xEF\xBB\xBF";

inline bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }
inline bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Like text::position_of, but a byte-order mark takes no column, as in editors.
text::position position_in(std::string_view text, std::size_t offset);

// Line and column of increasing offsets in one pass, so a file with thousands
// of statements does not walk from the top for each.
class position_walker {
  public:
    explicit position_walker(std::string_view text) : text_(text) {
        if (text_.substr(0, 3) == byte_order_mark) at_ = byte_order_mark.size();
    }
    text::position at(std::size_t offset) {
        for (; at_ < offset && at_ < text_.size(); ++at_) {
            if (text_[at_] == '\n') {
                ++pos_.line;
                pos_.column = 1;
            } else if (!is_continuation(text_[at_])) {
                ++pos_.column;
            }
        }
        return pos_;
    }

  private:
    std::string_view text_;
    std::size_t at_ = 0;
    text::position pos_;
};

}  // namespace moonshift::sql::detail
