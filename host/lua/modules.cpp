// The one list of the host's Lua modules.
#include "lua/modules.hpp"

namespace moonshift::lua {

void register_modules(lua_State* L, int sandbox) {
    register_db(L, sandbox);
    register_ctx(L, sandbox);
    register_json(L, sandbox);
    register_log(L, sandbox);
    register_env(L, sandbox);
    register_require(L, sandbox);
    register_http(L, sandbox);
    register_mail(L, sandbox);
    register_ci(L, sandbox);
    register_backfill(L, sandbox);
}

}  // namespace moonshift::lua
