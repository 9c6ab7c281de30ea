// Finding migrations on disk: their versions, names, forms, directives and
// checksums. Every bad input is an error that names the file.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace moonshift::catalog {

enum class form { sql, lua, folder };
const char* form_name(form f);

struct directives {
    bool no_transaction = false;
    // The file carries its own transaction control (found by the parser): it runs as
    // it is, outside moonshift's transaction, never nested in one.
    bool own_transaction = false;
    bool down_own_transaction = false;  // the same for its down script
    // The down script holds a statement that cannot run in a transaction,
    // and the format's tool would run it in one: the refusal (file:line:col
    // and why) and its hint naming the file to change, raised only when that
    // down script is about to run (engine check_reversible), never by status.
    std::string down_refused, down_refused_hint;
    std::string converted_from;  // -- moonshift:converted-from (formats_convert.cpp)
    std::vector<std::string> requires_versions;
    std::vector<std::string> tags;
    // -- moonshift:changes t1, s.t2: tables whose rows it changes besides those
    // the parser sees (through a function, a Lua part); verification leaves
    // their row counts alone.
    std::vector<std::string> changes;
};

struct migration {
    std::string version;  // as written on disk: "001", "20250108120000"
    std::string name;     // "create_users"
    form kind = form::sql;
    std::filesystem::path up;    // the file (or folder) that applies it
    std::filesystem::path down;  // empty when there is no down script
    std::string up_label;        // path for messages, relative to the project: migrations/001_x.sql
    std::string down_label;
    std::string up_sql;  // content with normalised line endings (sql form)
    std::string down_sql;
    bool down_has_sql = false;  // false when the down file is only comments
    // Hex SHA-256 of what applies it (up, verify): a down script is left out,
    // so adding or fixing one never marks the migration changed.
    std::string checksum;
    // The checksum by the rule before that (up and down together), which
    // rows recorded then still match; "" when it is the same.
    std::string legacy_checksum;
    directives dir;
    std::string verify_sql;  // Sqitch verify script: runs after up, in its transaction
    std::string verify_label;
    // Lua forms (lua_forms.cpp). form::lua: the whole file, a table with
    // precheck/up/verify/down. form::folder: up.lua, down.lua, verify.lua,
    // precheck.lua as present (SQL parts use up_sql/down_sql/verify_sql).
    std::string lua_source;
    std::string up_lua, down_lua, verify_lua, precheck_lua, precheck_label;
    std::string backfill_lua, backfill_label;  // a folder's backfill.lua (docs/backfills.md)
    // Drizzle: the journal's `when` (milliseconds), which drizzle records as created_at.
    long long tool_when = 0;
    std::string id() const { return version + "_" + name; }
};

// Orders versions numerically: "9" < "10", "001" == "1"; dotted (Flyway)
// versions part by part: "1.9" < "1.10", "1.0" == "1".
int compare_versions(const std::string& a, const std::string& b);
// The canonical form used for identity: leading zeros removed ("001" → "1",
// "01.02.0" → "1.2").
std::string version_key(const std::string& v);

struct catalog {
    std::vector<migration> migrations;  // sorted by version
    std::string format;                 // the detected layout: a name in format_table.hpp
    // The key of its rows in the history, so that several projects share one
    // database (docs/formats.md): Sqitch's %project; "" for other layouts.
    std::string project;
    std::vector<migration> repeatables;  // Flyway R__ files, by name: re-applied when changed
    std::vector<migration> baselines;    // Flyway B files, by version
    std::vector<std::string>
        notes;  // worth telling: "supabase/seed.sql is seed data, not a migration"
    const migration* find(const std::string& version) const;
    // <0, 0, >0 as `a` comes before, with or after `b` in this catalog's
    // format's order (format_table.hpp version_order: numeric, or Diesel's text).
    int compare(const std::string& a, const std::string& b) const;
};

// Reads `dir`; labels in messages are relative to `root`. Throws
// moonshift::error(usage) naming the file for: names without a version,
// duplicate versions, a down without an up, empty files, invalid UTF-8,
// unknown directives, requires of a missing or later version.
// rollbacks: a folder of down scripts in a runbook's layout,
// NNN_rollback_name.sql, each the down of the migration with version NNN
// (read when it exists; moonshift's own layout only).
catalog discover(const std::filesystem::path& dir, const std::filesystem::path& root,
                 const std::filesystem::path& rollbacks = {});

// What discover() finds without the files' contents (up_sql, down_sql,
// verify_sql and the Lua sources are empty): what `status` needs. Kept in
// `cache_dir` (summary.cpp) under a signature of every file and folder
// discover() looks at (name, type, size, mtime, ctime, inode) and of the
// binary; while it holds, no file is read. An empty cache_dir: no cache.
catalog discover_summary(const std::filesystem::path& dir, const std::filesystem::path& root,
                         const std::filesystem::path& rollbacks,
                         const std::filesystem::path& cache_dir);
// $MOONSHIFT_CACHE_DIR, else $XDG_CACHE_HOME/moonshift, else ~/.cache/moonshift;
// empty when MOONSHIFT_CACHE_DIR is "off" or there is no home.
std::filesystem::path default_cache_dir();

// Reads a .lua migration or a migration folder into m (m.up is the file or
// folder; labels relative to root) and computes its checksum over every file.
void load_lua_form(migration& m, const std::filesystem::path& root);

// Directives from the leading comment block of an SQL file.
directives read_directives(const std::string& sql, const std::string& label);

// True when the SQL has something besides whitespace and comments.
bool has_sql(const std::string& sql);

}  // namespace moonshift::catalog
