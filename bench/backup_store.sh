#!/usr/bin/env bash
# bench/backup_store.sh — the two backup stores on one 1M-row table, side by
# side in ONE run on ONE fresh private PostgreSQL (fsync on).
#
#   bench/backup_store.sh                    # writes the "Backup stores" section of bench/RESULTS.md
#   ROWS=200000 RUNS=3 bench/backup_store.sh
#   WRITE_RESULTS=0 bench/backup_store.sh    # print only
#
# The table: id bigint primary key, title text (~40 bytes), n int, at
# timestamptz; ROWS (1000000) rows. Each of RUNS (5) rounds runs, in an order
# rotated every round:
#   files:     `moonshift backup create t` with [backup] store = "files"
#              (COPY to the client, gzip level 3, SHA-256);
#   database:  the same with store = "database" (CREATE TABLE … AS SELECT on
#              the server, then one scan for the row count and checksum);
#   copy+gzip: the floor of the files store: psql `\copy t TO PROGRAM 'gzip -3'`;
#   ctas:      the floor of the database store: psql `CREATE TABLE … AS SELECT`;
# then each store's restore into a new schema (`backup restore ID --into`).
# Knobs: ROWS RUNS MOONSHIFT PG_BINDIR WRITE_RESULTS KEEP_WORK
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-5}
WRITE_RESULTS=${WRITE_RESULTS:-1}
KEEP_WORK=${KEEP_WORK:-0}

# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
[[ $RUNS -ge 3 ]] || die "RUNS must be at least 3 (a median of fewer is not one)"
find_pg_bindir
find_moonshift
MS_HEAD=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')

make_work backup-store
start_postgres
PG_VERSION=$(q 'SHOW server_version')
RES=$WORK/results
mkdir -p "$RES"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

fresh_db bench
say "filling t with $ROWS rows…"
qdb bench "CREATE TABLE t (id bigint PRIMARY KEY, title text, n int, at timestamptz);
  INSERT INTO t SELECT g, 'title number ' || g || ' of the benchmark table', g % 1000,
    now() - g * interval '1 second' FROM generate_series(1, $ROWS) g" >/dev/null
qdb bench "VACUUM ANALYZE t" >/dev/null
q "CHECKPOINT" >/dev/null
TABLE_MB=$(qdb bench "SELECT pg_total_relation_size('t') / 1048576")

for store in files database; do
    mkdir -p "$WORK/$store"
    printf '[project]\nmigrations = "migrations"\n\n[env.bench]\nurl = "%s"\n\n[backup]\nstore = "%s"\n' \
        "$(url bench)" "$store" >"$WORK/$store/moonshift.toml"
    mkdir -p "$WORK/$store/migrations"
done
chmod -R a+rwx "$WORK/files"

ms_in() { (cd "$WORK/$1" && "$MOONSHIFT" --no-color "${@:2}"); }
ms_ms() {  # store, args…: prints elapsed ms; the command's JSON goes to $WORK/last.json
    local s e
    s=${EPOCHREALTIME/./}
    ms_in "$@" >"$WORK/last.json" 2>>"$LOG"
    e=${EPOCHREALTIME/./}
    echo $(((e - s) / 1000))
}
psql_ms() {
    local s e
    s=${EPOCHREALTIME/./}
    "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$(url bench)" -c "$1" >>"$LOG" 2>&1
    e=${EPOCHREALTIME/./}
    echo $(((e - s) / 1000))
}
last_id() { sed -n 's/.*"id": *\([0-9]*\).*/\1/p' "$WORK/last.json" | head -1; }

METHODS=(files database copygz ctas)
for r in $(seq 1 "$RUNS"); do
    say "round $r/$RUNS"
    order=("${METHODS[@]:$(((r - 1) % 4))}" "${METHODS[@]:0:$(((r - 1) % 4))}")
    for m in "${order[@]}"; do
        case $m in
        files | database)
            ms_ms "$m" --json backup create t >>"$RES/$m"
            id=$(last_id)
            [[ -n $id ]] || die "no backup id from $m: $(cat "$WORK/last.json")"
            qdb bench "SELECT bytes FROM moonshift.backups WHERE id = $id" >"$RES/$m.bytes"
            ms_ms "$m" --yes --json backup restore "$id" --into "r_${m}_$r" >>"$RES/${m}_restore"
            qdb bench "DROP SCHEMA r_${m}_$r CASCADE" >/dev/null
            ;;
        copygz) psql_ms "\\copy t TO PROGRAM 'gzip -3 > $WORK/copy_$r.gz'" >>"$RES/$m"
            rm -f "$WORK/copy_$r.gz" ;;
        ctas) psql_ms "CREATE TABLE ctas_$r AS SELECT id, title, n, at FROM t" >>"$RES/$m"
            qdb bench "DROP TABLE ctas_$r" >/dev/null ;;
        esac
    done
    q "CHECKPOINT" >/dev/null
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

median() { sort -n "$RES/$1" | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ printf "%.2f", a / b }'; }
F=$(median files) D=$(median database) C=$(median copygz) T=$(median ctas)
FR=$(median files_restore) DR=$(median database_restore)
FB=$(cat "$RES/files.bytes") DB=$(cat "$RES/database.bytes")

{
    echo "## Backup stores"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(machine_line); load average $LOAD_START at the start,"
    echo "$LOAD_END at the end. PostgreSQL $PG_VERSION, fsync on. Table \`t\`: $ROWS rows, $TABLE_MB MB"
    echo "with its index. Medians of $RUNS interleaved rounds (order rotated each round)."
    echo
    echo "| what | time | stored |"
    echo "|---|---|---|"
    echo "| \`backup create t\`, \`store = \"files\"\` (whole process) | $F ms | $FB bytes (gzip) |"
    echo "| \`backup create t\`, \`store = \"database\"\` (whole process) | $D ms | $DB bytes (table) |"
    echo "| floor of files: psql \`\\copy t TO PROGRAM 'gzip -3'\` | $C ms | |"
    echo "| floor of database: psql \`CREATE TABLE … AS SELECT\` | $T ms | |"
    echo "| \`backup restore --into\`, files | $FR ms | |"
    echo "| \`backup restore --into\`, database | $DR ms | |"
    echo
    echo "Database store against the file store: $(ratio "$D" "$F")× the time to take, $(ratio "$DR" "$FR")× to"
    echo "restore, $(ratio "$DB" "$FB")× the space. Each store against its floor: files $(ratio "$F" "$C")×,"
    echo "database $(ratio "$D" "$T")× (the rest is the table definition, the seal and the history row)."
    echo
    echo "moonshift $MS_HEAD. Reproduce: \`MOONSHIFT=<a Release build> bench/backup_store.sh\` (knobs: \`ROWS RUNS\`)."
} >"$WORK/section.md"
cat "$WORK/section.md"

if [[ $WRITE_RESULTS == 1 ]]; then
    OUT=$HERE/RESULTS.md
    awk -v sect="$WORK/section.md" '
        function dump() { while ((getline l < sect) > 0) print l; close(sect); print "" }
        /^## / { if (insec) insec = 0; if ($0 == "## Backup stores") { insec = 1; done = 1; dump(); next } }
        !insec { print }
        END { if (!done) { print ""; dump() } }' "$OUT" >"$WORK/RESULTS.md"
    cp "$WORK/RESULTS.md" "$OUT.tmp.$$" && mv "$OUT.tmp.$$" "$OUT"
    say "wrote the \"Backup stores\" section of $OUT"
fi
