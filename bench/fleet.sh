#!/usr/bin/env bash
# bench/fleet.sh — a fleet of TARGETS databases × N migrations on ONE fresh
# private PostgreSQL (fsync on): `moonshift up` in a shell loop, one database
# after the other (what teams do without a fleet), against `moonshift fleet up
# -j 2` and `-j 8` (waves "1", "10%", "100%"). Wall-clock time of the whole
# thing, and the peak of client connections (pg_stat_activity sampled every
# 50 ms, the sampler itself not counted).
#
#   bench/fleet.sh                           # writes the "Fleet" section of bench/RESULTS.md
#   TARGETS=50 N=5 RUNS=3 bench/fleet.sh
#   WRITE_RESULTS=0 bench/fleet.sh           # print only
#
# The databases are created once; before each measurement every one is put
# back to empty (its public and moonshift schemas dropped), untimed. The three
# methods run in an order rotated every round; medians of RUNS (3) rounds.
# Knobs: TARGETS N RUNS MOONSHIFT PG_BINDIR WRITE_RESULTS KEEP_WORK
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
TARGETS=${TARGETS:-200}
N=${N:-20}
RUNS=${RUNS:-3}
WRITE_RESULTS=${WRITE_RESULTS:-1}
KEEP_WORK=${KEEP_WORK:-0}

# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
[[ $RUNS -ge 3 ]] || die "RUNS must be at least 3 (a median of fewer is not one)"
find_pg_bindir
find_moonshift
MS_HEAD=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')

make_work fleet
start_postgres
PG_VERSION=$(q 'SHOW server_version')
MAXCONN=$(q 'SHOW max_connections')
RES=$WORK/results
mkdir -p "$RES"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

say "creating $TARGETS databases…"
DBS=()
for ((i = 0; i < TARGETS; i++)); do
    printf -v d 'tenant_%04d' "$i"
    DBS+=("$d")
    q "CREATE DATABASE $d TEMPLATE template0 STRATEGY FILE_COPY" >/dev/null
done

# The project: N migrations (a table, an index, a row each), and the fleet over the databases.
P=$WORK/proj
mkdir -p "$P/migrations"
for ((m = 1; m <= N; m++)); do
    printf -v v '%03d' "$m"
    printf 'CREATE TABLE t%s (id int PRIMARY KEY, v text);\nCREATE INDEX ON t%s (v);\nINSERT INTO t%s VALUES (1, '"'x'"');\n' \
        "$v" "$v" "$v" >"$P/migrations/${v}_t$v.sql"
done
{
    printf '[project]\nmigrations = "migrations"\n\n[fleet.bench]\nserver = "%s"\ndatabases = [' "$(url postgres)"
    sep=
    for d in "${DBS[@]}"; do printf '%s"%s"' "$sep" "$d"; sep=', '; done
    printf ']\nwaves = ["1", "10%%", "100%%"]\n'
} >"$P/moonshift.toml"

reset_all() {
    for d in "${DBS[@]}"; do
        qdb "$d" "DROP SCHEMA IF EXISTS moonshift CASCADE; DROP SCHEMA public CASCADE; CREATE SCHEMA public" >/dev/null 2>&1
    done
    q "CHECKPOINT" >/dev/null
}

# Samples client connections every 50 ms into $1 until killed.
sampler() {
    while kill -0 $$ 2>/dev/null; do
        q "SELECT count(*) - 1 FROM pg_stat_activity WHERE backend_type = 'client backend'" >>"$1" 2>/dev/null || true
        sleep 0.05
    done
}

run_method() {  # method → prints "ms peak"
    local s e peak f=$WORK/conn.$$ pid
    : >"$f"
    sampler "$f" &
    pid=$!
    s=${EPOCHREALTIME/./}
    case $1 in
    loop)
        for d in "${DBS[@]}"; do
            (cd "$P" && MOONSHIFT_URL=$(url "$d") "$MOONSHIFT" --no-color -q up) >>"$LOG" 2>&1 || die "up failed on $d (see $LOG)"
        done ;;
    j2) (cd "$P" && "$MOONSHIFT" --no-color fleet up -j 2) >>"$LOG" 2>&1 || die "fleet up -j 2 failed (see $LOG)" ;;
    j8) (cd "$P" && "$MOONSHIFT" --no-color fleet up -j 8) >>"$LOG" 2>&1 || die "fleet up -j 8 failed (see $LOG)" ;;
    esac
    e=${EPOCHREALTIME/./}
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    peak=$(sort -n "$f" | tail -1)
    echo "$(((e - s) / 1000)) ${peak:-0}"
}

METHODS=(loop j2 j8)
for r in $(seq 1 "$RUNS"); do
    order=("${METHODS[@]:$(((r - 1) % 3))}" "${METHODS[@]:0:$(((r - 1) % 3))}")
    for m in "${order[@]}"; do
        say "round $r/$RUNS: $m"
        reset_all
        run_method "$m" >"$WORK/one"
        read -r ms peak <"$WORK/one"
        echo "$ms" >>"$RES/$m"
        echo "$peak" >>"$RES/$m.peak"
        got=$(qdb "${DBS[$((TARGETS - 1))]}" "SELECT count(*) FROM moonshift.migrations")
        [[ $got == "$N" ]] || die "$m: the last target has $got migrations, not $N"
    done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

median() { sort -n "$RES/$1" | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
range() { sort -n "$RES/$1" | awk 'NR==1{lo=$1} {hi=$1} END{print lo " – " hi}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ printf "%.2f", a / b }'; }
secs() { awk -v a="$1" 'BEGIN{ printf "%.1f s", a / 1000 }'; }
L=$(median loop) J2=$(median j2) J8=$(median j8)

{
    echo "## Fleet"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(machine_line); load average $LOAD_START at the start,"
    echo "$LOAD_END at the end (other work shares this machine). PostgreSQL $PG_VERSION, fsync on,"
    echo "max_connections $MAXCONN, over TCP on 127.0.0.1. $TARGETS databases on one server × $N"
    echo "migrations each (a table, an index, a row); every database put back to empty before each"
    echo "measurement. Medians of $RUNS interleaved rounds (order rotated each round); peak = the most"
    echo "client connections pg_stat_activity showed at once (sampled every 50 ms)."
    echo
    echo "| method | runs | median | min – max (ms) | per target | peak connections | vs the loop |"
    echo "|---|---|---|---|---|---|---|"
    echo "| \`moonshift up\` in a shell loop, one target after the other | $RUNS | $(secs "$L") | $(range loop) | $((L / TARGETS)) ms | $(sort -n "$RES/loop.peak" | tail -1) | 1.00× |"
    echo "| **\`moonshift fleet up -j 2\`** (waves 1, 10%, 100%) | $RUNS | $(secs "$J2") | $(range j2) | $((J2 / TARGETS)) ms | $(sort -n "$RES/j2.peak" | tail -1) | $(ratio "$J2" "$L")× |"
    echo "| **\`moonshift fleet up -j 8\`** (waves 1, 10%, 100%) | $RUNS | $(secs "$J8") | $(range j8) | $((J8 / TARGETS)) ms | $(sort -n "$RES/j8.peak" | tail -1) | $(ratio "$J8" "$L")× |"
    echo
    echo "Each target is its own \`moonshift up\` child process with its own connections (two at its peak),"
    echo "so the peak follows -j (and the per-server budget, \`connections\`, default 10); the waves"
    echo "add two barriers (the canary alone, then up to 10%). On $(nproc) CPUs more jobs than CPUs"
    echo "mostly overlap the waits on the server (fsync of each commit)."
    echo
    echo "moonshift $MS_HEAD. Reproduce: \`MOONSHIFT=<a Release build> bench/fleet.sh\` (knobs: \`TARGETS N RUNS\`)."
} >"$WORK/section.md"
cat "$WORK/section.md"

if [[ $WRITE_RESULTS == 1 ]]; then
    OUT=$HERE/RESULTS.md
    awk -v sect="$WORK/section.md" '
        function dump() { while ((getline l < sect) > 0) print l; close(sect); print "" }
        /^## / { if (insec) insec = 0; if ($0 == "## Fleet") { insec = 1; done = 1; dump(); next } }
        !insec { print }
        END { if (!done) { print ""; dump() } }' "$OUT" >"$WORK/RESULTS.md"
    cp "$WORK/RESULTS.md" "$OUT.tmp.$$" && mv "$OUT.tmp.$$" "$OUT"
    say "wrote the \"Fleet\" section of $OUT"
fi
