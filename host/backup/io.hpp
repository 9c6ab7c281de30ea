// The byte-moving half of backups: COPY streams to and from gzip files
// (zlib) with a SHA-256 of the rows, and running pg_dump.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "db/session.hpp"

namespace moonshift::backup::io {

struct copy_stats {
    long long rows = 0;
    long long bytes = 0;  // compressed file size
    std::string sha256;   // of the uncompressed COPY text
};

// The columns COPY moves: every column but generated ones, quoted.
std::string copy_columns(const nlohmann::json& definition);

// COPY of the table that `definition` describes into a gzip file.
copy_stats copy_table_out(db::session& s, const nlohmann::json& definition,
                          const std::string& path);

// COPY FROM STDIN into `target` (quoted name) from a gzip file; throws when
// the rows' SHA-256 differs from `sha256` (a damaged file), so the caller's
// transaction rolls back. Returns the rows loaded.
long long copy_table_in(db::session& s, const std::string& target, const std::string& columns,
                        const std::string& path, const std::string& sha256);

// The program's path on PATH, or "".
std::string find_program(const std::string& name);

// fsync of a backup's data files (`files`, in `dir`), of the directory and of
// its parent: the backup is on disk before the statement it guards commits,
// so a machine that crashes right after a DROP keeps what was dropped (the
// manifest is a copy of the backup's row, which restores read). Throws
// error(usage) naming what could not be synced.
void make_durable(const std::filesystem::path& dir, const std::vector<std::string>& files);
// Runs it with stdin from /dev/null and returns its exit status (128 + signal when killed).
// `env` adds variables to (or replaces them in) the child's environment: secrets go there or
// in a file it names, never in `args`, which any user can read in `ps`.
int run_program(const std::string& path, const std::vector<std::string>& args,
                const std::vector<std::pair<std::string, std::string>>& env = {});

// A libpq password file (mode 600, in the temporary directory) matching any server, for one
// child process (PGPASSFILE); removed when this goes out of scope.
class password_file {
  public:
    explicit password_file(const std::string& password);
    ~password_file();
    password_file(const password_file&) = delete;
    password_file& operator=(const password_file&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

}  // namespace moonshift::backup::io
