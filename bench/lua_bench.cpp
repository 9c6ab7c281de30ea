// bench/lua_bench.cpp — the cost of one call from C++ into an empty Lua
// handler through the real runtime (host/lua/runtime.hpp), against a bare
// lua_pcall on a plain LuaJIT state (the floor). Built on demand by
// bench/lua.sh (target moonshift_bench_lua, not part of the default build).
//
//   moonshift_bench_lua [CALLS [RUNS]]    (defaults 100000 and 7)
//
// Prints one line per measurement: "name median_ns min_ns max_ns runs calls",
// nanoseconds per call; each run times CALLS calls in one stretch.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <lua.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lua/runtime.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using moonshift::lua::phase;

struct figures {
    double median, min, max;
};

// Times `calls` calls of one_call, `runs` times, after a warm-up; ns per call.
figures measure(int calls, int runs, const std::function<void()>& one_call) {
    for (int i = 0; i < calls / 10; ++i) one_call();
    std::vector<double> per_call;
    for (int r = 0; r < runs; ++r) {
        auto t0 = clock_type::now();
        for (int i = 0; i < calls; ++i) one_call();
        auto t1 = clock_type::now();
        per_call.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / calls);
    }
    std::sort(per_call.begin(), per_call.end());
    std::size_t n = per_call.size();
    double median = n % 2 ? per_call[n / 2] : (per_call[n / 2 - 1] + per_call[n / 2]) / 2;
    return {median, per_call.front(), per_call.back()};
}

void report(const char* name, const figures& f, int runs, int calls) {
    std::printf("%s %.1f %.1f %.1f %d %d\n", name, f.median, f.min, f.max, runs, calls);
    std::fflush(stdout);
}

// A hook file as notification hooks are written: a table of named handlers.
const char* hook_source = R"(return {
    on_event = function(data, ctx) end,
    answer = function() end,
})";

}  // namespace

int main(int argc, char** argv) {
    int calls = argc > 1 ? std::atoi(argv[1]) : 100000;
    int runs = argc > 2 ? std::atoi(argv[2]) : 7;
    if (calls <= 0 || runs <= 0) {
        std::fprintf(stderr, "usage: moonshift_bench_lua [CALLS [RUNS]]\n");
        return 2;
    }
    try {
        // The floor: LuaJIT's own lua_pcall of an empty function (interpreter
        // and JIT both: a call from C is never compiled).
        {
            lua_State* L = luaL_newstate();
            luaL_dostring(L, "return function() end");
            int fn = luaL_ref(L, LUA_REGISTRYINDEX);
            auto f = measure(calls, runs, [&] {
                lua_rawgeti(L, LUA_REGISTRYINDEX, fn);
                if (lua_pcall(L, 0, 0, 0) != 0) std::abort();
            });
            report("raw_lua_pcall", f, runs, calls);
            lua_close(L);
        }

        // The runtime, without a database (hooks and lint rules need none to be called).
        moonshift::lua::runtime rt(nullptr, moonshift::lua::options{});
        auto s = rt.load("hooks/bench.lua", hook_source, {});
        const nlohmann::json no_data = nlohmann::json::object();
        const nlohmann::json event = {
            {"event", "migration.applied"},
            {"env", "production"},
            {"version", "003"},
            {"name", "add_slug"},
            {"duration_ms", 12},
            {"hook", "bench"},
            {"settings", nlohmann::json::object()},
        };
        const std::vector<nlohmann::json> no_args;

        report("run_hook_empty", measure(calls, runs, [&] { rt.run_hook(s, "on_event", no_data); }),
               runs, calls);
        report("call_empty",
               measure(calls, runs, [&] { rt.call(s, "answer", phase::hook, no_args); }), runs,
               calls);
        report("run_hook_event", measure(calls, runs, [&] { rt.run_hook(s, "on_event", event); }),
               runs, calls);
        // As the notification dispatcher runs them: with the hook phase's time budget.
        rt.set_deadline(std::chrono::seconds(30));
        report("run_hook_empty_deadline",
               measure(calls, runs, [&] { rt.run_hook(s, "on_event", no_data); }), runs, calls);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "moonshift_bench_lua: %s\n", e.what());
        return 1;
    }
    return 0;
}
