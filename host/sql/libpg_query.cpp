// libpg_query loaded on first use, the C string it reads and the offset of its error cursor.
#include "sql/libpg_query.hpp"

#include <mutex>

#include "common/error.hpp"
#include "common/module.hpp"
#include "common/text.hpp"
#include "sql/positions.hpp"
#include "sql/sql.hpp"

namespace moonshift::sql::detail {

const pg_query_api& pg_query() {
    static pg_query_api a;
    static std::once_flag once;
    static std::string failure;
    std::call_once(once, [] {
        // The soname the build found (CMakeLists.txt), so that a newer parser is never taken.
        void* h = modules::open_system(MOONSHIFT_PG_QUERY_SONAME, failure);
        if (!h) return;
        std::string missing;
        modules::bind(h, a.parse, "pg_query_parse", missing);
        modules::bind(h, a.split_with_parser, "pg_query_split_with_parser", missing);
        modules::bind(h, a.scan, "pg_query_scan", missing);
        modules::bind(h, a.free_parse_result, "pg_query_free_parse_result", missing);
        modules::bind(h, a.free_split_result, "pg_query_free_split_result", missing);
        modules::bind(h, a.free_scan_result, "pg_query_free_scan_result", missing);
        if (!missing.empty()) failure = MOONSHIFT_PG_QUERY_SONAME " lacks " + missing;
    });
    if (!failure.empty())
        throw error(exit_code::usage,
                    "cannot load libpg_query, through which moonshift reads SQL: " + failure,
                    "install it: apt-get install " MOONSHIFT_PG_QUERY_PACKAGE);
    return a;
}

std::size_t cursor_offset(std::string_view text, int cursorpos) {
    return cursorpos > 0 ? text::char_to_byte_offset(text, std::size_t(cursorpos) - 1) : 0;
}

std::string c_input(std::string_view sql, const std::string& file_label) {
    if (auto nul = sql.find('\0'); nul != std::string_view::npos)
        throw parse_error(sql, nul, file_label, "the file contains a NUL byte",
                          "SQL migrations must be text files.");
    std::string input(sql);
    if (sql.substr(0, 3) == byte_order_mark) input.replace(0, 3, "   ");
    return input;
}

}  // namespace moonshift::sql::detail
