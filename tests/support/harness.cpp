// The test module's main, its one global fixture, and the helpers of harness.hpp. Everything a
// test run creates lives under one run directory (/tmp/moonshift-tests-XXXXXX): the private
// server and every temp_dir. A watchdog process removes it, stopping any cluster inside, when
// the run ends in any way — also by SIGINT, SIGKILL or abort().
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_MODULE moonshift
#include "support/harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <pqxx/pqxx>
#include <sstream>
#include <utility>

#include "local/cluster.hpp"

extern char** environ;

namespace moonshift::test {
namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

struct test_run {
    fs::path dir;              // the run directory
    std::string external_url;  // $MOONSHIFT_TEST_URL
    std::unique_ptr<local::cluster> cluster;
    std::string url;
    std::string start_error;  // a failed start is not retried by every test
    pid_t watchdog = -1;
    int watchdog_pipe = -1;  // its read end sees EOF when this process ends
};

test_run& run() {
    static test_run r;
    return r;
}

local::options test_cluster_options() {
    local::options o;
    o.fsync = false;
    return o;
}

fs::path make_dir(const fs::path& parent, const std::string& prefix) {
    std::string pattern = (parent / (prefix + "XXXXXX")).string();
    if (!::mkdtemp(pattern.data()))
        throw std::runtime_error("cannot create a directory in " + parent.string() + ": " +
                                 std::strerror(errno));
    ::chmod(pattern.c_str(), 0755);  // see temp_dir
    return pattern;
}

// Stops and removes every local cluster under dir: a directory with a password file and data
// (or a datadir pointer) is the root of one.
void destroy_clusters_under(const fs::path& dir) {
    std::error_code ec;
    std::vector<fs::path> roots;
    for (fs::recursive_directory_iterator
             it(dir, fs::directory_options::skip_permission_denied, ec),
         end;
         it != end; it.increment(ec)) {
        if (ec) break;
        const fs::path p = it->path();
        if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
        if (fs::exists(p / "password", ec) &&
            (fs::exists(p / "data", ec) || fs::exists(p / "datadir", ec))) {
            roots.push_back(p);
            it.disable_recursion_pending();
        }
    }
    for (const auto& root : roots) {
        try {
            local::cluster(root, test_cluster_options()).destroy();
        } catch (const std::exception& e) {
            std::cerr << "moonshift tests: could not remove the cluster in " << root << ": "
                      << e.what() << "\n";
        }
    }
}

void remove_run_dir(const fs::path& dir) {
    if (dir.empty()) return;
    destroy_clusters_under(dir);
    std::error_code ec;
    fs::remove_all(dir, ec);
}

// The watchdog (a forked child): waits until the test process is gone, then cleans up after it.
[[noreturn]] void watch(const fs::path& dir, int pipe_read) {
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::signal(sig, SIG_IGN);
    for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGCHLD}) ::signal(sig, SIG_DFL);
    int devnull = ::open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3; ++fd) ::dup2(devnull, fd);
    for (int fd = 3; fd < 1024; ++fd)
        if (fd != pipe_read) ::close(fd);
    for (char c;;)
        if (::read(pipe_read, &c, 1) >= 0 || errno != EINTR) break;
    remove_run_dir(dir);
    _exit(0);
}

struct global_fixture {
    global_fixture() {
        test_run& r = run();
        if (const char* url = std::getenv("MOONSHIFT_TEST_URL"); url && *url) r.external_url = url;
        r.dir = make_dir(fs::temp_directory_path(), "moonshift-tests-");
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
        std::cout.flush();
        std::cerr.flush();
        const pid_t pid = ::fork();
        if (pid < 0) throw std::runtime_error("fork failed");
        if (pid == 0) {
            ::close(fds[1]);
            watch(r.dir, fds[0]);
        }
        ::close(fds[0]);
        r.watchdog = pid;
        r.watchdog_pipe = fds[1];
    }

    ~global_fixture() {
        test_run& r = run();
        try {
            if (r.cluster) r.cluster->destroy();
        } catch (const std::exception& e) {
            std::cerr << "moonshift tests: could not stop the test server: " << e.what() << "\n";
        }
        remove_run_dir(r.dir);
        ::close(r.watchdog_pipe);
        int status;
        while (::waitpid(r.watchdog, &status, 0) < 0 && errno == EINTR) {
        }
    }
};

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

// The child's environment: ours without connection settings, then the test's changes.
std::vector<std::string> child_environment(const env_changes& changes) {
    std::map<std::string, std::string> vars;
    for (char** e = environ; *e; ++e) {
        std::string entry = *e;
        const auto eq = entry.find('=');
        if (eq == std::string::npos) continue;
        std::string name = entry.substr(0, eq);
        if (name == "DATABASE_URL" || name.rfind("PG", 0) == 0 || name.rfind("MOONSHIFT_", 0) == 0)
            continue;
        vars[name] = entry.substr(eq + 1);
    }
    // The summary cache of `status` (catalog/summary.cpp) in the run's directory, not in the
    // home of whoever runs the tests.
    if (!run().dir.empty()) vars["XDG_CACHE_HOME"] = (run().dir / "cache").string();
    for (const auto& [name, value] : changes) {
        if (value)
            vars[name] = *value;
        else
            vars.erase(name);
    }
    std::vector<std::string> out;
    for (const auto& [name, value] : vars) out.push_back(name + "=" + value);
    return out;
}

std::string describe(const std::string& program, const std::vector<std::string>& args) {
    std::string s = program;
    for (const auto& a : args) s += " " + a;
    return s;
}

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(global_fixture);

std::string server_url() {
    test_run& r = run();
    if (!r.external_url.empty()) return r.external_url;
    if (!r.url.empty()) return r.url;
    if (!r.start_error.empty()) throw std::runtime_error(r.start_error);
    if (r.dir.empty()) throw std::logic_error("server_url() called outside the test run");
    try {
        const auto started = steady_clock::now();
        r.cluster = std::make_unique<local::cluster>(r.dir / "server", test_cluster_options());
        r.url = r.cluster->start().url;
        BOOST_TEST_MESSAGE("test server: a private PostgreSQL cluster, started in "
                           << duration_cast<milliseconds>(steady_clock::now() - started).count()
                           << " ms");
    } catch (const std::exception& e) {
        r.start_error = std::string("the test server did not start: ") + e.what();
        throw std::runtime_error(r.start_error);
    }
    return r.url;
}

std::string url_as_role(const std::string& url, const std::string& role, const std::string& pw) {
    if (url.find("://") == std::string::npos) return url + " user=" + role + " password=" + pw;
    return url + (url.find('?') == std::string::npos ? "?" : "&") + "user=" + role +
           "&password=" + pw;
}

void run_sql(const std::string& url, const std::string& sql) {
    pqxx::connection c(url);
    pqxx::nontransaction tx(c);
    tx.exec(sql);
}

std::string url_for(const std::string& dbname) {
    const std::string base = server_url();
    const auto scheme = base.find("://");
    if (scheme == std::string::npos) {  // a keyword string: a later dbname wins
        std::string quoted;
        for (char c : dbname) {
            if (c == '\'' || c == '\\') quoted += '\\';
            quoted += c;
        }
        return base + " dbname='" + quoted + "'";
    }
    const auto query = base.find('?', scheme + 3);
    std::string head = base.substr(0, query);
    const std::string params = query == std::string::npos ? "" : base.substr(query);
    if (const auto slash = head.find('/', scheme + 3); slash != std::string::npos)
        head.erase(slash);
    return head + "/" + percent_encode(dbname) + params;
}

fresh_db::fresh_db() {
    static std::atomic<int> counter{0};
    name = "moonshift_test_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
    pqxx::connection conn(server_url());
    pqxx::nontransaction tx(conn);
    tx.exec0("CREATE DATABASE " + tx.quote_name(name) + " TEMPLATE template0");
    url = url_for(name);
}

fresh_db::~fresh_db() {
    try {
        pqxx::connection conn(server_url());
        pqxx::nontransaction tx(conn);
        tx.exec0("DROP DATABASE IF EXISTS " + tx.quote_name(name) + " WITH (FORCE)");
    } catch (const std::exception& e) {
        BOOST_TEST_MESSAGE("could not drop test database " << name << ": " << e.what());
    }
}

temp_dir::temp_dir() {
    const fs::path& run_dir = run().dir;
    path = make_dir(run_dir.empty() ? fs::temp_directory_path() : run_dir, "tmp-");
}

temp_dir::~temp_dir() {
    destroy_clusters_under(path);
    std::error_code ec;
    fs::remove_all(path, ec);
}

child spawn_program(const std::string& program, const std::vector<std::string>& args,
                    const fs::path& cwd, const env_changes& env, seconds timeout) {
    std::vector<std::string> argv_text{program};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<std::string> env_text = child_environment(env);
    std::vector<char*> argv, envp;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_text) envp.push_back(e.data());
    envp.push_back(nullptr);
    const std::string dir = cwd.string();

    int out[2], err[2];
    const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
        throw std::runtime_error("cannot create pipes: " + std::string(std::strerror(errno)));
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed: " + std::string(std::strerror(errno)));
    if (pid == 0) {
        ::setpgid(0, 0);
        ::dup2(devnull, 0);
        ::dup2(out[1], 1);
        ::dup2(err[1], 2);
        const char* why = "harness: cannot change to the working directory\n";
        if (::chdir(dir.c_str()) == 0) {
            ::execve(argv[0], argv.data(), envp.data());
            why = "harness: cannot execute the program\n";
        }
        if (::write(2, why, std::strlen(why)) < 0) _exit(127);
        _exit(127);
    }
    ::setpgid(pid, pid);  // also here, so the group exists before anyone kills it
    ::close(devnull);
    ::close(out[1]);
    ::close(err[1]);
    child c;
    c.pid = pid;
    c.out_fd = out[0];
    c.err_fd = err[0];
    c.deadline = steady_clock::now() + timeout;
    c.command = describe(program, args);
    return c;
}

cli_result run_program(const std::string& program, const std::vector<std::string>& args,
                       const fs::path& cwd, const env_changes& env, seconds timeout) {
    return spawn_program(program, args, cwd, env, timeout).wait();
}

std::string why_no_strace() {
    if (access("/usr/bin/strace", X_OK) != 0) return "needs strace (apt-get install strace)";
    temp_dir d;
    auto r = run_program("/usr/bin/strace", {"-o", "/dev/null", "/bin/true"}, d.path);
    return r.exit_code == 0 ? "" : "strace cannot trace on this machine: " + r.err;
}

child spawn_cli(const std::vector<std::string>& args, const fs::path& cwd, const env_changes& env,
                seconds timeout) {
    return spawn_program(MOONSHIFT_BIN, args, cwd, env, timeout);
}

cli_result run_cli(const std::vector<std::string>& args, const fs::path& cwd,
                   const env_changes& env, seconds timeout) {
    return spawn_cli(args, cwd, env, timeout).wait();
}

child::child(child&& other) noexcept { *this = std::move(other); }

child& child::operator=(child&& other) noexcept {
    if (this != &other) {
        discard();
        pid = std::exchange(other.pid, -1);
        out_fd = std::exchange(other.out_fd, -1);
        err_fd = std::exchange(other.err_fd, -1);
        deadline = other.deadline;
        command = std::move(other.command);
        waited = std::exchange(other.waited, false);
    }
    return *this;
}

child::~child() { discard(); }

void child::discard() noexcept {
    if (pid > 0 && !waited) {
        ::kill(-pid, SIGKILL);
        ::kill(pid, SIGKILL);
        int status;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    pid = -1;
    waited = false;
    close_fd(out_fd);
    close_fd(err_fd);
}

cli_result child::wait() {
    BOOST_REQUIRE_MESSAGE(pid > 0 && !waited, "wait() on a child that is not running");
    cli_result result;
    int* fds[2] = {&out_fd, &err_fd};
    std::string* into[2] = {&result.out, &result.err};
    auto read_some = [&](int i) {
        char buf[65536];
        const ssize_t n = ::read(*fds[i], buf, sizeof buf);
        if (n > 0)
            into[i]->append(buf, std::size_t(n));
        else if (n == 0 || (errno != EINTR && errno != EAGAIN))
            close_fd(*fds[i]);
        return n > 0;
    };
    int status = 0;
    for (;;) {
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            // What it wrote is in the pipes; a grandchild may hold them open, so do not wait
            // for their end.
            for (int i = 0; i < 2; ++i) {
                if (*fds[i] < 0) continue;
                ::fcntl(*fds[i], F_SETFL, ::fcntl(*fds[i], F_GETFL) | O_NONBLOCK);
                while (read_some(i)) {
                }
                close_fd(*fds[i]);
            }
            break;
        }
        const auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
        if (left <= 0) {
            ::kill(-pid, SIGKILL);
            ::kill(pid, SIGKILL);
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            waited = true;
            close_fd(out_fd);
            close_fd(err_fd);
            BOOST_FAIL(command << " did not finish in time and was killed\nstdout:\n"
                               << result.out << "\nstderr:\n"
                               << result.err);
        }
        pollfd polled[2];
        int which[2];
        nfds_t n = 0;
        for (int i = 0; i < 2; ++i) {
            if (*fds[i] < 0) continue;
            polled[n] = {*fds[i], POLLIN, 0};
            which[n++] = i;
        }
        // Both pipes closed: only the exit is left to wait for.
        const int ms = int(std::min<long long>(left, n ? 50 : 5));
        if (::poll(polled, n, ms) > 0)
            for (nfds_t k = 0; k < n; ++k)
                if (polled[k].revents) read_some(which[k]);
    }
    waited = true;
    if (WIFSIGNALED(status)) {
        result.term_signal = WTERMSIG(status);
        result.exit_code = 128 + result.term_signal;
    } else {
        result.exit_code = WEXITSTATUS(status);
    }
    return result;
}

void write_file(const fs::path& p, const std::string& content) {
    if (p.has_parent_path()) fs::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (!out) throw std::runtime_error("cannot write " + p.string());
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + p.string());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace moonshift::test
