# bench/lib.sh — shared by the benchmark scripts (sourced, not run).
# A private PostgreSQL on 127.0.0.1 under a temporary directory, stopped and
# removed on exit; the generated migrations; small helpers.
# The caller sets `set -euo pipefail` and HERE/REPO before sourcing.

say() { printf '%s\n' "$*" >&2; }
die() { say "${0##*/}: $*"; exit 1; }
is_root() { [[ $(id -u) -eq 0 ]]; }

(( BASH_VERSINFO[0] >= 5 )) || die "needs bash 5 (EPOCHREALTIME)"

find_pg_bindir() {
    if [[ -z ${PG_BINDIR:-} ]]; then
        PG_BINDIR=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
        [[ -n $PG_BINDIR ]] || PG_BINDIR=$(pg_config --bindir 2>/dev/null || true)
    fi
    [[ -x $PG_BINDIR/initdb && -x $PG_BINDIR/pg_ctl ]] ||
        die "no PostgreSQL server binaries (initdb, pg_ctl) found; apt-get install postgresql"
    # The psql program itself: on Debian /usr/bin/psql is pg_wrapper, a Perl script that
    # picks a cluster and execs it (40 ms a call on these machines), and a limit that
    # includes it flatters every tool measured against it.
    if [[ -x $PG_BINDIR/psql ]]; then
        PSQL=$PG_BINDIR/psql
    else
        command -v psql >/dev/null || die "psql not found; apt-get install postgresql-client"
        PSQL=$(command -v psql)
    fi
}

# MOONSHIFT: given, or a Release build in build-bench/ (a no-op when up to date)
find_moonshift() {
    if [[ -z ${MOONSHIFT:-} ]]; then
        say "building moonshift (Release, build-bench/)…"
        cmake -S "$REPO" -B "$REPO/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
        cmake --build "$REPO/build-bench" -j"$(nproc)" --target moonshift >/dev/null
        MOONSHIFT=$REPO/build-bench/moonshift
    fi
    [[ -x $MOONSHIFT ]] || die "moonshift binary not found: $MOONSHIFT"
}

# WORK: the temporary directory; everything below it goes on exit.
PG_STARTED=0
make_work() {
    WORK=$(mktemp -d "/tmp/moonshift-${1:-bench}.XXXXXX")
    chmod 755 "$WORK"
    PGDATA=$WORK/pgdata
    PGRUN=$WORK/run  # socket and server log, written by the server's user
    LOG=$WORK/commands.log
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}

if is_root; then
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ $PG_STARTED == 1 ]]; then
        if ! as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA" -m fast -w -t 30 stop >/dev/null 2>&1; then
            local pid
            pid=$(head -1 "$PGDATA/postmaster.pid" 2>/dev/null || true)
            [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null || true
        fi
    fi
    if [[ ${KEEP_WORK:-0} == 1 ]]; then say "work dir kept: $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}

# A fresh cluster with initdb's defaults (fsync on), on 127.0.0.1 only, on a free port.
start_postgres() {
    say "starting a private PostgreSQL under $WORK…"
    is_root && { id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' user for the server"; }
    mkdir -p "$PGDATA" "$PGRUN"
    is_root && chown postgres "$PGDATA" "$PGRUN"
    as_pg "$PG_BINDIR/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C >"$WORK/initdb.log" 2>&1 ||
        { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
    PORT=
    local p
    for _ in $(seq 1 30); do
        p=$((20000 + RANDOM % 30000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue  # taken
        PG_STARTED=1
        if as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA" -l "$PGRUN/postgres.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $p -c unix_socket_directories=$PGRUN" start >/dev/null 2>&1; then
            PORT=$p; break
        fi
        # a failed start (port taken meanwhile) may have left a postmaster behind
        as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
        PG_STARTED=0
    done
    [[ -n $PORT ]] || { tail -20 "$PGRUN/postgres.log" >&2; die "could not start PostgreSQL"; }
    [[ $(q 'SHOW fsync') == on ]] || die "fsync is not on"
}

url() { printf 'postgres://postgres@127.0.0.1:%s/%s?sslmode=disable' "$PORT" "$1"; }
q() { "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -d "$(url postgres)" -c "$1"; }
qdb() { "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -d "$(url "$1")" -c "$2"; }

fresh_db() {  # a new empty database, and a checkpoint so none lands mid-measurement
    q "CREATE DATABASE \"$1\"" >/dev/null
    q "CHECKPOINT" >/dev/null
}
drop_db() { q "DROP DATABASE IF EXISTS \"$1\"" >/dev/null; }

# N trivial migrations (a table, an index, a row; down: drop it) under $P:
#   $P/moonshift   moonshift.toml + migrations/NNNN_tNNNN.sql, .down.sql
#   $P/dbmate      db/migrations/NNNN_tNNNN.sql (-- migrate:up / -- migrate:down)
#   $P/sqitch      sqitch.conf, sqitch.plan, deploy/ revert/ verify/
#   $P/all.sql     every up file concatenated (for psql -1)
#   $P/each.sql    every up file, each wrapped in BEGIN; … COMMIT;
#   $P/down.sql    the newest BACK down files, newest first, each in BEGIN; … COMMIT;
# FORMATS (default "moonshift dbmate sqitch") limits which tool formats are written.
generate() {
    local formats=" ${FORMATS:-moonshift dbmate sqitch} "
    say "generating $N migrations…"
    P=$WORK/proj
    MS=$P/moonshift DM=$P/dbmate SQ=$P/sqitch
    mkdir -p "$MS/migrations" "$DM/db/migrations" "$SQ/deploy" "$SQ/revert" "$SQ/verify"
    local w=${#N}; (( w < 4 )) && w=4
    printf '[env.bench]\nurl = "${DATABASE_URL}"\n' >"$MS/moonshift.toml"
    printf '[core]\n\tengine = pg\n\tplan_file = sqitch.plan\n\ttop_dir = .\n' >"$SQ/sqitch.conf"
    printf '%%syntax-version=1.0.0\n%%project=bench\n\n' >"$SQ/sqitch.plan"
    : >"$P/all.sql"; : >"$P/each.sql"; : >"$P/down.sql"
    local i v t up down
    for ((i = 1; i <= N; i++)); do
        printf -v v "%0${w}d" "$i"
        t=t$v
        up="CREATE TABLE $t (id int primary key, v text);
CREATE INDEX ON $t (v);
INSERT INTO $t VALUES (1, 'x');
"
        down="DROP TABLE $t;
"
        if [[ $formats == *" moonshift "* ]]; then
            printf '%s' "$up" >"$MS/migrations/${v}_$t.sql"
            printf '%s' "$down" >"$MS/migrations/${v}_$t.down.sql"
        fi
        if [[ $formats == *" dbmate "* ]]; then
            printf -- '-- migrate:up\n%s\n-- migrate:down\n%s' "$up" "$down" >"$DM/db/migrations/${v}_$t.sql"
        fi
        if [[ $formats == *" sqitch "* ]]; then
            # Sqitch's own templates wrap each script in BEGIN/COMMIT.
            printf -- '-- Deploy bench:%s\n\nBEGIN;\n\n%s\nCOMMIT;\n' "$t" "$up" >"$SQ/deploy/$t.sql"
            printf -- '-- Revert bench:%s\n\nBEGIN;\n\n%s\nCOMMIT;\n' "$t" "$down" >"$SQ/revert/$t.sql"
            printf -- '-- Verify bench:%s\n\nBEGIN;\n\nSELECT id, v FROM %s WHERE false;\n\nROLLBACK;\n' "$t" "$t" >"$SQ/verify/$t.sql"
            printf '%s 2025-01-01T00:00:00Z Bench <bench@example.invalid> # %s\n' "$t" "$t" >>"$SQ/sqitch.plan"
        fi
        printf '%s' "$up" >>"$P/all.sql"
        printf 'BEGIN;\n%sCOMMIT;\n' "$up" >>"$P/each.sql"
    done
    for ((i = N; i > N - BACK; i--)); do  # newest first, as every tool rolls back
        printf -v v "%0${w}d" "$i"
        printf 'BEGIN;\nDROP TABLE t%s;\nCOMMIT;\n' "$v" >>"$P/down.sql"
    done
}

ms() { (cd "$MS" && DATABASE_URL=$1 "$MOONSHIFT" --config "$MS/moonshift.toml" --env bench "${@:2}"); }

count_tables() { qdb "$1" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename ~ '^t[0-9]+$'"; }
expect_tables() {
    local got; got=$(count_tables "$1")
    [[ $got == "$2" ]] || die "$1: expected $2 benchmark tables, found $got (see $LOG)"
}

machine_line() {
    local cpu mem fs
    cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
    mem=$(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)
    fs=$(findmnt -n -o FSTYPE -T "$WORK" 2>/dev/null || echo '?')
    printf '%s CPUs, %s, %s RAM; data directory on %s' "$(nproc)" "$cpu" "$mem" "$fs"
}
