// What the parser's C interface needs on our side: results freed exactly once,
// a C string to read, and its error cursor as a byte offset. Private to host/sql/.
#pragma once
#include <pg_query.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace moonshift::sql::detail {

// libpg_query's functions, from the library loaded on first use (dlopen): a
// command that parses no SQL (status, a testdb call) does not map it. Throws
// error(usage) naming the package when it cannot be loaded.
struct pg_query_api {
    PgQueryParseResult (*parse)(const char*) = nullptr;
    PgQuerySplitResult (*split_with_parser)(const char*) = nullptr;
    PgQueryScanResult (*scan)(const char*) = nullptr;
    void (*free_parse_result)(PgQueryParseResult) = nullptr;
    void (*free_split_result)(PgQuerySplitResult) = nullptr;
    void (*free_scan_result)(PgQueryScanResult) = nullptr;
};
const pg_query_api& pg_query();

// libpg_query results own C memory; each is freed exactly once.
template <class Result>
using free_fn = void (*)(Result);
template <class Result, free_fn<Result> pg_query_api::*Free>
class owned {
  public:
    explicit owned(Result r) : r_(r) {}
    ~owned() { (pg_query().*Free)(r_); }
    owned(const owned&) = delete;
    owned& operator=(const owned&) = delete;
    const Result* operator->() const { return &r_; }

  private:
    Result r_;
};
using parse_result = owned<PgQueryParseResult, &pg_query_api::free_parse_result>;
using split_result = owned<PgQuerySplitResult, &pg_query_api::free_split_result>;
using scan_result = owned<PgQueryScanResult, &pg_query_api::free_scan_result>;

// Byte offset of libpg_query's error cursor, a 1-based character position.
std::size_t cursor_offset(std::string_view text, int cursorpos);

// libpg_query reads a C string. The copy blanks a byte-order mark (the
// scanner would take it for part of an identifier) without moving offsets.
// Throws parse_error for a NUL byte.
std::string c_input(std::string_view sql, const std::string& file_label);

}  // namespace moonshift::sql::detail
