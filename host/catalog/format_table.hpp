// The migration layouts moonshift reads, one descriptor each: the format's
// name, how a directory is recognised as it, the names of its files, how its
// versions order, what its tool does about transactions, and the table that
// tool keeps its history in (`moonshift import`). Detection (formats.cpp),
// the readers, `convert` and `import` all consult this table, and nothing
// else spells a format's name or its file patterns: a new format is one entry
// in format_table.cpp plus its reader.
#pragma once
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace moonshift::catalog {

struct catalog;
struct migration;
struct format;

// A repeatable migration's file name starts with this (R__views.sql): native
// and Flyway. Such files vote for no format.
inline constexpr std::string_view repeatable_prefix = "R__";

// What a format's own tool does with a file holding statements that cannot
// run in a transaction block (CREATE INDEX CONCURRENTLY, ...) and no marker.
enum class no_tx_policy {
    refuse,       // the tool would wrap it in a transaction and fail: say which marker to add
    run_outside,  // the tool runs it outside a transaction (golang-migrate, Flyway, Sqitch)
};

// How versions order: numerically (compare_versions: "9" < "10", "001" ==
// "1", dotted part by part), or as text, byte by byte, the way Diesel
// compares its version strings ("202401010000000000" < "20240201000000":
// a history mixing 14- and 18-digit versions keeps the order Diesel gave it).
enum class version_order { numeric, text };

// How read_flat splits a file name matched by format::files.
enum class name_parts {
    none,         // not read by read_flat
    with_suffix,  // (1) version, (2) name, (3) an optional up/down suffix
    flyway,       // (1) V, U or B, (2) the version, `_` meaning `.`, (3) the name
    both_in_one,  // (1) version, (2) name (the version when empty); up and down in one file
};

// How the rows of a tool's history table read (engine/import.cpp).
enum class history_rows {
    versions,        // version: one row per version applied
    named_versions,  // version, name: the same with the file's name
    high_water,      // version, dirty: one row; every version up to it is applied
    flyway,          // version, type, script, checksum, success, in installed order
    sqitch,          // change, script_hash of the plan's %project ($1): matched by name, in order
    drizzle,         // hash, created_at: matched to a file by hash, else by the journal's when
    prisma,          // migration_name, checksum, finished_at, rolled_back_at, in started order
};

// What a tool records of a file, to compare with the file on disk.
enum class recorded_checksum {
    none,
    flyway_crc32,  // flyway_checksum of the file
    sha1,          // sha1_hex of the file's bytes (Sqitch's script_hash)
    sha256,        // sha256 hex of the file's bytes (Drizzle's hash, Prisma's checksum)
};

// Where `import --from` reads what the tool applied.
struct history_table {
    std::string table;    // its default, "schema.table"; empty: not a tool import reads
    std::string columns;  // the SELECT list, in the order history_rows takes them
    std::string rest;     // after FROM: WHERE, ORDER BY, LIMIT
    history_rows rows = history_rows::versions;
    recorded_checksum checksum = recorded_checksum::none;
};

// A regular expression written once, kept with its source for messages.
struct pattern {
    std::string source;
    std::optional<std::regex> re;  // nullopt: the format has no such pattern
    pattern() = default;
    explicit pattern(std::string src) : source(std::move(src)), re(std::regex(source)) {}
    explicit operator bool() const { return re.has_value(); }
    bool matches(const std::string& s) const { return re && std::regex_match(s, *re); }
    bool found_in(const std::string& s) const { return re && std::regex_search(s, *re); }
};

using reader_fn = catalog (*)(const format& f, const std::filesystem::path& dir,
                              const std::filesystem::path& root);
// True when the numbered folders in `dir` are this tool's (Diesel's hints).
using folders_fn = bool (*)(const std::filesystem::path& dir, const std::filesystem::path& root);
// The tool's own markers in one file just read (`content` as read): a dbmate
// file's sections, a Flyway .conf beside it, postgres-migrations' comments.
using markers_fn = void (*)(const format& f, migration& m, const std::string& content);
// True when a file's content is this tool's (a scan linear in its size: no regular expression
// over file content).
using content_fn = bool (*)(std::string_view content);

struct format {
    std::string name;       // as `status`, `convert` and `import --from` spell it
    std::string described;  // in the "two formats are mixed" message
    bool own = false;       // moonshift's own layout: chosen when no other format is

    // Detection (formats.cpp). A file votes for the first format in table
    // order whose `files` it fits (when `votes`); a numbered folder for the
    // format whose `folders` it fits, unless a `claims_folders` says it is its.
    pattern files;                        // file names (read_flat splits them too)
    bool votes = false;                   // a file whose name fits `files` votes for it
    pattern folders;                      // folder names that vote for it
    bool lua_forms = false;               // .lua files vote for it
    content_fn content = nullptr;         // a file voting for the own layout votes for this
                                          // format instead when its content has this
    folders_fn claims_folders = nullptr;  // Diesel: folders are its when it says so
    std::string marker_file;              // a file in the directory that decides alone
    std::string home;                     // its default directory, relative to the project,
                                          // tried when migrations/ does not exist
    bool home_decides = false;            // the own layout's files in `home` are this tool's
    bool own_reads_it = false;  // the own reader reads its files as they are: no second format
                                // beside native, and `import --from` it into a native directory
    std::string seed_file;      // a file beside its directory that is seed data, noted
    // Down scripts in the rollbacks folder ([project] rollbacks, NNN_rollback_name.sql) are
    // read for it: a layout whose tool has no down files of its own (Supabase, Drizzle, Prisma).
    bool reads_rollbacks = false;
    // The platform's own schemas and extensions in a database this layout's
    // tool deploys to (Supabase's auth, storage, ...): diff and drift leave them out.
    std::vector<std::string> platform_schemas, platform_extensions;

    // Reading.
    reader_fn read = nullptr;  // nullptr: the own reader (catalog.cpp)
    name_parts parts = name_parts::none;
    std::string example;               // a name that fits, for "does not fit" messages
    bool repeatables = false;          // R__name.sql files are repeatable migrations
    bool empty_down_is_no_op = false;  // the tool runs an empty down file as a no-op
    markers_fn markers = nullptr;
    bool blanks_markers =
        false;  // the reader turns the tool's markers into spaces (convert tidies)
    version_order order = version_order::numeric;

    // Transactions: a file with statements that cannot run in one and no marker.
    no_tx_policy no_tx = no_tx_policy::refuse;
    std::string no_tx_marker;  // the marker to suggest when no_tx is refuse

    // Its tool's history table, for `import`.
    history_table history;
};

// Every format, in the order files vote: Flyway's names before Authelia's
// up-down pairs (V1.2__x.up.sql is Flyway's), golang-migrate's before the own
// layout's (which reads them too). The tools `import` reads appear in this
// order in its help.
const std::vector<format>& formats();
// The format called `name`; nullptr when there is none.
const format* find_format(std::string_view name);
// The same for a name the catalog set (throws std::logic_error for another).
const format& format_named(std::string_view name);
// moonshift's own layout.
const format& own_format();

// "a < b" in the format's version order.
bool version_before(version_order o, const std::string& a, const std::string& b);

// What the tool records of `content` (format::history.checksum); "" for none.
std::string recorded_checksum_of(const format& f, const std::string& content);

}  // namespace moonshift::catalog
