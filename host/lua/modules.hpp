// The Lua modules of the host, one binding file each. register_modules is
// the one place that lists them; each register_* adds its globals to the
// sandbox table at stack index `sandbox`.
#pragma once
#include <lua.hpp>
#include <string>

namespace moonshift::lua {

void register_db(lua_State* L, int sandbox);   // db_module.cpp: db:query, db:each, db:copy_in, ...
void register_ctx(lua_State* L, int sandbox);  // ctx_module.cpp: ctx.env, ctx:fail, ctx:skip, ...
void register_json(lua_State* L,
                   int sandbox);  // json_module.cpp: json.encode, json.decode, json.null
void register_log(lua_State* L, int sandbox);  // log_module.cpp: log.info/warn/error/debug, print
void register_env(lua_State* L, int sandbox);  // env_module.cpp: env.get, env.require
void register_require(lua_State* L, int sandbox);  // require_module.cpp: require
void register_http(lua_State* L,
                   int sandbox);  // http_module.cpp: http.get/post/request, http.try_*
void register_mail(lua_State* L, int sandbox);      // mail_module.cpp: mail.send, mail.try_send
void register_ci(lua_State* L, int sandbox);        // ci_module.cpp: ci.summary
void register_backfill(lua_State* L, int sandbox);  // backfill_module.cpp: backfill{...}

void register_modules(lua_State* L, int sandbox);

// Log arguments (log.*, print, ctx:log), in two steps around the boundary:
// prepare_log_args replaces each argument from `first` on by a string where
// that takes Lua (__tostring; may raise, so call it before C++ objects);
// join_log_args then joins them with spaces, tables as JSON.
void prepare_log_args(lua_State* L, int first);
std::string join_log_args(lua_State* L, int first);

}  // namespace moonshift::lua
