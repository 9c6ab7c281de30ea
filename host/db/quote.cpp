// Quoting identifiers, literals and arrays (see quote.hpp).
#include "db/quote.hpp"

namespace moonshift::db::quote {

std::string ident(std::string_view name) {
    std::string out;
    out.reserve(name.size() + 2);
    out += '"';
    for (char c : name) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
    return out;
}

std::string qualified(std::string_view schema, std::string_view name) {
    return schema.empty() ? ident(name) : ident(schema) + "." + ident(name);
}

std::string literal(std::string_view text) {
    bool backslash = text.find('\\') != std::string_view::npos;
    std::string out;
    out.reserve(text.size() + 3);
    if (backslash) out += 'E';
    out += '\'';
    for (char c : text) {
        if (c == '\'' || (backslash && c == '\\')) out += c;
        out += c;
    }
    out += '\'';
    return out;
}

std::string array(const std::vector<std::string>& items) {
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
        out += i ? ",\"" : "\"";
        for (char c : items[i]) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
    return out + "}";
}

}  // namespace moonshift::db::quote
