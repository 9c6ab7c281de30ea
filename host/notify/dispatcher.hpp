// The hook dispatcher: loads the notification hooks of an environment into
// one sandboxed Lua runtime (phase hook: no database writes), completes each
// engine event into the one schema (events.hpp) and delivers it to every
// hook that wants it — on a worker thread, so a slow receiver never holds a
// migration's locks. A failed delivery is a warning recorded in the run's
// report; a `required` hook that failed fails the run (exit 3) once it is
// over, never a migration half-way.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "project/config.hpp"

namespace moonshift::notify {

// A line for people: what a hook printed (output; warning for log.warn and
// log.error), or a delivery that failed.
struct note {
    enum class kind { output, warning, failure } what = kind::output;
    std::string hook;
    std::string message;  // free of every hook's secrets
};

// One call of one handler.
struct delivery {
    std::string hook, event;
    bool ok = true;
    // Nothing was sent: the hook's filter (`on`, a run that changed nothing)
    // or the handler itself (ctx:skip, e.g. only_failures) said so.
    bool skipped = false;
    bool required = false;
    std::string message;  // why it failed or was skipped, free of secrets
    long long duration_ms = 0;
};

struct dispatcher_options {
    project::config cfg;
    project::environment env;
    // Project hooks (the project's hooks/*.lua) get a read-only connection of
    // their own to this database, opened when the first event is delivered;
    // connect = false: none (their db calls then say so).
    std::string url;
    bool connect = true;
    // Called with the lines for people, always on the thread that calls the
    // dispatcher (flush, close_run, send_test, the destructor).
    std::function<void(const note&)> print;
    bool background = true;                   // deliver on a worker thread
    std::chrono::milliseconds budget{30000};  // time budget of one handler call unless [lua] hook
};

class dispatcher {
  public:
    // Loads every hook in effect for the environment. Throws usage errors
    // (exit 2) naming the file: an unknown hook, an unknown event name, a
    // handler the configured events do not have, a Lua error while loading.
    explicit dispatcher(dispatcher_options o);
    ~dispatcher();  // delivers what is still queued, then prints
    dispatcher(const dispatcher&) = delete;
    dispatcher& operator=(const dispatcher&) = delete;

    struct hook_info {
        std::string name, label;
        bool required = false;
        std::vector<std::string> events;  // the events it receives
    };
    std::vector<hook_info> hooks() const;
    bool empty() const;

    // Completes the engine's event and queues it for the hooks that want it.
    void on_event(const engine::event& e);
    // Prints the lines gathered so far.
    void flush();
    // Waits until every queued event is delivered.
    void wait();
    // When a run is over (after run.finish): waits, prints, and adds
    // report["notifications"]. Throws error(check_failed) when a required
    // hook failed and the run's outcome was "ok".
    void close_run(const std::string& outcome, nlohmann::json& report);

    // `moonshift notify test`: a made-up event to every hook, or to the one
    // named — run.finish when it handles that, else its first event.
    std::vector<delivery> send_test(const std::string& only = {});

    struct impl;

  private:
    std::unique_ptr<impl> impl_;
};

}  // namespace moonshift::notify
