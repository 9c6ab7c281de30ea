// What a script declared with backfill{...} (or a migration's `backfill`
// field): plain data the backfill runner (host/backfill/) works from, plus
// registry references of its Lua functions, which only the runtime calls.
#pragma once
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace moonshift::lua {

struct backfill_spec {
    std::string table;             // "artworks", "public.artworks"
    std::vector<std::string> key;  // one column, or several (composite)
    std::string where;             // SQL condition, "" = every row
    std::vector<std::pair<std::string, std::string>>
        set;                                // column = SQL expression, by column name
    std::vector<std::string> columns;       // columns a transform returns, when declared
    long long batch = 0;                    // fixed size; 0 = adaptive toward target
    std::chrono::milliseconds target{300};  // adaptive: duration of one batch
    long long min_batch = 100, max_batch = 100000, start_batch = 1000;
    double max_rows_per_second = 0;                        // 0 = no limit
    std::chrono::milliseconds max_replication_lag{10000};  // 0 = not checked
    std::chrono::milliseconds max_transaction_age{0};      // 0 = not checked
    bool pause_during_autovacuum = false;
    std::optional<std::chrono::milliseconds> lock_timeout;  // per batch; default: the environment's
    bool keep_before = false;
    // Registry references (LUA_NOREF = -2 when absent).
    int transform_ref = -2;
    int pause_when_ref = -2;
    // Where it was declared, for messages: "migrations/002_x.lua", 7.
    std::string file;
    int line = 0;
    std::string
        origin;  // "up" (backfill{} in up), "field" (the table's backfill), "file" (backfill.lua)

    bool has_transform() const { return transform_ref != -2; }
    std::string where_text() const { return file + (line > 0 ? ":" + std::to_string(line) : ""); }
    // The data part, for the checkpoint of the migration's DDL (functions are not data).
    nlohmann::json to_json() const;
    static backfill_spec from_json(const nlohmann::json& j);
};

// One batch of a transform: rows out (COPY text lines of `columns`), the Lua
// function per row, rows back as COPY text (key fields, then out_columns).
struct transform_batch {
    const std::vector<std::string>* lines = nullptr;
    std::vector<std::string> columns;  // COPY order
    std::vector<unsigned> oids;
    std::vector<int> key_fields;           // indexes into columns
    std::vector<std::string> out_columns;  // declared, or taken from the first result
    std::string out;                       // COPY text rows for the temporary table
    long long changed = 0;                 // rows the function returned a table for
};

}  // namespace moonshift::lua
