// Other tools' migration layouts, read as they are (docs/formats.md): which
// layout a directory holds, and the readers that turn each into the same
// catalog::migration shape as moonshift's own files.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.hpp"
#include "catalog/format_table.hpp"

namespace moonshift::catalog {

// The catalog of `dir` when it holds another tool's layout; nullopt for
// moonshift's own. When `dir` is the default `migrations/` and does not
// exist, the other tools' default places are tried (supabase/migrations,
// db/migrations, a sqitch.plan at the root). Throws usage_error naming the
// files when two formats are mixed in one directory.
std::optional<catalog> discover_foreign(const std::filesystem::path& dir,
                                        const std::filesystem::path& root);

// The layout a directory holds ("native", "flyway", ...), without reading
// the files' contents beyond what detection needs. Used by convert/import to
// check a --from against what is on disk.
std::string detect_format(const std::filesystem::path& dir, const std::filesystem::path& root);

// Where the migrations were found, for people: "migrations", "supabase/migrations",
// "sqitch.plan" (a plan at the project root).
std::string describe_place(const std::filesystem::path& dir, const std::filesystem::path& root);
// The folder whose files discover(dir, root) reads: `dir`, or where another tool keeps its
// files when `dir` is the default and missing; nullopt when there is none.
std::optional<std::filesystem::path> place_of(const std::filesystem::path& dir,
                                              const std::filesystem::path& root);

// Helpers shared by the readers (catalog.cpp).
std::string read_checked(const std::filesystem::path& p, const std::string& label);
// A file's content read during format detection, handed to the next
// read_checked of the same path instead of reading it twice.
void remember_content(const std::filesystem::path& p, std::string content);
// What was read ahead for `p` and not taken yet, or nullptr.
const std::string* read_ahead_of(const std::filesystem::path& p);
// Reads the .sql and .lua files among `entries` ahead, on two threads when
// there are many; read_checked and format detection take them from there.
// What cannot be read is left to the reader to report. Within a
// listing_scope only: the scope's end forgets what was not taken.
void read_all_ahead(const std::vector<std::filesystem::directory_entry>& entries);
void forget_read_ahead();
std::string rel_label(const std::filesystem::path& p, const std::filesystem::path& root);
// A listed entry's file name, without the path operations that split the
// whole path into components (most of a large folder's listing time).
std::string_view name_of(const std::filesystem::directory_entry& e);
// The entries of `dir` by file name, the order every reader and detection use.
std::vector<std::filesystem::directory_entry> sorted_entries(const std::filesystem::path& dir);
// While one is alive on this thread, sorted_entries lists each directory
// once: one discover() looks at the migrations folder in three places
// (format detection, Diesel's folder check, the reader).
class listing_scope {
  public:
    listing_scope();
    ~listing_scope();
    listing_scope(const listing_scope&) = delete;
    listing_scope& operator=(const listing_scope&) = delete;

  private:
    bool outermost_;
};

// A repeatable migration (R__name.sql): no version, re-applied whenever its
// checksum changes.
migration read_repeatable(const std::filesystem::path& p, const std::string& label);

// The last step of reading moonshift's own layout: transaction needs from
// the parser, converted files' checksums.
void finish_native(catalog& cat);

// Reads the parse of up/down: a file with its own transaction control
// becomes own_transaction; one with no-transaction statements and no marker
// follows the format's no_tx rule, suggesting its no_tx_marker when it
// refuses. SQL that does not parse is left alone: the server reports it when
// it runs.
void classify_transactions(migration& m, const format& f);

// True when `sql` parses and has transaction control of its own.
bool controls_transactions(const std::string& sql, const std::string& label);

// Blanks the transaction wrapper of a script (sql::wrapping_transaction; one
// that rolls back only for verify scripts) with spaces, so it can run inside
// moonshift's transaction with every line and column where it was. Returns
// false (and leaves sql alone) when the script has no such wrapper.
bool unwrap_transaction(std::string& sql, bool rollback_at_end);

// The readers of each layout (format::read): formats_files.cpp,
// formats_diesel.cpp, sqitch.cpp.
catalog read_flat(const format& f, const std::filesystem::path& dir,
                  const std::filesystem::path& root);
catalog read_diesel(const format& f, const std::filesystem::path& dir,
                    const std::filesystem::path& root);
catalog read_sqitch(const format& f, const std::filesystem::path& dir,
                    const std::filesystem::path& root);
// formats_drizzle.cpp, formats_prisma.cpp.
catalog read_drizzle(const format& f, const std::filesystem::path& dir,
                     const std::filesystem::path& root);
catalog read_prisma(const format& f, const std::filesystem::path& dir,
                    const std::filesystem::path& root);
// The %project pragma of the plan in dir (f.marker_file; "" when there is none).
std::string sqitch_project(const format& f, const std::filesystem::path& dir);

// A dbmate `-- migrate:up` / `-- migrate:down` line: [at, end) from the line's
// start to its end; `options` what follows the word (transaction:false).
struct dbmate_marker {
    std::size_t at = 0, end = 0;
    bool up = false;
    std::string options;
};
// Every marker line of a file, in one pass: linear in its size whatever it
// holds (a std::regex here overflowed the stack on a 100 kB run of spaces).
std::vector<dbmate_marker> dbmate_markers(std::string_view content);
// True when the file has a `-- migrate:up` line (format::content for dbmate).
bool has_dbmate_up(std::string_view content);

// The tools' markers (format::markers, format::claims_folders).
void dbmate_sections(const format& f, migration& m, const std::string& content);
void flyway_conf(const format& f, migration& m, const std::string& content);
void postgres_migrations_comments(const format& f, migration& m, const std::string& content);
bool diesel_claims_folders(const std::filesystem::path& dir, const std::filesystem::path& root);

// Sorts by version and refuses a version two files claim, naming both.
void sort_and_check(catalog& cat, version_order order);

// The checksum of a migration from its files' contents, as native files got
// it before down scripts were left out (legacy_checksum; with has_down = false
// it is the checksum of today).
std::string checksum_of(const std::string& up_sql, const std::string& down_sql, bool has_down);
// Sets m.checksum from the up (and verify) and m.legacy_checksum by the old rule.
void set_checksums(migration& m);
// The same with a NNN_name.verify.sql beside them (moonshift's own layout).
std::string native_checksum(const std::string& up_sql, const std::string& down_sql, bool has_down,
                            const std::string& verify_sql);

// `moonshift convert --to native`: writes the catalog into `outdir` in
// moonshift's layout. Each up file starts with a header naming its original
// and a converted-from directive that keeps the original's checksum while
// the content is unchanged. Returns the files written and notes (what has no
// native form). Refuses a non-empty outdir.
struct convert_result {
    std::vector<std::string> written;
    std::vector<std::string> notes;
};
convert_result convert_to_native(const catalog& cat, const std::filesystem::path& outdir,
                                 const std::filesystem::path& root);

// The checksum Flyway records in flyway_schema_history: CRC32 over the
// file's lines without their line breaks (BOM removed), as a signed int.
int flyway_checksum(const std::string& content);

// Sqitch's script_hash: SHA-1 of the deploy script's bytes, in hex.
std::string sha1_hex(const std::string& bytes);

}  // namespace moonshift::catalog
