// The `ci` module: what a hook needs to speak to the CI it runs in. For now
// GitHub Actions' job summary: ci.summary(markdown) appends to the file that
// $GITHUB_STEP_SUMMARY names (annotations are plain output lines, printed
// with print()). Hooks and `moonshift run` only.
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

#include "lua/boundary.hpp"
#include "lua/host.hpp"
#include "lua/modules.hpp"

namespace moonshift::lua {
namespace {

// ci.summary(markdown): true when appended, false outside GitHub Actions.
int ci_summary(lua_State* L) {
    size_t n = 0;
    const char* text = check_text(L, 1, "ci.summary", 1, "markdown text (a string)", &n);
    const host& h = host_of(L);
    if (h.current != phase::hook && h.current != phase::run)
        luaL_error(L, "ci.summary is not allowed in phase \"%s\"; use it in a hook",
                   phase_name(h.current));
    const char* path = std::getenv("GITHUB_STEP_SUMMARY");
    if (!path || !*path) {
        lua_pushboolean(L, 0);
        return 1;
    }
    std::ofstream out(path, std::ios::app | std::ios::binary);
    out << h.redact(std::string(text, n)) << "\n";
    out.flush();
    if (!out) throw std::runtime_error("ci.summary: cannot append to $GITHUB_STEP_SUMMARY");
    lua_pushboolean(L, 1);
    return 1;
}

}  // namespace

void register_ci(lua_State* L, int sandbox) {
    static const luaL_Reg functions[] = {
        {"summary", bind<ci_summary>},
        {nullptr, nullptr},
    };
    lua_newtable(L);
    luaL_register(L, nullptr, functions);
    lua_setfield(L, sandbox, "ci");
}

}  // namespace moonshift::lua
