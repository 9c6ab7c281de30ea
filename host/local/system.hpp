// What the local cluster needs from the operating system: its small private files, the
// account the server runs as, and running initdb and pg_ctl. Private to host/local/.
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace moonshift::local::detail {

// The server itself failing (initdb, pg_ctl) is a plain failure; a missing binary, user or
// permission is the user's configuration (exit_code::usage).
error failure(std::string message, std::string hint = {});

// what + ": " + strerror(errno).
std::string errno_text(const std::string& what);

bool present(const std::filesystem::path& p);

// The file's text, or "" when it is missing or unreadable.
std::string read_text(const std::filesystem::path& p);

// Writes a file that only its owner may read (the password, the pointer files).
void write_private(const std::filesystem::path& p, const std::string& content);

// The last lines of a program's output or of the server log, for error messages.
std::string tail(const std::string& text, int lines = 20);

// Who runs initdb, pg_ctl and so the server. PostgreSQL refuses to run as root, so root runs
// them as the owner of the data directory, or as the `postgres` system user for a new one.
struct account {
    bool switch_user = false;
    uid_t uid = 0;
    gid_t gid = 0;
};

// The account for the data directory data; throws a usage error when this user may not use it.
account server_account(const std::filesystem::path& data);

struct process_result {
    int status = 0;  // exit status, or 128 + signal
    std::string output;
};

// Runs argv (argv[0] an absolute path) as `as`, stdin from /dev/null, stdout and stderr
// captured, or appended to out_fd when one is given. The child inherits no other descriptor,
// so a server started by pg_ctl never holds a pipe of whoever runs moonshift.
process_result run(const std::vector<std::string>& argv, const account& as, int out_fd = -1);

// Whether `as` may reach into dir (search permission on it and every parent).
bool can_search(const std::filesystem::path& dir, const account& as);

// Creates dir (mode 0700) for the server's user.
void make_server_dir(const std::filesystem::path& dir, const account& as);

// Whether pid is a live PostgreSQL server process.
bool is_postgres_process(int pid);

}  // namespace moonshift::local::detail
