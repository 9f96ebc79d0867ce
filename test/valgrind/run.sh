#!/usr/bin/env bash
# test/valgrind/run.sh: runs the pg_regress suite (test/sql) and the
# isolation specs (test/specs) against a PostgreSQL server whose every
# process runs under valgrind memcheck, then reports the memcheck errors
# whose stack goes through pgjobs code.
#
#   bash test/valgrind/run.sh                    # every test (a few minutes)
#   bash test/valgrind/run.sh publish consume    # only these tests (names from
#                                                # test/sql/*.sql or test/specs/*.spec)
#   bash test/valgrind/run.sh --fuzz             # also a short run of test/fuzz/run.sh
#   bash test/valgrind/run.sh --fuzz --no-tests  # only the fuzz
#   bash test/valgrind/run.sh --preload          # pgjobs in shared_preload_libraries (and,
#                                                # with --fuzz, its maintenance worker)
#   bash test/valgrind/run.sh --scan DIR         # only summarize the logs of an earlier run
#
# Builds nothing: the extension must be installed (make && make install).
# Starts its own throwaway cluster, owned by the postgres OS user, in a
# temporary directory, on port $PGJOBS_PORT (random if unset), with the
# postmaster under valgrind (the backends it forks inherit it), and stops
# it at the end.  Test failures under valgrind are reported but do not fail
# the run (valgrind slows everything ~30x; timing-sensitive tests may differ).
#
# The last line is "valgrind: N errors in pgjobs"; the exit status is 0
# only when N is 0 and no server process crashed (2 when the run could not
# be set up).  Everything (valgrind logs, server log, test output and diffs,
# the pgjobs errors in full) is kept in $PGJOBS_VG_OUT (default: a new
# /tmp/pgjobs-valgrind.XXXXXX).
#
# Settings (environment):
#   PGJOBS_PORT              port of the cluster (default random 56500-56599)
#   PGJOBS_VG_OUT            where to keep the logs
#   PGJOBS_VG_OPTS           extra valgrind options, e.g. "--track-origins=no"
#   PGJOBS_VG_STARTUP        seconds to wait for the server to start (default 300)
#   PGJOBS_VG_FUZZ_STATEMENTS  statements per fuzz session with --fuzz (default 500)
#   PG_CONFIG                the PostgreSQL to use (default: 15's pg_config)
#   PGJOBS_VG_SO             the library whose frames count (default: the installed pgjobs.so)
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$(pwd)
. scripts/lib.sh

SUPP="$ROOT/test/valgrind/postgresql.supp"
SUPP_STRIPPED="$ROOT/test/valgrind/stripped.supp"
PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
SHAREDIR=$("$PG_CONFIG" --sharedir)
SO=${PGJOBS_VG_SO:-$PKGLIBDIR/pgjobs.so}
PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress"
PG_ISOLATION_REGRESS="$PGXS_DIR/src/test/isolation/pg_isolation_regress"

die() { echo "valgrind/run.sh: $*" >&2; echo "valgrind: setup failed"; exit 2; }

# scan_logs counts the memcheck errors in $OUT/vg/*.log, keeps those with a
# pgjobs frame in $OUT/pgjobs-errors.txt, and lists crashed processes in
# $OUT/vg-crashes.txt; sets total_errors, pgjobs_errors and crashes.
scan_logs() {
    # Which stack frames are pgjobs': functions of pgjobs.so (exported and
    # static, as nm lists them) shown with a source location, not as
    # "(in .../bin/postgres)", or any frame naming pgjobs.so.  Functions
    # inlined into those show up beside them, with the same address.
    nm --defined-only "$SO" 2>/dev/null |
        awk '$2 ~ /^[tTwW]$/ { print $3; n = $3; sub(/\..*/, "", n); print n }' |
        sort -u >"$OUT/pgjobs.symbols"
    [ -s "$OUT/pgjobs.symbols" ] || die "cannot list the functions of $SO (is binutils installed?)"

    # Split every log into error blocks (an error is a message line, then its
    # "at"/"by" frames, up to a blank "==pid==" line); keep those with a pgjobs
    # frame in $OUT/pgjobs-errors.txt and count all of them.
    awk -v symfile="$OUT/pgjobs.symbols" -v out="$OUT/pgjobs-errors.txt" -v crashes="$OUT/vg-crashes.txt" '
        BEGIN {
            while ((getline s < symfile) > 0) sym[s] = 1
            printf "" > out; printf "" > crashes
        }
        function flush() {
            if (nlines > 0 && haveframe) {
                total++
                if (ours) { pgjobs++; printf "--- %s\n%s\n", file, block >> out }
            }
            block = ""; nlines = 0; haveframe = 0; ours = 0
        }
        FNR == 1 { flush(); file = FILENAME }
        {
            line = $0
            sub(/^==[0-9]+== ?/, "", line)
            if (line ~ /^[[:space:]]*$/) { flush(); next }
            if (line ~ /^Process terminating with default action of signal/)
                printf "%s: %s\n", FILENAME, line >> crashes
            block = block line "\n"; nlines++
            if (line ~ /^[[:space:]]+(at|by) 0x[0-9A-Fa-f]+: /) {
                haveframe = 1
                if (line ~ /pgjobs\.so/) ours = 1
                else {
                    f = line
                    sub(/^[[:space:]]+(at|by) 0x[0-9A-Fa-f]+: /, "", f)
                    name = f; sub(/ .*/, "", name)
                    if ((name in sym) && f !~ /\(in \//) ours = 1
                }
            }
        }
        END { flush(); print total + 0, pgjobs + 0 }
    ' "$OUT"/vg/*.log >"$OUT/counts.txt"
    read -r total_errors pgjobs_errors <"$OUT/counts.txt"

    # Crashes: a process valgrind saw die of a signal, or the postmaster
    # reporting a server process that died.
    grep -hE 'terminated by signal|server process .* (was terminated|exited with exit code)' \
        "$SERVER_LOG" >>"$OUT/vg-crashes.txt" 2>/dev/null
    crashes=$(grep -c . "$OUT/vg-crashes.txt")

    ndiffs=0
    for d in "$OUT/regress/regression.diffs" "$OUT/isolation/regression.diffs"; do
        [ -s "$d" ] && ndiffs=$((ndiffs + 1))
    done
}


command -v valgrind >/dev/null || die "valgrind is not installed (apt-get install valgrind)"
[ -f "$SO" ] || die "$SO is missing: run make && make install first"
[ -f "$SHAREDIR/extension/pgjobs.control" ] || die "pgjobs.control is not installed"
[ -x "$PG_REGRESS" ] || die "$PG_REGRESS is missing (postgresql-server-dev-15)"

# report_and_exit prints what scan_logs found and exits with the verdict.
report_and_exit() {
    echo "== valgrind: results (in $OUT)"
    [ -n "${regress_status:-}" ] && echo "pg_regress exit status: $regress_status, isolation: $isolation_status, fuzz: $fuzz_status"
    [ "$ndiffs" -gt 0 ] && echo "test output differs (timing under valgrind, or --preload?): see $OUT/*/regression.diffs"
    echo "memcheck errors in all processes: $total_errors (those without a pgjobs frame are PostgreSQL's own, expected from a server built without USE_VALGRIND such as Debian's)"
    if [ "$pgjobs_errors" -gt 0 ]; then
        echo "== valgrind: errors with pgjobs frames (first 3; all in $OUT/pgjobs-errors.txt)"
        awk '/^--- /{n++} n<=3' "$OUT/pgjobs-errors.txt"
    fi
    if [ "$crashes" -gt 0 ]; then
        echo "== valgrind: crashed processes"
        cat "$OUT/vg-crashes.txt"
    fi
    echo "valgrind: crashed processes: $crashes"
    echo "valgrind: $pgjobs_errors errors in pgjobs"
    [ "$pgjobs_errors" -eq 0 ] && [ "$crashes" -eq 0 ]
    exit
}

PRELOAD=
FUZZ=
TESTS=1
SCAN=
while [ $# -gt 0 ]; do
    case $1 in
        --preload) PRELOAD=1 ;;
        --fuzz) FUZZ=1 ;;
        --no-tests) TESTS= ;;
        --scan) SCAN=${2:-}; [ -d "$SCAN/vg" ] || die "--scan needs the directory of an earlier run"; shift ;;
        -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d'; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) break ;;
    esac
    shift
done

if [ -n "$SCAN" ]; then
    OUT=$SCAN
    SERVER_LOG="$OUT/server.log"
    scan_logs
    report_and_exit
fi

# Which tests: every one, or those named on the command line.
REGRESS_TESTS=()
ISOLATION_TESTS=()
if [ -z "$TESTS" ]; then
    :
elif [ $# -eq 0 ]; then
    for f in test/sql/*.sql; do REGRESS_TESTS+=("$(basename "$f" .sql)"); done
    for f in test/specs/*.spec; do ISOLATION_TESTS+=("$(basename "$f" .spec)"); done
else
    for t in "$@"; do
        if [ -f "test/sql/$t.sql" ]; then
            REGRESS_TESTS+=("$t")
        elif [ -f "test/specs/$t.spec" ]; then
            ISOLATION_TESTS+=("$t")
        else
            die "no test named $t in test/sql or test/specs"
        fi
    done
fi
if [ ${#ISOLATION_TESTS[@]} -gt 0 ] && [ ! -x "$PG_ISOLATION_REGRESS" ]; then
    die "$PG_ISOLATION_REGRESS is missing (postgresql-server-dev-15)"
fi

OUT=${PGJOBS_VG_OUT:-$(mktemp -d /tmp/pgjobs-valgrind.XXXXXX)}
mkdir -p "$OUT/vg" "$OUT/regress" "$OUT/isolation" || die "cannot create $OUT"
chmod 777 "$OUT" "$OUT/vg" "$OUT/regress" "$OUT/isolation"
# the postgres OS user may not be able to read the checkout: give valgrind a copy
cp "$SUPP" "$OUT/postgresql.supp" && chmod 644 "$OUT/postgresql.supp"
cp "$SUPP_STRIPPED" "$OUT/stripped.supp" && chmod 644 "$OUT/stripped.supp"

CLUSTER_DIR=$(mktemp -d /tmp/pgjobs-vgcluster.XXXXXX)
chmod 755 "$CLUSTER_DIR"
[ "$(id -u)" = 0 ] && chown postgres: "$CLUSTER_DIR"
PGPORT=${PGJOBS_PORT:-$(( 56500 + RANDOM % 100 ))}
export PGPORT PGHOST=$CLUSTER_DIR PGUSER=postgres PGDATABASE=postgres
DATA="$CLUSTER_DIR/data"
SERVER_LOG="$OUT/server.log"
SERVER_PID=

# stop_server stops the postmaster (waiting for valgrind to write its
# logs) and removes the cluster; idempotent, also run on exit.
stop_server() {
    if [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR" ]; then
        if [ -f "$DATA/postmaster.pid" ]; then
            as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -t 600 -w -s stop >/dev/null 2>&1 ||
                as_pg "$PGBIN/pg_ctl" -D "$DATA" -m immediate -t 120 -w -s stop >/dev/null 2>&1
        fi
        if [ -n "$SERVER_PID" ]; then
            wait "$SERVER_PID" 2>/dev/null
            SERVER_PID=
        fi
        rm -rf "$CLUSTER_DIR"
    fi
    CLUSTER_DIR=
}
trap stop_server EXIT
trap 'exit 130' INT TERM

echo "== valgrind: initdb (not under valgrind), port $PGPORT, logs in $OUT"
as_pg "$PGBIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
    --no-sync >"$OUT/initdb.log" 2>&1 || { cat "$OUT/initdb.log"; die "initdb failed"; }
{
    echo "port = $PGPORT"
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '$CLUSTER_DIR'"
    echo "max_connections = 20"
    echo "shared_buffers = 32MB"
    # less work for valgrind, and fewer processes that are not ours
    echo "autovacuum = off"
    echo "jit = off"
    echo "max_parallel_workers_per_gather = 0"
    echo "max_wal_senders = 0"
    echo "wal_level = minimal"
    echo "fsync = off"
    echo "synchronous_commit = off"
    echo "log_min_messages = warning"
    echo "log_line_prefix = '%m [%p] '"
    # the isolation tester's lock-wait detection polls; be generous
    echo "deadlock_timeout = 5s"
    if [ -n "$PRELOAD" ]; then
        echo "shared_preload_libraries = 'pgjobs'"
        # with --fuzz, the maintenance worker runs in the fuzz's database
        if [ -n "$FUZZ" ]; then
            echo "pgjobs.database = 'pgjobs_fuzz'"
            echo "pgjobs.maintenance_interval = 200ms"
            echo "pgjobs.retention = 1"
            echo "pgjobs.queue_vacuum_threshold = 100"
        fi
    fi
} | as_pg tee -a "$DATA/postgresql.conf" >/dev/null

# Every process the postmaster forks (backends, checkpointer, ...) runs
# under the same valgrind, and writes its own log, vg/<pid>.log.
# --leak-check=no: PostgreSQL frees by memory context, not by pointer, so
# leak reports are meaningless.
VG_OPTS=(--quiet --trace-children=yes --track-origins=yes --num-callers=50
         --error-limit=no --leak-check=no --read-inline-info=yes
         --suppressions="$OUT/postgresql.supp" --suppressions="$OUT/stripped.supp"
         --log-file="$OUT/vg/%p.log")
# shellcheck disable=SC2206
[ -n "${PGJOBS_VG_OPTS:-}" ] && VG_OPTS+=($PGJOBS_VG_OPTS)

echo "== valgrind: starting postgres under valgrind memcheck"
as_pg valgrind "${VG_OPTS[@]}" "$PGBIN/postgres" -D "$DATA" >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
started=
for _ in $(seq 1 "${PGJOBS_VG_STARTUP:-300}"); do
    if "$PGBIN/pg_isready" -q -h "$CLUSTER_DIR" -p "$PGPORT" -t 2; then
        started=1
        break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 1
done
[ -n "$started" ] || { tail -n 30 "$SERVER_LOG"; die "the server did not start"; }

# The suites, against the running server (installcheck mode: pg_regress
# creates its database and the extension in it).
COMMON_OPTS=(--inputdir="$ROOT/test" --bindir="$PGBIN" --load-extension=pgjobs
             --host="$CLUSTER_DIR" --port="$PGPORT" --user=postgres)
regress_status=-
if [ ${#REGRESS_TESTS[@]} -gt 0 ]; then
    echo "== valgrind: pg_regress: ${REGRESS_TESTS[*]}"
    "$PG_REGRESS" "${COMMON_OPTS[@]}" --outputdir="$OUT/regress" \
        --dbname=contrib_regression "${REGRESS_TESTS[@]}" 2>&1 | tee "$OUT/regress.out"
    regress_status=${PIPESTATUS[0]}
fi
isolation_status=-
if [ ${#ISOLATION_TESTS[@]} -gt 0 ]; then
    echo "== valgrind: isolation: ${ISOLATION_TESTS[*]}"
    "$PG_ISOLATION_REGRESS" "${COMMON_OPTS[@]}" --outputdir="$OUT/isolation" \
        --dbname=isolation_regression "${ISOLATION_TESTS[@]}" 2>&1 | tee "$OUT/isolation.out"
    isolation_status=${PIPESTATUS[0]}
fi

fuzz_status=-
if [ -n "$FUZZ" ]; then
    echo "== valgrind: fuzz (test/fuzz/run.sh)"
    PGJOBS_FUZZ_STATEMENTS=${PGJOBS_VG_FUZZ_STATEMENTS:-500} PGJOBS_FUZZ_STATEMENT_TIMEOUT=20s \
        PGJOBS_FUZZ_SERVER_LOG="$SERVER_LOG" PGJOBS_FUZZ_OUT="$OUT/fuzz" \
        bash "$ROOT/test/fuzz/run.sh" 2>&1 | tee "$OUT/fuzz.out"
    fuzz_status=${PIPESTATUS[0]}
fi

echo "== valgrind: stopping the server (valgrind writes its logs on exit)"
stop_server

scan_logs

report_and_exit
