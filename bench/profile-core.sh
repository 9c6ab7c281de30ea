#!/usr/bin/env bash
# bench/profile-core.sh — where moonshift's time goes on the core benchmark's
# workload (N trivial migrations, roll back BACK), on a private PostgreSQL.
# Not a benchmark of record (bench/core.sh is); this one answers "why":
#   - round trips (libpq sendto calls) per migration, for up and for down;
#   - WAL flushes (pg_stat_wal.wal_sync) per command, against plain psql;
#   - fixed cost: process start-up (--version), connect + one query (psql),
#     status with and without the migrations on disk (= reading the catalog);
#   - client CPU (user + sys) of status, and the syscalls it makes.
#   CALLGRIND=1 also runs `status` under valgrind and prints the heaviest
#   functions (inclusive instruction counts).
# Usage: bench/profile-core.sh   (knobs: N=1000 BACK=100 REPS=15 MOONSHIFT=… CALLGRIND=0)
set -euo pipefail
export LC_ALL=C
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
N=${N:-1000}
BACK=${BACK:-100}
REPS=${REPS:-15}
CALLGRIND=${CALLGRIND:-0}
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

command -v strace >/dev/null || die "strace is needed: apt-get install strace"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is needed: apt-get install time"
find_pg_bindir
find_moonshift
make_work profile
start_postgres
FORMATS=moonshift generate
say "PostgreSQL $(q 'SHOW server_version') on 127.0.0.1:$PORT; $N migrations"

wal_syncs() { q "SELECT wal_sync FROM pg_stat_wal"; }
now_us() { echo "${EPOCHREALTIME/./}"; }
median() { sort -n | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
ms_of() { awk -v u="$1" 'BEGIN{printf "%.1f ms", u/1000}'; }
# median wall time (µs) of REPS runs of "$@"
wall() {
    local k s e
    for ((k = 0; k < REPS; k++)); do
        s=$(now_us); "$@" >/dev/null 2>&1 || die "failed: $*"; e=$(now_us); echo $((e - s))
    done | median
}
# mean user+sys CPU (µs) per run over REPS runs of "$@" (bash's `times`, ms resolution)
cpu() {
    local out
    out=$( (for ((k = 0; k < REPS; k++)); do "$@" >/dev/null 2>&1 || exit 1; done; times) ) || die "failed: $*"
    # second line of `times`: children's user and sys, e.g. "0m0.123s 0m0.045s"
    sed -n 2p <<<"$out" | awk -v n="$REPS" '{
        split($1, u, /[ms]/); split($2, s, /[ms]/)
        printf "%d\n", ((u[1] * 60 + u[2]) + (s[1] * 60 + s[2])) * 1e6 / n }'
}
# counts of the syscalls a command makes (strace -c), as "name count" lines
syscalls() {
    strace -f -c -o "$WORK/strace.txt" "$@" >/dev/null 2>&1 || die "failed under strace: $*"
    awk 'NF >= 5 && $NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ {print $NF, $4}' "$WORK/strace.txt"
}
count_of() { awk -v n="$1" '$1 == n {print $2; f=1} END{if (!f) print 0}'; }

echo "## moonshift profile: $N migrations, roll back $BACK"
echo
echo "machine: $(machine_line); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# --- apply: plain psql (limit B) and moonshift, WAL flushes and wall time
fresh_db limit
w0=$(wal_syncs); s=$(now_us)
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$(url limit)" -f "$P/each.sql" >>"$LOG" 2>&1
e=$(now_us); w1=$(wal_syncs)
echo "apply, limit B (psql, a transaction per file): $(ms_of $((e - s))), WAL flushes $((w1 - w0))"
fresh_db up
w0=$(wal_syncs); s=$(now_us)
ms "$(url up)" up >>"$LOG" 2>&1
e=$(now_us); w1=$(wal_syncs)
expect_tables up "$N"
echo "apply, moonshift up:                           $(ms_of $((e - s))), WAL flushes $((w1 - w0))"
fresh_db up_strace
sc=$(syscalls env DATABASE_URL="$(url up_strace)" "$MOONSHIFT" --config "$MS/moonshift.toml" --env bench up)
sends=$(count_of sendto <<<"$sc")
echo "  round trips (sendto): $sends in all = $(awk -v s="$sends" -v n="$N" 'BEGIN{printf "%.2f", s/n}') per migration; outside the migrations: $((sends - 3 * N)) (if 3 per migration)"
echo "  files opened: $(count_of openat <<<"$sc"), reads: $(count_of read <<<"$sc"), writes: $(count_of write <<<"$sc")"
echo

# --- status
echo "status over $N applied (wall: median of $REPS; CPU: mean user+sys):"
echo "  moonshift --version (start-up only):      $(ms_of "$(wall "$MOONSHIFT" --version)") wall, $(ms_of "$(cpu "$MOONSHIFT" --version)") CPU"
echo "  psql -c 'SELECT 1' (start-up + connect):  $(ms_of "$(wall "$PSQL" -X -q -A -t -d "$(url up)" -c 'SELECT 1')") wall"
echo "  psql -c 'SELECT * FROM moonshift.migrations': $(ms_of "$(wall "$PSQL" -X -q -A -t -d "$(url up)" -c 'SELECT * FROM moonshift.migrations')") wall"
echo "  moonshift status:                          $(ms_of "$(wall ms "$(url up)" status)") wall, $(ms_of "$(cpu env DATABASE_URL="$(url up)" "$MOONSHIFT" --config "$MS/moonshift.toml" --env bench status)") CPU"
mkdir -p "$WORK/empty/migrations"
cp "$MS/moonshift.toml" "$WORK/empty/"
ms_empty() { (cd "$WORK/empty" && DATABASE_URL=$1 "$MOONSHIFT" --config "$WORK/empty/moonshift.toml" --env bench "${@:2}"); }
echo "  moonshift status, migrations dir empty:    $(ms_of "$(wall ms_empty "$(url up)" status)") wall, $(ms_of "$(cpu env DATABASE_URL="$(url up)" "$MOONSHIFT" --config "$WORK/empty/moonshift.toml" --env bench status)") CPU  (the difference is reading the catalog)"
sc=$(syscalls env DATABASE_URL="$(url up)" "$MOONSHIFT" --config "$MS/moonshift.toml" --env bench status)
echo "  status syscalls: sendto $(count_of sendto <<<"$sc"), openat $(count_of openat <<<"$sc"), read $(count_of read <<<"$sc"), newfstatat $(count_of newfstatat <<<"$sc"), close $(count_of close <<<"$sc"), mmap $(count_of mmap <<<"$sc")"
if [[ $CALLGRIND == 1 ]] && command -v valgrind >/dev/null; then
    echo "  callgrind, status (inclusive instructions, top 25):"
    (cd "$MS" && DATABASE_URL="$(url up)" valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" \
        "$MOONSHIFT" --config "$MS/moonshift.toml" --env bench status >/dev/null 2>&1) || true
    callgrind_annotate --inclusive=yes "$WORK/cg.out" 2>/dev/null >"$WORK/cg.txt" || true
    grep -E '^ *[0-9,]+ +\(' "$WORK/cg.txt" | sed -n 1,40p | cut -c1-160 | sed 's/^/    /' || true
fi
echo

# --- roll back BACK of N: psql limit vs moonshift, WAL flushes, round trips
fresh_db lim_down
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$(url lim_down)" -f "$P/each.sql" >>"$LOG" 2>&1
q CHECKPOINT >/dev/null
w0=$(wal_syncs); s=$(now_us)
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$(url lim_down)" -f "$P/down.sql" >>"$LOG" 2>&1
e=$(now_us); w1=$(wal_syncs)
echo "roll back $BACK, limit (psql, a transaction per down file): $(ms_of $((e - s))), WAL flushes $((w1 - w0))"
q CHECKPOINT >/dev/null
w0=$(wal_syncs); s=$(now_us)
ms "$(url up)" down --steps "$BACK" >>"$LOG" 2>&1
e=$(now_us); w1=$(wal_syncs)
expect_tables up $((N - BACK))
echo "roll back $BACK, moonshift down --steps $BACK:             $(ms_of $((e - s))), WAL flushes $((w1 - w0))"
sc=$(syscalls env DATABASE_URL="$(url up_strace)" "$MOONSHIFT" --config "$MS/moonshift.toml" --env bench down --steps "$BACK")
sends=$(count_of sendto <<<"$sc")
echo "  round trips (sendto): $sends = $(awk -v s="$sends" -v n="$BACK" 'BEGIN{printf "%.2f", s/n}') per migration; outside the migrations: $((sends - 3 * BACK)) (if 3 per migration)"
echo "  files opened: $(count_of openat <<<"$sc")"
