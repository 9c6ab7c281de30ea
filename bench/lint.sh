#!/usr/bin/env bash
# bench/lint.sh — moonshift lint against squawk (npm package squawk-cli) on
# the same 1,000-statement file, and the cost of the lint gate of `up` over
# 1,000 migration files.
#
#   bench/lint.sh                  # measure, and write the "Lint" part of the
#                                  # "Safety" section of bench/RESULTS.md
#   RUNS=5 WRITE_RESULTS=0 bench/lint.sh
#
# Both tools run as whole processes (start-up, reading, parsing, rules,
# output), offline, on the same file; wall-clock medians of RUNS rounds, the
# two interleaved. squawk is installed into a temporary directory with npm.
# Knobs: RUNS (11)  STATEMENTS (1000)  FILES (1000)  MOONSHIFT (binary; default:
# a Release build in build-bench/)  SQUAWK (binary; default: npm install)
# SQUAWK_VERSION (latest)  WRITE_RESULTS (1)  KEEP_WORK (0)
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
RUNS=${RUNS:-11}
STATEMENTS=${STATEMENTS:-1000}
FILES=${FILES:-1000}
WRITE_RESULTS=${WRITE_RESULTS:-1}
KEEP_WORK=${KEEP_WORK:-0}

say() { printf '%s\n' "$*" >&2; }
die() { say "lint.sh: $*"; exit 1; }
(( BASH_VERSINFO[0] >= 5 )) || die "needs bash 5 (EPOCHREALTIME)"

WORK=$(mktemp -d /tmp/moonshift-bench-lint.XXXXXX)
cleanup() {
    local rc=$?
    if [[ $KEEP_WORK == 1 ]]; then say "work dir kept: $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z ${MOONSHIFT:-} ]]; then
    say "building moonshift (Release, build-bench/)…"
    cmake -S "$REPO" -B "$REPO/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$REPO/build-bench" -j"$(nproc)" --target moonshift >/dev/null
    MOONSHIFT=$REPO/build-bench/moonshift
fi
BUILD="$("$MOONSHIFT" --version 2>/dev/null), commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')${BUILD_NOTE:+, $BUILD_NOTE}"
[[ -x $MOONSHIFT ]] || die "moonshift binary not found: $MOONSHIFT"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is needed (apt-get install time)"

if [[ -z ${SQUAWK:-} ]]; then
    command -v npm >/dev/null || die "npm is needed to install squawk-cli"
    say "installing squawk-cli${SQUAWK_VERSION:+@$SQUAWK_VERSION} (npm) into $WORK/squawk…"
    mkdir -p "$WORK/squawk"
    (cd "$WORK/squawk" && npm install --prefix "$WORK/squawk" --no-save --no-audit --no-fund --no-package-lock \
        "squawk-cli${SQUAWK_VERSION:+@$SQUAWK_VERSION}" >/dev/null 2>&1) || die "npm install squawk-cli failed"
    SQUAWK=$WORK/squawk/node_modules/.bin/squawk
    # The npm wrapper is a node script that starts the real binary; time the binary itself.
    real=$(find "$WORK/squawk/node_modules" -type f -name squawk -perm -u+x -path '*@squawk-cli/*' 2>/dev/null | head -1 || true)
    [[ -n $real ]] && "$real" --version >/dev/null 2>&1 && SQUAWK=$real
fi
"$SQUAWK" --version >/dev/null 2>&1 || die "squawk does not run: $SQUAWK"
SQUAWK_V=$("$SQUAWK" --version 2>&1 | head -1)

# ------------------------------------------------------------ the input ----
# A realistic mix: tables, columns, indexes (safe and unsafe), constraints,
# backfills, grants, functions, drops — so that most rules of both tools run.
say "generating $STATEMENTS statements…"
P=$WORK/project
mkdir -p "$P/migrations"
F=$P/statements.sql
: >"$F"
for ((i = 1; i <= STATEMENTS; i++)); do
    t=t$(( (i + 9) / 10 ))
    case $(( i % 10 )) in
        1) printf 'CREATE TABLE IF NOT EXISTS %s (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());\n' "$t" ;;
        2) printf 'ALTER TABLE %s ADD COLUMN email text;\n' "$t" ;;
        3) printf 'CREATE INDEX CONCURRENTLY IF NOT EXISTS %s_email ON %s (email);\n' "$t" "$t" ;;
        4) printf 'UPDATE %s SET email = lower(name) || '"'"'@example.com'"'"' WHERE email IS NULL AND id < 10000;\n' "$t" ;;
        5) printf 'ALTER TABLE %s ADD CONSTRAINT %s_email_len CHECK (length(email) < 320) NOT VALID;\n' "$t" "$t" ;;
        6) printf 'ALTER TABLE %s VALIDATE CONSTRAINT %s_email_len;\n' "$t" "$t" ;;
        7) printf 'CREATE INDEX %s_created ON %s (created_at);\n' "$t" "$t" ;;
        8) printf 'INSERT INTO %s (name) SELECT '"'"'user '"'"' || g FROM generate_series(1, 10) g;\n' "$t" ;;
        9) printf 'CREATE OR REPLACE FUNCTION %s_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.created_at := now(); RETURN NEW; END $$;\n' "$t" ;;
        0) printf 'ALTER TABLE %s ALTER COLUMN email SET NOT NULL;\n' "$t" ;;
    esac >>"$F"
done
# The same shape as bench/core.sh's 1,000 migrations, for the gate of `up`.
W=${#FILES}; (( W < 4 )) && W=4
for ((i = 1; i <= FILES; i++)); do
    printf -v v "%0${W}d" "$i"
    printf 'CREATE TABLE t%s (id int primary key, v text);\nCREATE INDEX ON t%s (v);\nINSERT INTO t%s VALUES (1, '"'"'x'"'"');\n' \
        "$v" "$v" "$v" >"$P/migrations/${v}_t$v.sql"
done

# ------------------------------------------------------------ measuring ----
now_us() { local t=${EPOCHREALTIME/./}; printf '%s' "$((10#$t))"; }
# measure NAME CMD...: appends the wall time (µs) to $WORK/NAME and the CPU
# time (user + system, µs) to $WORK/NAME.cpu. On a shared machine the CPU
# time is the steadier of the two.
measure() {
    local name=$1 t0 t1
    shift
    # bash's own `time` (getrusage of the child, to the millisecond; GNU
    # time prints hundredths of a second)
    local TIMEFORMAT='%3U %3S'
    t0=$(now_us)
    { time "$@" >/dev/null 2>&1; } 2>"$WORK/time.out" || true
    t1=$(now_us)
    echo "$((t1 - t0))" >>"$WORK/$name"
    awk '{ printf "%d\n", ($1 + $2) * 1000000 }' "$WORK/time.out" >>"$WORK/$name.cpu"
}
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
fmt_ms() { awk -v us="$1" 'BEGIN { printf "%.1f ms", us / 1000 }'; }

LOAD_START=$(cut -d" " -f1-3 /proc/loadavg)
# Sanity: both tools really lint the file (and find something in it).
m_found=$(cd "$P" && "$MOONSHIFT" --no-color lint --offline statements.sql 2>&1 | grep -c ': error \|: warning ' || true)
s_found=$("$SQUAWK" "$F" 2>&1 | grep -c -i 'warning\|error' || true)
say "moonshift reports $m_found finding(s), squawk $s_found line(s) of findings"
(( m_found > 0 )) || die "moonshift lint found nothing: is the binary current?"

: >"$WORK/m" ; : >"$WORK/s" ; : >"$WORK/g"
cd "$P"
for ((r = 1; r <= RUNS; r++)); do
    if (( r % 2 )); then
        measure m "$MOONSHIFT" lint --offline statements.sql
        measure s "$SQUAWK" "$F"
    else
        measure s "$SQUAWK" "$F"
        measure m "$MOONSHIFT" lint --offline statements.sql
    fi
    measure g "$MOONSHIFT" lint --offline
done
cd - >/dev/null
LOAD_END=$(cut -d" " -f1-3 /proc/loadavg)
M=$(median <"$WORK/m"); MC=$(median <"$WORK/m.cpu")
S=$(median <"$WORK/s"); SC=$(median <"$WORK/s.cpu")
G=$(median <"$WORK/g"); GC=$(median <"$WORK/g.cpu")
RATIO=$(awk -v m="$M" -v s="$S" 'BEGIN { printf "%.2f", m / s }')
RATIO_CPU=$(awk -v m="$MC" -v s="$SC" 'BEGIN { printf "%.2f", (s > 0) ? m / s : 0 }')

{
    echo "### Lint: moonshift against squawk"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPU(s) shared with other work (load average 1/5/15 min: $LOAD_START at the start,"
    echo "$LOAD_END at the end), $RUNS rounds, medians of whole-process wall time."
    echo "Input: one file of $STATEMENTS statements (tables, columns, indexes safe and unsafe, constraints, backfills,"
    echo "functions), linted offline by both tools. squawk: $SQUAWK_V (the binary, not the npm wrapper)."
    echo
    echo "| what | wall time | CPU time (user + sys) |"
    echo "|---|---|---|"
    echo "| \`moonshift lint --offline\` on the $STATEMENTS-statement file ($m_found findings) | $(fmt_ms "$M") | $(fmt_ms "$MC") |"
    echo "| \`squawk\` on the same file | $(fmt_ms "$S") | $(fmt_ms "$SC") |"
    echo "| moonshift / squawk | ${RATIO}× | ${RATIO_CPU}× |"
    echo "| \`moonshift lint --offline\` over $FILES migration files (the gate's parse + lint of a $FILES-migration \`up\`) | $(fmt_ms "$G") | $(fmt_ms "$GC") |"
    echo
    echo "moonshift: $BUILD. Reproduce: \`bench/lint.sh\` (knobs: \`RUNS STATEMENTS FILES MOONSHIFT SQUAWK\`)."
    echo
    verdict=$(awk -v r="$RATIO" -v c="$RATIO_CPU" 'BEGIN { print (r <= 1.0 && c <= 1.0) ? "met" : "NOT met" }')
    echo "Target: at least as fast as squawk on the same file — **$verdict** (${RATIO}× wall, ${RATIO_CPU}× CPU)."
} >"$WORK/section.md"

echo
cat "$WORK/section.md"

if [[ $WRITE_RESULTS == 1 ]]; then
    "$HERE/write-safety-results.sh" "### Lint: moonshift against squawk" "$WORK/section.md"
fi
