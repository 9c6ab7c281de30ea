#!/usr/bin/env bash
# bench/backup.sh — a targeted backup before a migration that touches a
# 1,000-row table, in a database that also holds a 1 GB table, against a full
# pg_dump of that database.
#
#   bench/backup.sh                  # measure, and write the "Backups" part of
#                                    # the "Safety" section of bench/RESULTS.md
#   SIZE_MB=256 RUNS=3 bench/backup.sh
#
# On a private PostgreSQL (initdb defaults, fsync on): a table `big` of
# SIZE_MB (1024) MB and a table `small` of 1,000 rows. Measured, RUNS (5)
# rounds each, medians:
#   targeted: `moonshift backup create small` (whole process: start-up,
#             connect, history schema, definition, COPY, gzip, fsync-free
#             file write, the backups row), and the backup's own duration_ms
#             recorded by `moonshift up` before a destructive migration;
#   full:     `pg_dump --format=custom` of the database (its default
#             compression), DUMP_RUNS (3) rounds.
# Knobs: SIZE_MB RUNS DUMP_RUNS MOONSHIFT PG_BINDIR WRITE_RESULTS KEEP_WORK
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SIZE_MB=${SIZE_MB:-1024}
RUNS=${RUNS:-5}
DUMP_RUNS=${DUMP_RUNS:-3}
WRITE_RESULTS=${WRITE_RESULTS:-1}
KEEP_WORK=${KEEP_WORK:-0}

say() { printf '%s\n' "$*" >&2; }
die() { say "backup.sh: $*"; exit 1; }
(( BASH_VERSINFO[0] >= 5 )) || die "needs bash 5 (EPOCHREALTIME)"
is_root() { [[ $(id -u) -eq 0 ]]; }

if [[ -z ${PG_BINDIR:-} ]]; then
    PG_BINDIR=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    [[ -n $PG_BINDIR ]] || PG_BINDIR=$(pg_config --bindir 2>/dev/null || true)
fi
[[ -x $PG_BINDIR/initdb && -x $PG_BINDIR/pg_ctl && -x $PG_BINDIR/pg_dump ]] ||
    die "no PostgreSQL binaries (initdb, pg_ctl, pg_dump) in $PG_BINDIR"
command -v psql >/dev/null || die "psql not found"
PSQL=$(command -v psql)

if [[ -z ${MOONSHIFT:-} ]]; then
    say "building moonshift (Release, build-bench/)…"
    cmake -S "$REPO" -B "$REPO/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$REPO/build-bench" -j"$(nproc)" --target moonshift >/dev/null
    MOONSHIFT=$REPO/build-bench/moonshift
fi
[[ -x $MOONSHIFT ]] || die "moonshift binary not found: $MOONSHIFT"

WORK=$(mktemp -d /tmp/moonshift-bench-backup.XXXXXX)
chmod 755 "$WORK"
PGDATA=$WORK/pgdata
PG_STARTED=0
if is_root; then
    id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' user to run the server"
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ $PG_STARTED == 1 ]]; then
        as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
    if [[ $KEEP_WORK == 1 ]]; then say "work dir kept: $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting a private PostgreSQL under $WORK…"
PGRUN=$WORK/run
mkdir -p "$PGDATA" "$PGRUN"
is_root && chown postgres "$PGDATA" "$PGRUN"
as_pg "$PG_BINDIR/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C >"$WORK/initdb.log" 2>&1 ||
    { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
PORT=
for _ in $(seq 1 30); do
    p=$((20000 + RANDOM % 30000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    if as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA" -l "$PGRUN/postgres.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $p -c unix_socket_directories=$PGRUN" start >/dev/null 2>&1; then
        PORT=$p; PG_STARTED=1; break
    fi
    as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
done
[[ -n $PORT ]] || die "could not start PostgreSQL"
URL="postgres://postgres@127.0.0.1:$PORT/bench?sslmode=disable"
q() { "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
q "postgres://postgres@127.0.0.1:$PORT/postgres?sslmode=disable" "CREATE DATABASE bench" >/dev/null

# ~130 bytes per row on disk: rows for SIZE_MB.
ROWS=$(( SIZE_MB * 1024 * 1024 / 130 ))
say "filling big (${SIZE_MB} MB, $ROWS rows) and small (1,000 rows)…"
q "$URL" "CREATE TABLE big (id bigint PRIMARY KEY, payload text);
          INSERT INTO big SELECT g, md5(g::text) || repeat('x', 60) FROM generate_series(1, $ROWS) g;
          CREATE TABLE small (id int PRIMARY KEY, name text NOT NULL, note text);
          INSERT INTO small SELECT g, 'name ' || g, md5(g::text) FROM generate_series(1, 1000) g;" >/dev/null
q "$URL" "VACUUM ANALYZE" >/dev/null  # (psql -c runs several statements in one transaction)
q "$URL" "CHECKPOINT" >/dev/null
DB_SIZE=$(q "$URL" "SELECT pg_size_pretty(pg_database_size(current_database()))")
BIG_SIZE=$(q "$URL" "SELECT pg_size_pretty(pg_total_relation_size('big'))")

P=$WORK/project
mkdir -p "$P/migrations"
printf '[env.bench]\nurl = "%s"\n\n[backup]\ndir = "%s/backups"\n' "$URL" "$WORK" >"$P/moonshift.toml"
(cd "$P" && "$MOONSHIFT" backup list >/dev/null)  # connect once

now_us() { local t=${EPOCHREALTIME/./}; printf '%s' "$((10#$t))"; }
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
fmt_ms() { awk -v us="$1" 'BEGIN { printf "%.1f ms", us / 1000 }'; }
fmt_s() { awk -v us="$1" 'BEGIN { printf "%.2f s", us / 1000000 }'; }

LOAD_START=$(cut -d" " -f1-3 /proc/loadavg)
: >"$WORK/targeted"; : >"$WORK/inside"; : >"$WORK/dump"
for ((r = 1; r <= RUNS; r++)); do
    t0=$(now_us)
    (cd "$P" && "$MOONSHIFT" backup create small >/dev/null)
    t1=$(now_us)
    echo "$((t1 - t0))" >>"$WORK/targeted"
    # The same, as the step of `up` before a destructive migration.
    v=$(printf '%03d' "$r")
    printf -- '-- moonshift:allow drop-column bench\nALTER TABLE small DROP COLUMN IF EXISTS note;\nALTER TABLE small ADD COLUMN note text;\n' \
        >"$P/migrations/${v}_reshape_small.sql"
    (cd "$P" && "$MOONSHIFT" up >/dev/null)
    ms=$(q "$URL" "SELECT duration_ms FROM moonshift.backups WHERE version = '$v'")
    echo "$((ms * 1000))" >>"$WORK/inside"
done
TARGET_BYTES=$(q "$URL" "SELECT bytes FROM moonshift.backups WHERE version IS NOT NULL ORDER BY id DESC LIMIT 1")
for ((r = 1; r <= DUMP_RUNS; r++)); do
    rm -f "$WORK/full.dump"
    t0=$(now_us)
    "$PG_BINDIR/pg_dump" --format=custom --file="$WORK/full.dump" "$URL"
    t1=$(now_us)
    echo "$((t1 - t0))" >>"$WORK/dump"
done
DUMP_BYTES=$(stat -c %s "$WORK/full.dump")
LOAD_END=$(cut -d" " -f1-3 /proc/loadavg)
T=$(median <"$WORK/targeted")
I=$(median <"$WORK/inside")
D=$(median <"$WORK/dump")
PCT=$(awk -v t="$T" -v d="$D" 'BEGIN { printf "%.2f", 100 * t / d }')
PCT_I=$(awk -v t="$I" -v d="$D" 'BEGIN { printf "%.2f", 100 * t / d }')

{
    echo "### Backups: targeted backup against a full pg_dump"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPU(s) shared with other work (load average 1/5/15 min: $LOAD_START at the"
    echo "start, $LOAD_END at the end), PostgreSQL $(q "$URL" 'SHOW server_version'),"
    echo "database of $DB_SIZE (table \`big\`: $BIG_SIZE; table \`small\`: 1,000 rows). Medians of $RUNS rounds"
    echo "(pg_dump: $DUMP_RUNS)."
    echo
    echo "| what | time | size |"
    echo "|---|---|---|"
    echo "| \`moonshift backup create small\` (whole process) | $(fmt_ms "$T") | $TARGET_BYTES bytes |"
    echo "| the backup step of \`moonshift up\` before a migration that drops a column of \`small\` (\`duration_ms\`) | $(fmt_ms "$I") | |"
    echo "| \`pg_dump --format=custom\` of the database | $(fmt_s "$D") | $DUMP_BYTES bytes |"
    echo
    verdict=$(awk -v p="$PCT" 'BEGIN { print (p < 2.0) ? "met" : "NOT met" }')
    echo "Target: the targeted backup under 2% of a full pg_dump — **$verdict**: ${PCT}% as a whole process,"
    echo "${PCT_I}% as the step inside \`up\`. Its cost follows the touched table, not the database."
    echo
    echo "moonshift: $("$MOONSHIFT" --version 2>/dev/null | head -1)${BUILD_NOTE:+, $BUILD_NOTE}. Reproduce: \`bench/backup.sh\` (knobs: \`SIZE_MB RUNS DUMP_RUNS MOONSHIFT\`)."
} >"$WORK/section.md"

echo
cat "$WORK/section.md"
if [[ $WRITE_RESULTS == 1 ]]; then
    "$HERE/write-safety-results.sh" "### Backups: targeted backup against a full pg_dump" "$WORK/section.md"
fi
