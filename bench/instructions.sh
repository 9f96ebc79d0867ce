#!/bin/bash
# bench/instructions.sh: CPU instructions a job costs in each hot path,
# counted by valgrind (callgrind), next to those of a plain single-row INSERT
# counted the same way.  Instruction counts do not depend on the machine's
# load, so two builds can be compared to a fraction of a percent in one run
# each, where throughput needs many alternating rounds (see bench/README.md).
#
#   bash bench/instructions.sh            # 1000 operations per path, about 3 minutes
#   bash bench/instructions.sh --quick    # 40 per path: checks that it runs
#   PROFILE_DIR=/tmp/cg bash bench/instructions.sh
#                                         # also keeps each run's callgrind
#                                         # profile there (callgrind_annotate)
#
# Each path runs in a single-user backend (postgres --single) under callgrind,
# on a copy of a fresh database, twice: once with only its set-up and a
# warm-up, once with N more operations.  The difference over N is what one
# operation costs the backend: each is a prepared statement run by EXECUTE
# in its own transaction, its commit included; the client's and the
# kernel's work is not.  The table goes to standard output
# and to bench/results/instructions.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
PROG=bench/instructions.sh
QUICK=0
case "${1:-}" in
    --quick) QUICK=1 ;;
    "") ;;
    *) echo "usage: $PROG [--quick]" >&2; exit 2 ;;
esac
N=1000
WARMUP=100
PREFILL=30000
[ "$QUICK" = 1 ] && N=40 && WARMUP=10 && PREFILL=2000

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

die() {
    echo "$PROG: $*" >&2
    exit 1
}

install_deps || die "could not install the build packages"
if ! command -v valgrind >/dev/null 2>&1; then
    echo "installing: valgrind" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null ||
        die "could not install valgrind"
fi
echo "$PROG: building and installing" >&2
build_install || die "build failed"

# a fresh database with the extension and the INSERT ceiling's table, then
# the cluster stops: a single-user backend needs the data directory to itself
cluster_start "shared_preload_libraries = 'pgjobs'" || die "could not start a cluster"
psql -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION pgjobs" \
    -c "CREATE TABLE bench_plain (id bigserial PRIMARY KEY, task text, body jsonb,
                                   created_at timestamptz DEFAULT now())" >/dev/null ||
    die "could not create the extension"
as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -w -s stop || die "could not stop the cluster"
RESULTS=bench/results
mkdir -p "$RESULTS"
if [ -n "${PROFILE_DIR:-}" ]; then
    mkdir -p "$PROFILE_DIR" && chmod 777 "$PROFILE_DIR"
fi

# count NAME SETUP_FILE OPS_FILE REPS prints the instructions of REPS
# operations of OPS_FILE's kind: the run of SETUP_FILE and the first REPS
# lines of OPS_FILE, less the run of SETUP_FILE alone.
count() {
    local name=$1 setup=$2 ops=$3 reps=$4 run total base out=/dev/null
    for run in 0 "$reps"; do
        [ -n "${PROFILE_DIR:-}" ] && out=$PROFILE_DIR/callgrind.out.$name.$run
        rm -rf "$CLUSTER_DIR/copy"
        cp -a "$CLUSTER_DIR/data" "$CLUSTER_DIR/copy" || die "could not copy the database"
        { cat "$setup"; head -n "$run" "$ops"; } >"$CLUSTER_DIR/in.sql" &&
            chmod a+r "$CLUSTER_DIR/in.sql" || die "could not write the statements"
        as_pg valgrind --tool=callgrind --callgrind-out-file="$out" \
            "$PGBIN/postgres" --single -D "$CLUSTER_DIR/copy" \
            -c shared_preload_libraries=pgjobs -c autovacuum=off postgres \
            <"$CLUSTER_DIR/in.sql" >"$CLUSTER_DIR/$name.$run.log" 2>&1 ||
            { tail -n 20 "$CLUSTER_DIR/$name.$run.log" >&2; die "$name: the backend failed"; }
        if grep -q "ERROR:" "$CLUSTER_DIR/$name.$run.log"; then
            grep -m 3 "ERROR:" "$CLUSTER_DIR/$name.$run.log" >&2
            die "$name: a statement failed"
        fi
        total=$(grep -oP 'Collected : \K[0-9]+' "$CLUSTER_DIR/$name.$run.log") ||
            die "$name: no instruction count"
        if [ "$run" = 0 ]; then base=$total; fi
    done
    echo $((total - base))
}

S=$CLUSTER_DIR/setup.sql
O=$CLUSTER_DIR/ops.sql
BODY="'{\"n\":1}'"
prefill_sql() {
    echo "SELECT count(*) FROM jobs.publish_bulk(array(SELECT row('bench.task', $BODY, NULL, NULL, NULL, NULL)::jobs.bulk_job FROM generate_series(1, $1)));"
    echo "VACUUM ANALYZE jobs.job_queue;"
}
# repeat K LINE... prints each LINE K times, in turn
repeat() {
    local k=$1 i
    shift
    for ((i = 0; i < k; i++)); do printf '%s\n' "$@"; done
}

ROWS=()
# measure NAME JOBS_PER_OP [OPS]: counts OPS operations (lines of $O; N
# when not given) after the set-up $S; JOBS_PER_OP jobs per operation
measure() {
    local name=$1 per=$2 reps=${3:-$N} instr
    echo "  $name: $reps operations under callgrind" >&2
    instr=$(count "$(echo "$name" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9\n' '_')" "$S" "$O" "$reps") ||
        exit 1
    ROWS+=("$name|$(awk -v i="$instr" -v n="$reps" -v p="$per" 'BEGIN { printf "%.0f", i / n / p }')")
}

# Every statement is prepared in the set-up and run with EXECUTE, as the
# pgbench runs of bench/run.sh use prepared statements (-M prepared).

# the ceiling: one single-row INSERT into bench_plain per transaction
{ echo "PREPARE op AS INSERT INTO bench_plain (task, body) VALUES ('bench.task', $BODY);"
  repeat "$WARMUP" "EXECUTE op;"; } >"$S"
repeat "$N" "EXECUTE op;" >"$O"
measure "INSERT (ceiling)" 1

{ echo "PREPARE op AS SELECT jobs.publish('bench.task', $BODY);"
  repeat "$WARMUP" "EXECUTE op;"; } >"$S"
repeat "$N" "EXECUTE op;" >"$O"
measure "publish" 1

{ echo "PREPARE op AS SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(ROW('bench.task', $BODY, NULL, NULL, NULL, NULL)::jobs.bulk_job) FROM generate_series(1, 1000)));"
  repeat $((WARMUP / 10)) "EXECUTE op;"; } >"$S"
repeat "$N" "EXECUTE op;" >"$O"
measure "publish_bulk x1000" 1000 $(( N / 10 > 0 ? N / 10 : 1 ))

# the drains read a prefilled queue: its jobs have ids 1..PREFILL, claimed
# in that order (one priority, one scheduled_at)
{ prefill_sql "$PREFILL"; echo "PREPARE op AS SELECT job_id FROM jobs.consume(1);"
  repeat "$WARMUP" "EXECUTE op;"; } >"$S"
repeat "$N" "EXECUTE op;" >"$O"
measure "consume(1)" 1

{ prefill_sql "$PREFILL"; echo "SELECT count(*) FROM jobs.consume($((WARMUP + N)));"
  echo "PREPARE op(bigint) AS SELECT jobs.ack(\$1);"
  for ((i = 1; i <= WARMUP; i++)); do echo "EXECUTE op($i);"; done; } >"$S"
for ((i = WARMUP + 1; i <= WARMUP + N; i++)); do echo "EXECUTE op($i);"; done >"$O"
measure "ack" 1

{ prefill_sql "$PREFILL"; echo "SELECT job_id FROM jobs.consume(1);"
  echo "PREPARE op(bigint) AS SELECT job_id FROM jobs.ack_and_consume(\$1);"
  for ((i = 1; i <= WARMUP; i++)); do echo "EXECUTE op($i);"; done; } >"$S"
for ((i = WARMUP + 1; i <= WARMUP + N; i++)); do echo "EXECUTE op($i);"; done >"$O"
measure "ack_and_consume(1)" 1

# consume(50), then ack_batch of the 50 it claimed, as two lines: an
# operation is the pair
batch_pair() {
    local first=$1
    echo "EXECUTE claim;"
    echo "EXECUTE ack($first);"
}
BATCHES=$(( N / 10 > 0 ? N / 10 : 1 ))
[ $((PREFILL / 50)) -ge $((WARMUP / 10 + BATCHES)) ] || die "prefill too small for the batches"
{ prefill_sql "$PREFILL"
  echo "PREPARE claim AS SELECT count(*) FROM jobs.consume(50);"
  echo "PREPARE ack(bigint) AS SELECT jobs.ack_batch(ARRAY(SELECT pg_catalog.generate_series(\$1, \$1 + 49)));"
  for ((b = 0; b < WARMUP / 10; b++)); do batch_pair $((b * 50 + 1)); done; } >"$S"
for ((b = WARMUP / 10; b < WARMUP / 10 + BATCHES; b++)); do batch_pair $((b * 50 + 1)); done >"$O"
measure "consume(50)+ack_batch" 25 $((BATCHES * 2))

CEILING=$(printf '%s\n' "${ROWS[0]}" | cut -d'|' -f2)
{
    echo "pgjobs instructions per job (callgrind), $(date -u '+%Y-%m-%d %H:%M UTC')"
    [ "$QUICK" = 1 ] && echo "QUICK RUN: a smoke test, too few operations to measure anything"
    echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{ print $3 }'), pgjobs $(git describe --always --dirty 2>/dev/null || echo '?');" \
         "single-user backend, $N operations per path after $WARMUP of warm-up"
    echo
    printf '%-24s | %13s | %s\n' "path" "instructions" "per INSERT"
    printf '%-24s | %13s | %s\n' "------------------------" "-------------" "----------"
    for row in "${ROWS[@]}"; do
        IFS='|' read -r name instr <<<"$row"
        printf '%-24s | %13s | %.3f\n' "$name" "$instr" "$(awk -v a="$instr" -v b="$CEILING" 'BEGIN { print a / b }')"
    done
} | tee "$RESULTS/instructions.txt"
