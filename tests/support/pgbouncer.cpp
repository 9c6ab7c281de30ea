// PgBouncer for the pooler tests (pgbouncer.hpp).
#include "support/pgbouncer.hpp"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <stdexcept>
#include <thread>

namespace moonshift::test {
namespace fs = std::filesystem;

namespace {

const char* const program = "/usr/sbin/pgbouncer";

// A TCP port on 127.0.0.1 that nothing listens on right now.
int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        throw std::runtime_error("no free port for pgbouncer");
    ::close(fd);
    return ntohs(a.sin_port);
}

bool listening(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    if (fd >= 0) ::close(fd);
    return ok;
}

std::map<std::string, std::string> keywords(const std::string& url) {
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
    if (!opts) {
        if (err) PQfreemem(err);
        throw std::runtime_error("pgbouncer: the test server's URL does not parse");
    }
    std::map<std::string, std::string> out;
    for (auto* o = opts; o->keyword; ++o)
        if (o->val) out[o->keyword] = o->val;
    PQconninfoFree(opts);
    return out;
}

// PgBouncer will not run as root; as root the harness runs it as `postgres`,
// the user the test server runs as too (host/local/system.cpp).
const passwd* run_as() { return ::geteuid() == 0 ? ::getpwnam("postgres") : nullptr; }

}  // namespace

std::string pgbouncer_missing() {
    if (::access(program, X_OK) != 0)
        return "no /usr/sbin/pgbouncer (the Debian package pgbouncer; tools/install-deps installs "
               "it)";
    if (::geteuid() == 0 && !run_as())
        return "running as root, and there is no `postgres` user to run pgbouncer as";
    return "";
}

pgbouncer::pgbouncer(const std::string& server_url) {
    auto k = keywords(server_url);
    auto get = [&](const char* key, const char* fallback) {
        auto it = k.find(key);
        return it == k.end() || it->second.empty() ? std::string(fallback) : it->second;
    };
    user = get("user", "postgres");
    port = free_port();
    const fs::path sock = dir.path / "sock";
    fs::create_directories(sock);
    // The password to the server stays in this file (mode 0600), never on a command line.
    write_file(dir.path / "users.txt", "\"" + user + "\" \"\"\n");
    write_file(dir.path / "pgbouncer.ini",
               "[databases]\n* = host=" + get("host", "127.0.0.1") +
                   " port=" + get("port", "5432") + " user=" + user +
                   (k.count("password") ? " password=" + k["password"] : "") +
                   "\n\n[pgbouncer]\n"
                   "listen_addr = 127.0.0.1\nlisten_port = " +
                   std::to_string(port) + "\nunix_socket_dir = " + sock.string() +
                   "\nauth_type = trust\nauth_file = " + (dir.path / "users.txt").string() +
                   "\npool_mode = transaction\ndefault_pool_size = 4\nmax_client_conn = 100\n"
                   "admin_users =\nstats_users =\nlogfile = " +
                   (dir.path / "pgbouncer.log").string() + "\n");
    ::chmod((dir.path / "pgbouncer.ini").c_str(), 0600);
    std::vector<std::string> args = {"-q"};
    if (const passwd* pw = run_as()) {
        for (const auto& p : {dir.path, sock, dir.path / "users.txt", dir.path / "pgbouncer.ini"})
            if (::chown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0)
                throw std::runtime_error("pgbouncer: cannot hand " + p.string() + " to postgres");
        args.insert(args.end(), {"-u", "postgres"});
    }
    args.push_back((dir.path / "pgbouncer.ini").string());
    process = spawn_program(program, args, dir.path, {}, std::chrono::seconds(3600));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (!listening(port)) {
        if (std::chrono::steady_clock::now() > deadline || ::kill(process.pid, 0) != 0)
            throw std::runtime_error("pgbouncer did not start on port " + std::to_string(port) +
                                     ": " + log());
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

pgbouncer::~pgbouncer() {
    if (process.pid > 0 && !process.waited) {
        ::kill(process.pid, SIGTERM);
        process.wait();
    }
}

std::string pgbouncer::url(const std::string& dbname) const {
    return "postgresql://" + user + "@127.0.0.1:" + std::to_string(port) + "/" + dbname;
}

std::string pgbouncer::log() const { return read_file(dir.path / "pgbouncer.log"); }

}  // namespace moonshift::test
