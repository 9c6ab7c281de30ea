// What a statement is, told from its first words alone: for SQL the bundled
// parser does not know (newer syntax, extensions), where the server will
// judge the text but the host must still recognise transaction control.
#pragma once
#include <string>

namespace moonshift::sql {

struct statement;

// The first word of the text in upper case, or the first two when they name
// the statement together ("ROLLBACK TO", "RELEASE SAVEPOINT", "COMMIT
// PREPARED", "PREPARE TRANSACTION"): "BEGIN", "SELECT", "" for no word.
std::string leading_words(const std::string& text);

// BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT, SAVEPOINT,
// RELEASE, PREPARE TRANSACTION … by their leading words.
bool looks_like_transaction_control(const std::string& text);

// COMMIT or END (not COMMIT PREPARED): the statement that ends a block.
bool ends_transaction_block(const std::string& text);

// What a statement does to the transaction block a file opened: opens one
// (BEGIN, START TRANSACTION), closes it (COMMIT, END, ROLLBACK, ABORT,
// PREPARE TRANSACTION), something else of transaction control (SAVEPOINT,
// RELEASE, ROLLBACK TO, COMMIT PREPARED), or nothing. Read from the tree when
// the statement has one, else from its leading words.
enum class block_effect { none, open, close, other };
block_effect transaction_block_effect(const statement& st);

}  // namespace moonshift::sql
