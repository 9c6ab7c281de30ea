// The plain parts of the public API: phase names, the error types, and the
// script handle (a registry reference plus the fields read at load).
#include <algorithm>
#include <lua.hpp>
#include <vector>

#include "lua/runtime.hpp"

namespace moonshift::lua {
namespace {

const char* type_name(value_type t) {
    switch (t) {
        case value_type::function:
            return "a function";
        case value_type::boolean:
            return "a boolean";
        case value_type::string:
            return "a string";
        case value_type::table:
            return "a table";
    }
    return "?";
}

bool has_type(lua_State* L, int idx, value_type t) {
    switch (t) {
        case value_type::function:
            return lua_type(L, idx) == LUA_TFUNCTION;
        case value_type::boolean:
            return lua_type(L, idx) == LUA_TBOOLEAN;
        case value_type::string:
            return lua_type(L, idx) == LUA_TSTRING;
        case value_type::table:
            return lua_type(L, idx) == LUA_TTABLE;
    }
    return false;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t prev = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t cur = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1)});
            prev = cur;
        }
    }
    return row[b.size()];
}

}  // namespace

const char* phase_name(phase p) {
    switch (p) {
        case phase::precheck:
            return "precheck";
        case phase::up:
            return "up";
        case phase::verify:
            return "verify";
        case phase::down:
            return "down";
        case phase::check:
            return "check";
        case phase::hook:
            return "hook";
        case phase::run:
            return "run";
    }
    return "?";
}

bool is_read_only(phase p) {
    return p == phase::precheck || p == phase::verify || p == phase::check || p == phase::hook;
}

const std::vector<field>& migration_fields() {
    static const std::vector<field> fields = {
        {"precheck", value_type::function},   {"up", value_type::function},
        {"verify", value_type::function},     {"down", value_type::function},
        {"transaction", value_type::boolean}, {"description", value_type::string},
        {"backfill", value_type::table},
    };
    return fields;
}

script_error::script_error(std::string message, std::string file, int line, std::string traceback,
                           std::optional<db::server_error> sql, std::string query, bool timed_out)
    : error(exit_code::migration_failed, std::move(message)),
      file_(std::move(file)),
      traceback_(std::move(traceback)),
      query_(std::move(query)),
      line_(line),
      sql_(std::move(sql)),
      timed_out_(timed_out) {}

check_failure::check_failure(std::string reason, std::string file, int line, phase p)
    : error(exit_code::check_failed,
            (file.empty() ? std::string() : file + ":" + std::to_string(line) + ": ") +
                "check failed: " + reason),
      reason_(std::move(reason)),
      file_(std::move(file)),
      line_(line),
      phase_(p) {}

script::script(script&& o) noexcept { *this = std::move(o); }

script& script::operator=(script&& o) noexcept {
    if (this != &o) {
        if (ref_ != LUA_NOREF && !owner_.expired())
            luaL_unref(static_cast<lua_State*>(state_), LUA_REGISTRYINDEX, ref_);
        label_ = std::move(o.label_);
        ref_ = o.ref_;
        present_ = std::move(o.present_);
        booleans_ = std::move(o.booleans_);
        strings_ = std::move(o.strings_);
        owner_ = std::move(o.owner_);
        state_ = o.state_;
        o.ref_ = LUA_NOREF;
        o.owner_.reset();
    }
    return *this;
}

script::~script() {
    if (ref_ != LUA_NOREF && !owner_.expired())
        luaL_unref(static_cast<lua_State*>(state_), LUA_REGISTRYINDEX, ref_);
    ref_ = LUA_NOREF;
}

bool script::has(const std::string& name) const { return present_.count(name) > 0; }

std::optional<bool> script::boolean(const std::string& name) const {
    auto it = booleans_.find(name);
    return it == booleans_.end() ? std::nullopt : std::optional<bool>(it->second);
}

std::optional<std::string> script::string(const std::string& name) const {
    auto it = strings_.find(name);
    return it == strings_.end() ? std::nullopt : std::optional<std::string>(it->second);
}

// Checks the table at t against the fields (unknown keys, wrong types) and
// reads the booleans and strings once.
void script::read_table(lua_State* L, int t, const std::vector<field>& fields) {
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            std::string kind = luaL_typename(L, -2);
            throw script_error(label_ + ": the returned table has a key of type " + kind +
                                   "; only named keys are allowed",
                               label_, 0, {});
        }
        std::string key = lua_tostring(L, -2);
        auto spec = std::find_if(fields.begin(), fields.end(),
                                 [&](const field& f) { return f.name == key; });
        if (!fields.empty() && spec == fields.end()) {
            std::string allowed, closest;
            std::size_t best = 3;
            for (const auto& f : fields) {
                allowed += (allowed.empty() ? "" : ", ") + f.name;
                if (auto d = edit_distance(key, f.name); d < best) best = d, closest = f.name;
            }
            throw script_error(label_ + ": unknown key \"" + key + "\" in the returned table" +
                                   (closest.empty() ? "" : " (did you mean \"" + closest + "\"?)") +
                                   "; allowed keys: " + allowed,
                               label_, 0, {});
        }
        value_type type = spec == fields.end() ? value_type::function : spec->type;
        if (spec != fields.end() && !has_type(L, -1, type))
            throw script_error(label_ + ": \"" + key + "\" must be " + type_name(type) +
                                   ", not a " + luaL_typename(L, -1),
                               label_, 0, {});
        if (lua_type(L, -1) == LUA_TBOOLEAN) {
            type = value_type::boolean;
            booleans_[key] = lua_toboolean(L, -1);
        } else if (lua_type(L, -1) == LUA_TSTRING) {
            type = value_type::string;
            strings_[key] = lua_tostring(L, -1);
        }
        present_[key] = type;
        lua_pop(L, 1);
    }
}

}  // namespace moonshift::lua
