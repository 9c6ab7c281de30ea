// SIGINT and SIGTERM ask a run to stop; SIGPIPE never ends one. The handler
// only records the signal and calls one async-signal-safe hook (db/ cancels
// the server statement with it); the statements that follow are refused
// until the cleanup (rollback, the run's row, the lock) begins.
#pragma once

namespace moonshift::interrupt {

// SIGINT and SIGTERM caught, SIGPIPE ignored: the CLI calls it once. A
// second SIGINT or SIGTERM while the first is handled exits at once (the
// server rolls back and releases what a closed connection held).
void install();

// The signal that asked to stop (SIGINT, SIGTERM), or 0.
int received() noexcept;

// A signal arrived and no cleanup is under way: no new statement may start.
bool stop_requested() noexcept;

// "interrupted by SIGINT": the message of the error that stops a run.
const char* describe() noexcept;

// The exit code of a run stopped by `signal`: 128 + its number (130, 143).
inline int exit_status(int signal) { return 128 + signal; }

// The hook the handler calls after recording the signal; it must be
// async-signal-safe (PQcancel is). One hook: set by db/ on first use.
using hook = void (*)() noexcept;
void set_hook(hook h) noexcept;

// While one is alive, statements run even after a signal: the cleanup of a
// stopped run (its row finished, the lock released).
class cleanup {
  public:
    cleanup() noexcept;
    ~cleanup();
    cleanup(const cleanup&) = delete;
    cleanup& operator=(const cleanup&) = delete;
};

}  // namespace moonshift::interrupt
