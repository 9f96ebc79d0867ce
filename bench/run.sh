#!/usr/bin/env bash
# bench/run.sh: the pgjobs benchmark suite (see bench/README.md).
#
# Builds and installs the extension, starts a throwaway cluster with a fixed
# configuration, and runs each workload as one pgbench run from an empty
# queue.  Every rate is printed next to its ratio to a plain INSERT ceiling
# measured in the same run (4 clients, one single-row INSERT per transaction
# into a table shaped like a small job row), run before the first workload
# and after each one, so machine speed and load from other processes largely
# cancel out.  The table is also written to bench/results/latest.txt, the raw
# pgbench output (with WAL written and checkpoints per run) to
# bench/results/latest.log.
#
# Usage: bash bench/run.sh [--quick] [--sync-off]
#   --quick     ~2 s per workload and a 2000-job prefill (a CI smoke test)
#   --sync-off  synchronous_commit = off instead of on
#
# Exits non-zero if the build, the cluster, a pgbench run or a sanity check
# fails; a missed target is reported in the table, not in the exit status.
set -u
cd "$(dirname "$0")/.." || exit 1
PROG=bench/run.sh
# shellcheck source=bench/lib.sh
. bench/lib.sh

usage() {
    sed -n 's/^# \{0,1\}//; /^Usage:/,/^$/p' "$0"
}

QUICK=0
SYNC=on
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --sync-off) SYNC=off ;;
        -h | --help) usage; exit 0 ;;
        *) echo "bench/run.sh: unknown option \"$1\"" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

CLIENTS=4
THREADS=2
if [ "$QUICK" = 1 ]; then
    MODE=quick
    DURATION=2
    PREFILL=2000
    PAUSED_BACKLOG=2000
else
    MODE=full
    DURATION=15
    PREFILL=100000
    PAUSED_BACKLOG=100000
fi
# The drain workloads get at least PREFILL jobs, and in full mode enough
# that a consumer 1.5 times as fast as its target would not run out within
# DURATION; a queue that still runs dry is flagged.  PREFILL_MAX jobs take
# about 540 MB with their indexes, so the queue stays in shared_buffers.
PREFILL_HEADROOM=1.5
PREFILL_MAX=3000000

# The fixed cluster configuration (bench/lib.sh); everything else is
# PostgreSQL's default.
bench_conf

SCRIPTS=bench/pgbench
RESULTS=bench/results
mkdir -p "$RESULTS"
WORK=$(mktemp -d /tmp/pgjobs-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
RAWLOG=$RESULTS/latest.log
: >"$RAWLOG"
START=$(date +%s)

# Result rows: name|rate|unit|target ratio|target label|flag|index of the
# ceiling run before it.
ROWS=()
DRY_NOTE=""

# add_row NAME RATE UNIT TARGET LABEL [FLAG] records a result; its ratio is
# taken once the ceiling run after it is known.
add_row() {
    ROWS+=("$1|$2|$3|$4|$5|${6:-}|$((${#CEILINGS[@]} - 1))")
}

# row_ratio NAME prints the ratio of row NAME's rate to the mean of the two
# ceiling runs around it, as the table does.
row_ratio() {
    local row name rate unit target label flag idx
    for row in "${ROWS[@]}"; do
        IFS='|' read -r name rate unit target label flag idx <<<"$row"
        if [ "$name" = "$1" ]; then
            calc "2 * $rate / (${CEILINGS[$idx]} + ${CEILINGS[$((idx + 1))]})"
            return
        fi
    done
    die "no row named $1"
}

# drain NAME SCRIPT BATCH TARGET [HELD] measures a drain workload: prefill,
# run, then check that every claimed job was acked exactly once and ended up
# in jobs.job as succeeded, so errors cannot pass for throughput.  HELD is
# how many jobs the script leaves claimed per client at the end (the chained
# loop acks each job in the transaction that claims the next).
drain() {
    local name=$1 script=$2 batch=$3 target=$4 held=$((${5:-0} * CLIENTS)) n want
    n=$PREFILL
    if [ "$QUICK" = 0 ]; then
        want=$(calc "int($PREFILL_HEADROOM * $target * ${CEILINGS[-1]} * $DURATION + 0.5)")
        [ "$want" -gt "$n" ] && n=$want
        [ "$n" -gt "$PREFILL_MAX" ] && n=$PREFILL_MAX
    fi
    reset
    echo "  $name: prefilling $n jobs" >&2
    prefill "$n"
    bench "$name" "$script"

    check_drained "$name" "$n" "$batch" "$held"
    local flag=""
    if [ "$DRY" = 1 ]; then
        flag="*"
        DRY_NOTE="* the queue ran dry before the end of the run: the rate is a lower bound."
    fi
    # jobs completed per second of the run: tps counts script runs, some of
    # which found the queue empty once it ran dry
    add_row "$name" "$(calc "$TPS * $SUCCEEDED / $XACTS")" "jobs/s" "$target" ">= $target" "$flag"
}

# drain_behind_paused NAME runs the single drain of PREFILL jobs queued
# after PAUSED_BACKLOG jobs of a paused topic (other.x): each claim has the
# paused jobs ahead of it in claim order and may take none of them.  The
# paused jobs must all be left pending; the drained ones are checked as
# drain does.
drain_behind_paused() {
    local name=$1 n=$PREFILL left
    reset
    echo "  $name: prefilling $PAUSED_BACKLOG jobs of a paused topic, then $n jobs" >&2
    sql "SELECT jobs.pause('other.%')" >/dev/null
    prefill "$PAUSED_BACKLOG" "'other.x'"
    prefill "$n"
    bench "$name" drain.sql
    sql "SELECT jobs.resume('other.%')" >/dev/null
    left=$(sql "WITH gone AS (DELETE FROM jobs.job_queue WHERE task = 'other.x' AND status = 'pending' RETURNING 1) SELECT count(*) FROM gone")
    expect "$name: paused jobs left pending" "$left" "$PAUSED_BACKLOG"
    check_drained "$name" "$n" 1 0
    local flag=""
    if [ "$DRY" = 1 ]; then
        flag="*"
        DRY_NOTE="* the queue ran dry before the end of the run: the rate is a lower bound."
    fi
    add_row "$name" "$(calc "$TPS * $SUCCEEDED / $XACTS")" "jobs/s" 0.315 ">= 0.315" "$flag"
}

# ---------------------------------------------------------------------------

echo "pgjobs benchmark ($MODE, synchronous_commit=$SYNC): building and starting a cluster" >&2
install_deps || die "could not install the build dependencies"
build_install || die "build failed"
cluster_start "${CONF[@]}" || die "could not start the cluster"
trap 'cluster_stop; rm -rf "$WORK"' EXIT

sql "CREATE EXTENSION pgjobs" >/dev/null
sql "CREATE TABLE bench_plain (id bigserial PRIMARY KEY, task text, body jsonb, created_at timestamptz DEFAULT now())" >/dev/null

ceiling

# 1. publish: one job per transaction.
reset
bench publish publish.sql
expect "publish: jobs queued" "$(sql "SELECT count(*) FROM jobs.job_queue")" "$XACTS"
add_row "publish" "$TPS" "jobs/s" 0.9 ">= 0.9 (issue: 0.95)"

# 1a. the bare INSERT of the same job into jobs.job_queue, one per
#     transaction: the row, the indexes and the WAL publish writes, without
#     publish.  A reference for publish, measured against the same ceiling
#     runs: publish cannot commit faster than its table takes the row.
reset
bench "queue INSERT" queue_insert.sql
expect "queue INSERT: jobs queued" "$(sql "SELECT count(*) FROM jobs.job_queue")" "$XACTS"
add_row "INSERT into job_queue" "$TPS" "jobs/s" 0 "(reference for publish)"
ceiling

# 1b. topic grants (pgjobs 1.1), publishing as a role with pgjobs_producer:
#     no grant at all, a grant to another role (the caller's grants are
#     looked up and none applies), and the caller restricted to bench.%
#     (every task is checked against its pattern).  Target: no measurable
#     difference between the three.
sql "CREATE ROLE bench_producer LOGIN; CREATE ROLE bench_other NOLOGIN;
     GRANT pgjobs_producer TO bench_producer" >/dev/null
reset
BENCH_USER=bench_producer bench "publish as producer" publish.sql
add_row "publish, producer role" "$TPS" "jobs/s" 0.8 "(compare the next two)"
reset
sql "SELECT jobs.grant_topic('bench_other', 'other.%')" >/dev/null
BENCH_USER=bench_producer bench "publish, grant to other" publish.sql
add_row "publish, grant to other" "$TPS" "jobs/s" 0.8 "(compare the row above)"
reset
sql "SELECT jobs.grant_topic('bench_producer', 'bench.%', i_consume => false)" >/dev/null
BENCH_USER=bench_producer bench "publish, restricted" publish.sql
expect "publish, restricted: jobs queued" "$(sql "SELECT count(*) FROM jobs.job_queue")" "$XACTS"
add_row "publish, restricted" "$TPS" "jobs/s" 0.8 "(compare the rows above)"
sql "SELECT jobs.revoke_topic('bench_other'), jobs.revoke_topic('bench_producer')" >/dev/null
ceiling

# 2. publish_bulk: 1000 jobs per transaction.
reset
bench publish_bulk publish_bulk.sql
expect "publish_bulk: jobs queued" "$(sql "SELECT count(*) FROM jobs.job_queue")" "$((XACTS * 1000))"
add_row "publish_bulk x1000" "$(calc "$TPS * 1000")" "jobs/s" 30 ">= 30"
ceiling

# 3. drain: consume(1), then ack, two transactions per job.
drain "drain consume(1)+ack" drain.sql 1 0.35
ceiling

# 4. drain, batch variant: consume(50), then jobs.ack_batch of all 50.
drain "drain consume(50)+ack_batch" drain_batch.sql 50 7
ceiling

# 5. drain, chained: ack the previous job and claim the next in one
#    statement (jobs.ack_and_consume), one round trip and one commit per job.
BENCH_DEFINES="-D job_id=0" drain "drain ack_and_consume(1)" drain_chained.sql 1 0.5 1
ceiling

# ---------------------------------------------------------------------------

# Two ceiling runs around one workload that differ by more than this
# fraction of their mean make its ratio suspect.
NOISE_LIMIT=0.2

# print_table writes the report: a header naming the configuration, then
# one row per workload with its ratio to the INSERT ceiling around it.
# shellcheck disable=SC2059
print_table() {
    local fmt="%-24s | %7s | %9s | %-6s | %23s | %s\n"
    local row name rate unit target label flag idx before after ceil ratio verdict
    local mean runs="" c noisy=""
    mean=$(printf '%s\n' "${CEILINGS[@]}" | awk '{ s += $1 } END { printf "%.1f", s / NR }')
    for c in "${CEILINGS[@]}"; do runs="$runs $(printf '%.0f' "$c")"; done
    echo "pgjobs benchmark ($MODE run), $(date -u '+%Y-%m-%d %H:%M UTC')"
    [ "$QUICK" = 1 ] && echo "QUICK RUN: a smoke test of the suite, too short to measure anything"
    echo "host: $(nproc) cores, PostgreSQL $(sql "SHOW server_version"), pgjobs $(git describe --always --dirty 2>/dev/null || echo '?')"
    echo "cluster: shared_buffers=1GB synchronous_commit=$SYNC fsync=on autovacuum=on (default thresholds)"
    echo "         max_connections=50 shared_preload_libraries=pgjobs pgjobs.database=postgres; all other settings default"
    echo "pgbench: -n -M prepared -T $DURATION -c $CLIENTS -j $THREADS; each run from an empty queue"
    echo "         (TRUNCATE, VACUUM ANALYZE, CHECKPOINT before each run)"
    echo "INSERT ceiling: $CLIENTS clients, 1 single-row INSERT per transaction into bench_plain,"
    echo "         run before the first workload and after each one (rows/s:$runs);"
    echo "         each ratio is to the mean of the two runs around the workload"
    echo
    printf "$fmt" "workload" "clients" "rate" "unit" "ratio to INSERT ceiling" "target"
    printf "$fmt" "------------------------" "-------" "---------" "------" \
        "-----------------------" "-----------------"
    printf "$fmt" "INSERT ceiling (mean)" "$CLIENTS" "$(printf '%.0f' "$mean")" "rows/s" "1.00" "-"
    for row in "${ROWS[@]}"; do
        IFS='|' read -r name rate unit target label flag idx <<<"$row"
        before=${CEILINGS[$idx]}
        after=${CEILINGS[$((idx + 1))]}
        ceil=$(calc "($before + $after) / 2")
        ratio=$(calc "$rate / $ceil")
        if awk "BEGIN { exit !($ratio >= $target) }"; then verdict=met; else verdict=MISSED; fi
        if awk "BEGIN { d = $before - $after; exit !((d < 0 ? -d : d) > $NOISE_LIMIT * $ceil) }"; then
            ratio="~$(printf '%.2f' "$ratio")"
            noisy="~ the INSERT ceiling runs around this workload differ by more than $(calc "$NOISE_LIMIT * 100")%: the machine's load changed during it, so the ratio is rough."
        else
            ratio=$(printf '%.2f' "$ratio")
        fi
        printf "$fmt" "$name" "$CLIENTS" "$(printf '%.0f' "$rate")$flag" "$unit" "$ratio" "$label $verdict"
    done
    { [ -n "$DRY_NOTE" ] || [ -n "$noisy" ]; } && echo
    [ -n "$DRY_NOTE" ] && echo "$DRY_NOTE"
    [ -n "$noisy" ] && echo "$noisy"
    echo
    echo "total time $(( $(date +%s) - START )) s; raw pgbench output in $RAWLOG"
}

# 6. the cost of event notifications: publish and the single drain again,
#    with pgjobs.notify = all (every job sends queued, picked, succeeded).
reset
BENCH_PGOPTIONS="-c pgjobs.notify=all" bench "publish notify=all" publish.sql
expect "publish notify=all: jobs queued" "$(sql "SELECT count(*) FROM jobs.job_queue")" "$XACTS"
add_row "publish, notify=all" "$TPS" "jobs/s" 0.9 ">= 0.9"
ceiling
BENCH_PGOPTIONS="-c pgjobs.notify=all" drain "drain 1+ack, notify=all" drain.sql 1 0.35
ceiling

# 7. the cost of topic controls (pgjobs 1.1): the single drain again with
#    a paused topic that holds none of the jobs (every claim skips it), and
#    with a concurrency limit on the drained tasks themselves, high enough
#    never to bind (every claim takes the limit's row lock and counts the
#    running jobs).  Then the paused topic holding PAUSED_BACKLOG jobs
#    queued before the drained ones.  Target: within 10% of the plain drain.
#    The plain drain runs again just before them, as their reference, and
#    each is compared by its ratio to the ceiling around it: the machine's
#    load drifts over the minutes between step 3 and these.
drain "drain 1+ack, reference" drain.sql 1 0.35
ceiling
sql "SELECT jobs.pause('other.%')" >/dev/null
drain "drain 1+ack, paused other" drain.sql 1 0.315
sql "SELECT jobs.resume('other.%')" >/dev/null
ceiling
sql "SELECT jobs.set_limit('bench.%', i_max_running => 1000)" >/dev/null
drain "drain 1+ack, limit 1000" drain.sql 1 0.315
sql "SELECT jobs.set_limit('bench.%')" >/dev/null
ceiling
# the paused topic again, now holding PAUSED_BACKLOG jobs queued before the
# drained ones
drain_behind_paused "drain 1+ack, behind paused"
ceiling
REFERENCE_RATIO=$(row_ratio "drain 1+ack, reference")
CONTROL_NOTE=$(for name in "drain 1+ack, paused other" "drain 1+ack, limit 1000" \
                           "drain 1+ack, behind paused"; do
    printf '%s\n' "${ROWS[@]}" | awk -F'|' -v n="$name" -v r="$(row_ratio "$name")" \
        -v ref="$REFERENCE_RATIO" '$1 == n {
            printf "%s: %.0f jobs/s, ratio %.3f, %+.1f%% against the reference drain (ratio %.3f)\n",
                   $1, $2, r, (r / ref - 1) * 100, ref }'
done)

# 8. latency: one producer at 100 jobs/s, one idle consumer waiting in the
#    server (jobs.consume with i_wait), polling every 100 ms, or woken by
#    LISTEN/NOTIFY; publish-commit to claim, on one clock (bench/latency.py).
echo "  latency: bench/latency.py ($DURATION s per mode)" >&2
LATENCY=$(/usr/bin/python3 bench/latency.py --rate 100 --seconds "$DURATION") ||
    die "latency benchmark failed"

{
    print_table
    echo
    echo "latency, publish commit -> claim: 1 producer at 100 jobs/s, 1 idle consumer ($DURATION s each)"
    echo "$LATENCY"
    echo "target (jobs.consume with i_wait): p50 <= 0.5 ms, p99 <= 2 ms"
    echo
    echo "topic controls, against the reference drain just before them, by ratio to the ceiling (target: within 10%):"
    echo "$CONTROL_NOTE"
} | tee "$RESULTS/latest.txt"
