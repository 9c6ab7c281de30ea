// `require`: modules come only from the host's embedded scripts/ (names under
// "moonshift.") and the project's scripts/ directory. Names are dotted words,
// never paths; each module is loaded once per runtime, in its own strict
// environment, in text mode.
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

#include "common/embedded.hpp"
#include "common/text.hpp"
#include "lua/boundary.hpp"
#include "lua/host.hpp"
#include "lua/modules.hpp"
#include "lua/sandbox.hpp"

namespace moonshift::lua {
namespace {

namespace fs = std::filesystem;

const char loading_key = 0;  // cache value while a module's chunk runs

// Dotted words of letters, digits, '_' and '-': "lib.util", "moonshift.checks".
bool valid_name(const char* s, size_t len) {
    if (len == 0) return false;
    bool word_start = true;
    for (size_t i = 0; i < len; ++i) {
        char c = s[i];
        if (c == '.') {
            if (word_start) return false;
            word_start = true;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok) return false;
        word_start = false;
    }
    return !word_start;
}

bool is_withheld(const char* name) {
    static const char* const withheld[] = {"ffi", "jit", "io", "debug", "package", "os.execute"};
    for (const char* w : withheld) {
        size_t n = std::strlen(w);
        if (std::strncmp(name, w, n) == 0 && (name[n] == '\0' || name[n] == '.')) return true;
    }
    return std::strncmp(name, "table.", 6) == 0 || std::strncmp(name, "string.", 7) == 0;
}

struct found {
    std::string label, source;
};

std::optional<found> find_module(const host& h, const std::string& name) {
    std::string path = name;
    for (char& c : path)
        if (c == '.') c = '/';
    if (name.rfind("moonshift.", 0) == 0) {
        for (const std::string& candidate :
             {"scripts/" + path + ".lua", "scripts/" + path + "/init.lua"})
            if (auto text = embedded::find(candidate))
                return found{"builtin:" + candidate.substr(8), std::string(*text)};
        return std::nullopt;
    }
    if (h.opts.project_root.empty()) return std::nullopt;
    fs::path scripts = h.opts.project_root / "scripts";
    std::error_code ec;
    fs::path base = fs::weakly_canonical(scripts, ec);
    for (const std::string& candidate : {path + ".lua", path + "/init.lua"}) {
        fs::path file = scripts / candidate;
        if (!fs::is_regular_file(file, ec)) continue;
        // A symlink must not lead out of scripts/.
        fs::path real = fs::weakly_canonical(file, ec);
        auto rel = real.lexically_relative(base);
        if (ec || rel.empty() || *rel.begin() == "..")
            throw usage_error("require: scripts/" + candidate +
                              " leads outside the project's scripts/ directory");
        return found{"scripts/" + candidate, text::normalize_newlines(text::read_file(file))};
    }
    return std::nullopt;
}

int require_module(lua_State* L) {
    host& h = host_of(L);
    size_t len = 0;
    const char* name = check_text(L, 1, "require", 1, "a module name (a string)", &len);
    lua_settop(L, 1);
    if (!valid_name(name, len))
        luaL_error(L,
                   "require: module name '%s' is not allowed: use dotted names like \"lib.util\" "
                   "(no paths, no ..)",
                   name);
    for (const char* lib : {"string", "table", "math", "bit", "coroutine", "os"}) {
        if (std::strcmp(name, lib) == 0) {  // the sandbox's own copy
            lua_rawgeti(L, LUA_REGISTRYINDEX, h.sandbox_ref);
            lua_pushstring(L, lib);
            lua_rawget(L, -2);
            return 1;
        }
    }
    if (is_withheld(name))
        luaL_error(L, "require: module '%s' is not available in moonshift scripts", name);
    lua_rawgeti(L, LUA_REGISTRYINDEX, h.modules_ref);  // 2: the cache
    lua_pushvalue(L, 1);
    lua_rawget(L, 2);
    if (lua_touserdata(L, -1) == &loading_key)
        luaL_error(L, "require: circular require of '%s'", name);
    if (!lua_isnil(L, -1)) return 1;
    lua_pop(L, 1);

    std::string module(name, len);
    auto f = find_module(h, module);
    if (!f) {
        std::string path = module;
        for (char& c : path)
            if (c == '.') c = '/';
        throw usage_error("require: module '" + module + "' not found (looked for " +
                          (module.rfind("moonshift.", 0) == 0
                               ? "a built-in scripts/" + path + ".lua"
                               : "scripts/" + path + ".lua and scripts/" + path + "/init.lua") +
                          ")");
    }
    if (load_text(L, f->label, f->source) != 0) throw lua_raise(luaL_ref(L, LUA_REGISTRYINDEX));
    lua_pushvalue(L, 1);
    lua_pushlightuserdata(L, const_cast<char*>(&loading_key));
    lua_rawset(L, 2);
    lua_pushvalue(L, 1);
    try {
        call_or_throw(L, 1, 1);
    } catch (const lua_raise&) {
        lua_pushvalue(L, 1);
        lua_pushnil(L);
        lua_rawset(L, 2);
        throw;
    }
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    } else if (lua_type(L, -1) == LUA_TTABLE) {
        // Every requiring script shares the module: it gets a read-only view.
        push_read_only(L, -1, name);
        lua_remove(L, -2);
    }
    lua_pushvalue(L, 1);
    lua_pushvalue(L, -2);
    lua_rawset(L, 2);
    return 1;
}

}  // namespace

void register_require(lua_State* L, int sandbox) {
    lua_newtable(L);
    host_of(L).modules_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushcfunction(L, bind<require_module>);
    lua_setfield(L, sandbox, "require");
}

}  // namespace moonshift::lua
