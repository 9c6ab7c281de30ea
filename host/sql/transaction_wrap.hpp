// A script that wraps itself in one transaction, as Sqitch's templates do:
// a plain begin as its first statement, a commit (or, for a verify script, a
// rollback) as its last, and no other transaction control. The catalog
// blanks such a wrapper out so the script runs inside moonshift's own
// transaction; which words open and end a block is the parser's business.
#pragma once
#include <optional>

#include "sql/sql.hpp"

namespace moonshift::sql {

struct wrapper {
    const statement* open;   // the first statement: a begin without options
    const statement* close;  // the last: a commit, or a rollback when rolls_back
    bool rolls_back = false;
};

// The wrapper of `s`, or nullopt when it has none (fewer than two
// statements, transaction control anywhere else, a begin with an isolation
// level, a commit and chain, ...).
std::optional<wrapper> wrapping_transaction(const script& s);

}  // namespace moonshift::sql
