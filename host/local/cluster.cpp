// The local cluster: finding the server binaries, initdb, pg_ctl start and stop, and the small
// files under the root that let a later `moonshift local …` find the server again.
#include "local/cluster.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <locale.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include "common/error.hpp"
#include "common/text.hpp"

namespace moonshift::local {
namespace fs = std::filesystem;

namespace {

const char* const install_hint = "install them with `apt-get install postgresql`";

// The server itself failing (initdb, pg_ctl) is a plain failure; a missing binary, user or
// permission is the user's configuration (exit_code::usage).
error failure(std::string message, std::string hint = {}) {
    return error(exit_code::migration_failed, std::move(message), std::move(hint));
}

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

bool present(const fs::path& p) {
    std::error_code ec;
    return fs::exists(p, ec);
}

// The file's text, or "" when it is missing or unreadable.
std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Writes a file that only its owner may read (the password, the pointer files).
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

// The last lines of a program's output or of the server log, for error messages.
std::string tail(const std::string& text, int lines = 20) {
    std::string t = text::trim(text);
    std::size_t pos = t.size();
    for (int i = 0; i < lines && pos != std::string::npos && pos > 0; ++i)
        pos = t.rfind('\n', pos - 1);
    return pos == std::string::npos || pos == t.size() ? t : t.substr(pos + 1);
}

// Who runs initdb, pg_ctl and so the server. PostgreSQL refuses to run as root, so root runs
// them as the owner of the data directory, or as the `postgres` system user for a new one.
struct account {
    bool switch_user = false;
    uid_t uid = 0;
    gid_t gid = 0;
};

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

struct process_result {
    int status = 0;  // exit status, or 128 + signal
    std::string output;
};

// Runs argv (argv[0] an absolute path) as `as`, stdin from /dev/null, stdout and stderr
// captured, or appended to out_fd when one is given. The child inherits no other descriptor,
// so a server started by pg_ctl never holds a pipe of whoever runs moonshift.
process_result run(const std::vector<std::string>& argv, const account& as, int out_fd = -1) {
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

// Whether `as` may reach into dir (search permission on it and every parent).
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

bool has_server(const fs::path& dir) {
    for (const char* name : {"initdb", "pg_ctl", "postgres"}) {
        std::error_code ec;
        if (!fs::is_regular_file(dir / name, ec) || ::access((dir / name).c_str(), X_OK) != 0)
            return false;
    }
    return true;
}

std::optional<std::string> find_in_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        fs::path candidate = fs::path(dir.empty() ? "." : dir) / program;
        if (::access(candidate.c_str(), X_OK) == 0) return fs::absolute(candidate).string();
    }
    return std::nullopt;
}

// Debian keeps each major version in /usr/lib/postgresql/<version>/bin; the newest wins.
std::optional<std::string> newest_debian_bin_dir() {
    std::optional<std::string> best;
    double best_version = -1;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
        const std::string name = entry.path().filename().string();
        char* end = nullptr;
        const double version = std::strtod(name.c_str(), &end);
        if (end == name.c_str() || *end != '\0' || version <= best_version) continue;
        if (!has_server(entry.path() / "bin")) continue;
        best_version = version;
        best = (entry.path() / "bin").string();
    }
    return best;
}

// A free port on 127.0.0.1: `preferred` when it is free, else one the kernel picks.
int free_port(int preferred) {
    auto try_bind = [](int port) {
        int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0) return 0;
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(uint16_t(port));
        socklen_t len = sizeof addr;
        int got = 0;
        if (::bind(s, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
            ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
            got = ntohs(addr.sin_port);
        ::close(s);
        return got;
    };
    if (preferred > 0 && preferred < 65536)
        if (int port = try_bind(preferred)) return port;
    if (int port = try_bind(0)) return port;
    throw failure(errno_text("cannot find a free port on 127.0.0.1"));
}

// Letters and digits only, so the password needs no escaping in a URL.
std::string random_password() {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::string password;
    while (password.size() < 24) {
        unsigned char bytes[32];
        if (RAND_bytes(bytes, sizeof bytes) != 1) throw failure("cannot generate a password");
        for (unsigned char b : bytes)
            if (b < 248 && password.size() < 24) password += alphabet[b % 62];  // 248 = 4 * 62
    }
    return password;
}

std::string percent_encode(const std::string& s) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += char(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

int to_int(const std::string& s) {
    char* end = nullptr;
    long v = std::strtol(s.c_str(), &end, 10);
    return end == s.c_str() || v < 0 || v > 1 << 30 ? 0 : int(v);
}

// A UTF-8 locale that needs nothing installed when glibc has C.UTF-8; plain C otherwise.
std::string initdb_locale() {
    if (locale_t l = ::newlocale(LC_ALL_MASK, "C.UTF-8", locale_t(nullptr))) {
        ::freelocale(l);
        return "C.UTF-8";
    }
    return "C";
}

bool is_postgres_process(int pid) {
    if (pid <= 0 || (::kill(pid, 0) != 0 && errno != EPERM)) return false;
    // A pid left in postmaster.pid by a crash may belong to someone else by now.
    std::string comm = text::trim(read_text("/proc/" + std::to_string(pid) + "/comm"));
    return comm.empty() || comm.rfind("postgres", 0) == 0 || comm.rfind("postmaster", 0) == 0;
}

// One `moonshift local` at a time per project.
class root_lock {
  public:
    explicit root_lock(const fs::path& root) {
        fs::create_directories(root);
        fd_ = ::open((root / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd_ < 0) throw failure(errno_text("cannot open " + (root / "lock").string()));
        while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
        }
    }
    ~root_lock() { ::close(fd_); }
    root_lock(const root_lock&) = delete;
    root_lock& operator=(const root_lock&) = delete;

  private:
    int fd_;
};

}  // namespace

cluster::cluster(fs::path root, options opts)
    : root_(fs::absolute(std::move(root)).lexically_normal()), opts_(std::move(opts)) {}

std::string cluster::find_bin_dir() {
    if (const char* env = std::getenv("MOONSHIFT_PG_BINDIR"); env && *env) {
        if (has_server(env)) return env;
        throw usage_error(std::string("no PostgreSQL server binaries (initdb, pg_ctl, postgres) in "
                                      "MOONSHIFT_PG_BINDIR=") +
                              env + "; " + install_hint,
                          "or point MOONSHIFT_PG_BINDIR at the bin directory of a server");
    }
    if (auto pg_config = find_in_path("pg_config")) {
        process_result r = run({*pg_config, "--bindir"}, account{});
        std::string dir = text::trim(r.output);
        if (r.status == 0 && has_server(dir)) return dir;
    }
    if (auto dir = newest_debian_bin_dir()) return *dir;
    throw usage_error(
        std::string("no PostgreSQL server binaries (initdb, pg_ctl, postgres) found; ") +
            install_hint,
        "looked in `pg_config --bindir` and /usr/lib/postgresql/*/bin; MOONSHIFT_PG_BINDIR may "
        "name another directory");
}

std::string cluster::bin_dir() const {
    if (bin_dir_.empty() && !std::getenv("MOONSHIFT_PG_BINDIR")) {
        // A cluster is run by the major version that made it, when that one is still installed.
        std::string version = text::trim(read_text(data_dir() / "PG_VERSION"));
        fs::path dir = fs::path("/usr/lib/postgresql") / version / "bin";
        if (!version.empty() && has_server(dir)) bin_dir_ = dir.string();
    }
    if (bin_dir_.empty()) bin_dir_ = find_bin_dir();
    return bin_dir_;
}

fs::path cluster::data_dir() const {
    std::string elsewhere = text::trim(read_text(root_ / "datadir"));
    return elsewhere.empty() ? root_ / "data" : fs::path(elsewhere);
}

state cluster::status() const {
    state s;
    s.data_dir = data_dir();
    try {
        s.bin_dir = bin_dir();
    } catch (const error&) {
        // No server installed: still a valid answer to "what is the state".
    }
    if (!present(s.data_dir)) return s;
    server_account(s.data_dir);  // throws when this user cannot look inside
    s.initialized = present(s.data_dir / "PG_VERSION");
    // postmaster.pid: pid, data directory, start time, port, socket directory, ...
    std::istringstream pid_file(read_text(s.data_dir / "postmaster.pid"));
    std::vector<std::string> lines;
    for (std::string line; std::getline(pid_file, line);) lines.push_back(line);
    if (lines.size() < 4 || !is_postgres_process(to_int(lines[0]))) return s;
    s.running = true;
    s.pid = to_int(lines[0]);
    s.port = to_int(lines[3]);
    std::string password = text::trim(read_text(root_ / "password"));
    if (!password.empty())
        s.url = "postgresql://postgres:" + password + "@127.0.0.1:" + std::to_string(s.port) + "/" +
                percent_encode(opts_.database);
    return s;
}

std::string cluster::url() const {
    state s = status();
    if (!s.running)
        throw usage_error(
            "the local cluster is not running; start it with `moonshift local start`");
    if (s.url.empty())
        throw usage_error(
            "the local cluster's password file " + (root_ / "password").string() + " is missing",
            "`moonshift local reset` makes a new cluster with a new password");
    return s.url;
}

state cluster::start() {
    root_lock lock(root_);
    state s = status();
    if (s.running) return s;
    if (!s.initialized) init();
    launch();
    return status();
}

void cluster::stop() {
    if (!present(root_)) return;
    root_lock lock(root_);
    stop_server();
}

void cluster::reset() {
    root_lock lock(root_);
    stop_server();
    init();
    launch();
}

void cluster::destroy() {
    if (!present(root_)) return;
    {
        root_lock lock(root_);
        stop_server();
        const fs::path data = data_dir();
        fs::remove_all(data);
        if (present(root_ / "datadir")) fs::remove_all(data.parent_path());
    }
    fs::remove_all(root_);
}

void cluster::stop_server() {
    if (!status().running) return;
    const fs::path data = data_dir();
    process_result r =
        run({bin_dir() + "/pg_ctl", "stop", "-w", "-t", "60", "-m", "fast", "-D", data.string()},
            server_account(data));
    if (r.status != 0 && status().running)
        throw failure("pg_ctl could not stop the local PostgreSQL server in " + data.string() +
                      ":\n" + tail(r.output));
}

void cluster::init() {
    const std::string bin = bin_dir();
    std::error_code ec;
    fs::remove_all(data_dir(), ec);  // an earlier, unfinished initdb or a reset
    fs::create_directories(root_);
    const account as = server_account(root_ / "data");
    fs::path data = root_ / "data";
    if (as.switch_user && !can_search(root_, as)) {
        // Root's project lives where the postgres user cannot reach (say under /root, mode 700).
        // Rather than loosen permissions of the user's directories, the data lives in
        // /var/lib/moonshift/<sha-256 of the absolute root path>/data, and <root>/datadir holds
        // that path, which is where status, stop and url look first.
        const fs::path home =
            fs::path("/var/lib/moonshift") / text::sha256_hex(root_.string()).substr(0, 32);
        fs::create_directories(home.parent_path());
        ::chmod(home.parent_path().c_str(), 0755);
        make_server_dir(home, as);
        write_private(home / "project", root_.string() + "\n");  // whose data this is
        data = home / "data";
        write_private(root_ / "datadir", data.string() + "\n");
    } else {
        fs::remove(root_ / "datadir", ec);
    }
    make_server_dir(data, as);

    if (text::trim(read_text(root_ / "password")).empty())
        write_private(root_ / "password", random_password() + "\n");
    // initdb reads the password from a file, which the server's user must be able to read.
    const fs::path password_file = data.parent_path() / ".initdb-password";
    write_private(password_file, text::trim(read_text(root_ / "password")) + "\n");
    if (as.switch_user && ::chown(password_file.c_str(), as.uid, as.gid) != 0)
        throw failure(
            errno_text("cannot hand " + password_file.string() + " to the postgres user"));
    std::vector<std::string> argv = {bin + "/initdb",
                                     "-D",
                                     data.string(),
                                     "-U",
                                     "postgres",
                                     "--pwfile=" + password_file.string(),
                                     "--auth-host=scram-sha-256",
                                     "--auth-local=scram-sha-256",
                                     "--encoding=UTF8",
                                     "--locale=" + initdb_locale()};
    if (!opts_.fsync) argv.push_back("--no-sync");
    process_result r = run(argv, as);
    fs::remove(password_file, ec);
    if (r.status != 0)
        throw failure("initdb failed for the local cluster in " + data.string() + ":\n" +
                      tail(r.output));

    // Also on the command line at every start; here for whoever runs pg_ctl by hand.
    std::ofstream conf(data / "postgresql.conf", std::ios::app);
    conf << "\n# moonshift: a private cluster, reachable from this machine only\n"
            "listen_addresses = '127.0.0.1'\n"
            "unix_socket_directories = ''\n";
    if (!conf) throw failure("cannot write " + (data / "postgresql.conf").string());
}

void cluster::launch() {
    const fs::path data = data_dir();
    const account as = server_account(data);
    const std::string bin = bin_dir();
    const fs::path log = root_ / "server.log";
    int port = to_int(text::trim(read_text(root_ / "port")));  // the last one, if still free
    std::string log_tail;
    // The port is free when chosen but may be taken before the server binds it: then retry.
    for (int attempt = 0; attempt < 5; ++attempt) {
        port = free_port(attempt == 0 ? port : 0);
        std::string settings = "-p " + std::to_string(port) +
                               " -c listen_addresses=127.0.0.1 -c unix_socket_directories=''";
        if (!opts_.fsync)
            settings += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off";
        // Query statistics, as on Supabase: the pg_stat_statements rollback
        // trigger can be tried locally (CREATE EXTENSION pg_stat_statements).
        if (fs::exists(fs::path(bin).parent_path() / "lib" / "pg_stat_statements.so"))
            settings += " -c shared_preload_libraries=pg_stat_statements";
        // The log is opened here, not by pg_ctl -l, so it can stay in the project even when
        // the server's user cannot reach the project (see init).
        int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (log_fd < 0) throw failure(errno_text("cannot open " + log.string()));
        const off_t log_start = ::lseek(log_fd, 0, SEEK_END);
        process_result r =
            run({bin + "/pg_ctl", "start", "-w", "-t", "60", "-D", data.string(), "-o", settings},
                as, log_fd);
        ::close(log_fd);
        if (r.status == 0) {
            write_private(root_ / "port", std::to_string(port) + "\n");
            return;
        }
        const std::string logged = read_text(log);
        log_tail = tail(
            logged.substr(std::min(logged.size(), std::size_t(std::max<off_t>(log_start, 0)))));
        if (log_tail.find("could not bind") == std::string::npos &&
            log_tail.find("already in use") == std::string::npos)
            break;
    }
    throw failure("the local PostgreSQL server did not start; the end of " + log.string() + ":\n" +
                  log_tail);
}

}  // namespace moonshift::local
