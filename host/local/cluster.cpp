// The local cluster's lifecycle: initdb, pg_ctl start and stop, and the small files under the
// root that let a later `moonshift local …` find the server again. It runs the server's
// programs and never talks SQL to the server.
#include "local/cluster.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <locale.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/error.hpp"
#include "common/text.hpp"
#include "local/system.hpp"

namespace moonshift::local {
namespace fs = std::filesystem;
using namespace detail;

namespace {

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
