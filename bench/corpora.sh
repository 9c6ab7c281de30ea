#!/usr/bin/env bash
# bench/corpora.sh — applying real projects' histories (../shared/corpora):
# moonshift up against psql applying the same files one at a time, on ONE
# fresh PostgreSQL in one run.
#
#   bench/corpora.sh                  # writes bench/RESULTS.md "Formats and corpora"
#   RUNS=3 bench/corpora.sh           # fewer rounds (at least 3)
#   WRITE_RESULTS=0 bench/corpora.sh  # print only
#
# For each corpus and each of RUNS rounds (tools interleaved, order rotated),
# on a freshly created empty database (the corpus' bootstrap.sql applied
# first, outside the timing):
#   psql:      one `psql -X -q -v ON_ERROR_STOP=1 [-1] -f FILE` per file, in the
#              tool's order, -1 (one transaction) unless the file must run
#              outside one (its tool's marker, or CONCURRENTLY); files
#              Supabase Storage's runner ignores run as `psql -c 'SELECT 1'`;
#   psql1:     the limit: ONE psql session running the same files in the same
#              order, each in its own BEGIN … COMMIT unless it must run
#              outside one (`\i FILE` between them: no process per file);
#   moonshift: `moonshift up` with its defaults (history and run rows, the lint
#              gate with findings as warnings, backups before destructive
#              migrations).
# Prints medians and the ratio moonshift/psql, checks that both left the same
# `pg_dump --schema-only`, and rewrites the "Formats and corpora" section of
# bench/RESULTS.md (nothing else in it). Uses bench/lib.sh for the private
# server; everything started is stopped on exit. Not part of the test suite.
#
# Environment: RUNS (5)  MOONSHIFT_CORPORA (../shared/corpora)  MOONSHIFT (built
# Release into build-bench/ when unset)  PG_BINDIR  WRITE_RESULTS (1)  KEEP_WORK (0)
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
RUNS=${RUNS:-5}
WRITE_RESULTS=${WRITE_RESULTS:-1}
CORPORA=${MOONSHIFT_CORPORA:-$REPO/../shared/corpora}
# shellcheck source=lib.sh
source "$HERE/lib.sh"

[[ $RUNS -ge 3 ]] || die "RUNS must be at least 3 (a median of fewer is not one)"
[[ -d $CORPORA ]] || die "no corpora at $CORPORA (set MOONSHIFT_CORPORA)"
CORPORA=$(cd "$CORPORA" && pwd)
find_pg_bindir
find_moonshift
make_work corpora
start_postgres
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------ file lists ----
# Each line of $WORK/<corpus>.files: MODE<TAB>FILE, MODE one of
#   tx (psql -1), notx (psql without -1), skip (psql -c 'SELECT 1').
mode_of() {
    if grep -q -- '-- postgres-migrations ignore' "$1"; then echo skip
    elif grep -q -- '-- postgres-migrations disable-transaction' "$1" || grep -qi 'concurrently' "$1"; then echo notx
    else echo tx; fi
}
list_files() {  # corpus → ordered file list on stdout
    local c=$1 f
    case $c in
        authelia)  # V0001.Name.up.sql: by the number after V
            for f in $(ls "$CORPORA/authelia/migrations/postgres"/V*.up.sql | sort -t/ -k1 -V); do
                printf '%s\t%s\n' "$(mode_of "$f")" "$f"; done ;;
        storage)   # NNNN-name.sql: by the integer id (00010 is 10)
            for f in $(cd "$CORPORA/storage/migrations/tenant" && ls *.sql | sort -t- -k1,1n); do
                f=$CORPORA/storage/migrations/tenant/$f
                printf '%s\t%s\n' "$(mode_of "$f")" "$f"; done ;;
        marquez)   # Flyway: V by dotted version, then R__ by name
            for f in $(cd "$CORPORA/marquez/migration" && ls V*__*.sql | sed 's/^V//' | sort -t_ -k1,1V | sed 's/^/V/'); do
                f=$CORPORA/marquez/migration/$f
                printf '%s\t%s\n' "$(mode_of "$f")" "$f"; done
            for f in $(cd "$CORPORA/marquez/migration" && ls R__*.sql | sort); do
                f=$CORPORA/marquez/migration/$f
                printf '%s\t%s\n' "$(mode_of "$f")" "$f"; done ;;
    esac
}
migrations_dir() {
    case $1 in
        authelia) echo "$CORPORA/authelia/migrations/postgres" ;;
        storage) echo "$CORPORA/storage/migrations/tenant" ;;
        marquez) echo "$CORPORA/marquez/migration" ;;
    esac
}

# Real histories were written for other tools: lint findings (drops, renames)
# are warnings here, as in tests/corpora_test.cpp; the gate still runs.
LINT_WARN=$(cd "$REPO/scripts/lint" && ls *.lua | sed 's/\.lua$//; s/.*/"&"/' | paste -sd, -)
CORPUS_LIST=()
for c in authelia storage marquez; do
    [[ -d $CORPORA/$c ]] || { say "corpus $c absent: skipped"; continue; }
    CORPUS_LIST+=("$c")
    list_files "$c" >"$WORK/$c.files"
    mkdir -p "$WORK/ms-$c"
    printf '[project]\nmigrations = "%s"\n\n[env.bench]\nurl = "${DATABASE_URL}"\nlock_wait = "30s"\n\n[lint]\nwarn = [%s]\n' \
        "$(migrations_dir "$c")" "$LINT_WARN" >"$WORK/ms-$c/moonshift.toml"
done
[[ ${#CORPUS_LIST[@]} -gt 0 ]] || die "no corpus found under $CORPORA"

# ----------------------------------------------------------- measuring ----
RES=$WORK/results
mkdir -p "$RES"
prepare() {  # corpus db: a fresh database with the corpus' bootstrap
    fresh_db "$2"
    if [[ -f $CORPORA/$1/bootstrap.sql ]]; then
        "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$(url "$2")" -f "$CORPORA/$1/bootstrap.sql" >>"$LOG" 2>&1
    fi
}
run_psql() {  # corpus db
    local mode f
    while IFS=$'\t' read -r mode f; do
        case $mode in
            tx) "$PSQL" -X -q -v ON_ERROR_STOP=1 -1 -d "$(url "$2")" -f "$f" ;;
            notx) "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$(url "$2")" -f "$f" ;;
            skip) "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$(url "$2")" -c 'SELECT 1' ;;
        esac
    done <"$WORK/$1.files" >>"$LOG" 2>&1
}
run_psql1() {  # corpus db: one session, a transaction per file
    local mode f
    while IFS=$'\t' read -r mode f; do
        case $mode in
            tx) printf 'BEGIN;\n\\i %s\nCOMMIT;\n' "$f" ;;
            notx) printf '\\i %s\n' "$f" ;;
            skip) ;;
        esac
    done <"$WORK/$1.files" >"$WORK/$1.session.sql"
    "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$(url "$2")" -f "$WORK/$1.session.sql" >>"$LOG" 2>&1
}
run_moonshift() {  # corpus db
    (cd "$WORK/ms-$1" && DATABASE_URL=$(url "$2") "$MOONSHIFT" --env bench --no-color up) >>"$LOG" 2>&1
}
timed() {  # key command... → appends microseconds to $RES/key
    local key=$1 s e
    shift
    s=${EPOCHREALTIME/./}
    "$@" || die "$key failed (see $LOG)"
    e=${EPOCHREALTIME/./}
    echo $((e - s)) >>"$RES/$key"
}
dump() {  # db → normalised schema dump on stdout
    "$PG_BINDIR/pg_dump" --schema-only --exclude-schema=moonshift -d "$(url "$1")" |
        grep -v -e '^\\restrict' -e '^\\unrestrict' -e '^-- Dumped from' -e '^-- Dumped by'
}

declare -A SAME
for c in "${CORPUS_LIST[@]}"; do SAME[$c]=yes; done
for ((round = 1; round <= RUNS; round++)); do
    for c in "${CORPUS_LIST[@]}"; do
        order=(psql psql1 moonshift)
        case $((round % 3)) in
            2) order=(moonshift psql psql1) ;;
            0) order=(psql1 moonshift psql) ;;
        esac
        for tool in "${order[@]}"; do
            db=${c}_${tool}_$round
            prepare "$c" "$db"
            timed "$c.$tool" "run_$tool" "$c" "$db"
        done
        if [[ $round == 1 ]]; then
            dump "${c}_psql_1" >"$WORK/$c.psql.dump"
            dump "${c}_moonshift_1" >"$WORK/$c.moonshift.dump"
            dump "${c}_psql1_1" >"$WORK/$c.psql1.dump"
            if ! diff -q "$WORK/$c.psql.dump" "$WORK/$c.moonshift.dump" >/dev/null ||
                ! diff -q "$WORK/$c.psql.dump" "$WORK/$c.psql1.dump" >/dev/null; then
                SAME[$c]=no
                diff "$WORK/$c.psql.dump" "$WORK/$c.moonshift.dump" | head -20 >&2 || true
            fi
        fi
        drop_db "${c}_psql_$round"
        drop_db "${c}_psql1_$round"
        drop_db "${c}_moonshift_$round"
    done
    say "round $round of $RUNS done"
done

# ------------------------------------------------------------- report ----
median_us() { sort -n "$RES/$1" | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
range_us() { sort -n "$RES/$1" | awk 'NR==1{lo=$1} {hi=$1} END{print lo, hi}'; }
ms_of() { awk -v u="$1" 'BEGIN{printf "%.0f ms", u/1000}'; }
{
    echo "## Formats and corpora"
    echo
    echo "\`bench/corpora.sh\`, $(date -u '+%Y-%m-%d %H:%M UTC'), $RUNS rounds; $(machine_line); PostgreSQL $(q 'SHOW server_version'); load average $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; moonshift $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'); psql is the program \`$PSQL\`, not Debian's wrapper script (40 ms a call)."
    echo
    echo "Each real history in \`../shared/corpora\` applied to a freshly created empty database (its \`bootstrap.sql\` first, untimed): \`moonshift up\` with its defaults (history, run and checkpoint rows, the lint gate — findings as warnings, these histories were written for other tools — and targeted backups before destructive migrations) against two psql baselines: **the limit**, one psql session running the same files in the tool's order, each in its own \`BEGIN … COMMIT\` unless it must run outside a transaction (\`\\i FILE\` one after the other); and a psql process per file, \`-1\` unless the file must run outside a transaction (files Supabase Storage's runner ignores: \`psql -c 'SELECT 1'\`). Wall-clock medians of whole processes; the three interleaved, their order rotated every round. \"Same schema\": the normalised \`pg_dump --schema-only\` of all three is identical. Goal (issue 16): moonshift ≤ 1.0× the one-session limit."
    echo
    echo "| corpus | format | files | limit: psql, one session | psql, a process per file | moonshift up | vs the limit | vs a process per file | same schema |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---|"
    for c in "${CORPUS_LIST[@]}"; do
        case $c in authelia) fmt=up-down ;; storage) fmt=postgres-migrations ;; marquez) fmt=flyway ;; esac
        p=$(median_us "$c.psql"); m=$(median_us "$c.moonshift"); l=$(median_us "$c.psql1")
        read -r plo phi < <(range_us "$c.psql"); read -r mlo mhi < <(range_us "$c.moonshift")
        read -r llo lhi < <(range_us "$c.psql1")
        printf '| %s | %s | %s | %s (%s – %s) | %s (%s – %s) | %s (%s – %s) | **%s×** | %s× | %s |\n' "$c" "$fmt" "$(wc -l <"$WORK/$c.files")" \
            "$(ms_of "$l")" "$(ms_of "$llo")" "$(ms_of "$lhi")" \
            "$(ms_of "$p")" "$(ms_of "$plo")" "$(ms_of "$phi")" "$(ms_of "$m")" "$(ms_of "$mlo")" "$(ms_of "$mhi")" \
            "$(awk -v a="$m" -v b="$l" 'BEGIN{printf "%.2f", a/b}')" \
            "$(awk -v a="$m" -v b="$p" 'BEGIN{printf "%.2f", a/b}')" "${SAME[$c]}"
    done
} >"$WORK/section.md"
cat "$WORK/section.md"

if [[ $WRITE_RESULTS == 1 ]]; then
    OUT=$HERE/RESULTS.md
    if [[ -f $OUT ]]; then
        # replace our section (from "## Formats and corpora" to the next "## "), keep the rest
        awk -v sect="$WORK/section.md" '
            function dump() { while ((getline l < sect) > 0) print l; close(sect) }
            /^## Formats and corpora/ { dump(); skip = 1; done = 1; next }
            skip && /^## / { skip = 0; print "" }
            !skip { print }
            END { if (!done) { print ""; dump() } }' "$OUT" >"$WORK/RESULTS.md"
    else
        { echo "# moonshift benchmarks"; echo; cat "$WORK/section.md"; } >"$WORK/RESULTS.md"
    fi
    cp "$WORK/RESULTS.md" "$OUT.tmp.$$" && mv "$OUT.tmp.$$" "$OUT"
    say "wrote the \"Formats and corpora\" section of $OUT"
fi
