// Which first and last statements make a transaction wrapper (transaction_wrap.hpp).
#include "sql/transaction_wrap.hpp"

#include <cctype>
#include <string>

namespace moonshift::sql {
namespace {

// "begin  transaction" → "BEGIN TRANSACTION"
std::string words(const std::string& s) {
    std::string out;
    bool space = false;
    for (char c : s) {
        if (std::isspace(static_cast<unsigned char>(c))) {
            space = !out.empty();
            continue;
        }
        if (space) out.push_back(' ');
        space = false;
        out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
    return out;
}

bool plain_begin(const std::string& w) {
    return w == "BEGIN" || w == "BEGIN TRANSACTION" || w == "BEGIN WORK" ||
           w == "START TRANSACTION";
}

bool plain_commit(const std::string& w) {
    return w == "COMMIT" || w == "COMMIT TRANSACTION" || w == "COMMIT WORK" || w == "END" ||
           w == "END TRANSACTION" || w == "END WORK";
}

bool plain_rollback(const std::string& w) {
    return w == "ROLLBACK" || w == "ROLLBACK TRANSACTION" || w == "ROLLBACK WORK" || w == "ABORT";
}

}  // namespace

std::optional<wrapper> wrapping_transaction(const script& s) {
    if (s.statements.size() < 2) return std::nullopt;
    int control = 0;
    for (auto& st : s.statements) control += st.transaction_control ? 1 : 0;
    const auto& first = s.statements.front();
    const auto& last = s.statements.back();
    if (control != 2 || !first.transaction_control || !last.transaction_control)
        return std::nullopt;
    auto e = words(last.text);
    bool commit = plain_commit(e), rollback = plain_rollback(e);
    if (!plain_begin(words(first.text)) || !(commit || rollback)) return std::nullopt;
    return wrapper{&first, &last, rollback};
}

}  // namespace moonshift::sql
