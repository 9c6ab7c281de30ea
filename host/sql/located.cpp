// Located messages for SQL that does not parse: the position, the source line
// (a window of it when long) and a caret under the offending character.
#include "sql/located.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "sql/positions.hpp"
#include "sql/sql.hpp"

namespace moonshift::sql {
namespace detail {
namespace {

constexpr auto npos = std::string_view::npos;

// Lexer errors quote the rest of the file ("unterminated quoted string at or
// near "'abc ..."); keep the first line and a few dozen characters of it.
std::string shorten_near(std::string message) {
    constexpr std::string_view near = "at or near \"";
    auto at = message.find(near);
    if (at == npos || message.back() != '"') return message;
    auto begin = at + near.size();
    auto cut = std::min(message.find('\n', begin), message.size() - 1);
    std::size_t chars = 0, i = begin;
    for (; i < cut; ++i)
        if (!is_continuation(message[i]) && ++chars > 40) break;
    if (i >= message.size() - 1) return message;
    return message.substr(0, i) + "...\"";
}

}  // namespace

[[noreturn]] void throw_parse_error(std::string_view sql, const std::string& input,
                                    const PgQueryError& e, const std::string& file_label) {
    std::size_t offset = cursor_offset(input, e.cursorpos);
    if (offset >= input.size()) {  // "at end of input": point just past the last text
        offset = input.size();
        while (offset > 0 && is_space(input[offset - 1])) --offset;
    }
    // A backslash is never SQL outside a literal, so the parser stops right at
    // the first psql meta-command.
    if (offset < input.size() && input[offset] == '\\') {
        auto name_end = std::min(input.find_first_of(" \t\r\n", offset), offset + 24);
        throw parse_error(
            sql, offset, file_label,
            fmt::format("psql meta-command {} is not supported; moonshift runs SQL only",
                        input.substr(offset, name_end - offset)),
            "psql commands such as \\set, \\i and \\connect are not SQL; keep only the SQL.");
    }
    std::string hint;
    if (offset + 1 < input.size() && input[offset] == ':' &&
        (std::isalpha(static_cast<unsigned char>(input[offset + 1])) || input[offset + 1] == '_' ||
         input[offset + 1] == '\'' || input[offset + 1] == '"'))
        hint = "This looks like a psql variable (:name); moonshift runs SQL only.";
    throw parse_error(sql, offset, file_label, shorten_near(e.message ? e.message : "syntax error"),
                      hint);
}

}  // namespace detail

using namespace detail;

parse_error::parse_error(std::string_view text, std::size_t offset, const std::string& file_label,
                         std::string reason, std::string hint)
    : moonshift::error(exit_code::migration_failed,
                       format_located(text, offset, file_label, reason), std::move(hint)),
      offset_(std::min(offset, text.size())),
      reason_(std::move(reason)) {
    auto p = position_in(text, offset_);
    line_ = p.line;
    column_ = p.column;
}

std::string format_located(std::string_view text, std::size_t offset, const std::string& file_label,
                           const std::string& message) {
    offset = std::min(offset, text.size());
    while (offset > 0 && offset < text.size() && is_continuation(text[offset])) --offset;
    auto pos = position_in(text, offset);
    std::string out = file_label.empty()
                          ? fmt::format("{}:{}: {}", pos.line, pos.column, message)
                          : fmt::format("{}:{}:{}: {}", file_label, pos.line, pos.column, message);

    std::size_t line_begin = 0;
    if (offset > 0) {
        auto nl = text.rfind('\n', offset - 1);
        line_begin = nl == npos ? 0 : nl + 1;
    }
    if (line_begin == 0 && text.substr(0, 3) == byte_order_mark)
        line_begin = std::min(offset, std::size_t(3));
    std::size_t line_end = std::min(text.find('\n', offset), text.size());
    if (line_end > offset && text[line_end - 1] == '\r') --line_end;

    // Long lines (minified dumps) show a window around the caret.
    constexpr std::size_t window = 160, before = 60;
    std::size_t shown_begin = line_begin, shown_end = line_end;
    if (line_end - line_begin > window) {
        shown_begin = std::max(line_begin, offset > before ? offset - before : 0);
        while (shown_begin > line_begin && is_continuation(text[shown_begin])) --shown_begin;
        shown_end = std::min(line_end, shown_begin + window);
        while (shown_end < line_end && is_continuation(text[shown_end])) --shown_end;
    }
    std::string prefix = shown_begin > line_begin ? "..." : "";
    std::string pad(prefix.size(), ' ');
    for (std::size_t i = shown_begin; i < offset; ++i)
        if (!is_continuation(text[i])) pad += text[i] == '\t' ? '\t' : ' ';
    out += "\n  " + prefix + std::string(text.substr(shown_begin, shown_end - shown_begin)) +
           (shown_end < line_end ? "..." : "") + "\n  " + pad + "^";
    return out;
}

}  // namespace moonshift::sql
