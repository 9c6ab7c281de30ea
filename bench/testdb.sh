#!/usr/bin/env bash
# bench/testdb.sh — time to a fresh database migrated to head for a test:
# `moonshift testdb` (its first call, which migrates the template, its later
# calls with spares = 0, each one CREATE DATABASE … TEMPLATE, and its later
# calls claiming a spare made ahead, each one rename) against running the whole
# history with `moonshift up` into a fresh database, on a 300-migration
# history, side by side in ONE run on ONE fresh private PostgreSQL (fsync on).
#
#   bench/testdb.sh                    # writes the "Test databases" section of bench/RESULTS.md
#   N=1000 RUNS=3 bench/testdb.sh
#   WRITE_RESULTS=0 bench/testdb.sh    # print only
#
# Each of RUNS (5) rounds runs, in an order rotated every round:
#   first:  `moonshift testdb --spares 0` with no template on the server (the
#           template dropped beforehand, untimed): migrate the template, then clone it;
#   later:  `moonshift testdb --spares 0` LATER (5) times with the template in place;
#   spare:  `moonshift testdb` LATER times with SPARES (2) spares waiting, each
#           call claiming one (the detached refill that follows each call
#           waited for, untimed, before the next);
#   up:     `moonshift up` of the whole history into a new empty database
#           (created and checkpointed beforehand, untimed);
#   clone:  the floor of a later call: psql `CREATE DATABASE … TEMPLATE`;
#   select: the floor of any call that connects: psql `SELECT 1` (the psql
#           program, not Debian's wrapper script: bench/lib.sh).
# Every database a round makes is dropped after it (untimed). Whole-process
# wall times (start-up, config, catalog, connect, work, exit).
# Knobs: N RUNS LATER SPARES MOONSHIFT PG_BINDIR WRITE_RESULTS KEEP_WORK
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
N=${N:-300}
BACK=0
RUNS=${RUNS:-5}
LATER=${LATER:-5}
SPARES=${SPARES:-2}
[[ $SPARES -ge 1 ]] || { echo "SPARES must be at least 1" >&2; exit 2; }
WRITE_RESULTS=${WRITE_RESULTS:-1}
KEEP_WORK=${KEEP_WORK:-0}

# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
[[ $RUNS -ge 3 ]] || die "RUNS must be at least 3 (a median of fewer is not one)"
find_pg_bindir
find_moonshift
MS_HEAD=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')

make_work testdb
start_postgres
PG_VERSION=$(q 'SHOW server_version')
FORMATS=moonshift generate
RES=$WORK/results
mkdir -p "$RES"
ADMIN=$(url postgres)  # testdb's environment: its databases are made beside this one

now_us() { local t=${EPOCHREALTIME/./}; printf '%s' "$((10#$t))"; }
# timed NAME CMD…: appends the wall time (µs) to $RES/NAME; the command's
# stdout goes to $WORK/last.out, its stderr to the log.
timed() {
    local name=$1 t0 t1
    shift
    t0=$(now_us)
    "$@" >"$WORK/last.out" 2>>"$LOG" || die "$name failed: $* (see $LOG)"
    t1=$(now_us)
    echo "$((t1 - t0))" >>"$RES/$name"
}
testdb_json() { ms "$ADMIN" --json testdb --spares 0; }
spare_json() { ms "$ADMIN" --json testdb --spares "$SPARES"; }
made_db() { sed -n 's/.*"database":"\([^"]*\)".*/\1/p' "$WORK/last.out" | head -1; }
built() { grep -q '"template_built":true' "$WORK/last.out"; }
drop_made() {
    local db
    db=$(made_db)
    [[ -n $db ]] || die "testdb printed no database: $(cat "$WORK/last.out")"
    expect_tables "$db" "$N"
    drop_db "$db"
}
templates() { q "SELECT datname FROM pg_database WHERE datname LIKE 'moonshift\\_tpl\\_%'"; }
spares() { q "SELECT count(*) FROM pg_database WHERE datname LIKE 'moonshift\\_spare\\_%'"; }
refills() { q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'moonshift testdb refill'"; }
# Waits (untimed) until SPARES spares wait and no refill runs; starts one if none will come.
pool_full() {
    local i
    for i in $(seq 1 1200); do
        [[ $(spares) -ge $SPARES && $(refills) == 0 ]] && { q "CHECKPOINT" >/dev/null; return 0; }
        if [[ $i == 1 && $(spares) -lt $SPARES ]]; then
            ms "$ADMIN" testdb --spares "$SPARES" refill >>"$LOG" 2>&1 &
        fi
        sleep 0.1
    done
    die "the pool did not fill to $SPARES spares in 2 minutes (see $LOG)"
}
drop_templates() {
    ms "$ADMIN" testdb prune --older-than 0 --templates >>"$LOG" 2>&1
    [[ -z $(templates) ]] || die "a template is left after prune: $(templates)"
    q "CHECKPOINT" >/dev/null
}
ensure_template() { [[ -n $(templates) ]] || { testdb_json >"$WORK/last.out" && drop_made; }; }

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
STEPS=(first later spare up clone select)
for r in $(seq 1 "$RUNS"); do
    say "round $r/$RUNS"
    order=("${STEPS[@]:$(((r - 1) % ${#STEPS[@]}))}" "${STEPS[@]:0:$(((r - 1) % ${#STEPS[@]}))}")
    for s in "${order[@]}"; do
        case $s in
        first)
            drop_templates
            timed first testdb_json
            built || die "the first call did not build the template: $(cat "$WORK/last.out")"
            drop_made ;;
        later)
            ensure_template
            q "CHECKPOINT" >/dev/null
            for _ in $(seq 1 "$LATER"); do
                timed later testdb_json
                built && die "a later call built the template again"
                drop_made
            done ;;
        spare)
            ensure_template
            for _ in $(seq 1 "$LATER"); do
                pool_full
                timed spare spare_json
                grep -q '"spare_claimed":true' "$WORK/last.out" ||
                    die "a call with $SPARES spares waiting claimed none: $(cat "$WORK/last.out")"
                drop_made
            done
            pool_full ;;
        up)
            fresh_db "up_$r"
            timed up ms "$(url "up_$r")" up
            expect_tables "up_$r" "$N"
            drop_db "up_$r" ;;
        clone)
            ensure_template
            q "CHECKPOINT" >/dev/null
            tpl=$(templates)
            timed clone q "CREATE DATABASE clone_$r TEMPLATE \"$tpl\""
            drop_db "clone_$r" ;;
        select)
            for _ in $(seq 1 "$LATER"); do timed select q "SELECT 1"; done ;;
        esac
    done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

median() { sort -n "$RES/$1" | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2) }'; }
ms_of() { awk -v us="$1" 'BEGIN{ if (us >= 1000000) printf "%.2f s", us / 1e6; else printf "%.1f ms", us / 1000 }'; }
range() { printf '%s – %s' "$(ms_of "$(sort -n "$RES/$1" | head -1)")" "$(ms_of "$(sort -n "$RES/$1" | tail -1)")"; }
runs() { wc -l <"$RES/$1" | tr -d ' '; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ printf "%.3f", a / b }'; }
F=$(median first) L=$(median later) S=$(median spare) U=$(median up) C=$(median clone) Q=$(median select)
GOAL=$(awk -v l="$S" 'BEGIN{ print (l <= 50000) ? "met" : "NOT met" }')

{
    echo "## Test databases (issue 16)"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(machine_line); load average $LOAD_START at the start,"
    echo "$LOAD_END at the end (other work shares this machine). PostgreSQL $PG_VERSION, fsync on, over TCP on"
    echo "127.0.0.1. History: $N trivial migrations (bench/lib.sh's: a table, an index, a row each). Medians of"
    echo "$RUNS interleaved rounds (order rotated each round; $LATER later calls per round), whole-process wall time."
    echo
    echo "| what | runs | median | min – max | vs \`up\` into a fresh database |"
    echo "|---|---|---|---|---|"
    echo "| \`moonshift up\` of the whole history into a new empty database | $(runs up) | $(ms_of "$U") | $(range up) | 1.000× |"
    echo "| **\`moonshift testdb\`, first call** (migrates the template through \`up\`, then clones it) | $(runs first) | $(ms_of "$F") | $(range first) | $(ratio "$F" "$U")× |"
    echo "| **\`moonshift testdb\`, later calls** with \`spares = 0\` (one \`CREATE DATABASE … TEMPLATE\`) | $(runs later) | $(ms_of "$L") | $(range later) | $(ratio "$L" "$U")× |"
    echo "| **\`moonshift testdb\`, later call, claiming a spare** (one \`ALTER DATABASE … RENAME\`; $SPARES spares waiting) | $(runs spare) | $(ms_of "$S") | $(range spare) | $(ratio "$S" "$U")× |"
    echo "| floor of a later call: psql \`CREATE DATABASE … TEMPLATE\` | $(runs clone) | $(ms_of "$C") | $(range clone) | $(ratio "$C" "$U")× |"
    echo "| floor of any call that connects: psql \`-c 'SELECT 1'\` | $(runs select) | $(ms_of "$Q") | $(range select) | $(ratio "$Q" "$U")× |"
    echo
    echo "Goal (issue 16): a fresh migrated database in ≤ 50 ms whatever the history's length — **$GOAL**"
    echo "($(ms_of "$S") per later call claiming a spare, which leaves the server's copy of the template to a"
    echo "detached refill; without spares $(ms_of "$L"), $(ratio "$L" "$C")× the bare \`CREATE DATABASE … TEMPLATE\`, so the rest of a"
    echo "call — start-up, moonshift.toml, reading and hashing the $N migrations, connecting — costs about $(ms_of "$((L > C ? L - C : 0))"))."
    echo "A psql process that connects and runs \`SELECT 1\` takes $(ms_of "$Q") here: a call claiming a spare is"
    echo "$(ratio "$S" "$Q")× that, $(ms_of "$((S > Q ? S - Q : 0))") more (psql is the program itself, not Debian's wrapper script, which adds about 40 ms)."
    echo
    echo "moonshift $MS_HEAD. Reproduce: \`MOONSHIFT=<a Release build> bench/testdb.sh\` (knobs: \`N RUNS LATER SPARES\`)."
} >"$WORK/section.md"
cat "$WORK/section.md"

if [[ $WRITE_RESULTS == 1 ]]; then
    OUT=$HERE/RESULTS.md
    awk -v sect="$WORK/section.md" '
        function dump() { while ((getline l < sect) > 0) print l; close(sect); print "" }
        /^## / { if (insec) insec = 0; if ($0 == "## Test databases (issue 16)") { insec = 1; done = 1; dump(); next } }
        !insec { print }
        END { if (!done) { print ""; dump() } }' "$OUT" >"$WORK/RESULTS.md"
    cp "$WORK/RESULTS.md" "$OUT.tmp.$$" && mv "$OUT.tmp.$$" "$OUT"
    say "wrote the \"Test databases (issue 16)\" section of $OUT"
fi
