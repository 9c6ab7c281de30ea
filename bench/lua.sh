#!/usr/bin/env bash
# bench/lua.sh — the Lua runtime against the targets of issue 3:
#   1. an empty hook call from C++ into Lua through the real runtime API
#      (bench/lua_bench.cpp: runtime::load, then run_hook / call on an empty
#      handler, against a bare lua_pcall) — target under 1 µs per call;
#   2. `moonshift run` of a script whose db:each streams ROWS (1,000,000) rows
#      of `SELECT g, md5(g::text) FROM generate_series(1, ROWS) g`, against
#      psql copying the same query to /dev/null (`\copy (...) TO '/dev/null'`,
#      the COPY rate) — target at least 50% of psql's rate; and the peak RSS
#      of `moonshift run` at SMALL_ROWS (100,000) and ROWS, for constant memory.
#
#   bench/lua.sh                   # measure, write "## Lua runtime" in bench/RESULTS.md
#   RUNS=5 WRITE_RESULTS=0 bench/lua.sh
#
# Whole processes for the streaming part (start-up, connect, query, exit),
# wall-clock medians of RUNS rounds, the tools interleaved and their order
# swapped every round, on a private PostgreSQL (initdb defaults) on 127.0.0.1
# that is stopped, with its temporary directory removed, on exit.
# Knobs: RUNS (5)  ROWS (1000000)  SMALL_ROWS (100000)  CALLS (100000)
#   CALL_RUNS (7)  MOONSHIFT (binary; default: a Release build in build-bench/)
#   BUILD_DIR (the CMake build directory for moonshift_bench_lua; default: the
#   one MOONSHIFT was built in)  BENCH_LUA (a built moonshift_bench_lua)
#   BUILD_NOTE (how the binaries were built, when not by this script)
#   COMPARE, COMPARE_LABEL (another moonshift binary, e.g. before a change, measured
#   in the same rounds as an extra row)  LUA_NOTES (a file appended to the
#   section: what a person found out about this run)  PG_BINDIR  WRITE_RESULTS (1)  KEEP_WORK (0)
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
RUNS=${RUNS:-5}
ROWS=${ROWS:-1000000}
SMALL_ROWS=${SMALL_ROWS:-100000}
CALLS=${CALLS:-100000}
CALL_RUNS=${CALL_RUNS:-7}
WRITE_RESULTS=${WRITE_RESULTS:-1}
KEEP_WORK=${KEEP_WORK:-0}

# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

[[ $RUNS -ge 3 ]] || die "RUNS must be at least 3 (a median of fewer is not one)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is needed (apt-get install time)"

find_pg_bindir
find_moonshift
MS_HEAD=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')
MS_BUILT=$(date -u -r "$MOONSHIFT" '+%Y-%m-%d %H:%M UTC')

# The call benchmark, built in the build directory of MOONSHIFT (BENCH_LUA: a ready one).
if [[ -z ${BENCH_LUA:-} ]]; then
    if [[ -z ${BUILD_DIR:-} ]]; then
        BUILD_DIR=$(dirname "$MOONSHIFT")
        [[ -f $BUILD_DIR/CMakeCache.txt ]] || BUILD_DIR=$REPO/build-bench
    fi
    # (re)configure: a build directory made before the target existed does not know it
    if [[ -f $BUILD_DIR/CMakeCache.txt ]]; then
        cmake -S "$REPO" -B "$BUILD_DIR" >/dev/null
    else
        cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
    fi
    say "building moonshift_bench_lua in $BUILD_DIR…"
    cmake --build "$BUILD_DIR" -j2 --target moonshift_bench_lua >/dev/null || die "building moonshift_bench_lua failed"
    BENCH_LUA=$BUILD_DIR/moonshift_bench_lua
    BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")
fi
[[ -x $BENCH_LUA ]] || die "moonshift_bench_lua not found: $BENCH_LUA"
BUILD_TYPE=${BUILD_TYPE:-${BUILD_NOTE:-build type not recorded}}

make_work lua
RES=$WORK/results
mkdir -p "$RES"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------ hook calls ----
say "timing $CALL_RUNS runs of $CALLS calls into Lua…"
"$BENCH_LUA" "$CALLS" "$CALL_RUNS" >"$RES/calls" || die "moonshift_bench_lua failed"
cat "$RES/calls" >&2
call_field() { awk -v n="$1" -v f="$2" '$1 == n { print $f }' "$RES/calls"; }

# ------------------------------------------------------------- db:each ----
start_postgres
PG_VERSION=$(q 'SHOW server_version')
PG_SETTINGS="fsync=$(q 'SHOW fsync'), shared_buffers=$(q 'SHOW shared_buffers'), work_mem=$(q 'SHOW work_mem')"
q 'CREATE DATABASE bench' >/dev/null
URL=$(url bench)

P=$WORK/project
mkdir -p "$P/jit"
printf '[env.bench]\nurl = "%s"\n' "$URL" >"$P/moonshift.toml"
printf '[env.bench]\nurl = "%s"\n\n[lua]\njit = true\n' "$URL" >"$P/jit/moonshift.toml"
# Counts the rows it is handed and checks the count, so nothing is skipped.
cat >"$P/each.lua" <<'LUA'
-- bench/lua.sh: stream N rows through db:each.
local n = tonumber((...))
local seen = 0
local returned = db:each("SELECT g, md5(g::text) FROM generate_series(1, $1::int) g", n, function(row)
    seen = seen + 1
end)
if seen ~= n or returned ~= n then
    error(("streamed %d rows (db:each returned %d), expected %d"):format(seen, returned, n))
end
LUA
cp "$P/each.lua" "$P/jit/each.lua"

query_of() { printf 'SELECT g, md5(g::text) FROM generate_series(1, %d) g' "$1"; }
# run TOOL ROWS [PREFIX...]: one whole process; PREFIX (a timer) goes before it
run() {
    local tool=$1 rows=$2
    shift 2
    case $tool in
        psql) "$@" "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$URL" -c "\\copy ($(query_of "$rows")) TO '/dev/null'" ;;
        ms) (cd "$P" && exec "$@" "$MOONSHIFT" --env bench run each.lua "$rows") ;;
        ms_jit) (cd "$P/jit" && exec "$@" "$MOONSHIFT" --env bench run each.lua "$rows") ;;
        ms_cmp) (cd "$P" && exec "$@" "$COMPARE" --env bench run each.lua "$rows") ;;
    esac
}

# timed KEY TOOL ROWS: wall time (µs) to $RES/KEY, peak RSS (KiB) to $RES/KEY.rss,
# the client's CPU time (user + sys, µs) to $RES/KEY.cpu
timed() {
    local key=$1 tool=$2 rows=$3 s e
    s=${EPOCHREALTIME/./}
    if ! run "$tool" "$rows" /usr/bin/time -f '%M %U %S' -o "$WORK/time.out" >>"$LOG" 2>&1; then
        tail -20 "$LOG" >&2
        die "failed: $key ($tool, $rows rows)"
    fi
    e=${EPOCHREALTIME/./}
    echo $((10#$e - 10#$s)) >>"$RES/$key"
    tail -1 "$WORK/time.out" | awk '{ print $1 }' >>"$RES/$key.rss"
    tail -1 "$WORK/time.out" | awk '{ printf "%d\n", ($2 + $3) * 1e6 }' >>"$RES/$key.cpu"
}

run ms 10 >>"$LOG" 2>&1 || { tail -20 "$LOG" >&2; die "moonshift run each.lua does not work (see above)"; }
run ms_jit 10 >>"$LOG" 2>&1 || { tail -20 "$LOG" >&2; die "moonshift run each.lua with jit = true does not work"; }
run psql 10 >>"$LOG" 2>&1 || { tail -20 "$LOG" >&2; die "psql \\copy does not work"; }
q CHECKPOINT >/dev/null

TOOLS=(psql ms ms_jit)
if [[ -n ${COMPARE:-} ]]; then
    [[ -x $COMPARE ]] || die "COMPARE is not an executable: $COMPARE"
    run ms_cmp 10 >>"$LOG" 2>&1 || { tail -20 "$LOG" >&2; die "$COMPARE run each.lua does not work"; }
    TOOLS+=(ms_cmp)
fi
say "PostgreSQL $PG_VERSION on 127.0.0.1:$PORT; $RUNS rounds of $ROWS rows"
for ((r = 1; r <= RUNS; r++)); do
    k=$(((r - 1) % ${#TOOLS[@]}))
    order=("${TOOLS[@]:$k}" "${TOOLS[@]:0:$k}")
    for tool in "${order[@]}"; do
        timed "big.$tool" "$tool" "$ROWS"
        timed "small.$tool" "$tool" "$SMALL_ROWS"
        timed "one.$tool" "$tool" 1  # start-up, connect, exit
        say "  round $r/$RUNS  $(printf '%-7s' "$tool") $ROWS rows $(awk -v u="$(tail -1 "$RES/big.$tool")" 'BEGIN{printf "%.2f s", u/1e6}')  peak RSS $(tail -1 "$RES/big.$tool.rss") KiB"
    done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------- results ----
median() { sort -n "$RES/$1" | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
range() { sort -n "$RES/$1" | awk 'NR==1{lo=$1} {hi=$1} END{print lo, hi}'; }
fmt_s() { awk -v u="$1" 'BEGIN{ if (u < 1e6) printf "%.1f ms", u/1e3; else printf "%.2f s", u/1e6 }'; }
fmt_range() { local lo hi; read -r lo hi < <(range "$1"); printf '%s – %s' "$(fmt_s "$lo")" "$(fmt_s "$hi")"; }
rate() { awk -v n="$1" -v u="$2" 'BEGIN{ printf "%.0f", n / (u / 1e6) }'; }
fmt_rate() { awk -v r="$1" 'BEGIN{ if (r >= 1e6) printf "%.2f M rows/s", r/1e6; else printf "%.0f k rows/s", r/1e3 }'; }
mib() { awk -v k="$1" 'BEGIN{ printf "%.1f MiB", k/1024 }'; }
yesno() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN{ ok = (op == "<") ? (v < t) : (v >= t); print ok ? "yes" : "no" }'; }

for t in "${TOOLS[@]}"; do
    declare "B_$t=$(median "big.$t")" "S_$t=$(median "small.$t")" "O_$t=$(median "one.$t")"
    declare "RB_$t=$(median "big.$t.rss")" "RS_$t=$(median "small.$t.rss")" "C_$t=$(median "big.$t.cpu")"
done
whole_rate() { local v="B_$1"; rate "$ROWS" "${!v}"; }
# net of start-up: the 1-row run of the same tool subtracted
net_rate() {
    local b="B_$1" o="O_$1"
    awk -v n="$ROWS" -v b="${!b}" -v o="${!o}" 'BEGIN{ d = b - o; if (d <= 0) d = 1; printf "%.0f", (n - 1) / (d / 1e6) }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ printf "%.2f", a / b }'; }

R_psql=$(whole_rate psql); R_ms=$(whole_rate ms); R_jit=$(whole_rate ms_jit)
N_psql=$(net_rate psql); N_ms=$(net_rate ms); N_jit=$(net_rate ms_jit)
if [[ -n ${COMPARE:-} ]]; then R_cmp=$(whole_rate ms_cmp); N_cmp=$(net_rate ms_cmp); fi
HOOK=$(call_field run_hook_empty 2)
HOOK_RANGE="$(call_field run_hook_empty 3) – $(call_field run_hook_empty 4)"
RSS_GROWTH=$(awk -v a="$RS_ms" -v b="$RB_ms" 'BEGIN{ printf "%+.1f MiB", (b - a) / 1024 }')

MACHINE=$(machine_line)
{
    echo "## Lua runtime"
    echo
    echo "The targets of issue 3: an empty Lua hook called from C++ costs under 1 µs; \`db:each\` streams 1M rows at ≥ 50% of the rate of psql's COPY, with constant memory."
    echo
    echo "Reproduce: \`bench/lua.sh\` (knobs: \`RUNS=$RUNS ROWS=$ROWS SMALL_ROWS=$SMALL_ROWS CALLS=$CALLS CALL_RUNS=$CALL_RUNS\`)."
    echo
    echo "- when: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- machine: $MACHINE; load average (1/5/15 min) $LOAD_START at the start, $LOAD_END at the end (other work shares this machine)"
    echo "- PostgreSQL $PG_VERSION ($PG_SETTINGS), over TCP on 127.0.0.1"
    echo "- moonshift: $("$MOONSHIFT" --version 2>/dev/null | head -1), $BUILD_TYPE (binary built $MS_BUILT; the checkout's HEAD was $MS_HEAD at the start of the run); $("$PSQL" --version)"
    echo
    echo "### An empty hook, called from C++"
    echo
    echo "\`bench/lua_bench.cpp\`: a hook file \`return { on_event = function(data, ctx) end, answer = function() end }\` loaded with \`runtime::load\`, then called $CALLS times in a row, $CALL_RUNS runs, median nanoseconds per call. Each call goes the whole way the host takes: the call window (ctx.phase, ctx.migration, ctx.args set; the read-only guard), the data converted from JSON, the one protected call with its traceback handler, the outcome."
    echo
    echo "| call | median per call | min – max of the runs |"
    echo "|---|---|---|"
    printf '| floor: bare `lua_pcall` of an empty function on a plain LuaJIT state | %s ns | %s – %s ns |\n' "$(call_field raw_lua_pcall 2)" "$(call_field raw_lua_pcall 3)" "$(call_field raw_lua_pcall 4)"
    printf '| **`run_hook(s, "on_event", {})`** (empty data) | **%s ns** | %s ns |\n' "$HOOK" "$HOOK_RANGE"
    printf '| `call(s, "answer", phase::hook, {})` (no arguments, result read back as JSON) | %s ns | %s – %s ns |\n' "$(call_field call_empty 2)" "$(call_field call_empty 3)" "$(call_field call_empty 4)"
    printf '| `run_hook` with a 7-field event (what the notification dispatcher passes) | %s ns | %s – %s ns |\n' "$(call_field run_hook_event 2)" "$(call_field run_hook_event 3)" "$(call_field run_hook_event 4)"
    printf '| `run_hook(s, "on_event", {})` with the hook phase'"'"'s 30 s time budget (count hook set and cleared per call) | %s ns | %s – %s ns |\n' "$(call_field run_hook_empty_deadline 2)" "$(call_field run_hook_empty_deadline 3)" "$(call_field run_hook_empty_deadline 4)"
    echo
    echo "### db:each over $ROWS rows, against psql's COPY"
    echo
    echo "\`moonshift run each.lua N\` (a script that calls \`db:each(\"SELECT g, md5(g::text) FROM generate_series(1, \$1::int) g\", N, fn)\` with a callback that counts the rows, and checks the count) against \`psql -X -c \"\\copy (SELECT g, md5(g::text) FROM generate_series(1, N) g) TO '/dev/null'\"\`. Whole processes, wall-clock medians of $RUNS rounds, the commands interleaved, their order rotated every round. \"Net\" subtracts the median of the same command at N = 1 (start-up, connect, exit). Peak RSS and the client's CPU time (user + sys, 10 ms resolution) from \`/usr/bin/time\`; the rest of the wall time is the server's work and the waits between the two."
    echo
    echo "| command | runs | median, $ROWS rows | min – max | client CPU (user + sys) | rows/s (whole process) | rows/s (net of start-up) | vs psql (whole) | vs psql (net) | peak RSS, $SMALL_ROWS rows | peak RSS, $ROWS rows |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    printf '| baseline: `psql \\copy (…) TO '"'"'/dev/null'"'"'` | %d | %s | %s | %s | %s | %s | 1.00 | 1.00 | %s | %s |\n' \
        "$RUNS" "$(fmt_s "$B_psql")" "$(fmt_range big.psql)" "$(fmt_s "$C_psql")" "$(fmt_rate "$R_psql")" "$(fmt_rate "$N_psql")" "$(mib "$RS_psql")" "$(mib "$RB_psql")"
    printf '| **`moonshift run each.lua`** (defaults: interpreter, no JIT) | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
        "$RUNS" "$(fmt_s "$B_ms")" "$(fmt_range big.ms)" "$(fmt_s "$C_ms")" "$(fmt_rate "$R_ms")" "$(fmt_rate "$N_ms")" "$(ratio "$R_ms" "$R_psql")" "$(ratio "$N_ms" "$N_psql")" "$(mib "$RS_ms")" "$(mib "$RB_ms")"
    printf '| `moonshift run each.lua` with `[lua] jit = true` | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
        "$RUNS" "$(fmt_s "$B_ms_jit")" "$(fmt_range big.ms_jit)" "$(fmt_s "$C_ms_jit")" "$(fmt_rate "$R_jit")" "$(fmt_rate "$N_jit")" "$(ratio "$R_jit" "$R_psql")" "$(ratio "$N_jit" "$N_psql")" "$(mib "$RS_ms_jit")" "$(mib "$RB_ms_jit")"
    if [[ -n ${COMPARE:-} ]]; then
        printf '| `moonshift run each.lua`, %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
            "${COMPARE_LABEL:-$COMPARE}" "$RUNS" "$(fmt_s "$B_ms_cmp")" "$(fmt_range big.ms_cmp)" "$(fmt_s "$C_ms_cmp")" "$(fmt_rate "$R_cmp")" "$(fmt_rate "$N_cmp")" "$(ratio "$R_cmp" "$R_psql")" "$(ratio "$N_cmp" "$N_psql")" "$(mib "$RS_ms_cmp")" "$(mib "$RB_ms_cmp")"
    fi
    echo
    echo "Start-up (N = 1): psql $(fmt_s "$O_psql"), moonshift $(fmt_s "$O_ms"), moonshift with JIT $(fmt_s "$O_ms_jit")."
    echo
    echo "### Against the targets of issue 3"
    echo
    echo "| target | measured | met |"
    echo "|---|---|---|"
    printf '| an empty hook call under 1 µs | %s ns | %s |\n' "$HOOK" "$(yesno "$HOOK" 1000 '<')"
    printf '| db:each at ≥ 50%% of psql'"'"'s COPY rate (whole process, defaults) | %s | %s |\n' "$(ratio "$R_ms" "$R_psql")" "$(yesno "$(ratio "$R_ms" "$R_psql")" 0.5 '>=')"
    printf '| the same, net of start-up | %s | %s |\n' "$(ratio "$N_ms" "$N_psql")" "$(yesno "$(ratio "$N_ms" "$N_psql")" 0.5 '>=')"
    printf '| constant memory: peak RSS at %s rows against %s rows (met: grows by under 4 MiB) | %s → %s (%s) | %s |\n' "$ROWS" "$SMALL_ROWS" "$(mib "$RS_ms")" "$(mib "$RB_ms")" "$RSS_GROWTH" \
        "$(awk -v a="$RS_ms" -v b="$RB_ms" 'BEGIN{ print (b - a < 4096) ? "yes" : "no" }')"
    if [[ -n ${LUA_NOTES:-} && -f $LUA_NOTES ]]; then echo; cat "$LUA_NOTES"; fi
} >"$WORK/section.md"

echo
cat "$WORK/section.md"

if [[ $WRITE_RESULTS == 1 ]]; then
    OUT=$HERE/RESULTS.md
    # replace our section (from "## Lua runtime" to the next "## "), keep the rest
    awk -v sect="$WORK/section.md" '
        function dump() { while ((getline l < sect) > 0) print l; close(sect); print "" }
        /^## / { if (insec) insec = 0; if ($0 == "## Lua runtime") { insec = 1; done = 1; dump(); next } }
        !insec { print }
        END { if (!done) { print ""; dump() } }' "$OUT" >"$WORK/RESULTS.md"
    cp "$WORK/RESULTS.md" "$OUT.tmp.$$" && mv "$OUT.tmp.$$" "$OUT"
    say "wrote the \"Lua runtime\" section of $OUT"
fi
