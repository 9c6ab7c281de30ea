// The SQL front end: splits and parses migration files with libpg_query (the
// real PostgreSQL 15 parser) and says which statements need special handling.
#pragma once
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace moonshift::sql {

struct statement {
    // Exactly as in the file, without the semicolon and without the whitespace
    // and comments around it.
    std::string text;
    std::size_t offset = 0;  // byte offset of its first character in the file
    std::size_t length = 0;  // bytes: text.size()
    int line = 1;            // of offset, 1-based
    int column = 1;          // of offset, 1-based, in characters
    // Top-level node: "CreateStmt", "IndexStmt", ... Empty from split().
    std::string kind;
    // {"<kind>": {...}} as pg_query_parse gives it; every "location" in it is a
    // byte offset into the whole file. Null from split() and with trees = false.
    nlohmann::json tree;
    // BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, SAVEPOINT, PREPARE TRANSACTION, ...
    bool transaction_control = false;
    // PostgreSQL refuses it inside a transaction block, and says why:
    // "CREATE INDEX CONCURRENTLY cannot run inside a transaction block".
    bool no_transaction = false;
    std::string no_transaction_reason;
};

// SQL that does not parse (exit code migration_failed). what() is the located
// message from format_located; reason() is the parser's own words.
class parse_error : public moonshift::error {
  public:
    parse_error(std::string_view text, std::size_t offset, const std::string& file_label,
                std::string reason, std::string hint = {});
    std::size_t offset() const noexcept { return offset_; }
    int line() const noexcept { return line_; }
    int column() const noexcept { return column_; }
    const std::string& reason() const noexcept { return reason_; }

  private:
    std::size_t offset_;
    int line_;
    int column_;
    std::string reason_;
};

struct script {
    std::vector<statement> statements;
    bool has_transaction_control() const { return first_transaction_control() != nullptr; }
    bool has_no_transaction_statement() const {
        return first_no_transaction_statement() != nullptr;
    }
    // The first such statement, to point at in a message; nullptr when none.
    const statement* first_transaction_control() const;
    const statement* first_no_transaction_statement() const;
};

struct parse_options {
    // false leaves statement::tree null (kind and the transaction flags are
    // still set): building trees is most of the cost on a large file, and
    // running a migration needs only the boundaries and the flags.
    bool trees = true;
};

// Splits and parses a whole file in one pass. Throws parse_error, located as
// "<file_label>:LINE:COL: ..." with the source line and a caret, for SQL that
// does not parse, psql meta-commands (\set, \i, ...), NUL bytes and invalid
// UTF-8. Empty input or only comments gives zero statements.
script parse(std::string_view sql, const std::string& file_label,
             const parse_options& options = {});

// Splits without requiring the SQL to parse, for executing statement by
// statement: uses the parser's boundaries when the file parses, otherwise
// splits the scanner's tokens the way psql does (semicolons outside
// parentheses and outside CREATE FUNCTION ... BEGIN ATOMIC ... END), and from
// an unterminated quote on returns the rest as one statement for the server
// to reject. Drops nothing but whitespace and comments. kind and tree stay
// empty. Throws parse_error only for a NUL byte.
std::vector<statement> split(std::string_view sql);

// True when no word of the text (comments and strings included) begins
// transaction control or names a statement that refuses a transaction block
// (CONCURRENTLY, VACUUM, DATABASE, ...): such a file needs no parse to know it
// runs in moonshift's transaction. One pass, no allocation.
bool free_of_transaction_words(std::string_view text);

// "file:line:col: message\n  <source line>\n  <spaces>^" for a byte offset in
// text (clamped to the text). Without a file_label: "line:col: message".
std::string format_located(std::string_view text, std::size_t offset, const std::string& file_label,
                           const std::string& message);

}  // namespace moonshift::sql
