// Turning a server error into a message that points into the file.
#include <cctype>

#include "common/text.hpp"
#include "engine/engine.hpp"

namespace moonshift::engine {
namespace {

// The line of a DO block's body that PL/pgSQL reports, 1 = the line of the
// body's opening quote; 0 when CONTEXT names none.
int inline_block_line(const std::string& context) {
    static const std::string marker = "inline_code_block line ";
    // The block is the outermost frame: CONTEXT lists it last.
    int line = 0;
    for (auto at = context.find(marker); at != std::string::npos;
         at = context.find(marker, at + 1)) {
        int n = 0;
        for (auto i = at + marker.size();
             i < context.size() && std::isdigit(static_cast<unsigned char>(context[i])) && n < 1e8;
             ++i)
            n = n * 10 + (context[i] - '0');
        if (n > 0) line = n;
    }
    return line;
}

// Where the body of the DO statement starting at `at` opens: the offset of its
// first quote ($tag$ or '), or npos when the statement is not a DO.
std::size_t do_body_start(const std::string& sql, std::size_t at) {
    std::size_t i = at;
    while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
    if (i + 2 > sql.size() || std::toupper(static_cast<unsigned char>(sql[i])) != 'D' ||
        std::toupper(static_cast<unsigned char>(sql[i + 1])) != 'O' ||
        (i + 2 < sql.size() && std::isalnum(static_cast<unsigned char>(sql[i + 2]))))
        return std::string::npos;
    auto q = sql.find_first_of("$'", i + 2);
    return q;
}

}  // namespace

std::optional<std::size_t> failure_offset(const std::string& sql, std::optional<std::size_t> at,
                                          const db::server_error& e) {
    std::size_t base = at.value_or(0);
    if (e.position > 0)
        return base + text::char_to_byte_offset(std::string_view(sql).substr(base), e.position - 1);
    if (!at) return std::nullopt;
    if (int n = inline_block_line(e.context); n > 0) {
        auto body = do_body_start(sql, *at);
        if (body != std::string::npos) {
            // Down n - 1 lines from the quote, then past the indentation.
            std::size_t off = body;
            for (int k = 1; k < n; ++k) {
                auto nl = sql.find('\n', off);
                if (nl == std::string::npos) return at;
                off = nl + 1;
            }
            if (n > 1)
                while (off < sql.size() && (sql[off] == ' ' || sql[off] == '\t')) ++off;
            return off;
        }
    }
    return at;
}

std::string describe_failure(const std::string& label, const std::string& sql,
                             std::optional<std::size_t> at, const db::server_error& e) {
    std::string code = e.sqlstate.empty() ? "" : " (" + e.sqlstate + ")";
    std::string out;
    if (auto off = failure_offset(sql, at, e)) {
        auto pos = text::position_of(sql, *off);
        out = label + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column) + ": " +
              e.message + code;
        std::string line(text::line_at(sql, pos.line));
        std::string num = std::to_string(pos.line);
        out += "\n  " + num + " | " + line + "\n  " + std::string(num.size(), ' ') + " | ";
        // The caret lines up under the column, tabs kept as tabs.
        auto col_bytes = text::char_to_byte_offset(line, pos.column - 1);
        for (std::size_t i = 0; i < col_bytes && i < line.size(); ++i) {
            unsigned char c = static_cast<unsigned char>(line[i]);
            if (line[i] == '\t')
                out += '\t';
            else if ((c & 0xC0) != 0x80)
                out += ' ';
        }
        out += "^";
    } else {
        out = label + ": " + e.message + code;
    }
    if (!e.detail.empty()) out += "\n  DETAIL: " + e.detail;
    if (!e.hint.empty()) out += "\n  HINT: " + e.hint;
    if (!e.context.empty()) out += "\n  CONTEXT: " + e.context;
    if (e.sqlstate.rfind("08", 0) == 0 || e.sqlstate.empty())
        out +=
            "\n  the connection failed; nothing of this migration was recorded — run `moonshift "
            "up` again";
    return text::redact(out);
}

}  // namespace moonshift::engine
