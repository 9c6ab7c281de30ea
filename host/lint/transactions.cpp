// The transaction checks of every lint (lint.hpp): statements that cannot run
// in a transaction block, and the file's own BEGIN/COMMIT structure.
#include <string>

#include "lint/lint.hpp"
#include "sql/statement_kind.hpp"

namespace moonshift::lint {
namespace {

finding at(const file& f, const sql::statement& st, std::string rule, std::string message,
           std::string hint) {
    finding x;
    x.rule = std::move(rule);
    x.severity = "error";
    x.file = f.label;
    x.offset = st.offset;
    x.line = st.line;
    x.column = st.column;
    x.message = std::move(message);
    x.hint = std::move(hint);
    return x;
}

}  // namespace

std::vector<finding> transaction_findings(const file& f) {
    std::vector<finding> out;
    const bool own = f.script->has_transaction_control();
    const sql::statement* open = nullptr;  // the file's BEGIN still open
    for (const auto& st : f.script->statements) {
        switch (sql::transaction_block_effect(st)) {
            case sql::block_effect::open:
                if (open)
                    out.push_back(
                        at(f, st, "transaction-nesting",
                           "a nested BEGIN: inside the transaction opened at line " +
                               std::to_string(open->line) +
                               ": PostgreSQL ignores it with a warning, and the "
                               "next COMMIT ends the outer transaction early",
                           "one BEGIN … COMMIT per block; use SAVEPOINT for a nested one"));
                else
                    open = &st;
                continue;
            case sql::block_effect::close:
                if (!open)
                    out.push_back(
                        at(f, st, "transaction-nesting",
                           sql::leading_words(st.text) + " with no transaction of the file's open",
                           "remove it, or add the BEGIN it closes"));
                open = nullptr;
                continue;
            default:
                break;
        }
        if (!st.no_transaction) continue;
        if (open) {
            out.push_back(at(f, st, "concurrently-in-transaction",
                             st.no_transaction_reason + ", and the file's BEGIN at line " +
                                 std::to_string(open->line) + " opened one",
                             "move it out of the BEGIN … COMMIT block, into a migration that "
                             "starts with -- moonshift:no-transaction"));
            continue;
        }
        // BEGIN/COMMIT of the file's own is allowed: such a file runs as it
        // is, outside moonshift's transaction (catalog: own_transaction).
        if (f.no_transaction || own) continue;
        out.push_back(at(f, st, "transaction",
                         st.no_transaction_reason + ", and this migration runs in one",
                         "put -- moonshift:no-transaction at the top of the file: its statements "
                         "then run one by one, each recorded, and a failed run resumes at the "
                         "failed statement"));
    }
    if (open)
        out.push_back(at(f, *open, "unclosed-transaction",
                         "the transaction this BEGIN opens is never committed: the file ends "
                         "inside it, and what it did is rolled back when the session ends",
                         "add COMMIT; at the end of the block"));
    return out;
}

}  // namespace moonshift::lint
