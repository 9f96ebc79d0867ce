#!/usr/bin/env bash
# bench/scale.sh: the pgjobs scale and endurance benchmarks (see the section
# "Scale and endurance" of bench/README.md): the workloads of issue 3 that
# bench/run.sh does not run.
#
#   4. steady state: 2 producers and 2 consumers at once, with its bounds
#      (2 clients of the INSERT alone, a hand-written SKIP LOCKED queue)
#   6. queue depth: the drain from 10k, 1M and 5M pending jobs
#   7. topics: 1,000 task names, 4 consumers each on its own prefix,
#      priorities mixed
#   8. held snapshot: workload 4 while a REPEATABLE READ transaction stays
#      open, throughput and dead tuples over time; 8b: the same with jobs
#      of mixed priorities
#   9. cost per job: WAL bytes and dead tuples per job
#
# Same cluster, configuration and yardstick as bench/run.sh: every rate is
# printed next to its ratio to a plain INSERT ceiling (4 clients, one
# single-row INSERT per transaction) measured before the first workload
# group and after each one.  The tables go to standard output and to
# bench/results/scale-latest.txt, the raw pgbench output to
# bench/results/scale-latest.log.  Progress goes to standard error.
#
# Usage: bash bench/scale.sh [--quick] [--conf 'name = value']...
#   --quick     a smoke test: 1k/10k/50k-deep queues, a 20 s steady state,
#               a 30 s held snapshot, 2 s runs otherwise (about 3 minutes)
#   --conf      one more postgresql.conf line, on top of the fixed
#               configuration (e.g. --conf "pgjobs.database = 'postgres'"
#               starts the maintenance worker); printed in the header
#
# The full run takes about 20 minutes.  Exits non-zero if the build, the
# cluster, a pgbench run or a sanity check fails; a missed target is
# reported in the tables, not in the exit status.
set -u
cd "$(dirname "$0")/.." || exit 1
PROG=bench/scale.sh
# shellcheck source=bench/lib.sh
. bench/lib.sh

usage() {
    sed -n 's/^# \{0,1\}//; /^Usage:/,/^$/p' "$0"
}

QUICK=0
SYNC=on
EXTRA_CONF=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --conf)
            [ $# -ge 2 ] || { echo "$PROG: --conf needs a value" >&2; exit 2; }
            EXTRA_CONF+=("$2")
            shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "$PROG: unknown option \"$1\"" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

CLIENTS=4       # the ceiling, the drains and the topics
THREADS=2
HALF=2          # producers and consumers of the steady state, each
if [ "$QUICK" = 1 ]; then
    MODE=quick
    DURATION=2              # ceiling, topics, cost runs (s)
    STEADY=20               # workload 4 (s)
    COLD=10                 # workload 4 from an empty queue (s)
    HELD=30                 # workload 8 (s)
    HELD_PRIO=20            # workload 8b (s)
    INTERVAL=5              # throughput and samples every INTERVAL s
    WINDOW=10               # "first minute" and "last minute" of 4 and 8
    DEPTHS=(1000 10000 50000)
    ROUNDS=2
    TOPIC_PREFILL=4000
    COST_PREFILL=2000
else
    MODE=full
    DURATION=15
    STEADY=120
    COLD=60
    HELD=300
    HELD_PRIO=120
    INTERVAL=30
    WINDOW=60
    DEPTHS=(10000 1000000 5000000)
    ROUNDS=5
    TOPIC_PREFILL=400000
    COST_PREFILL=400000
fi
# Each depth round drains the same number of jobs, 80 % of the shallowest
# queue, so that every depth is measured over the same work.
ROUND_JOBS=$((DEPTHS[0] * 8 / 10))
# Workloads 4 and 8 start from this many pending jobs, vacuumed and analyzed.
BACKLOG=10000
NOISE_LIMIT=0.2

bench_conf
CONF+=("${EXTRA_CONF[@]}")
SCRIPTS=bench/pgbench
RESULTS=bench/results
mkdir -p "$RESULTS"
WORK=$(mktemp -d /tmp/pgjobs-scale.XXXXXX)
REPORT=$RESULTS/scale-latest.txt
RAWLOG=$RESULTS/scale-latest.log
: >"$REPORT"
: >"$RAWLOG"
START=$(date +%s)

# Background processes this script started (pgbench, the sampler, the
# snapshot-holding psql); the EXIT trap ends those still running, by pid.
BG_PIDS=()
cleanup() {
    local rc=$? p
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    exec 7>&-
    cluster_stop
    # a failed run keeps its pgbench logs and samples for a look
    if [ "$rc" = 0 ]; then rm -rf "$WORK"; else echo "$PROG: its files are kept in $WORK" >&2; fi
}
trap cleanup EXIT

# forget PID... drops processes that have been waited for from BG_PIDS.
forget() {
    local p q keep=()
    for p in "${BG_PIDS[@]}"; do
        for q in "$@"; do [ "$p" = "$q" ] && continue 2; done
        keep+=("$p")
    done
    BG_PIDS=("${keep[@]}")
}

# emit prints report lines and appends them to the report file.
emit() {
    tee -a "$REPORT"
}

# noisy IDX succeeds when ceiling runs IDX and IDX+1 differ by more than
# NOISE_LIMIT of their mean: the machine's load changed under the workload
# between them.
noisy() {
    local before=${CEILINGS[$1]} after=${CEILINGS[$(($1 + 1))]}
    awk "BEGIN { m = ($before + $after) / 2; d = $before - $after; exit !((d < 0 ? -d : d) > $NOISE_LIMIT * m) }"
}

# ratio_to IDX RATE prints RATE's ratio to the mean of ceiling runs IDX and
# IDX+1, with a "~" when they are noisy.
ratio_to() {
    local r
    r=$(printf '%.2f' "$(calc "$2 / ((${CEILINGS[$1]} + ${CEILINGS[$(($1 + 1))]}) / 2)")")
    if noisy "$1"; then echo "~$r"; else echo "$r"; fi
}

NOISE_NOTE="~ the INSERT ceiling runs around this run differ by more than 20 %: the machine's load changed, the ratio is rough."

# ceiling_note IDX prints the ceiling runs a group is compared with.
ceiling_note() {
    printf 'INSERT ceiling around this group: %.0f and %.0f rows/s (mean %.0f)\n' \
        "${CEILINGS[$1]}" "${CEILINGS[$(($1 + 1))]}" "$(calc "(${CEILINGS[$1]} + ${CEILINGS[$(($1 + 1))]}) / 2")"
}

# verdict VALUE TARGET prints "met" or "MISSED" (VALUE may carry a "~").
verdict() {
    if awk "BEGIN { exit !(${1#\~} >= $2) }"; then echo met; else echo MISSED; fi
}

# The measure tables of the held-snapshot runs (8 and 8b):
# measure_header prints the header; measure_row NAME VALUE UNIT RATIO TARGET
# a row; rate_row NAME RATE IDX a rate in jobs/s with its ratio to ceiling
# runs IDX and IDX+1; last_first_row FIRST LAST the last / first window
# ratio against the target 0.8.
MEASURE_FMT="%-34s | %9s | %-6s | %14s | %s\n"
measure_header() {
    measure_row "measure" "value" "unit" "ratio to ceil." "target"
    measure_row "----------------------------------" "---------" "------" "--------------" "----------"
}
measure_row() {
    # shellcheck disable=SC2059
    printf "$MEASURE_FMT" "$@"
}
rate_row() {
    measure_row "$1" "$(printf '%.0f' "$2")" "jobs/s" "$(ratio_to "$3" "$2")" "-"
}
last_first_row() {
    local lf
    lf=$(printf '%.2f' "$(calc "$2 / $1")")
    measure_row "last / first $WINDOW s (completed)" "$lf" "" "" ">= 0.8 $(verdict "$lf" 0.8)"
}

# wait_idle waits until the pgbench sessions have left the server, so that
# the statistics they flush on exit are counted.
wait_idle() {
    local _
    for _ in $(seq 100); do
        [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'")" = 0 ] && break
        sleep 0.1
    done
    sleep 0.3
}

# Cumulative counters sampled during the long runs and around the cost
# runs, one line of space-separated fields:
#  1 epoch s            2 jobs published (inserts into jobs.job_queue)
#  3 jobs finished (inserts into jobs.job)
#  4 live rows in jobs.job_queue   5 dead rows in jobs.job_queue
#  6 dead rows in jobs.job         7 jobs.job_queue heap bytes
#  8 job_queue_pending_idx bytes   9 vacuums of jobs.job_queue (any kind)
# 10 job_queue_pending_idx buffer reads (hits and misses)
# 11 age in xids of the oldest snapshot held by any session
# 12 rows updated in jobs.job_queue and jobs.job
# 13 rows deleted in jobs.job_queue and jobs.job
#    (12 + 13: the dead row versions made)
# 14 HOT updates in jobs.job_queue  15 WAL flush LSN
SAMPLE_SQL="SELECT concat_ws(' ',
    extract(epoch FROM clock_timestamp())::numeric(20,3),
    pg_stat_get_tuples_inserted('jobs.job_queue'::regclass),
    pg_stat_get_tuples_inserted('jobs.job'::regclass),
    pg_stat_get_live_tuples('jobs.job_queue'::regclass),
    pg_stat_get_dead_tuples('jobs.job_queue'::regclass),
    pg_stat_get_dead_tuples('jobs.job'::regclass),
    pg_relation_size('jobs.job_queue'),
    pg_relation_size('jobs.job_queue_pending_idx'),
    pg_stat_get_vacuum_count('jobs.job_queue'::regclass)
        + pg_stat_get_autovacuum_count('jobs.job_queue'::regclass),
    pg_stat_get_blocks_fetched('jobs.job_queue_pending_idx'::regclass),
    coalesce((SELECT max(age(backend_xmin)) FROM pg_stat_activity WHERE pid <> pg_backend_pid()), 0),
    pg_stat_get_tuples_updated('jobs.job_queue'::regclass) + pg_stat_get_tuples_updated('jobs.job'::regclass),
    pg_stat_get_tuples_deleted('jobs.job_queue'::regclass) + pg_stat_get_tuples_deleted('jobs.job'::regclass),
    pg_stat_get_tuples_hot_updated('jobs.job_queue'::regclass),
    pg_current_wal_flush_lsn())"

sample() {
    sql "$SAMPLE_SQL"
}

# sampler OUT N T0 samples the counters into OUT at T0, T0 + INTERVAL, ...,
# T0 + (N-1) * INTERVAL (epoch seconds); run in the background.
sampler() {
    local out=$1 n=$2 t0=$3 k=0 delay
    while [ "$k" -lt "$n" ]; do
        delay=$(calc "$t0 + $k * $INTERVAL - $(date +%s.%N)")
        awk "BEGIN { exit !($delay > 0) }" && sleep "$delay"
        psql -X -q -At -c "$SAMPLE_SQL" >>"$out" 2>>"$WORK/sampler.err"
        k=$((k + 1))
    done
}

# ---------------------------------------------------------------------------
# The held snapshot: a psql session fed from a fifo, so that the suite can
# open its REPEATABLE READ transaction and later commit it.

hold_snapshot() {
    local _
    mkfifo "$WORK/held.fifo"
    PGAPPNAME=pgjobs-held-snapshot psql -X -q -v ON_ERROR_STOP=1 <"$WORK/held.fifo" >"$WORK/held.out" 2>&1 &
    HELD_PID=$!
    BG_PIDS+=("$HELD_PID")
    exec 7>"$WORK/held.fifo"
    echo "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM jobs.job_queue;" >&7
    for _ in $(seq 100); do
        [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgjobs-held-snapshot'
                   AND state = 'idle in transaction' AND backend_xmin IS NOT NULL")" = 1 ] && return 0
        sleep 0.1
    done
    cat "$WORK/held.out" >&2
    die "the snapshot-holding session did not open its transaction"
}

release_snapshot() {
    local still
    still=$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgjobs-held-snapshot'
                  AND state = 'idle in transaction' AND backend_xmin IS NOT NULL")
    echo "COMMIT;" >&7
    exec 7>&-
    wait "$HELD_PID" || { cat "$WORK/held.out" >&2; die "the snapshot-holding session failed"; }
    forget "$HELD_PID"
    rm -f "$WORK/held.fifo"
    expect "held snapshot: the session still held its snapshot at the end" "$still" 1
}

CONS_SCRIPT=drain.sql CONS_DEFINES="" CONS_HELD=0 CONS_BATCH=1 PROD_SCRIPT=publish.sql PROD_BATCH=1

# ---------------------------------------------------------------------------
# Workloads 4 and 8: two pgbench processes at once, HALF producers
# (PROD_SCRIPT, publish.sql; PROD_BATCH jobs a run) and HALF consumers
# (drain.sql), with per-interval aggregate logs, while the sampler records
# the counters.

# steady TAG LENGTH BACKLOG runs the steady state for LENGTH seconds from
# the queue as it is, BACKLOG pending jobs (the caller resets and fills
# it), its consumers running CONS_SCRIPT (with CONS_DEFINES; CONS_HELD: how
# many jobs each leaves claimed at the end; CONS_BATCH: the most jobs one
# run completes), and sets
# PUB_RATE and DONE_RATE (jobs/s over the run), EMPTY (consumer script runs
# that found no job), and the per-interval table in $WORK/TAG.intervals.
steady() {
    local tag=$1 length=$2 backlog=$3 n=$(($2 / INTERVAL)) t0 pp cp sp prc crc run
    # pgbench starts its aggregate intervals at the whole second of its
    # first transaction and writes none that has not ended when the run
    # does: run one interval longer (pgbench wants a multiple of it), so
    # that the last of the n intervals ends in time even when the first
    # claim or publish takes a moment.  The sampler takes its n + 1 samples
    # on time, the last one while the load still runs.
    run=$((length + INTERVAL))
    echo "  $tag: $HALF producers + $HALF consumers for $length s" >&2
    rm -f "$WORK/$tag".*
    t0=$(date +%s.%N)
    sampler "$WORK/$tag.samples" "$((n + 1))" "$t0" 7>&- &
    sp=$!
    BG_PIDS+=("$sp")
    "$PGBIN/pgbench" -n -M prepared -T "$run" -c "$HALF" -j 1 -l \
        --aggregate-interval="$INTERVAL" --log-prefix="$WORK/$tag.prod" \
        -f "$SCRIPTS/$PROD_SCRIPT" >"$WORK/$tag.prod.out" 2>&1 7>&- &
    pp=$!
    # shellcheck disable=SC2086
    "$PGBIN/pgbench" -n -M prepared -T "$run" -c "$HALF" -j 1 -l $CONS_DEFINES \
        --aggregate-interval="$INTERVAL" --log-prefix="$WORK/$tag.cons" \
        -f "$SCRIPTS/$CONS_SCRIPT" >"$WORK/$tag.cons.out" 2>&1 7>&- &
    cp=$!
    BG_PIDS+=("$pp" "$cp")
    wait "$pp"; prc=$?
    wait "$cp"; crc=$?
    wait "$sp"
    forget "$pp" "$cp" "$sp"
    { echo "== $tag producers: pgbench -n -M prepared -T $run -c $HALF -j 1 -f $SCRIPTS/$PROD_SCRIPT"
      cat "$WORK/$tag.prod.out"; echo
      echo "== $tag consumers: pgbench -n -M prepared -T $run -c $HALF -j 1 $CONS_DEFINES -f $SCRIPTS/$CONS_SCRIPT"
      cat "$WORK/$tag.cons.out"; echo; } >>"$RAWLOG"
    pgbench_check "$tag producers" "$WORK/$tag.prod.out" "$prc"
    local pub_tps=$TPS pub_x=$XACTS
    pgbench_check "$tag consumers" "$WORK/$tag.cons.out" "$crc"
    local cons_tps=$TPS cons_x=$XACTS
    wait_idle

    # every published job is queued or finished, every finished one
    # succeeded after one claim, none is left claimed
    local queued succeeded other retried running
    queued=$(sql "SELECT count(*) FROM jobs.job_queue")
    succeeded=$(sql "SELECT count(*) FROM jobs.job WHERE status = 'succeeded'")
    other=$(sql "SELECT count(*) FROM jobs.job WHERE status <> 'succeeded'")
    retried=$(sql "SELECT count(*) FROM jobs.job WHERE attempts <> 1")
    running=$(sql "SELECT count(*) FROM jobs.job_queue WHERE status = 'running'")
    echo "  $tag: $pub_x published, $succeeded completed, $queued still queued" >&2
    expect "$tag: jobs (queued + finished)" "$((queued + succeeded + other))" "$((pub_x * PROD_BATCH + backlog))"
    expect "$tag: failed jobs" "$other" 0
    expect "$tag: jobs acked after more than one attempt" "$retried" 0
    expect "$tag: jobs left running" "$running" "$((CONS_HELD * HALF))"
    { [ "$succeeded" -gt 0 ] && [ "$succeeded" -le "$((cons_x * CONS_BATCH))" ]; } ||
        die "sanity check failed: $tag: $succeeded completed from $cons_x consumer runs"
    EMPTY=0
    [ "$CONS_BATCH" = 1 ] && EMPTY=$((cons_x - succeeded - CONS_HELD * HALF))
    PUB_RATE=$(calc "$pub_tps * $PROD_BATCH")
    DONE_RATE=$(calc "$cons_tps * $succeeded / $cons_x")

    # per interval: pgbench's aggregate logs give the exact script runs and
    # their latency; the samples give the state at each interval's end
    local logs
    logs=$(find "$WORK" -maxdepth 1 -name "$tag.prod.[0-9]*" -o -maxdepth 1 -name "$tag.cons.[0-9]*" | wc -l)
    [ "$logs" = 2 ] || die "$tag: expected 2 pgbench logs, found $logs"
    paste -d' ' <(head -n "$n" "$WORK/$tag".prod.[0-9]* | awk '{ print $2 }') \
                <(head -n "$n" "$WORK/$tag".cons.[0-9]* | awk '{ print $2, $3 }') \
                <(head -n "$((n + 1))" "$WORK/$tag.samples" | tail -n "$n") \
                <(head -n "$n" "$WORK/$tag.samples") |
        awk -v iv="$INTERVAL" -v pb="$PROD_BATCH" -v v0="$(awk 'NR == 1 { print $9 }' "$WORK/$tag.samples")" '
            NF == 33 {
                # $1 published runs, $2 consumer runs, $3 their latency sum (us),
                # $4.. the sample at the interval end, $19.. at its start
                done = $6 - $21
                printf "%6d | %11.0f | %11.0f | %10.2f | %10d | %10d | %8d | %8.1f | %9.1f | %10s | %7d | %8d\n",
                    NR * iv, $1 * pb / iv, done / ($4 - $19), ($2 > 0 ? $3 / $2 / 1000 : 0),
                    $7, $8, $9, $10 / 1048576, $11 / 1048576,
                    (done > 0 ? sprintf("%.1f", ($13 - $28) / done) : "-"), $12 - v0, $14
            }' >"$WORK/$tag.intervals"
    [ "$(wc -l <"$WORK/$tag.intervals")" = "$n" ] ||
        die "$tag: could not line up $n intervals of pgbench logs and samples" \
            "(lines: $(wc -l "$WORK/$tag".prod.[0-9]* "$WORK/$tag".cons.[0-9]* "$WORK/$tag.samples" |
                       awk '$2 != "total" { printf "%s %s; ", $2, $1 }'))"

    # completed jobs/s over the first and the last WINDOW seconds: jobs
    # finished between two samples, over the time between them
    local w=$((WINDOW / INTERVAL))
    FIRST=$(awk -v a=1 -v b="$((w + 1))" 'NR == a { t = $1; c = $3 } NR == b { print ($3 - c) / ($1 - t) }' "$WORK/$tag.samples")
    LAST=$(awk -v a="$((n + 1 - w))" -v b="$((n + 1))" 'NR == a { t = $1; c = $3 } NR == b { print ($3 - c) / ($1 - t) }' "$WORK/$tag.samples")
    MAXDEAD=$(awk '{ if ($5 > m) m = $5 } END { print m + 0 }' "$WORK/$tag.samples")
}

# steady_plain LENGTH BACKLOG runs the hand-written reference queue
# (bench_queue: plain_queue_publish.sql and plain_queue_take.sql) with HALF
# producers and HALF consumers for LENGTH seconds from BACKLOG rows, and
# sets PLAIN_PUB and PLAIN_DONE (rows/s over the run).
steady_plain() {
    local length=$1 backlog=$2 pp cp prc crc pub_tps pub_x cons_tps cons_x left taken
    echo "  hand-written queue: $HALF producers + $HALF consumers for $length s" >&2
    sql "TRUNCATE bench_queue" >/dev/null
    sql "INSERT INTO bench_queue (task, body) SELECT 'bench.task', '{\"n\":1}' FROM generate_series(1, $backlog)" >/dev/null
    sql "VACUUM ANALYZE bench_queue" >/dev/null
    sql "CHECKPOINT" >/dev/null
    "$PGBIN/pgbench" -n -M prepared -T "$length" -c "$HALF" -j 1 \
        -f "$SCRIPTS/plain_queue_publish.sql" >"$WORK/plain.prod.out" 2>&1 7>&- &
    pp=$!
    "$PGBIN/pgbench" -n -M prepared -T "$length" -c "$HALF" -j 1 \
        -f "$SCRIPTS/plain_queue_take.sql" >"$WORK/plain.cons.out" 2>&1 7>&- &
    cp=$!
    BG_PIDS+=("$pp" "$cp")
    wait "$pp"; prc=$?
    wait "$cp"; crc=$?
    forget "$pp" "$cp"
    { echo "== hand-written queue producers: pgbench -n -M prepared -T $length -c $HALF -j 1 -f $SCRIPTS/plain_queue_publish.sql"
      cat "$WORK/plain.prod.out"; echo
      echo "== hand-written queue consumers: pgbench -n -M prepared -T $length -c $HALF -j 1 -f $SCRIPTS/plain_queue_take.sql"
      cat "$WORK/plain.cons.out"; echo; } >>"$RAWLOG"
    pgbench_check "hand-written queue producers" "$WORK/plain.prod.out" "$prc"
    pub_tps=$TPS pub_x=$XACTS
    pgbench_check "hand-written queue consumers" "$WORK/plain.cons.out" "$crc"
    cons_tps=$TPS cons_x=$XACTS
    # every row inserted is still there or was taken, by one consumer run each
    left=$(sql "SELECT count(*) FROM bench_queue")
    taken=$((backlog + pub_x - left))
    echo "  hand-written queue: $pub_x inserted, $taken taken, $left left" >&2
    { [ "$taken" -gt 0 ] && [ "$taken" -le "$cons_x" ]; } ||
        die "sanity check failed: hand-written queue: $taken rows taken by $cons_x consumer runs"
    PLAIN_PUB=$(calc "$pub_tps")
    PLAIN_DONE=$(calc "$cons_tps * $taken / $cons_x")
}

INTERVAL_HEADER=$(printf "%6s | %11s | %11s | %10s | %10s | %10s | %8s | %8s | %9s | %10s | %7s | %8s" \
    "t (s)" "published/s" "completed/s" "claim+ack" "queue rows" "dead rows" "dead job" \
    "queue MB" "pend.idx" "idx reads" "vacuums" "xmin age")
INTERVAL_HEADER2=$(printf "%6s | %11s | %11s | %10s | %10s | %10s | %8s | %8s | %9s | %10s | %7s | %8s" \
    "" "" "" "ms/run" "" "job_queue" "" "(heap)" "MB" "/completed" "in run" "(xids)")

# print_intervals TAG prints the per-interval table of a steady run.
print_intervals() {
    echo "$INTERVAL_HEADER"
    echo "$INTERVAL_HEADER2"
    echo "${INTERVAL_HEADER//[^|]/-}"
    cat "$WORK/$1.intervals"
}

# ---------------------------------------------------------------------------

echo "pgjobs scale benchmark ($MODE): building and starting a cluster" >&2
install_deps || die "could not install the build dependencies"
build_install || die "build failed"
cluster_start "${CONF[@]}" || die "could not start the cluster"
trap cleanup EXIT

sql "CREATE EXTENSION pgjobs" >/dev/null
sql "CREATE EXTENSION pg_walinspect" >/dev/null
sql "CREATE TABLE bench_plain (id bigserial PRIMARY KEY, task text, body jsonb, created_at timestamptz DEFAULT now())" >/dev/null
sql "CREATE TABLE bench_queue (id bigserial PRIMARY KEY, task text, body jsonb, created_at timestamptz DEFAULT now())" >/dev/null

{
    echo "pgjobs scale and endurance benchmark ($MODE run), $(date -u '+%Y-%m-%d %H:%M UTC')"
    [ "$QUICK" = 1 ] && echo "QUICK RUN: a smoke test of the suite, too short and too small to measure anything"
    echo "host: $(nproc) cores, PostgreSQL $(sql "SHOW server_version"), pgjobs $(git describe --always --dirty 2>/dev/null || echo '?')"
    echo "cluster: shared_buffers=1GB synchronous_commit=$SYNC fsync=on autovacuum=on (default thresholds)"
    echo "         max_connections=50 shared_preload_libraries=pgjobs pgjobs.database=postgres; all other settings default"
    for c in "${EXTRA_CONF[@]}"; do echo "         EXTRA (--conf): $c"; done
    echo "INSERT ceiling: $CLIENTS clients, 1 single-row INSERT per transaction into bench_plain, $DURATION s,"
    echo "         run before the first group and after each; a group's ratios are to the mean of"
    echo "         the two runs around it (~: those two differ by more than 20 %)"
} | emit

ceiling

# ---------------------------------------------------------------------------
# 4. steady state: HALF producers + HALF consumers at once, STEADY seconds,
#    from a BACKLOG-job backlog, vacuumed and analyzed, so that the
#    consumers' sessions plan their claim against a queue with rows in it.
#    Then the same for COLD seconds from an empty queue: workers that
#    connect while the queue is empty.

G4=$((${#CEILINGS[@]} - 1))
reset
prefill "$BACKLOG"
steady steady "$STEADY" "$BACKLOG"
S4_PUB=$PUB_RATE S4_DONE=$DONE_RATE S4_EMPTY=$EMPTY S4_FIRST=$FIRST S4_LAST=$LAST
ceiling
G4B=$((${#CEILINGS[@]} - 1))
reset
steady cold "$COLD" 0
S4B_PUB=$PUB_RATE S4B_DONE=$DONE_RATE S4B_EMPTY=$EMPTY
ceiling
# the same from the backlog, the consumers acking each job in the statement
# that claims the next (jobs.ack_and_consume, pgjobs 1.2): one commit a job
G4C=$((${#CEILINGS[@]} - 1))
reset
prefill "$BACKLOG"
CONS_SCRIPT=drain_chained.sql CONS_DEFINES="-D job_id=0" CONS_HELD=1
steady chained "$STEADY" "$BACKLOG"
CONS_SCRIPT=drain.sql CONS_DEFINES="" CONS_HELD=0
S4C_PUB=$PUB_RATE S4C_DONE=$DONE_RATE S4C_EMPTY=$EMPTY S4C_FIRST=$FIRST S4C_LAST=$LAST
ceiling
# the same with consumers that claim up to 50 jobs and ack them with one
# jobs.ack_batch: two commits a batch
G4D=$((${#CEILINGS[@]} - 1))
reset
prefill "$BACKLOG"
CONS_SCRIPT=drain_batch.sql CONS_BATCH=50
steady batch "$STEADY" "$BACKLOG"
CONS_SCRIPT=drain.sql CONS_BATCH=1
S4D_PUB=$PUB_RATE S4D_DONE=$DONE_RATE S4D_FIRST=$FIRST S4D_LAST=$LAST
ceiling
# the same batch consumers with producers that publish 10 jobs a
# transaction (one publish_bulk): what the consumers complete when one-job
# producers no longer bound the workload
G4F=$((${#CEILINGS[@]} - 1))
reset
prefill "$BACKLOG"
PROD_SCRIPT=publish_bulk10.sql PROD_BATCH=10 CONS_SCRIPT=drain_batch.sql CONS_BATCH=50
steady batchprod "$STEADY" "$BACKLOG"
PROD_SCRIPT=publish.sql PROD_BATCH=1 CONS_SCRIPT=drain.sql CONS_BATCH=1
S4F_PUB=$PUB_RATE S4F_DONE=$DONE_RATE S4F_FIRST=$FIRST S4F_LAST=$LAST
ceiling
# what bounds the workload on this machine, measured alike: HALF clients of
# the ceiling's INSERT alone (the most HALF one-job producers could
# publish), then a hand-written SKIP LOCKED queue with HALF producers and
# HALF consumers (one DELETE a job, one commit)
G4E=$((${#CEILINGS[@]} - 1))
reset
BENCH_CLIENTS=$HALF BENCH_THREADS=1 bench "insert, $HALF clients" insert_ceiling.sql
S4E_INSERT=$TPS
steady_plain "$COLD" "$BACKLOG"
S4E_PUB=$PLAIN_PUB S4E_DONE=$PLAIN_DONE
ceiling
{
    echo
    echo "4. steady state: $HALF producers (publish, 1 job per transaction) + $HALF consumers"
    echo "   (consume(1) + ack, 2 transactions per job) at once, 2 pgbench processes; $STEADY s from"
    echo "   a backlog of $BACKLOG pending jobs (vacuumed and analyzed), then $COLD s from an empty queue;"
    echo "   then $STEADY s from the backlog again with consumers acking each job in the statement that"
    echo "   claims the next (jobs.ack_and_consume(1), 1 transaction per job); then $STEADY s from"
    echo "   the backlog with consumers claiming up to 50 jobs and acking them with one ack_batch"
    echo "   (consume(50) + ack_batch, 2 transactions per batch); then the same batch consumers for $STEADY s"
    echo "   from the backlog with producers publishing 10 jobs a transaction (one publish_bulk of 10)."
    echo "   Bounds, measured alike: $HALF clients"
    echo "   of the ceiling's INSERT alone, and a hand-written SKIP LOCKED queue (bench_queue: $HALF"
    echo "   clients INSERT a row each transaction, $HALF DELETE the oldest row each transaction) for $COLD s"
    echo "   from a backlog of $BACKLOG rows"
    ceiling_note "$G4"
    ceiling_note "$G4B" | sed 's/this group/the empty-queue run/'
    ceiling_note "$G4C" | sed 's/this group/the ack_and_consume run/'
    ceiling_note "$G4D" | sed 's/this group/the batch run/'
    ceiling_note "$G4F" | sed 's/this group/the run with producers of 10/'
    ceiling_note "$G4E" | sed 's/this group/the bounds below/'
    echo
    fmt="%-34s | %7s | %9s | %-6s | %14s | %s\n"
    # shellcheck disable=SC2059
    printf "$fmt" "workload" "clients" "rate" "unit" "ratio to ceil." "target"
    # shellcheck disable=SC2059
    printf "$fmt" "----------------------------------" "-------" "---------" "------" "--------------" "----------"
    r=$(ratio_to "$G4" "$S4_DONE")
    # shellcheck disable=SC2059
    printf "$fmt" "steady state: completed" "$HALF+$HALF" "$(printf '%.0f' "$S4_DONE")" "jobs/s" "$r" ">= 0.5 $(verdict "$r" 0.5)"
    # shellcheck disable=SC2059
    printf "$fmt" "steady state: published" "$HALF" "$(printf '%.0f' "$S4_PUB")" "jobs/s" "$(ratio_to "$G4" "$S4_PUB")" "-"
    # shellcheck disable=SC2059
    printf "$fmt" "completed, last/first ${WINDOW} s" "" "" "" \
        "$(printf '%.2f' "$(calc "$S4_LAST / $S4_FIRST")")" "(no target; compare 8)"
    r=$(ratio_to "$G4B" "$S4B_DONE")
    # shellcheck disable=SC2059
    printf "$fmt" "from an empty queue: completed" "$HALF+$HALF" "$(printf '%.0f' "$S4B_DONE")" "jobs/s" "$r" ">= 0.5 $(verdict "$r" 0.5)"
    # shellcheck disable=SC2059
    printf "$fmt" "from an empty queue: published" "$HALF" "$(printf '%.0f' "$S4B_PUB")" "jobs/s" "$(ratio_to "$G4B" "$S4B_PUB")" "-"
    r=$(ratio_to "$G4C" "$S4C_DONE")
    # shellcheck disable=SC2059
    printf "$fmt" "ack_and_consume(1): completed" "$HALF+$HALF" "$(printf '%.0f' "$S4C_DONE")" "jobs/s" "$r" ">= 0.5 $(verdict "$r" 0.5)"
    # shellcheck disable=SC2059
    printf "$fmt" "ack_and_consume(1): published" "$HALF" "$(printf '%.0f' "$S4C_PUB")" "jobs/s" "$(ratio_to "$G4C" "$S4C_PUB")" "-"
    # shellcheck disable=SC2059
    printf "$fmt" "ack_and_consume, last/first ${WINDOW} s" "" "" "" \
        "$(printf '%.2f' "$(calc "$S4C_LAST / $S4C_FIRST")")" "-"
    r=$(ratio_to "$G4D" "$S4D_DONE")
    # shellcheck disable=SC2059
    printf "$fmt" "consume(50)+ack_batch: completed" "$HALF+$HALF" "$(printf '%.0f' "$S4D_DONE")" "jobs/s" "$r" ">= 0.5 $(verdict "$r" 0.5)"
    # shellcheck disable=SC2059
    printf "$fmt" "consume(50)+ack_batch: published" "$HALF" "$(printf '%.0f' "$S4D_PUB")" "jobs/s" "$(ratio_to "$G4D" "$S4D_PUB")" "-"
    # shellcheck disable=SC2059
    printf "$fmt" "batch, last/first ${WINDOW} s" "" "" "" \
        "$(printf '%.2f' "$(calc "$S4D_LAST / $S4D_FIRST")")" "-"
    r=$(ratio_to "$G4F" "$S4F_DONE")
    # shellcheck disable=SC2059
    printf "$fmt" "producers of 10, batch: completed" "$HALF+$HALF" "$(printf '%.0f' "$S4F_DONE")" "jobs/s" "$r" ">= 0.5 $(verdict "$r" 0.5)"
    # shellcheck disable=SC2059
    printf "$fmt" "producers of 10, batch: published" "$HALF" "$(printf '%.0f' "$S4F_PUB")" "jobs/s" "$(ratio_to "$G4F" "$S4F_PUB")" "-"
    # shellcheck disable=SC2059
    printf "$fmt" "producers of 10, last/first ${WINDOW} s" "" "" "" \
        "$(printf '%.2f' "$(calc "$S4F_LAST / $S4F_FIRST")")" "-"
    # shellcheck disable=SC2059
    printf "$fmt" "bound: INSERT alone, $HALF clients" "$HALF" "$(printf '%.0f' "$S4E_INSERT")" "rows/s" "$(ratio_to "$G4E" "$S4E_INSERT")" "(the most $HALF one-job producers publish)"
    # shellcheck disable=SC2059
    printf "$fmt" "hand-written queue: completed" "$HALF+$HALF" "$(printf '%.0f' "$S4E_DONE")" "rows/s" "$(ratio_to "$G4E" "$S4E_DONE")" "(reference, $COLD s)"
    # shellcheck disable=SC2059
    printf "$fmt" "hand-written queue: published" "$HALF" "$(printf '%.0f' "$S4E_PUB")" "rows/s" "$(ratio_to "$G4E" "$S4E_PUB")" "-"
    echo
    echo "from the backlog, every $INTERVAL s:"
    print_intervals steady
    [ "$S4_EMPTY" -gt 0 ] && echo "($S4_EMPTY consumer runs found the queue empty and are not counted in completed/s above)"
    echo
    echo "from an empty queue, every $INTERVAL s:"
    print_intervals cold
    [ "$S4B_EMPTY" -gt 0 ] && echo "($S4B_EMPTY consumer runs found the queue empty and are not counted in completed/s above)"
    echo
    echo "from the backlog with ack_and_consume, every $INTERVAL s:"
    print_intervals chained
    echo
    echo "from the backlog with consume(50) + ack_batch, every $INTERVAL s (claim+ack: per batch):"
    print_intervals batch
    echo
    echo "the same with producers of 10 jobs a transaction, every $INTERVAL s (claim+ack: per batch):"
    print_intervals batchprod
    { noisy "$G4" || noisy "$G4B" || noisy "$G4C" || noisy "$G4D" || noisy "$G4E" || noisy "$G4F"; } && echo "$NOISE_NOTE"
} | emit

# ---------------------------------------------------------------------------
# 6. queue depth: the single drain (consume(1) + ack, CLIENTS clients) from
#    queues DEPTHS deep.  Each depth is prefilled once, then measured over
#    ROUNDS rounds of ROUND_JOBS jobs (pgbench -t): before each later round
#    the queue is topped up to its depth and vacuumed with index cleanup, so
#    every round starts from the same depth and a clean claim index.

G6=$((${#CEILINGS[@]} - 1))
D6_ROWS=()
per=$((ROUND_JOBS / CLIENTS))
for depth in "${DEPTHS[@]}"; do
    reset
    echo "  depth $depth: prefilling" >&2
    t=$(date +%s)
    prefill "$depth"
    echo "  depth $depth: prefilled in $(( $(date +%s) - t )) s" >&2
    rates=()
    idx_reads=()
    heap_reads=()
    for r in $(seq "$ROUNDS"); do
        if [ "$r" -gt 1 ]; then
            PREFILL_VACUUM="VACUUM (INDEX_CLEANUP ON)" prefill "$ROUND_JOBS"
        fi
        b_idx=$(sql "SELECT pg_stat_get_blocks_fetched('jobs.job_queue_pending_idx'::regclass)")
        b_heap=$(sql "SELECT pg_stat_get_blocks_fetched('jobs.job_queue'::regclass)")
        BENCH_LENGTH="-t $per" bench "depth $depth round $r" drain.sql
        wait_idle
        a_idx=$(sql "SELECT pg_stat_get_blocks_fetched('jobs.job_queue_pending_idx'::regclass)")
        a_heap=$(sql "SELECT pg_stat_get_blocks_fetched('jobs.job_queue'::regclass)")
        expect "depth $depth round $r: succeeded jobs" \
            "$(sql "SELECT count(*) FROM jobs.job WHERE status = 'succeeded' AND attempts = 1")" "$((r * per * CLIENTS))"
        expect "depth $depth round $r: jobs in jobs.job" "$(sql "SELECT count(*) FROM jobs.job")" "$((r * per * CLIENTS))"
        expect "depth $depth round $r: jobs left running" \
            "$(sql "SELECT count(*) FROM jobs.job_queue WHERE status = 'running'")" 0
        expect "depth $depth round $r: pending jobs" \
            "$(sql "SELECT count(*) FROM jobs.job_queue")" "$((depth - per * CLIENTS))"
        rates+=("$TPS")
        idx_reads+=("$(calc "($a_idx - $b_idx) / ($per * $CLIENTS)")")
        heap_reads+=("$(calc "($a_heap - $b_heap) / ($per * $CLIENTS)")")
    done
    med=$(printf '%s\n' "${rates[@]}" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    lo=$(printf '%s\n' "${rates[@]}" | sort -g | head -1)
    hi=$(printf '%s\n' "${rates[@]}" | sort -g | tail -1)
    mi=$(printf '%s\n' "${idx_reads[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    mh=$(printf '%s\n' "${heap_reads[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    D6_ROWS+=("$depth|$med|$lo|$hi|$mi|$mh")
done
ceiling
{
    echo
    echo "6. queue depth: drain consume(1) + ack, $CLIENTS clients, from queues ${DEPTHS[*]} jobs deep;"
    echo "   $ROUNDS rounds of $ROUND_JOBS jobs (pgbench -t $per) per depth, topped up to the depth and vacuumed"
    echo "   (INDEX_CLEANUP ON) before each round; rate = median round, pgbench tps"
    ceiling_note "$G6"
    echo
    fmt="%12s | %10s | %15s | %14s | %14s | %14s | %12s\n"
    # shellcheck disable=SC2059
    printf "$fmt" "pending jobs" "jobs/s" "rounds min..max" "ratio to ceil." "pend.idx reads" "heap reads" "vs ${DEPTHS[0]}"
    # shellcheck disable=SC2059
    printf "$fmt" "" "(median)" "" "" "/claim" "/claim" ""
    # shellcheck disable=SC2059
    printf "$fmt" "------------" "----------" "---------------" "--------------" "--------------" "--------------" "------------"
    base=""
    for row in "${D6_ROWS[@]}"; do
        IFS='|' read -r depth med lo hi mi mh <<<"$row"
        [ -z "$base" ] && base=$med
        # shellcheck disable=SC2059
        printf "$fmt" "$depth" "$(printf '%.0f' "$med")" "$(printf '%.0f..%.0f' "$lo" "$hi")" \
            "$(ratio_to "$G6" "$med")" "$(printf '%.1f' "$mi")" "$(printf '%.1f' "$mh")" \
            "$(printf '%.2f' "$(calc "$med / $base")")"
    done
    last=$(printf '%.2f' "$(calc "$med / $base")")
    echo
    echo "drain rate at ${DEPTHS[-1]} / at ${DEPTHS[0]} pending: $last (target >= 0.9: $(verdict "$last" 0.9))"
    noisy "$G6" && echo "$NOISE_NOTE"
} | emit

# ---------------------------------------------------------------------------
# 7. topics: 1,000 task names t.<k>.<n> (k 0..3, n 0..249), priorities 0..9
#    at random; client k drains t.<k>.% with consume_topic(..., 1) + ack.
#    For reference, the plain drain (consume(1) + ack) of the same queue.

TOPIC_TASK="'t.' || (i % 4) || '.' || ((i / 4) % 250)"
TOPIC_PRIO="floor(random() * 10)::int"
G7=$((${#CEILINGS[@]} - 1))

reset
echo "  topics: prefilling $TOPIC_PREFILL jobs" >&2
prefill "$TOPIC_PREFILL" "$TOPIC_TASK" "$TOPIC_PRIO"
expect "topics: distinct task names" "$(sql "SELECT count(DISTINCT task) FROM jobs.job_queue")" 1000
expect "topics: distinct priorities" "$(sql "SELECT count(DISTINCT priority) FROM jobs.job_queue")" 10
bench "topics" drain_topic.sql
dry=$(sql "SELECT 4 - count(DISTINCT split_part(task, '.', 2)) FROM jobs.job_queue WHERE status = 'pending'")
if [ "$dry" = 0 ]; then
    check_drained "topics" "$TOPIC_PREFILL" 1 0
else
    DRY=1
    SUCCEEDED=$(sql "SELECT count(*) FROM jobs.job WHERE status = 'succeeded' AND attempts = 1")
    expect "topics: finished jobs" "$(sql "SELECT count(*) FROM jobs.job")" "$SUCCEEDED"
    expect "topics: jobs left running" "$(sql "SELECT count(*) FROM jobs.job_queue WHERE status = 'running'")" 0
fi
expect "topics: jobs done by a consumer of another topic" \
    "$(sql "SELECT count(*) FROM jobs.job WHERE split_part(task, '.', 2) <> result->>'c'")" 0
expect "topics: topics where a pending job outranks a done one" \
    "$(sql "SELECT count(*) FROM (SELECT split_part(task, '.', 2) AS k, min(priority) AS lo FROM jobs.job GROUP BY 1) d
             JOIN (SELECT split_part(task, '.', 2) AS k, max(priority) AS hi FROM jobs.job_queue GROUP BY 1) q
             USING (k) WHERE q.hi > d.lo")" 0
T7_RATE=$(calc "$TPS * $SUCCEEDED / $XACTS") T7_DRY=$DRY
ceiling
G7B=$((${#CEILINGS[@]} - 1))

reset
echo "  topics reference: prefilling $TOPIC_PREFILL jobs" >&2
prefill "$TOPIC_PREFILL" "$TOPIC_TASK" "$TOPIC_PRIO"
bench "topics reference" drain.sql
check_drained "topics reference" "$TOPIC_PREFILL" 1 0
expect "topics reference: pending jobs that outrank a done one" \
    "$(sql "SELECT count(*) FROM jobs.job_queue WHERE priority > (SELECT min(priority) FROM jobs.job)")" 0
T7R_RATE=$(calc "$TPS * $SUCCEEDED / $XACTS") T7R_DRY=$DRY
ceiling
{
    echo
    echo "7. topics: $TOPIC_PREFILL jobs over 1,000 task names t.<k>.<n> (k 0..3, n 0..249), priority 0..9 at"
    echo "   random; $CLIENTS consumers, client k: consume_topic('t.<k>.%', 1) + ack; $DURATION s; reference:"
    echo "   the plain drain consume(1) + ack of the same queue (each from a fresh prefill)"
    echo
    fmt="%-34s | %7s | %9s | %-6s | %14s | %s\n"
    # shellcheck disable=SC2059
    printf "$fmt" "workload" "clients" "rate" "unit" "ratio to ceil." "target"
    # shellcheck disable=SC2059
    printf "$fmt" "----------------------------------" "-------" "---------" "------" "--------------" "----------"
    f=""; [ "$T7_DRY" = 1 ] && f="*"
    # shellcheck disable=SC2059
    printf "$fmt" "topics: consume_topic(1)+ack" "$CLIENTS" "$(printf '%.0f' "$T7_RATE")$f" "jobs/s" "$(ratio_to "$G7" "$T7_RATE")" "(none; drain: 0.35)"
    f=""; [ "$T7R_DRY" = 1 ] && f="*"
    # shellcheck disable=SC2059
    printf "$fmt" "reference: consume(1)+ack" "$CLIENTS" "$(printf '%.0f' "$T7R_RATE")$f" "jobs/s" "$(ratio_to "$G7B" "$T7R_RATE")" "-"
    echo
    echo "topics / reference: $(printf '%.2f' "$(calc "$T7_RATE / $T7R_RATE")")"
    ceiling_note "$G7"
    ceiling_note "$G7B" | sed 's/this group/the reference/'
    { [ "$T7_DRY" = 1 ] || [ "$T7R_DRY" = 1 ]; } && echo "* a topic (or the queue) ran dry before the end of the run: the rate is a lower bound."
    { noisy "$G7" || noisy "$G7B"; } && echo "$NOISE_NOTE"
} | emit

# ---------------------------------------------------------------------------
# 8. held snapshot: workload 4 for HELD seconds while another session keeps
#    a REPEATABLE READ transaction (and so its snapshot) open.

G8=$((${#CEILINGS[@]} - 1))
reset
prefill "$BACKLOG"
hold_snapshot
steady held "$HELD" "$BACKLOG"
release_snapshot
S8_PUB=$PUB_RATE S8_DONE=$DONE_RATE S8_EMPTY=$EMPTY S8_FIRST=$FIRST S8_LAST=$LAST S8_MAXDEAD=$MAXDEAD
ceiling
{
    echo
    echo "8. held snapshot: workload 4 (from the $BACKLOG-job backlog) for $HELD s while another session"
    echo "   holds a REPEATABLE READ transaction open (BEGIN ISOLATION LEVEL REPEATABLE READ;"
    echo "   SELECT count(*) FROM jobs.job_queue; committed after the run)"
    ceiling_note "$G8"
    echo
    measure_header
    rate_row "completed, whole run" "$S8_DONE" "$G8"
    rate_row "published, whole run" "$S8_PUB" "$G8"
    rate_row "completed, first $WINDOW s" "$S8_FIRST" "$G8"
    rate_row "completed, last $WINDOW s" "$S8_LAST" "$G8"
    last_first_row "$S8_FIRST" "$S8_LAST"
    measure_row "most dead rows in jobs.job_queue" "$S8_MAXDEAD" "rows" "" "bounded"
    echo
    print_intervals held
    [ "$S8_EMPTY" -gt 0 ] && echo "($S8_EMPTY consumer runs found the queue empty and are not counted in completed/s above)"
    noisy "$G8" && echo "$NOISE_NOTE"
} | emit

# 8b. the same for HELD_PRIO seconds with the producers publishing at
#     random priorities 0..9 (publish_prio.sql), so that the consumers
#     claim across priorities.
G8B=$((${#CEILINGS[@]} - 1))
reset
prefill "$BACKLOG"
hold_snapshot
PROD_SCRIPT=publish_prio.sql
steady heldprio "$HELD_PRIO" "$BACKLOG"
PROD_SCRIPT=publish.sql
release_snapshot
S8B_DONE=$DONE_RATE S8B_FIRST=$FIRST S8B_LAST=$LAST
ceiling
{
    echo
    echo "8b. held snapshot, priorities mixed: the same for $HELD_PRIO s with the producers publishing"
    echo "   at random priorities 0..9 (publish_prio.sql)"
    ceiling_note "$G8B"
    echo
    measure_header
    rate_row "completed, whole run" "$S8B_DONE" "$G8B"
    last_first_row "$S8B_FIRST" "$S8B_LAST"
    echo
    print_intervals heldprio
    noisy "$G8B" && echo "$NOISE_NOTE"
} | emit

# ---------------------------------------------------------------------------
# 9. cost per job: WAL (pg_stat_wal, cluster-wide, and by record kind with
#    pg_walinspect) and dead row versions made (rows updated + deleted in
#    the two queue tables) per job, for publish and for the single drain,
#    next to the INSERT ceiling's WAL per row.

# walcost START_LSN END_LSN JOBS prints "fpi heap btree commits" per job:
# full-page image bytes, heap and btree record bytes (without their
# images) and transaction (commit) records.
walcost() {
    sql "SELECT concat_ws(' ',
            round(coalesce(sum(fpi_size), 0)::numeric / $3, 1),
            round(coalesce(sum(record_size) FILTER (WHERE rm IN ('Heap', 'Heap2')), 0)::numeric / $3, 1),
            round(coalesce(sum(record_size) FILTER (WHERE rm = 'Btree'), 0)::numeric / $3, 1),
            round(coalesce(sum(count) FILTER (WHERE rm = 'Transaction'), 0)::numeric / $3, 2))
         FROM pg_get_wal_stats('$1', '$2') AS w(rm)"
}

# costed NAME SCRIPT JOBS_SQL runs bench NAME SCRIPT between two samples and
# sets COST to "wal/job fpi heap btree commits dead/job hot% jobs", where
# JOBS_SQL counts the jobs (rows) the run made.
costed() {
    local before after jobs wal
    before=$(sample)
    bench "$1" "$2"
    wait_idle
    after=$(sample)
    jobs=$(sql "$3")
    # shellcheck disable=SC2086
    set -- $before $after
    wal=$(walcost "${15}" "${30}" "$jobs")
    [ -n "$wal" ] || die "pg_get_wal_stats returned nothing"
    COST="$(calc "$WAL_BYTES / $jobs") $wal $(calc "(${27} + ${28} - ${12} - ${13}) / $jobs")"
    if [ "${27}" != "${12}" ]; then
        COST="$COST $(calc "100 * (${29} - ${14}) / (${27} - ${12})")"
    else
        COST="$COST -"
    fi
    COST="$COST $jobs"
}

# the ceiling, costed the same way (one more ceiling run)
reset
costed "cost: insert ceiling" insert_ceiling.sql "SELECT count(*) FROM bench_plain"
C9=$COST
reset
costed "cost: publish" publish.sql "SELECT count(*) FROM jobs.job_queue"
P9=$COST
expect "cost: publish: jobs queued" "$(sql "SELECT count(*) FROM jobs.job_queue")" "$XACTS"
reset
echo "  cost: drain: prefilling $COST_PREFILL jobs" >&2
prefill "$COST_PREFILL"
costed "cost: drain" drain.sql "SELECT count(*) FROM jobs.job"
D9=$COST
check_drained "cost: drain" "$COST_PREFILL" 1 0
D9_DRY=$DRY
ceiling
{
    echo
    echo "9. cost per job: WAL written (pg_stat_wal, cluster-wide, autovacuum and checkpoints included;"
    echo "   by record kind from pg_walinspect) and dead row versions made (rows updated + deleted in"
    echo "   jobs.job_queue and jobs.job) per job; $CLIENTS clients, $DURATION s each, from a fresh checkpoint"
    echo
    fmt="%-24s | %8s | %8s | %8s | %8s | %8s | %9s | %9s | %8s | %7s\n"
    # shellcheck disable=SC2059
    printf "$fmt" "run" "jobs" "WAL B" "vs INSERT" "full-page" "heap rec" "btree rec" "commits" "dead rows" "HOT"
    # shellcheck disable=SC2059
    printf "$fmt" "" "" "/job" "row" "images B" "B" "B" "/job" "/job" "updates%"
    # shellcheck disable=SC2059
    printf "$fmt" "------------------------" "--------" "--------" "--------" "--------" "--------" "---------" "---------" "--------" "-------"
    read -r cw _ <<<"$C9"
    for row in "INSERT ceiling (per row)|$C9" "publish|$P9" "drain consume(1)+ack|$D9"; do
        IFS='|' read -r name vals <<<"$row"
        read -r w f h b c d hot j <<<"$vals"
        hotp="-"
        [ "$hot" != - ] && hotp="$(printf '%.0f%%' "$hot")"
        # shellcheck disable=SC2059
        printf "$fmt" "$name" "$j" "$(printf '%.0f' "$w")" "$(printf '%.2f' "$(calc "$w / $cw")")" \
            "$(printf '%.0f' "$f")" "$(printf '%.0f' "$h")" "$(printf '%.0f' "$b")" "$c" "$(printf '%.2f' "$d")" "$hotp"
    done
    read -r pw pf ph pb pc pd _ <<<"$P9"
    read -r dw df dh db dc dd _ <<<"$D9"
    # shellcheck disable=SC2059
    printf "$fmt" "a job's life (sum)" "" "$(printf '%.0f' "$(calc "$pw + $dw")")" \
        "$(printf '%.2f' "$(calc "($pw + $dw) / $cw")")" "$(printf '%.0f' "$(calc "$pf + $df")")" \
        "$(printf '%.0f' "$(calc "$ph + $dh")")" "$(printf '%.0f' "$(calc "$pb + $db")")" \
        "$(printf '%.2f' "$(calc "$pc + $dc")")" "$(printf '%.2f' "$(calc "$pd + $dd")")" ""
    echo
    w=""
    for c in "${CEILING_WAL[@]}"; do w="$w $(printf '%.0f' "$c")"; done
    echo "INSERT ceiling WAL per row, every ceiling run of this suite:$w"
    [ "$D9_DRY" = 1 ] && echo "(the drain's queue ran dry before the end of its run)"
} | emit

runs=""
for c in "${CEILINGS[@]}"; do runs="$runs $(printf '%.0f' "$c")"; done
{
    echo
    echo "INSERT ceiling runs, rows/s, in order:$runs"
    echo "total time $(( $(date +%s) - START )) s; raw pgbench output in $RAWLOG"
} | emit
