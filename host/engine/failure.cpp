// Turning a server error into a message that points into the file.
#include "common/text.hpp"
#include "engine/engine.hpp"

namespace moonshift::engine {

std::string describe_failure(const std::string& label, const std::string& sql,
                             std::optional<std::size_t> at, const db::server_error& e) {
    std::string code = e.sqlstate.empty() ? "" : " (" + e.sqlstate + ")";
    std::string out;
    std::size_t base_offset = at.value_or(0);
    if (e.position > 0 || at) {
        auto off = base_offset +
                   (e.position > 0 ? text::char_to_byte_offset(
                                         std::string_view(sql).substr(base_offset), e.position - 1)
                                   : 0);
        auto pos = text::position_of(sql, off);
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
