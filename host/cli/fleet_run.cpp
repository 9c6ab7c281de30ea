// The targets of a fleet as child processes: each one a plain `moonshift
// up` (status, plan, down) with its own connection, history and lock, its URL
// in MOONSHIFT_URL (never on a command line, where ps shows it), its
// notification hooks off (the fleet tells them once a wave), and SIGTERM if
// the fleet dies before it does (a kill -9 of the fleet stops its targets
// cleanly: the open transaction rolled back, the run recorded interrupted).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "cli/fleet.hpp"
#include "common/error.hpp"
#include "common/interrupt.hpp"
#include "common/text.hpp"

namespace moonshift::cli::fleet {
namespace {

struct spawned {
    pid_t pid = -1;
    int out = -1, err = -1;
};

spawned spawn(const launch& l, const std::vector<std::string>& args,
              const engine::fleet_target& t) {
    std::vector<std::string> argv = {l.exe};
    argv.insert(argv.end(), args.begin(), args.end());
    if (l.json) argv.push_back("--json");
    argv.insert(argv.end(), {"--no-color", "--config", l.config});
    if (!l.env.empty()) argv.insert(argv.end(), {"--env", l.env});
    if (!l.migrations_dir.empty()) argv.insert(argv.end(), {"--migrations-dir", l.migrations_dir});
    if (l.yes) argv.push_back("--yes");
    // The fleet sets the URL; the fleet's own output settings are not the child's.
    const exec_args child(std::move(argv),
                          {"MOONSHIFT_URL=", "MOONSHIFT_ENV=", "MOONSHIFT_JSON=",
                           "MOONSHIFT_REPORT=", "MOONSHIFT_QUIET=", "MOONSHIFT_VERBOSE=",
                           "MOONSHIFT_CONFIG=", "MOONSHIFT_FLEET_TARGET=", "DATABASE_URL="},
                          {"MOONSHIFT_URL=" + t.url, "MOONSHIFT_FLEET_TARGET=" + t.name});
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0) throw error(exit_code::migration_failed, "fleet: pipe failed");
    if (pipe2(err, O_CLOEXEC) != 0) {
        close(out[0]);
        close(out[1]);
        throw error(exit_code::migration_failed, "fleet: pipe failed");
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        // Only async-signal-safe calls until exec.
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(143);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        execve(child.argv()[0], child.argv(), child.envp());
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    if (pid < 0) {
        close(out[0]);
        close(err[0]);
        throw error(exit_code::migration_failed, "fleet: cannot start a child process");
    }
    return {pid, out[0], err[0]};
}

// Reads both pipes to their end; on a signal to the fleet, SIGTERM to the child (once).
child_result collect(spawned s) {
    auto t0 = std::chrono::steady_clock::now();
    std::string out, err;
    bool forwarded = false;
    pollfd fds[2] = {{s.out, POLLIN, 0}, {s.err, POLLIN, 0}};
    int open_fds = 2;
    char buf[65536];
    while (open_fds > 0) {
        int n = poll(fds, 2, 200);
        if (interrupt::received() && !forwarded) {
            kill(s.pid, SIGTERM);
            forwarded = true;
        }
        if (n <= 0) continue;
        for (auto& f : fds) {
            if (f.fd < 0 || !(f.revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t got = read(f.fd, buf, sizeof buf);
            if (got > 0) {
                (f.fd == s.out ? out : err).append(buf, static_cast<std::size_t>(got));
            } else if (got == 0 || errno != EINTR) {
                close(f.fd);
                f.fd = -1;
                --open_fds;
            }
        }
    }
    int status = 0;
    while (waitpid(s.pid, &status, 0) < 0 && errno == EINTR) {
    }
    child_result r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.duration_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    // The last line that is JSON: the command's result, or its error.
    std::size_t end = out.size();
    while (end > 0) {
        std::size_t begin = out.rfind('\n', end - 1);
        begin = begin == std::string::npos ? 0 : begin + 1;
        auto j = begin < end && out[begin] == '{'
                     ? nlohmann::json::parse(out.substr(begin, end - begin), nullptr, false)
                     : nlohmann::json();
        if (!j.is_discarded() && j.is_object()) {
            r.last = j;
            break;
        }
        end = begin == 0 ? 0 : begin - 1;
    }
    r.out = std::move(out);
    if (r.exit_code != 0) {
        if (r.last.is_object() && r.last.contains("error"))
            r.error = r.last.value("error", "");
        else
            r.error = text::trim(err).empty() ? "exit code " + std::to_string(r.exit_code)
                                              : text::trim(err);
        r.error = text::redact(r.error);
    }
    return r;
}

}  // namespace

void run_targets(const launch& l, const std::vector<engine::fleet_target>& targets,
                 const std::vector<std::size_t>& which, const std::vector<std::string>& args,
                 const on_done& done, const std::function<void(std::size_t)>& started) {
    std::mutex m;
    std::condition_variable cv;
    std::vector<bool> taken(which.size(), false);
    std::map<std::string, int> running;  // per server
    bool stop = false;
    std::size_t left = which.size();
    // The next target whose server has room, in list order; none: wait.
    auto next = [&](std::unique_lock<std::mutex>& lock) -> std::optional<std::size_t> {
        for (;;) {
            if (stop || left == 0 || interrupt::received()) return std::nullopt;
            for (std::size_t k = 0; k < which.size(); ++k) {
                if (taken[k]) continue;
                const auto& t = targets[which[k]];
                if (running[t.server] >= l.per_server) continue;
                taken[k] = true;
                --left;
                ++running[t.server];
                return which[k];
            }
            cv.wait_for(lock, std::chrono::milliseconds(200));
        }
    };
    auto worker = [&] {
        std::unique_lock<std::mutex> lock(m);
        while (auto i = next(lock)) {
            if (started) started(*i);
            lock.unlock();
            child_result r;
            try {
                r = collect(spawn(l, args, targets[*i]));
            } catch (const error& e) {
                r.exit_code = static_cast<int>(e.code());
                r.error = e.what();
            }
            lock.lock();
            --running[targets[*i].server];
            if (!done(*i, r)) stop = true;
            cv.notify_all();
        }
    };
    std::size_t n =
        std::min<std::size_t>(static_cast<std::size_t>(std::max(1, l.jobs)), which.size());
    std::vector<std::thread> pool;
    for (std::size_t k = 0; k < n; ++k) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
}

}  // namespace moonshift::cli::fleet
