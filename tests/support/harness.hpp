// The test harness: one PostgreSQL server per test run (a private cluster started on first use,
// or $MOONSHIFT_TEST_URL), a fresh database per test, temporary directories, and running the
// built CLI. harness.cpp also holds the test module's main.
#pragma once
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace moonshift::test {

// Admin URL of the test server (database postgres). The private cluster starts on the first
// call, so a run of tests that need no database starts no server.
std::string server_url();

// The same server, another database.
std::string url_for(const std::string& dbname);
// The same database as another role (a keyword string or a URL, as the harness gives it).
std::string url_as_role(const std::string& url, const std::string& role, const std::string& pw);
// Runs SQL against a database outside any transaction (roles, grants, fixtures).
void run_sql(const std::string& url, const std::string& sql);

// Per-test fixture: BOOST_FIXTURE_TEST_CASE(name, moonshift::test::fresh_db). An empty database
// (from template0) with a unique name, dropped WITH (FORCE) afterwards.
struct fresh_db {
    fresh_db();
    ~fresh_db();
    fresh_db(const fresh_db&) = delete;
    fresh_db& operator=(const fresh_db&) = delete;
    std::string name, url;
};

// A fresh directory (mode 0755, so that a cluster started in it as root stays in it), removed
// afterwards together with any local cluster a test started under it.
struct temp_dir {
    temp_dir();
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    std::filesystem::path path;
};

struct cli_result {
    int exit_code = -1;  // the exit status, or 128 + signal number when killed (137 for kill -9)
    std::string out, err;
    int term_signal = 0;  // the signal that ended the process, 0 when it exited
};

// Environment changes for a child: a value sets the variable, std::nullopt unsets it. The child
// starts from this process's environment WITHOUT DATABASE_URL, PG* and MOONSHIFT_* variables,
// so a developer's own settings never reach a test's CLI; pass them here when a test needs one.
using env_changes = std::map<std::string, std::optional<std::string>>;

// A process started by spawn_cli/spawn_program, in its own process group. wait() collects its
// output and exit; when it outlives its timeout the group is killed and the test fails. A child
// never waited for is killed (with its group) and reaped by the destructor.
struct child {
    int pid = -1;
    cli_result wait();

    child() = default;
    child(child&& other) noexcept;
    child& operator=(child&& other) noexcept;
    ~child();

    int out_fd = -1, err_fd = -1;
    std::chrono::steady_clock::time_point deadline;
    std::string command;  // for messages
    bool waited = false;

  private:
    void discard() noexcept;  // kills and reaps a child never waited for
};

// Runs the built CLI (MOONSHIFT_BIN) with args in cwd, stdin from /dev/null, stdout and stderr
// captured separately.
cli_result run_cli(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                   const env_changes& env = {},
                   std::chrono::seconds timeout = std::chrono::seconds(120));
child spawn_cli(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                const env_changes& env = {},
                std::chrono::seconds timeout = std::chrono::seconds(120));

// The same for any program (a path, not looked up in PATH).
cli_result run_program(const std::string& program, const std::vector<std::string>& args,
                       const std::filesystem::path& cwd, const env_changes& env = {},
                       std::chrono::seconds timeout = std::chrono::seconds(120));
child spawn_program(const std::string& program, const std::vector<std::string>& args,
                    const std::filesystem::path& cwd, const env_changes& env = {},
                    std::chrono::seconds timeout = std::chrono::seconds(120));

// "" when strace runs and may trace here, else why not (for skip_when: a
// container can forbid ptrace).
std::string why_no_strace();

// Writes content, creating parent directories.
void write_file(const std::filesystem::path& p, const std::string& content);
std::string read_file(const std::filesystem::path& p);

}  // namespace moonshift::test
