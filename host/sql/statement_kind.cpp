// Statements told by their leading words (statement_kind.hpp).
#include "sql/statement_kind.hpp"

#include <cctype>

namespace moonshift::sql {

std::string leading_words(const std::string& text) {
    std::string out;
    int words = 0;
    for (std::size_t i = 0; i < text.size() && words < 2; ++i) {
        unsigned char ch = static_cast<unsigned char>(text[i]);
        if (std::isalpha(ch)) {
            out += static_cast<char>(std::toupper(ch));
        } else if (!out.empty() && out.back() != ' ') {
            ++words;
            out += ' ';
        }
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    // "PREPARE TRANSACTION", "ROLLBACK TO"; otherwise the first word says enough
    auto space = out.find(' ');
    if (space != std::string::npos) {
        std::string first = out.substr(0, space), second = out.substr(space + 1);
        if (!(first == "PREPARE" || (first == "ROLLBACK" && second == "TO") ||
              (first == "RELEASE" && second == "SAVEPOINT") ||
              (first == "COMMIT" && second == "PREPARED")))
            out = first;
    }
    return out;
}

bool looks_like_transaction_control(const std::string& text) {
    static const char* const words[] = {"BEGIN",     "START",    "COMMIT",
                                        "END",       "ROLLBACK", "ABORT",
                                        "SAVEPOINT", "RELEASE",  "PREPARE TRANSACTION"};
    std::string w = leading_words(text);
    for (const char* k : words)
        if (w == k || w.rfind(std::string(k) + " ", 0) == 0) return true;
    return false;
}

bool ends_transaction_block(const std::string& text) {
    auto w = leading_words(text);
    return w == "COMMIT" || w == "END";
}

}  // namespace moonshift::sql
