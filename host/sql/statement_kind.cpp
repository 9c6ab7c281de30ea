// Statements told by their leading words (statement_kind.hpp).
#include "sql/statement_kind.hpp"

#include <cctype>

#include "sql/sql.hpp"

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

block_effect transaction_block_effect(const statement& st) {
    if (!st.transaction_control) return block_effect::none;
    if (st.tree.is_object() && st.tree.contains("TransactionStmt")) {
        auto kind = st.tree["TransactionStmt"].value("kind", "");
        if (kind == "TRANS_STMT_BEGIN" || kind == "TRANS_STMT_START") return block_effect::open;
        if (kind == "TRANS_STMT_COMMIT" || kind == "TRANS_STMT_ROLLBACK" ||
            kind == "TRANS_STMT_PREPARE")
            return block_effect::close;
        return block_effect::other;
    }
    auto words = leading_words(st.text);
    auto first = words.substr(0, words.find(' '));
    if (first == "BEGIN" || first == "START") return block_effect::open;
    if ((first == "COMMIT" || first == "ROLLBACK" || first == "END" || first == "ABORT" ||
         words == "PREPARE TRANSACTION") &&
        words.find(" TO") == std::string::npos && words.find("PREPARED") == std::string::npos)
        return block_effect::close;
    return block_effect::other;
}

}  // namespace moonshift::sql
