// Files, accounts and processes for the local cluster: POSIX calls with errors that say what
// could not be done.
#include "local/system.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/text.hpp"

namespace moonshift::local::detail {
namespace fs = std::filesystem;

namespace {

void close_fds_from(int lowest) {
    if (::close_range(unsigned(lowest), ~0U, 0) == 0) return;
    for (long fd = lowest, max = ::sysconf(_SC_OPEN_MAX); fd < max && fd < 65536; ++fd)
        ::close(int(fd));
}

// In a forked child: become `as` (when asked). Only async-signal-safe calls.
bool become(const account& as) {
    return !as.switch_user ||
           (::setgroups(1, &as.gid) == 0 && ::setgid(as.gid) == 0 && ::setuid(as.uid) == 0);
}

}  // namespace

error failure(std::string message, std::string hint) {
    return error(exit_code::migration_failed, std::move(message), std::move(hint));
}

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

bool present(const fs::path& p) {
    std::error_code ec;
    return fs::exists(p, ec);
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_private(const fs::path& p, const std::string& content) {
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw failure(errno_text("cannot write " + p.string()));
    bool ok = ::fchmod(fd, 0600) == 0;
    for (std::size_t done = 0; ok && done < content.size();) {
        ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        ok = n > 0;
        done += ok ? std::size_t(n) : 0;
    }
    if (!ok) {
        std::string message = errno_text("cannot write " + p.string());
        ::close(fd);
        throw failure(message);
    }
    ::close(fd);
}

std::string tail(const std::string& text, int lines) {
    std::string t = text::trim(text);
    std::size_t pos = t.size();
    for (int i = 0; i < lines && pos != std::string::npos && pos > 0; ++i)
        pos = t.rfind('\n', pos - 1);
    return pos == std::string::npos || pos == t.size() ? t : t.substr(pos + 1);
}

account server_account(const fs::path& data) {
    struct stat st {};
    const bool have_data = ::stat(data.c_str(), &st) == 0;
    if (::geteuid() != 0) {
        if (have_data && st.st_uid != ::geteuid()) {
            const passwd* pw = ::getpwuid(st.st_uid);
            throw usage_error("the local cluster's data directory " + data.string() +
                                  " belongs to user " +
                                  (pw ? std::string(pw->pw_name) : std::to_string(st.st_uid)),
                              "run `moonshift local` for this project as that user or as root");
        }
        return {};
    }
    const passwd* pw = have_data && st.st_uid != 0 ? ::getpwuid(st.st_uid) : ::getpwnam("postgres");
    if (!pw)
        throw usage_error(
            "as root, moonshift runs the local PostgreSQL server as the `postgres` system user, "
            "and this machine has none",
            "install the server with `apt-get install postgresql` (it creates that user), or run "
            "moonshift as a normal user");
    return {true, pw->pw_uid, pw->pw_gid};
}

process_result run(const std::vector<std::string>& argv, const account& as, int out_fd) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int pipe_fds[2] = {-1, -1};
    if (devnull < 0 || (out_fd < 0 && ::pipe2(pipe_fds, O_CLOEXEC) != 0))
        throw failure(errno_text("cannot run " + argv[0]));
    const pid_t pid = ::fork();
    if (pid < 0) throw failure(errno_text("cannot run " + argv[0]));
    if (pid == 0) {
        const int out = out_fd >= 0 ? out_fd : pipe_fds[1];
        ::dup2(devnull, 0);
        ::dup2(out, 1);
        ::dup2(out, 2);
        close_fds_from(3);
        const char* why = "cannot switch to the server's user\n";
        if (become(as) && ::chdir("/") == 0) {
            ::execv(args[0], args.data());
            why = "cannot execute the program\n";
        }
        if (::write(2, why, std::strlen(why)) < 0) _exit(127);
        _exit(127);
    }
    ::close(devnull);
    process_result result;
    if (out_fd < 0) {
        ::close(pipe_fds[1]);
        char buf[4096];
        for (;;) {
            ssize_t n = ::read(pipe_fds[0], buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            result.output.append(buf, std::size_t(n));
        }
        ::close(pipe_fds[0]);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

bool can_search(const fs::path& dir, const account& as) {
    const pid_t pid = ::fork();
    if (pid < 0) throw failure(errno_text("cannot fork"));
    if (pid == 0) _exit(become(as) && ::access(dir.c_str(), X_OK) == 0 ? 0 : 1);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Creates dir (mode 0700) for the server's user.
void make_server_dir(const fs::path& dir, const account& as) {
    fs::create_directories(dir);
    if (as.switch_user && ::chown(dir.c_str(), as.uid, as.gid) != 0)
        throw failure(errno_text("cannot hand " + dir.string() + " to the postgres user"));
    if (::chmod(dir.c_str(), 0700) != 0) throw failure(errno_text("cannot chmod " + dir.string()));
}

bool is_postgres_process(int pid) {
    if (pid <= 0 || (::kill(pid, 0) != 0 && errno != EPERM)) return false;
    // A pid left in postmaster.pid by a crash may belong to someone else by now.
    std::string comm = text::trim(read_text("/proc/" + std::to_string(pid) + "/comm"));
    return comm.empty() || comm.rfind("postgres", 0) == 0 || comm.rfind("postmaster", 0) == 0;
}

}  // namespace moonshift::local::detail
