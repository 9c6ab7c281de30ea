#!/usr/bin/env bash
# bench/core.sh — the core engine against the limit (plain psql) and against
# dbmate and Sqitch, side by side in ONE run on ONE fresh PostgreSQL.
#
#   bench/core.sh                  # everything, writes bench/RESULTS.md "Core engine"
#   RUNS=3 bench/core.sh           # fewer rounds (at least 3)
#   WRITE_RESULTS=0 bench/core.sh  # print only
#
# What it does:
#   1. generates N (1,000) trivial migrations — a table, an index, a row — and
#      their down scripts in the formats of moonshift, dbmate and Sqitch;
#   2. starts a private PostgreSQL (initdb defaults: fsync on) on 127.0.0.1,
#      on a free port, under a temporary directory;
#   3. for each of RUNS rounds, each measurement on a freshly created empty
#      database (tools interleaved, their order rotated every round):
#        apply:    psql -1 -f all.sql (limit A), psql -f with BEGIN/COMMIT per
#                  file (limit B), moonshift up, dbmate up, sqitch deploy;
#        status:   over N applied — moonshift status, one psql query,
#                  dbmate status, sqitch status;
#        rollback: BACK (100) of N — psql running the down files each in its
#                  own transaction (the limit), moonshift down --steps,
#                  dbmate rollback x BACK, sqitch revert --to @HEAD^BACK;
#   4. prints medians and ratios against the limit measured in the same run,
#      and rewrites the "Core engine" section of bench/RESULTS.md.
# Everything it starts is stopped, and its temporary directory removed, on
# exit (also on Ctrl-C). It is not part of the test suite.
#
# Environment knobs:
#   RUNS (5)  N (1000)  BACK (100)  STATUS_REPS (10, per round)
#   MOONSHIFT       path of the moonshift binary (default: build Release into
#                   build-bench/ with cmake, which is a no-op when up to date)
#   DBMATE          path of dbmate (default: npm install into bench/node_modules)
#   DBMATE_VERSION  (2.36.0)    PG_BINDIR (newest /usr/lib/postgresql/*/bin)
#   WRITE_RESULTS   (1)         KEEP_WORK (0: keep the temp dir for inspection)
#   COMPARE         another moonshift binary (e.g. built before a change), measured
#                   in the same rounds as "moonshift (COMPARE_LABEL)"; its rows are
#                   added to each table with its ratio to this build
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
RUNS=${RUNS:-5}
N=${N:-1000}
BACK=${BACK:-100}
STATUS_REPS=${STATUS_REPS:-10}
DBMATE_VERSION=${DBMATE_VERSION:-2.36.0}
WRITE_RESULTS=${WRITE_RESULTS:-1}
KEEP_WORK=${KEEP_WORK:-0}

# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

[[ $RUNS -ge 3 ]] || die "RUNS must be at least 3 (a median of fewer is not one)"
[[ $BACK -le $N ]] || die "BACK ($BACK) must not exceed N ($N)"

# ---------------------------------------------------------------- tools ----
find_pg_bindir

if ! command -v sqitch >/dev/null || ! perl -MDBD::Pg -e1 2>/dev/null; then
    is_root || die "sqitch (with DBD::Pg) is missing: apt-get install sqitch libdbd-pg-perl"
    say "installing sqitch and libdbd-pg-perl (apt)…"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q sqitch libdbd-pg-perl >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q sqitch libdbd-pg-perl >/dev/null; }
fi
SQITCH=$(command -v sqitch)

if [[ -z ${DBMATE:-} ]]; then
    DBMATE=$HERE/node_modules/.bin/dbmate
    if ! "$DBMATE" --version >/dev/null 2>&1; then
        command -v npm >/dev/null || die "npm is needed to install dbmate (apt-get install npm)"
        say "installing dbmate@$DBMATE_VERSION (npm) into bench/node_modules…"
        (cd "$HERE" && npm install --prefix "$HERE" --no-save --no-audit --no-fund --no-package-lock "dbmate@$DBMATE_VERSION" >/dev/null)
    fi
fi
"$DBMATE" --version >/dev/null 2>&1 || die "dbmate does not run: $DBMATE"

find_moonshift
MS_HEAD=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')
MS_BUILT=$(date -u -r "$MOONSHIFT" '+%Y-%m-%d %H:%M UTC')
MS_DIRTY=$(git -C "$REPO" status --porcelain --untracked-files=no -- host CMakeLists.txt migrations 2>/dev/null | head -1)

# ------------------------------------------------- postgres, migrations ----
make_work bench
start_postgres
PG_VERSION=$(q 'SHOW server_version')
PG_SETTINGS="fsync=$(q 'SHOW fsync'), synchronous_commit=$(q 'SHOW synchronous_commit'), wal_sync_method=$(q 'SHOW wal_sync_method'), full_page_writes=$(q 'SHOW full_page_writes'), shared_buffers=$(q 'SHOW shared_buffers')"
generate
export SQITCH_FULLNAME=Bench SQITCH_EMAIL=bench@example.invalid
export SQITCH_USER_CONFIG=$WORK/no-user-sqitch.conf SQITCH_SYSTEM_CONFIG=$WORK/no-system-sqitch.conf
export SQITCH_CONFIG=$SQ/sqitch.conf

# -------------------------------------------------------------- timing ----
RES=$WORK/results
mkdir -p "$RES"
# runs "$@", appends its wall time in microseconds to $RES/$key; fails loudly
timed() {
    local key=$1; shift
    local s e
    s=${EPOCHREALTIME/./}
    if ! "$@" >>"$LOG" 2>&1; then
        tail -30 "$LOG" >&2
        die "failed: $key: $*"
    fi
    e=${EPOCHREALTIME/./}
    echo $((e - s)) >>"$RES/$key"
}

dm() { DATABASE_URL=$1 "$DBMATE" --no-dump-schema -d "$DM/db/migrations" "${@:2}"; }
sq() { (cd "$SQ" && "$SQITCH" "$@"); }
sq_target() { printf 'db:pg://postgres@127.0.0.1:%s/%s' "$PORT" "$1"; }

apply_A() { "$PSQL" -X -q -1 -v ON_ERROR_STOP=1 -d "$(url "$1")" -f "$P/all.sql"; }
apply_B() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$(url "$1")" -f "$P/each.sql"; }
apply_moonshift() { ms "$(url "$1")" up; }
apply_dbmate() { dm "$(url "$1")" up; }
apply_sqitch() { sq deploy "$(sq_target "$1")"; }

status_moonshift() { ms "$(url "$1")" status; }
status_psql() { "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -d "$(url "$1")" -c 'SELECT * FROM moonshift.migrations'; }
status_dbmate() { dm "$(url "$1")" status; }
status_sqitch() { sq status "$(sq_target "$1")"; }

down_psql() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$(url "$1")" -f "$P/down.sql"; }
down_moonshift() { ms "$(url "$1")" down --steps "$BACK"; }
down_dbmate() { local k; for ((k = 0; k < BACK; k++)); do dm "$(url "$1")" rollback || return; done; }
# Sqitch counts back with ^ (@HEAD^3: three before HEAD); @HEAD~N would count forward.
down_sqitch() { sq revert -y --to "@HEAD^$BACK" "$(sq_target "$1")"; }

# The other moonshift binary of COMPARE, on the same project and databases.
msc() { MOONSHIFT=$COMPARE ms "$@"; }
apply_before() { msc "$(url "$1")" up; }
status_before() { msc "$(url "$1")" status; }
down_before() { msc "$(url "$1")" down --steps "$BACK"; }

APPLY=(A B moonshift dbmate sqitch)
STATUS_TOOLS=(moonshift psql dbmate)
DOWN_TOOLS=(psql moonshift dbmate sqitch)
if [[ -n ${COMPARE:-} ]]; then
    [[ -x $COMPARE ]] || die "COMPARE is not an executable: $COMPARE"
    COMPARE_LABEL=${COMPARE_LABEL:-$COMPARE}
    APPLY+=(before); STATUS_TOOLS+=(before); DOWN_TOOLS+=(before)
fi
db_of() { case $1 in A) echo "r${2}_a" ;; B | psql) echo "r${2}_b" ;; *) echo "r${2}_$1" ;; esac; }

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "PostgreSQL $PG_VERSION on 127.0.0.1:$PORT ($PG_SETTINGS); $RUNS rounds of $N migrations"
for ((r = 1; r <= RUNS; r++)); do
    # rotate the order each round so drift in machine speed spreads evenly
    order=("${APPLY[@]:$(((r - 1) % ${#APPLY[@]}))}" "${APPLY[@]:0:$(((r - 1) % ${#APPLY[@]}))}")
    for tool in "${order[@]}"; do
        db=$(db_of "$tool" "$r")
        fresh_db "$db"
        timed "apply.$tool" "apply_$tool" "$db"
        expect_tables "$db" "$N"
        say "  round $r/$RUNS  apply  $(printf '%-10s' "$tool") $(awk -v u="$(tail -1 "$RES/apply.$tool")" 'BEGIN{printf "%.2f s", u/1e6}')"
    done
    if ((r == 1)); then  # the tools agree that N are applied
        ms "$(url "$(db_of moonshift 1)")" status >"$WORK/status.txt" 2>&1 || { cat "$WORK/status.txt" >&2; die "moonshift status failed"; }
        grep -q "^$N applied, 0 pending" "$WORK/status.txt" || { tail -3 "$WORK/status.txt" >&2; die "moonshift status does not report $N applied"; }
        [[ $(qdb "$(db_of moonshift 1)" 'SELECT count(*) FROM moonshift.migrations') == "$N" ]] || die "moonshift.migrations does not have $N rows"
    fi
    q CHECKPOINT >/dev/null
    for ((k = 0; k < STATUS_REPS; k++)); do
        for tool in "${STATUS_TOOLS[@]}"; do
            # psql reads the same history as moonshift status
            timed "status.$tool" "status_$tool" "$(db_of "$([[ $tool == psql ]] && echo moonshift || echo "$tool")" "$r")"
        done
        ((k < 3)) && timed status.sqitch status_sqitch "$(db_of sqitch "$r")"
    done
    for tool in "${DOWN_TOOLS[@]}"; do
        db=$(db_of "$tool" "$r")
        q CHECKPOINT >/dev/null
        timed "down.$tool" "down_$tool" "$db"
        expect_tables "$db" $((N - BACK))
        say "  round $r/$RUNS  down   $(printf '%-10s' "$tool") $(awk -v u="$(tail -1 "$RES/down.$tool")" 'BEGIN{printf "%.3f s", u/1e6}')"
    done
    for tool in "${APPLY[@]}"; do drop_db "$(db_of "$tool" "$r")"; done
done

# ------------------------------------------------------- peak memory ----
# Once each, outside the timed rounds: up over N with down scripts, and over
# the same N forward-only (no down scripts: every reverse derived from the
# catalog), with GNU time's maximum resident set size.
FWD=$WORK/forward-only
mkdir -p "$FWD/migrations"
cp "$MS/moonshift.toml" "$FWD/"
for f in "$MS"/migrations/*.sql; do [[ $f == *.down.sql ]] || cp "$f" "$FWD/migrations/"; done
peak_kb() {  # dir db → KB; also appends the wall time to $RES/$3
    local s e
    fresh_db "$2"
    s=${EPOCHREALTIME/./}
    (cd "$1" && DATABASE_URL=$(url "$2") /usr/bin/time -f %M -o "$WORK/mem.$3" \
        "$MOONSHIFT" --config "$1/moonshift.toml" --env bench up) >>"$LOG" 2>&1 || die "failed: up in $1 (see $LOG)"
    e=${EPOCHREALTIME/./}
    echo $((e - s)) >>"$RES/$3"
    expect_tables "$2" "$N"
    drop_db "$2"
    tail -1 "$WORK/mem.$3"
}
MEM_DOWN=$(peak_kb "$MS" mem_down once.down)
MEM_FWD=$(peak_kb "$FWD" mem_fwd once.fwd)
say "  peak memory of up over $N: $((MEM_DOWN / 1024)) MB with down scripts, $((MEM_FWD / 1024)) MB forward-only"

# ------------------------------------------------------------- results ----
median_us() { sort -n "$RES/$1" | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
range_us() { sort -n "$RES/$1" | awk 'NR==1{lo=$1} {hi=$1} END{print lo, hi}'; }
count() { wc -l <"$RES/$1" | tr -d ' '; }
fmt_s() { awk -v u="$1" 'BEGIN{ if (u < 1e6) printf "%.1f ms", u/1e3; else printf "%.2f s", u/1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ printf "%.2f×", a/b }'; }

for k in apply.A apply.B apply.moonshift apply.dbmate apply.sqitch status.moonshift status.psql status.dbmate status.sqitch down.psql down.moonshift down.dbmate down.sqitch; do
    declare "M_${k/./_}=$(median_us "$k")"
done

MS_VERSION=$("$MOONSHIFT" --version 2>/dev/null | head -1)
MS_BUILD="binary built $MS_BUILT; the checkout's HEAD was $MS_HEAD at the start of the run${MS_DIRTY:+, with uncommitted changes in host/}"
DM_VERSION=$("$DBMATE" --version 2>/dev/null | head -1 | sed 's/^dbmate version //')
SQ_VERSION=$("$SQITCH" --version 2>/dev/null | head -1)
PSQL_VERSION=$("$PSQL" --version | head -1)
WHEN=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

verdict() {  # value target-expression → "yes"/"no"
    awk -v v="$1" -v t="$2" 'BEGIN{ print (v <= t) ? "yes" : "no" }'
}

row() {  # label key limit_key [second_limit_key]
    local label=$1 key=$2 lim=$3 lim2=${4:-} m lo hi r2=""
    m=$(median_us "$key"); read -r lo hi < <(range_us "$key")
    [[ -n $lim2 ]] && r2=" | $(ratio "$m" "$(median_us "$lim2")")"
    printf '| %s | %s | %s | %s – %s | %s%s |\n' "$label" "$(count "$key")" "$(fmt_s "$m")" "$(fmt_s "$lo")" "$(fmt_s "$hi")" \
        "$(ratio "$m" "$(median_us "$lim")")" "$r2"
}

{
    echo "## Core engine"
    echo
    echo "$N trivial migrations (each: \`CREATE TABLE tN (id int primary key, v text); CREATE INDEX ON tN (v); INSERT INTO tN VALUES (1,'x');\`, down: \`DROP TABLE tN\`), every tool on the same private PostgreSQL in one run, each measurement on a freshly created empty database, the tools interleaved round by round. Times are wall-clock medians (whole process: start-up, connect, work, exit). Ratios are against the limit measured in the same run — compare only within one run, the machines are noisy."
    echo
    echo "Reproduce: \`bench/core.sh\` (knobs: \`RUNS=$RUNS N=$N BACK=$BACK STATUS_REPS=$STATUS_REPS\`)."
    echo
    echo "- when: $WHEN"
    echo "- machine: $(machine_line); load average (1/5/15 min) $LOAD_START at the start, $LOAD_END at the end (other work shares this machine)"
    echo "- PostgreSQL $PG_VERSION (initdb defaults: $PG_SETTINGS), over TCP on 127.0.0.1"
    echo "- moonshift: $MS_VERSION, Release ($MS_BUILD); dbmate $DM_VERSION; $SQ_VERSION; $PSQL_VERSION (the program \`$PSQL\`, not Debian's wrapper script \`/usr/bin/psql\`, which adds about 40 ms to each call)"
    echo
    echo "### Apply $N migrations to an empty database"
    echo
    echo "| tool | runs | median | min – max | vs limit B (a transaction per file) | vs limit A (\`psql -1\`, one transaction) |"
    echo "|---|---|---|---|---|---|"
    row 'limit A: `psql -X -q -1 -f all.sql`' apply.A apply.B apply.A
    row 'limit B: `psql -X -q -f` (BEGIN; file; COMMIT; ×N)' apply.B apply.B apply.A
    row '**moonshift up**' apply.moonshift apply.B apply.A
    row 'dbmate up' apply.dbmate apply.B apply.A
    row 'sqitch deploy' apply.sqitch apply.B apply.A
    [[ -n ${COMPARE:-} ]] && row "moonshift up ($COMPARE_LABEL)" apply.before apply.B apply.A
    echo
    echo "### Status over $N applied migrations"
    echo
    echo "| tool | runs | median | min – max | vs one psql query |"
    echo "|---|---|---|---|---|"
    row 'limit: `psql -c "SELECT * FROM moonshift.migrations"`' status.psql status.psql
    row '**moonshift status**' status.moonshift status.psql
    row 'dbmate status' status.dbmate status.psql
    row 'sqitch status' status.sqitch status.psql
    [[ -n ${COMPARE:-} ]] && row "moonshift status ($COMPARE_LABEL)" status.before status.psql
    echo
    echo "### Roll back $BACK of $N"
    echo
    echo "| tool | runs | median | min – max | vs limit (psql, a transaction per down file) |"
    echo "|---|---|---|---|---|"
    row 'limit: `psql -X -q -f` (BEGIN; down file; COMMIT; ×'"$BACK"')' down.psql down.psql
    row "**moonshift down --steps $BACK**" down.moonshift down.psql
    row "dbmate rollback ×$BACK (one per call)" down.dbmate down.psql
    row "sqitch revert --to @HEAD^$BACK -y" down.sqitch down.psql
    [[ -n ${COMPARE:-} ]] && row "moonshift down --steps $BACK ($COMPARE_LABEL)" down.before down.psql
    echo
    echo "### Against the targets of issue 2"
    echo
    echo "| target | measured | met |"
    echo "|---|---|---|"
    rB=$(awk -v a="$M_apply_moonshift" -v b="$M_apply_B" 'BEGIN{print a/b}')
    rD=$(awk -v a="$M_apply_moonshift" -v b="$M_apply_dbmate" 'BEGIN{print a/b}')
    printf '| apply within 1.05× of the limit B | %s | %s |\n' "$(ratio "$M_apply_moonshift" "$M_apply_B")" "$(verdict "$rB" 1.05)"
    printf '| apply at least 10%% ahead of dbmate (≤ 0.90× dbmate) | %s of dbmate | %s |\n' "$(awk -v r="$rD" 'BEGIN{printf "%.2f×", r}')" "$(verdict "$rD" 0.90)"
    printf '| status over %s applied ≤ 20 ms | %s | %s |\n' "$N" "$(fmt_s "$M_status_moonshift")" "$(verdict "$M_status_moonshift" 20000)"
    printf '| roll back %s of %s ≤ 0.3 s | %s | %s |\n' "$BACK" "$N" "$(fmt_s "$M_down_moonshift")" "$(verdict "$M_down_moonshift" 300000)"
    # The absolute targets were set on a machine where the limits took 14 ms
    # (status query) and 0.15-0.17 s (roll back 100); scaled to this run's limits:
    rS=$(awk -v a="$M_status_moonshift" -v b="$M_status_psql" 'BEGIN{print a/b}')
    rR=$(awk -v a="$M_down_moonshift" -v b="$M_down_psql" 'BEGIN{print a/b}')
    printf '| status, scaled: ≤ 1.43× the psql query (20 ms against the 14 ms the issue measured for it) | %s | %s |\n' "$(ratio "$M_status_moonshift" "$M_status_psql")" "$(verdict "$rS" 1.43)"
    printf '| roll back, scaled: ≤ 1.76× the psql limit (0.3 s against the 0.15–0.17 s the issue measured for it) | %s | %s |\n' "$(ratio "$M_down_moonshift" "$M_down_psql")" "$(verdict "$rR" 1.76)"
    echo
    echo "### Against the targets of issue 16"
    echo
    LIM=$M_apply_B; ((M_apply_A < LIM)) && LIM=$M_apply_A
    r1=$(awk -v a="$M_apply_moonshift" -v b="$LIM" 'BEGIN{print a/b}')
    echo "| target | measured | met |"
    echo "|---|---|---|"
    printf '| apply ≤ 0.8× the psql limit (the better of A and B: %s) | %s | %s |\n' "$(fmt_s "$LIM")" "$(ratio "$M_apply_moonshift" "$LIM")" "$(verdict "$r1" 0.8)"
    printf '| apply ≤ 0.75× dbmate | %s | %s |\n' "$(ratio "$M_apply_moonshift" "$M_apply_dbmate")" "$(verdict "$rD" 0.75)"
    printf '| status ≤ 1.0× one psql query | %s | %s |\n' "$(ratio "$M_status_moonshift" "$M_status_psql")" "$(verdict "$rS" 1.0)"
    printf '| roll back %s of %s ≤ 1.0× psql running the down files | %s | %s |\n' "$BACK" "$N" "$(ratio "$M_down_moonshift" "$M_down_psql")" "$(verdict "$rR" 1.0)"
    printf '| peak memory of up over %s < 64 MB (maximum resident set, GNU time) | %s MB with down scripts, %s MB forward-only | %s |\n' "$N" \
        "$((MEM_DOWN / 1024))" "$((MEM_FWD / 1024))" "$( ((MEM_DOWN < 65536 && MEM_FWD < 65536)) && echo yes || echo no)"
    echo
    echo "Forward-only (no down scripts, each reverse derived from the catalog), one run each outside the rounds: up over $N took $(fmt_s "$(cat "$RES/once.fwd")") against $(fmt_s "$(cat "$RES/once.down")") with down scripts."
    echo
    if [[ $(verdict "$M_status_psql" 20000) == no || $(verdict "$M_down_psql" 300000) == no ]]; then
        echo "On this run the limits themselves miss the absolute targets (one psql query: $(fmt_s "$M_status_psql"); psql rolling back $BACK: $(fmt_s "$M_down_psql")): the machine was much slower than the one the targets were set on, so read the scaled rows."
        echo
    fi
    if [[ -n ${COMPARE:-} ]]; then
        echo "### This build against $COMPARE_LABEL (same rounds)"
        echo
        echo "| work | this build | $COMPARE_LABEL | ratio |"
        echo "|---|---|---|---|"
        for w in apply status down; do
            a=$(median_us "$w.moonshift"); b=$(median_us "$w.before")
            printf '| %s | %s | %s | %s |\n' "$w" "$(fmt_s "$a")" "$(fmt_s "$b")" "$(ratio "$a" "$b")"
        done
        echo
    fi
    echo "Profile of where moonshift's time goes: \`bench/profile-core.sh\` (round trips and WAL flushes per migration, start-up, catalog reading)."
} >"$WORK/section.md"

echo
cat "$WORK/section.md"

if [[ $WRITE_RESULTS == 1 ]]; then
    OUT=$HERE/RESULTS.md
    if [[ -f $OUT ]]; then
        # replace our section (from "## Core engine" to the next "## "), keep the rest
        awk -v sect="$WORK/section.md" '
            function dump() { while ((getline l < sect) > 0) print l; close(sect); print "" }
            /^## / { if (insec) insec = 0; if ($0 == "## Core engine") { insec = 1; done = 1; dump(); next } }
            !insec { print }
            END { if (!done) { print ""; dump() } }' "$OUT" >"$WORK/RESULTS.md"
    else
        { echo "# moonshift benchmarks"; echo; cat "$WORK/section.md"; echo; } >"$WORK/RESULTS.md"
    fi
    cp "$WORK/RESULTS.md" "$OUT.tmp.$$" && mv "$OUT.tmp.$$" "$OUT"
    say "wrote the \"Core engine\" section of $OUT"
fi
