// Loading hooks, the delivery queue and its worker, and what a run's report
// says about its notifications.
#include "notify/dispatcher.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "common/text.hpp"
#include "db/session.hpp"
#include "lua/runtime.hpp"
#include "net/http.hpp"
#include "notify/events.hpp"
#include "notify/origin.hpp"
#include "notify/settings.hpp"

namespace moonshift::notify {
namespace {

using nlohmann::json;

const std::vector<lua::field>& handler_fields() {
    static const std::vector<lua::field> fields = [] {
        std::vector<lua::field> f;
        for (const auto& n : event_names()) f.push_back({n, lua::value_type::function});
        f.push_back({"*", lua::value_type::function});  // every event without a handler of its own
        return f;
    }();
    return fields;
}

constexpr std::size_t max_failures_in_report = 20;

}  // namespace

struct loaded_hook {
    loaded_hook(hook_config c, lua::script s) : cfg(std::move(c)), script(std::move(s)) {}
    hook_config cfg;
    lua::script script;
    bool wildcard = false;
    std::set<std::string> handled;
    std::vector<std::string> events;  // what it receives, in lifecycle order

    bool receives(const std::string& event) const {
        if (std::find(events.begin(), events.end(), event) != events.end()) return true;
        // Names this host version does not know yet reach catch-all handlers.
        return wildcard && !cfg.events && !cfg.on && !is_event(event);
    }

    bool listed_in_on(const std::string& word) const {
        return cfg.on && std::find(cfg.on->begin(), cfg.on->end(), word) != cfg.on->end();
    }

    // Whether this complete event reaches the hook; `quiet`: it belongs to a
    // run that changed nothing, which only `unchanged = true` or `on =
    // ["always"]` hear about.
    bool wants(const json& ev, bool quiet) const {
        std::string name = ev.value("event", "");
        if (!receives(name)) return false;
        if (quiet && !cfg.unchanged && !listed_in_on("always")) return false;
        if (!cfg.on || listed_in_on(name)) return true;
        return name == "run.finish" &&
               std::any_of(cfg.on->begin(), cfg.on->end(),
                           [&](const auto& c) { return !is_event(c) && run_meets(c, ev); });
    }

    std::string filter_text() const {
        std::string list;
        for (const auto& w : *cfg.on) list += (list.empty() ? "\"" : ", \"") + w + "\"";
        return "filtered: on = [" + list + "]";
    }
};

struct dispatcher::impl {
    dispatcher_options opts;
    std::unique_ptr<db::session> session;
    std::unique_ptr<lua::runtime> rt;
    std::vector<loaded_hook> hooks;
    std::vector<std::string> secrets;
    std::optional<run_state> state;

    struct item {
        json event;
        int only = -1;       // one hook (notify test), or -1: every hook that receives it
        bool quiet = false;  // an event of a run that changed nothing
    };
    // A run's first events wait here until the run is seen to change
    // something (or ends having changed nothing: then only the hooks that
    // want such runs get them).
    std::vector<json> held;
    bool holding = false;
    std::mutex m;
    std::condition_variable wake, idle;
    std::deque<item> queue;
    bool busy = false, stopping = false;
    std::vector<note> notes;
    std::vector<delivery> deliveries;
    std::string calling;  // the hook whose handler runs (worker only)
    std::thread worker;
    // The project's hooks read the database through a connection of their
    // own, opened when the first event is delivered (so `status` opens none,
    // and a run never waits for it): the hooks are then loaded again into a
    // runtime that has it.
    bool needs_db = false;

    // [lua] hook of moonshift.toml, else the option's default.
    std::chrono::milliseconds budget() const { return opts.cfg.lua_budget("hook", opts.budget); }

    lua::options lua_options() {
        lua::options lo;
        lo.project_root = opts.cfg.root;
        lo.env_name = opts.env.name;
        lo.variables = project::variables(opts.cfg, opts.env);
        lo.http_allow_hosts = opts.cfg.http_allow_hosts;
        lo.memory_limit = static_cast<std::size_t>(opts.cfg.lua_memory);
        lo.load_budget = opts.cfg.lua_budget("load", lo.load_budget);
        lo.log = [this](const lua::log_line& l) {
            if (l.level == "debug") return;
            bool warning = l.level == "warn" || l.level == "error";
            add_note(warning ? note::kind::warning : note::kind::output, calling,
                     warning ? "hook \"" + calling + "\": " + l.message : l.message);
        };
        return lo;
    }

    void attach_database() {
        needs_db = false;
        db::settings s;
        s.url = opts.url;
        s.lock_timeout = std::chrono::seconds(5);  // never wait long behind a migration's locks
        s.statement_timeout = std::chrono::seconds(30);
        try {
            session = std::make_unique<db::session>(s);
            auto fresh = std::make_unique<lua::runtime>(session.get(), lua_options());
            fresh->set_deadline(budget());
            for (auto& h : hooks)
                h.script = fresh->load(h.cfg.label, h.cfg.source, handler_fields());
            rt = std::move(fresh);
        } catch (const std::exception& e) {
            add_note(
                note::kind::warning, "",
                std::string("the project's hooks run without a database connection: ") + e.what());
        }
    }

    std::string scrub(const std::string& s) const { return net::detail::scrub(s, secrets); }

    void add_note(note::kind k, const std::string& hook, const std::string& message) {
        std::lock_guard<std::mutex> lk(m);
        notes.push_back({k, hook, scrub(message)});
    }

    void call(loaded_hook& h, const json& event) {
        std::string name = event.value("event", "");
        json data = event;
        data["hook"] = h.cfg.name;
        data["settings"] = h.cfg.settings;
        delivery d;
        d.hook = h.cfg.name;
        d.event = name;
        d.required = h.cfg.required;
        auto t0 = std::chrono::steady_clock::now();
        calling = h.cfg.name;
        try {
            auto o = rt->run_hook(h.script, h.handled.count(name) ? name : "*", data);
            if (o.skipped) {
                d.skipped = true;
                d.message = scrub(o.skip_reason);
            }
        } catch (const std::exception& e) {
            d.ok = false;
            d.message = scrub(e.what());
        } catch (...) {
            d.ok = false;
            d.message = "the handler failed with an unknown error";
        }
        calling.clear();
        d.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - t0)
                            .count();
        std::lock_guard<std::mutex> lk(m);
        if (!d.ok)
            notes.push_back({note::kind::failure, d.hook,
                             "notification hook \"" + d.hook + "\" failed on " + d.event + ": " +
                                 d.message +
                                 (d.required ? " (the hook is required: the run will fail)"
                                             : " (a warning: the run is not affected)")});
        deliveries.push_back(std::move(d));
    }

    void deliver(const item& it) {
        if (needs_db) attach_database();
        if (it.only >= 0) {
            auto& h = hooks[static_cast<std::size_t>(it.only)];
            if (h.cfg.on && !h.wants(it.event, false)) {
                std::lock_guard<std::mutex> lk(m);
                deliveries.push_back({h.cfg.name, it.event.value("event", ""), true, true,
                                      h.cfg.required, h.filter_text(), 0});
                return;
            }
            call(h, it.event);
            return;
        }
        for (auto& h : hooks)
            if (h.wants(it.event, it.quiet)) call(h, it.event);
    }

    void run_worker() {
        std::unique_lock<std::mutex> lk(m);
        for (;;) {
            wake.wait(lk, [&] { return stopping || !queue.empty(); });
            if (queue.empty()) return;  // stopping, and everything delivered
            item it = std::move(queue.front());
            queue.pop_front();
            busy = true;
            lk.unlock();
            deliver(it);
            lk.lock();
            busy = false;
            idle.notify_all();
        }
    }

    void enqueue(item it) {
        if (!worker.joinable()) {
            deliver(it);
            return;
        }
        {
            std::lock_guard<std::mutex> lk(m);
            queue.push_back(std::move(it));
        }
        wake.notify_one();
    }

    void wait() {
        std::unique_lock<std::mutex> lk(m);
        idle.wait(lk, [&] { return queue.empty() && !busy; });
    }

    void flush() {
        std::vector<note> out;
        {
            std::lock_guard<std::mutex> lk(m);
            out.swap(notes);
        }
        if (opts.print)
            for (const auto& n : out) opts.print(n);
    }

    void load(hook_config cfg) {
        auto script = [&] {
            try {
                return rt->load(cfg.label, cfg.source, handler_fields());
            } catch (const lua::script_error& e) {
                throw usage_error(
                    "notification hook \"" + cfg.name + "\" (" + cfg.where +
                        ") cannot be loaded: " + scrub(e.what()),
                    "a hook returns a table of handlers named after events (docs/hooks.md)");
            }
        }();
        loaded_hook h(cfg, std::move(script));
        h.wildcard = h.script.has("*");
        for (const auto& n : event_names())
            if (h.script.has(n)) h.handled.insert(n);
        if (h.handled.empty() && !h.wildcard)
            throw usage_error(cfg.label + ": the hook has no handlers",
                              "return a table like { [\"run.finish\"] = function(ev, ctx) ... end "
                              "} (docs/hooks.md)");
        // `on` names events and runs; a run is heard about in its run.finish.
        auto wanted = cfg.events;
        if (cfg.on) {
            wanted.emplace();
            for (const auto& w : *cfg.on)
                if (is_event(w)) wanted->push_back(w);
            if (std::any_of(cfg.on->begin(), cfg.on->end(),
                            [](const std::string& w) { return !is_event(w); }) &&
                std::find(wanted->begin(), wanted->end(), "run.finish") == wanted->end())
                wanted->push_back("run.finish");
        }
        if (wanted) {
            for (const auto& ev : *wanted) {
                if (!h.wildcard && !h.handled.count(ev)) {
                    std::string has;
                    for (const auto& n : h.handled) has += (has.empty() ? "" : ", ") + n;
                    std::string file = opts.cfg.file.empty() ? "moonshift.toml"
                                                             : opts.cfg.file.filename().string();
                    throw usage_error(file + ":" + std::to_string(cfg.events_line) +
                                          ": notification hook \"" + cfg.name + "\" (" + cfg.label +
                                          ") has no handler for \"" + ev + "\"",
                                      "it handles: " + has);
                }
            }
            for (const auto& n : event_names())
                if (std::find(wanted->begin(), wanted->end(), n) != wanted->end())
                    h.events.push_back(n);
        } else {
            for (const auto& n : event_names())
                if (h.wildcard || h.handled.count(n)) h.events.push_back(n);
        }
        hooks.push_back(std::move(h));
    }
};

dispatcher::dispatcher(dispatcher_options o) : impl_(std::make_unique<impl>()) {
    impl& d = *impl_;
    d.opts = std::move(o);
    auto configs = hooks_for(d.opts.cfg, d.opts.env);
    if (configs.empty()) return;
    for (const auto& c : configs)
        d.secrets.insert(d.secrets.end(), c.secrets.begin(), c.secrets.end());

    // Only the project's own hooks may read the database; the built-in ones never do.
    d.needs_db = d.opts.connect && std::any_of(configs.begin(), configs.end(),
                                               [](const hook_config& c) { return !c.builtin; });
    // Loaded here, before anything runs, so that a broken hook stops the command at once.
    d.rt = std::make_unique<lua::runtime>(nullptr, d.lua_options());
    d.rt->set_deadline(d.budget());
    for (auto& c : configs) d.load(std::move(c));
    d.state.emplace(d.opts.env.name, detect_origin(d.opts.cfg.root));
    if (d.opts.background) d.worker = std::thread([&d] { d.run_worker(); });
}

dispatcher::~dispatcher() {
    impl& d = *impl_;
    if (d.worker.joinable()) {
        {
            std::lock_guard<std::mutex> lk(d.m);
            d.stopping = true;
        }
        d.wake.notify_all();
        d.worker.join();
    }
    try {
        d.flush();
    } catch (const std::exception&) {
        // printing failed while the command ends; nothing more to do
    }
}

std::vector<dispatcher::hook_info> dispatcher::hooks() const {
    std::vector<hook_info> out;
    for (const auto& h : impl_->hooks)
        out.push_back({h.cfg.name, h.cfg.label, h.cfg.required, h.events});
    return out;
}

bool dispatcher::empty() const { return impl_->hooks.empty(); }

void dispatcher::on_event(const engine::event& e) {
    impl& d = *impl_;
    if (d.hooks.empty() || !d.state) return;
    auto full = d.state->complete(e);
    if (!full) return;
    if (e.name == "run.start") {
        d.held.clear();
        d.holding = true;
    }
    if (d.holding) {
        if (e.name == "run.start" || e.name == "run.planned") {
            d.held.push_back(std::move(*full));
            return;
        }
        // The run did something (or ended): what waited goes out now, marked
        // quiet when the run changed nothing.
        bool quiet = e.name == "run.finish" && unchanged_run(*full);
        d.holding = false;
        for (auto& ev : d.held) d.enqueue({std::move(ev), -1, quiet});
        d.held.clear();
        d.enqueue({std::move(*full), -1, quiet});
        return;
    }
    if (std::none_of(d.hooks.begin(), d.hooks.end(),
                     [&](const loaded_hook& h) { return h.receives(e.name); }))
        return;
    d.enqueue({std::move(*full), -1, false});
}

void dispatcher::flush() { impl_->flush(); }

void dispatcher::wait() { impl_->wait(); }

void dispatcher::close_run(const std::string& outcome, json& report) {
    impl& d = *impl_;
    if (d.hooks.empty()) return;
    d.wait();
    d.flush();
    std::vector<delivery> done;
    {
        std::lock_guard<std::mutex> lk(d.m);
        done.swap(d.deliveries);
    }
    json per_hook = json::object();
    for (const auto& h : d.hooks)
        per_hook[h.cfg.name] = {
            {"delivered", 0}, {"skipped", 0}, {"failed", 0}, {"required", h.cfg.required}};
    json failures = json::array();
    int delivered = 0, failed = 0, skipped = 0;
    const delivery* required_failure = nullptr;
    for (const auto& x : done) {
        auto& entry = per_hook[x.hook];
        if (x.ok && x.skipped) {
            ++skipped;
            entry["skipped"] = entry["skipped"].get<int>() + 1;
            continue;
        }
        if (x.ok) {
            ++delivered;
            entry["delivered"] = entry["delivered"].get<int>() + 1;
            continue;
        }
        ++failed;
        entry["failed"] = entry["failed"].get<int>() + 1;
        if (failures.size() < max_failures_in_report)
            failures.push_back({{"hook", x.hook},
                                {"event", x.event},
                                {"message", x.message},
                                {"required", x.required}});
        if (x.required && !required_failure) required_failure = &x;
    }
    report["notifications"] = {{"delivered", delivered},
                               {"skipped", skipped},
                               {"failed", failed},
                               {"hooks", per_hook},
                               {"failures", failures}};
    if (required_failure && outcome == "ok")
        throw error(exit_code::check_failed,
                    "the required notification hook \"" + required_failure->hook + "\" failed on " +
                        required_failure->event + ": " + required_failure->message +
                        "\n  the run's migrations are applied and stay applied; only the "
                        "notification is missing",
                    "fix the hook and check it with `moonshift notify test --hook " +
                        required_failure->hook + "`");
}

std::vector<delivery> dispatcher::send_test(const std::string& only) {
    impl& d = *impl_;
    if (!only.empty() && std::none_of(d.hooks.begin(), d.hooks.end(),
                                      [&](const loaded_hook& h) { return h.cfg.name == only; })) {
        std::string names;
        for (const auto& h : d.hooks) names += (names.empty() ? "" : ", ") + h.cfg.name;
        throw usage_error("there is no notification hook \"" + only + "\" in environment \"" +
                              d.opts.env.name + "\"",
                          names.empty()
                              ? "configure one in [notify.NAME] of moonshift.toml (docs/hooks.md)"
                              : "hooks of this environment: " + names);
    }
    for (std::size_t i = 0; i < d.hooks.size(); ++i) {
        const auto& h = d.hooks[i];
        if (!only.empty() && h.cfg.name != only) continue;
        if (h.events.empty()) continue;
        std::string ev = std::find(h.events.begin(), h.events.end(), "run.finish") != h.events.end()
                             ? "run.finish"
                             : h.events.front();
        d.enqueue({d.state->sample(ev), static_cast<int>(i)});
    }
    d.wait();
    d.flush();
    std::vector<delivery> done;
    std::lock_guard<std::mutex> lk(d.m);
    done.swap(d.deliveries);
    return done;
}

}  // namespace moonshift::notify
