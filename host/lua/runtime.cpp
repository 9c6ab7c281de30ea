// long: the call window and every way into Lua share the private impl (limits in limits.cpp).
// The runtime: creates the state once, loads scripts, and runs their
// functions in a phase — each call inside one window that sets ctx, the
// deadline and the read-only savepoint, and turns what the script raised
// into script_error, check_failure or a skipped outcome.
#include "lua/runtime.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <stdexcept>

#include "lua/backfill_lua.hpp"
#include "lua/boundary.hpp"
#include "lua/convert.hpp"
#include "lua/db_access.hpp"
#include "lua/host.hpp"
#include "lua/limits.hpp"
#include "lua/sandbox.hpp"
#include "lua/watchdog.hpp"

namespace moonshift::lua {
namespace {

constexpr int hook_instructions = 1000;

// "migrations/002_x.lua:7: message" -> file, line. Labels may hold ':'
// ("builtin:moonshift/checks.lua:12:"), so look for ":<digits>:".
void locate(const std::string& message, std::string& file, int& line) {
    for (std::size_t colon = message.find(':'); colon != std::string::npos;
         colon = message.find(':', colon + 1)) {
        std::size_t d = colon + 1;
        while (d < message.size() && std::isdigit(static_cast<unsigned char>(message[d]))) ++d;
        if (d > colon + 1 && d < message.size() && message[d] == ':') {
            file = message.substr(0, colon);
            line = std::stoi(message.substr(colon + 1, d - colon - 1));
            return;
        }
    }
}

std::string string_field(lua_State* L, int idx, const char* key) {
    lua_pushstring(L, key);
    lua_rawget(L, idx);
    std::string out;
    if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) out = lua_tostring(L, -1);
    lua_pop(L, 1);
    return out;
}

[[noreturn]] void throw_load_error(lua_State* L, const std::string& label) {
    std::string message = lua_tostring(L, -1) ? lua_tostring(L, -1) : "cannot load the file";
    std::string file;
    int line = 0;
    locate(message, file, line);
    if (file.empty() && message.rfind(label, 0) != 0) message = label + ": " + message;
    throw script_error(message, file.empty() ? label : file, line, {});
}

// The value on top as data (null for nil); a function is a script_error.
nlohmann::json returned_data(lua_State* L, const std::string& label, const std::string& key) {
    if (lua_isnil(L, -1) || is_null(L, -1)) return nullptr;
    try {
        return to_json(L, -1);
    } catch (const std::exception& e) {
        throw script_error(
            label + ": \"" + key + "\" returned a value that is not data: " + e.what(), label, 0,
            {});
    }
}

int setup(lua_State* L) {
    auto* h = static_cast<host*>(lua_touserdata(L, 1));
    open_sandbox(L, *h);
    return 0;
}

}  // namespace

// ---- runtime ------------------------------------------------------------------

struct runtime::impl {
    host h;
    lua_State* L = nullptr;
    std::unique_ptr<watchdog> dog;
    std::shared_ptr<int> alive = std::make_shared<int>(0);

    ~impl() {
        dog.reset();  // its thread goes before the state it watches
        if (L) lua_close(L);
    }

    // One call from the host into Lua, from ctx to cleanup.
    class window {
      public:
        window(impl& rt, phase p, bool loading, const migration_info* m, const std::string& label,
               const std::vector<std::string>* args);
        ~window();
        int call(int nargs, int nresults) { return protected_call(rt_.L, nargs, nresults); }
        // Rolls back a read-only phase; called on success (it may throw).
        void close();
        // Turns the error value on top into the matching exception, or a skip.
        outcome fail(int status);

      private:
        impl& rt_;
        int base_;
    };

    void check_script(const script& s) const {
        if (s.owner_.expired() || s.state_ != L || s.ref_ == LUA_NOREF)
            throw std::logic_error("lua::runtime: script \"" + s.label_ +
                                   "\" was not loaded by this runtime");
    }
    void push_db_ctx() {
        lua_rawgeti(L, LUA_REGISTRYINDEX, h.db_ref);
        lua_rawgeti(L, LUA_REGISTRYINDEX, h.ctx_ref);
    }
};

runtime::impl::window::window(impl& rt, phase p, bool loading, const migration_info* m,
                              const std::string& label, const std::vector<std::string>* args)
    : rt_(rt), base_(lua_gettop(rt.L)) {
    host& h = rt.h;
    lua_State* L = rt.L;
    if (h.in_call) throw std::logic_error("lua::runtime: a call is already in progress");
    h.in_call = true;
    h.loading = loading;
    h.current = p;
    h.migration = m;
    h.call_label = label;
    h.last_traceback.clear();
    h.read_only_pending = is_read_only(p) && !loading;

    lua_rawgeti(L, LUA_REGISTRYINDEX, h.ctx_data_ref);
    lua_pushstring(L, phase_name(p));
    lua_setfield(L, -2, "phase");
    if (m) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, m->version.c_str());
        lua_setfield(L, -2, "version");
        lua_pushstring(L, m->name.c_str());
        lua_setfield(L, -2, "name");
    } else {
        lua_pushnil(L);
    }
    lua_setfield(L, -2, "migration");
    if (args) {
        lua_createtable(L, static_cast<int>(args->size()), 0);
        for (std::size_t i = 0; i < args->size(); ++i) {
            lua_pushlstring(L, (*args)[i].data(), (*args)[i].size());
            lua_rawseti(L, -2, static_cast<int>(i + 1));
        }
    } else {
        lua_pushnil(L);
    }
    lua_setfield(L, -2, "args");
    lua_pop(L, 1);

    h.used_db = false;
    h.stopping = false;
    h.call_budget = loading ? h.opts.load_budget : h.budget;
    if (h.call_budget.count() > 0) {
        h.has_deadline = true;
        h.deadline = std::chrono::steady_clock::now() + h.call_budget;
        rt.dog->arm(h.deadline, h.session);
    }
    if (h.has_deadline || h.memory.limit)
        lua_sethook(L, limit_hook, LUA_MASKCOUNT, hook_instructions);
}

runtime::impl::window::~window() {
    host& h = rt_.h;
    if (h.has_deadline) rt_.dog->disarm();  // first: nothing may fire after the call
    drop_read_only(h);  // already failing when still open: the first error is the one reported
    lua_sethook(rt_.L, nullptr, 0, 0);
    if (h.memory.exceeded) {
        lua_gc(rt_.L, LUA_GCCOLLECT, 0);  // what the stopped script held is garbage now
        h.memory.exceeded = false;
    }
    h.has_deadline = false;
    h.in_call = false;
    h.loading = false;
    h.migration = nullptr;
    h.busy = nullptr;
    lua_settop(rt_.L, base_);
}

void runtime::impl::window::close() {
    leave_read_only(rt_.h);
    confirm_lock(rt_.h);
}

outcome runtime::impl::window::fail(int status) {
    host& h = rt_.h;
    lua_State* L = rt_.L;
    int e = lua_gettop(L);
    std::string traceback = h.redact(h.last_traceback);
    std::string message, file;
    int line = 0;
    drop_read_only(h);  // a failing path: the guard rolls back quietly
    if (status == LUA_ERRMEM || (h.memory.exceeded && !is_control(L, e))) {
        // Refused by the allocator: no line is known, the file is.
        throw script_error(
            h.call_label + ": " +
                (h.memory.limit ? h.memory_message() : std::string("the script ran out of memory")),
            h.call_label, 0, traceback);
    }
    if (is_control(L, e)) {
        std::string kind = string_field(L, e, "kind");
        std::string at = string_field(L, e, "where");
        message = h.redact(string_field(L, e, "message"));
        locate(at + ":", file, line);
        if (kind == "skip") {
            confirm_lock(h);
            outcome o;
            o.ran = true;
            o.skipped = true;
            o.skip_reason = message;
            o.skip_source = at;
            return o;
        }
        if (kind == "fail") throw check_failure(message, file, line, h.current);
        throw script_error((at.empty() ? h.call_label : at) + ": " + message,
                           file.empty() ? h.call_label : file, line, traceback, std::nullopt, {},
                           kind == "timeout");
    }
    if (lua_type(L, e) == LUA_TTABLE && has_metatable(L, e, &sql_error_mt_key)) {
        db::server_error se;
        se.sqlstate = string_field(L, e, "sqlstate");
        se.message = string_field(L, e, "message");
        se.detail = string_field(L, e, "detail");
        se.hint = string_field(L, e, "hint");
        se.context = string_field(L, e, "context");
        std::string pos = string_field(L, e, "position");
        se.position = pos.empty() ? 0 : std::stoi(pos);
        std::string at = string_field(L, e, "where");
        std::string query = string_field(L, e, "query");
        locate(at + ":", file, line);
        message = (at.empty() ? h.call_label : at) + ": " + se.message +
                  (se.sqlstate.empty() ? "" : " (" + se.sqlstate + ")");
        if (!se.detail.empty()) message += "\n  DETAIL: " + se.detail;
        if (!se.hint.empty()) message += "\n  HINT: " + se.hint;
        if (!query.empty()) message += "\n  QUERY: " + query;
        throw script_error(h.redact(message), file, line, traceback, se, query);
    }
    if (lua_type(L, e) == LUA_TSTRING || lua_type(L, e) == LUA_TNUMBER) {
        message = lua_tostring(L, e);
    } else if (lua_type(L, e) == LUA_TTABLE && !string_field(L, e, "message").empty()) {
        message = string_field(L, e, "message");
    } else {
        message =
            h.call_label + ": the script raised an error value of type " + luaL_typename(L, e);
    }
    locate(message, file, line);
    throw script_error(h.redact(message), file, line, traceback);
}

runtime::runtime(db::session* session, options o) : impl_(std::make_unique<impl>()) {
    impl& rt = *impl_;
    rt.h.session = session;
    rt.h.opts = std::move(o);
    rt.L = luaL_newstate();
    if (!rt.L)
        throw error(exit_code::migration_failed, "cannot create the Lua state (out of memory)");
    rt.h.L = rt.L;
    rt.h.memory.f = lua_getallocf(rt.L, &rt.h.memory.ud);
    rt.h.memory.used = static_cast<std::size_t>(lua_gc(rt.L, LUA_GCCOUNT, 0)) * 1024 +
                       static_cast<std::size_t>(lua_gc(rt.L, LUA_GCCOUNTB, 0));
    rt.h.memory.limit = rt.h.opts.memory_limit;
    lua_setallocf(rt.L, metered_alloc, &rt.h.memory);
    rt.dog = std::make_unique<watchdog>(rt.L, limit_hook, last_resort(rt.h));
    bind_host(rt.L, &rt.h);
    if (lua_cpcall(rt.L, setup, &rt.h) != 0) {
        std::string msg = lua_tostring(rt.L, -1) ? lua_tostring(rt.L, -1) : "unknown error";
        throw error(exit_code::migration_failed, "cannot set up the Lua sandbox: " + msg);
    }
}

runtime::~runtime() = default;
runtime::runtime(runtime&&) noexcept = default;
runtime& runtime::operator=(runtime&&) noexcept = default;

std::chrono::milliseconds runtime::set_deadline(std::chrono::milliseconds budget) {
    auto before = impl_->h.budget;
    impl_->h.budget = budget;
    return before;
}

std::size_t runtime::memory_bytes() const {
    return static_cast<std::size_t>(lua_gc(impl_->L, LUA_GCCOUNT, 0)) * 1024 +
           static_cast<std::size_t>(lua_gc(impl_->L, LUA_GCCOUNTB, 0));
}

script runtime::load(const std::string& label, const std::string& source,
                     const std::vector<field>& fields) {
    impl& rt = *impl_;
    lua_State* L = rt.L;
    impl::window w(rt, phase::run, true, nullptr, label, nullptr);
    if (load_text(L, label, source) != 0) {
        throw_load_error(L, label);
    }
    int status = w.call(0, 1);
    if (status != 0) {
        w.fail(status);
        throw script_error(label + ": ctx:skip is not allowed while a file loads", label, 0, {});
    }
    if (lua_type(L, -1) != LUA_TTABLE)
        throw script_error(label + ": the file must return a table, but it returned " +
                               (lua_isnil(L, -1) ? std::string("nothing")
                                                 : std::string("a ") + luaL_typename(L, -1)),
                           label, 0, {});
    int t = lua_gettop(L);
    script s;
    s.label_ = label;
    s.read_table(L, t, fields);
    lua_settop(L, t);
    s.ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
    s.owner_ = rt.alive;
    s.state_ = L;
    w.close();
    return s;
}

outcome runtime::run_phase(const script& s, const std::string& key, phase p,
                           const migration_info* m) {
    impl& rt = *impl_;
    rt.check_script(s);
    lua_State* L = rt.L;
    impl::window w(rt, p, false, m, s.label(), nullptr);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s.ref_);
    lua_pushlstring(L, key.data(), key.size());
    lua_rawget(L, -2);
    if (lua_isnil(L, -1)) return outcome{};
    if (lua_type(L, -1) != LUA_TFUNCTION)
        throw script_error(
            s.label() + ": \"" + key + "\" is a " + luaL_typename(L, -1) + ", not a function",
            s.label(), 0, {});
    rt.push_db_ctx();
    int status = w.call(2, 0);
    if (status != 0) return w.fail(status);
    w.close();
    outcome o;
    o.ran = true;
    return o;
}

outcome runtime::run_file(const std::string& label, const std::string& source, phase p,
                          const std::vector<std::string>& args) {
    impl& rt = *impl_;
    lua_State* L = rt.L;
    impl::window w(rt, p, false, nullptr, label, &args);
    if (load_text(L, label, source) != 0) {
        throw_load_error(L, label);
    }
    for (const auto& a : args) lua_pushlstring(L, a.data(), a.size());
    int status = w.call(static_cast<int>(args.size()), 1);
    if (status != 0) return w.fail(status);
    if (lua_type(L, -1) == LUA_TFUNCTION) {
        rt.push_db_ctx();
        status = w.call(2, 0);
        if (status != 0) return w.fail(status);
    }
    w.close();
    outcome o;
    o.ran = true;
    return o;
}

outcome runtime::run_hook(const script& s, const std::string& event, const nlohmann::json& data) {
    impl& rt = *impl_;
    rt.check_script(s);
    lua_State* L = rt.L;
    impl::window w(rt, phase::hook, false, nullptr, s.label(), nullptr);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s.ref_);
    lua_pushlstring(L, event.data(), event.size());
    lua_rawget(L, -2);
    if (lua_isnil(L, -1)) return outcome{};
    if (lua_type(L, -1) != LUA_TFUNCTION)
        throw script_error(s.label() + ": handler \"" + event + "\" is a " + luaL_typename(L, -1) +
                               ", not a function",
                           s.label(), 0, {});
    push_json(L, data);
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt.h.ctx_ref);
    int status = w.call(2, 0);
    if (status != 0) return w.fail(status);
    w.close();
    outcome o;
    o.ran = true;
    return o;
}

nlohmann::json runtime::call(const script& s, const std::string& key, phase p,
                             const std::vector<nlohmann::json>& args) {
    impl& rt = *impl_;
    rt.check_script(s);
    lua_State* L = rt.L;
    impl::window w(rt, p, false, nullptr, s.label(), nullptr);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s.ref_);
    lua_pushlstring(L, key.data(), key.size());
    lua_rawget(L, -2);
    if (lua_isnil(L, -1)) return nullptr;
    if (lua_type(L, -1) != LUA_TFUNCTION)
        throw script_error(
            s.label() + ": \"" + key + "\" is a " + luaL_typename(L, -1) + ", not a function",
            s.label(), 0, {});
    for (const auto& a : args) push_json(L, a);
    int status = w.call(static_cast<int>(args.size()), 1);
    if (status != 0) {
        w.fail(status);  // a ctx:skip is no answer
        return nullptr;
    }
    nlohmann::json out = returned_data(L, s.label(), key);
    w.close();
    return out;
}

std::vector<nlohmann::json> runtime::call_each(const std::vector<const script*>& scripts,
                                               const std::string& key, phase p,
                                               const json_record& arg, std::size_t* failed) {
    impl& rt = *impl_;
    std::vector<nlohmann::json> out(scripts.size());
    if (scripts.empty()) return out;
    for (const auto* s : scripts) rt.check_script(*s);
    lua_State* L = rt.L;
    impl::window w(rt, p, false, nullptr, scripts.front()->label(), nullptr);
    push_json_record(L, arg);
    int shared = lua_gettop(L);
    for (std::size_t i = 0; i < scripts.size(); ++i) {
        const script& s = *scripts[i];
        if (failed) *failed = i;
        rt.h.call_label = s.label();
        lua_rawgeti(L, LUA_REGISTRYINDEX, s.ref_);
        lua_pushlstring(L, key.data(), key.size());
        lua_rawget(L, -2);
        if (lua_isnil(L, -1)) {
            lua_settop(L, shared);
            continue;
        }
        if (lua_type(L, -1) != LUA_TFUNCTION)
            throw script_error(
                s.label() + ": \"" + key + "\" is a " + luaL_typename(L, -1) + ", not a function",
                s.label(), 0, {});
        lua_pushvalue(L, shared);
        int status = w.call(1, 1);
        if (status != 0) {
            w.fail(status);  // a ctx:skip is no answer
            return out;
        }
        out[i] = returned_data(L, s.label(), key);
        lua_settop(L, shared);
    }
    w.close();
    return out;
}

// ---- backfills (backfill_module.cpp) ------------------------------------------

std::vector<backfill_spec> runtime::take_backfills() {
    auto out = std::move(impl_->h.backfills);
    impl_->h.backfills.clear();
    return out;
}

std::vector<backfill_spec> runtime::backfills_of(const script& s, int line) {
    impl& rt = *impl_;
    rt.check_script(s);
    lua_State* L = rt.L;
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s.ref_);
    lua_pushliteral(L, "backfill");
    lua_rawget(L, -2);
    std::vector<backfill_spec> out;
    try {
        if (!lua_isnil(L, -1)) out = read_backfill_specs(L, -1, s.label(), line, "field");
    } catch (...) {
        lua_settop(L, top);
        throw;
    }
    lua_settop(L, top);
    return out;
}

void runtime::transform(const backfill_spec& s, transform_batch& b, const migration_info* m) {
    impl& rt = *impl_;
    impl::window w(rt, phase::up, false, m, s.file, nullptr);
    run_transform(
        rt.L, s, b, [&](int nargs, int nresults) { return w.call(nargs, nresults); },
        [&](int status) { w.fail(status); });
    w.close();
}

std::string runtime::pause_reason(const backfill_spec& s, const nlohmann::json& health) {
    if (s.pause_when_ref == -2) return {};
    impl& rt = *impl_;
    lua_State* L = rt.L;
    impl::window w(rt, phase::up, false, nullptr, s.file, nullptr);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s.pause_when_ref);
    push_json(L, health);
    int status = w.call(1, 1);
    if (status != 0) {
        w.fail(status);
        return {};
    }
    std::string reason;
    if (lua_type(L, -1) == LUA_TSTRING)
        reason = lua_tostring(L, -1);
    else if (lua_toboolean(L, -1))
        reason = "throttle.pause_when returned true";
    w.close();
    return reason;
}

}  // namespace moonshift::lua
