# bench/lib.sh: helpers shared by bench/run.sh and bench/scale.sh (sourced,
# not run; see bench/README.md).  Sources scripts/lib.sh for the cluster.
#
# The caller sets, before using them:
#   PROG      the script's name, for messages ("bench/run.sh")
#   SYNC      synchronous_commit for the cluster (on or off)
#   CLIENTS THREADS DURATION
#             the default pgbench run: clients, threads, seconds
#   SCRIPTS   the directory of the pgbench scripts
#   WORK      a scratch directory
#   RAWLOG    the file that collects the raw pgbench output of every run
#
# shellcheck shell=bash
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

# bench_conf sets CONF, the fixed cluster configuration of every benchmark
# (everything else is PostgreSQL's default), from SYNC.
bench_conf() {
    # shellcheck disable=SC2034
    CONF=(
        "shared_buffers = 1GB"
        "synchronous_commit = $SYNC"
        "fsync = on"
        "autovacuum = on"
        "max_connections = 50"
        "shared_preload_libraries = 'pgjobs'"
        "pgjobs.database = 'postgres'"
    )
}

# die prints a message and exits non-zero (the EXIT trap stops the cluster).
die() {
    echo "$PROG: $*" >&2
    exit 1
}

# sql runs one statement in the benchmark database and prints the result
# unaligned; any error stops the suite.
sql() {
    local out
    out=$(psql -X -q -At -v ON_ERROR_STOP=1 -c "$1" 2>&1) || die "query failed: $1"$'\n'"$out"
    [ -n "$out" ] && echo "$out"
    return 0
}

# calc evaluates an awk arithmetic expression.
calc() {
    awk "BEGIN { OFMT = \"%.6f\"; print $1 }"
}

# expect WHAT GOT WANT stops the suite unless a sanity count matches.
expect() {
    [ "$2" = "$3" ] || die "sanity check failed: $1 is $2, expected $3"
}

# reset empties the queue and the ceiling table, then vacuums, analyzes and
# checkpoints, so every workload starts from the same state.
reset() {
    sql "TRUNCATE jobs.job_queue, jobs.job, bench_plain" >/dev/null
    sql "VACUUM ANALYZE" >/dev/null
    sql "CHECKPOINT" >/dev/null
}

# prefill N [TASK PRIORITY] queues N more ready jobs through publish_bulk,
# 100000 per call, then vacuums and analyzes the queue so the drain starts
# from settled statistics (PREFILL_VACUUM replaces "VACUUM ANALYZE"), and
# checkpoints.  TASK and PRIORITY are SQL expressions over the job's number
# i (1..N); by default every job is 'bench.task' at priority 0.
prefill() {
    local n=$1 task=${2:-"'bench.task'"} prio=${3:-NULL} chunk=100000 made=0 k before
    before=$(sql "SELECT count(*) FROM jobs.job_queue WHERE status = 'pending'")
    while [ "$made" -lt "$n" ]; do
        k=$((n - made < chunk ? n - made : chunk))
        sql "SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(ROW($task, '{\"n\":1}', NULL, NULL, $prio, NULL)::jobs.bulk_job) FROM generate_series($((made + 1)), $((made + k))) AS g(i)))" >/dev/null
        made=$((made + k))
    done
    [ "$(sql "SELECT count(*) FROM jobs.job_queue WHERE status = 'pending'")" = "$((before + n))" ] ||
        die "prefill did not queue $n jobs"
    sql "${PREFILL_VACUUM:-VACUUM ANALYZE} jobs.job_queue" >/dev/null
    sql "CHECKPOINT" >/dev/null
}

# pgbench_check NAME OUT RC parses one finished pgbench run's output file
# and sets TPS and XACTS (script runs completed); a failed run prints
# pgbench's output and stops the suite.
pgbench_check() {
    local name=$1 out=$2 rc=$3 failed
    TPS=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out")
    XACTS=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")
    if [ "$rc" != 0 ] || [ -z "$TPS" ] || [ -z "$XACTS" ] || [ "${failed:-0}" != 0 ] ||
        [ "$XACTS" = 0 ] || grep -q 'aborted' "$out"; then
        echo "$PROG: pgbench run \"$name\" failed (exit status $rc):" >&2
        cat "$out" >&2
        exit 1
    fi
}

# WAL bytes written and checkpoints completed so far, cluster-wide.
STATS_SQL="SELECT w.wal_bytes || ' ' || (b.checkpoints_timed + b.checkpoints_req) FROM pg_stat_wal w, pg_stat_bgwriter b"

# bench NAME SCRIPT runs one pgbench workload and sets TPS, XACTS and
# WAL_BYTES (written cluster-wide during the run).  By default it runs
# CLIENTS clients on THREADS threads for DURATION seconds; BENCH_CLIENTS,
# BENCH_THREADS and BENCH_LENGTH (e.g. "-t 2000") override that, and
# BENCH_DEFINES and BENCH_PGOPTIONS pass pgbench variables and session
# settings.  A failed run prints pgbench's output and stops the suite.
bench() {
    local name=$1 script=$2 out=$WORK/$1.out rc before after
    local clients=${BENCH_CLIENTS:-$CLIENTS} threads=${BENCH_THREADS:-$THREADS}
    local length=${BENCH_LENGTH:-"-T $DURATION"}
    echo "  $name: pgbench $length -c $clients -f $script" >&2
    before=$(sql "$STATS_SQL")
    # shellcheck disable=SC2086
    PGOPTIONS="${BENCH_PGOPTIONS:-}" PGUSER="${BENCH_USER:-$PGUSER}" \
        "$PGBIN/pgbench" -n -M prepared $length -c "$clients" -j "$threads" \
        ${BENCH_DEFINES:-} -f "$SCRIPTS/$script" >"$out" 2>&1
    rc=$?
    after=$(sql "$STATS_SQL")
    # shellcheck disable=SC2086
    set -- $before $after
    WAL_BYTES=$(($3 - $1))
    { echo "== $name: pgbench -n -M prepared $length -c $clients -j $threads -f $SCRIPTS/$script"
      cat "$out"
      echo "(server: $((WAL_BYTES / 1048576)) MB of WAL written, $(($4 - $2)) checkpoints during the run)"
      echo; } >>"$RAWLOG"
    pgbench_check "$name" "$out" "$rc"
}

# INSERT ceiling runs, rows/s, in the order they ran, and the WAL bytes each
# wrote per row.  One runs before the first workload and one after each, so
# every workload is compared with the mean of the two runs around it: load
# from other processes that comes and goes during the suite then affects a
# workload and its yardstick alike.
CEILINGS=()
CEILING_WAL=()

# ceiling measures the INSERT ceiling once (CLIENTS clients, DURATION
# seconds), from an empty bench_plain.
ceiling() {
    reset
    BENCH_CLIENTS="" BENCH_THREADS="" BENCH_LENGTH="" \
        bench "insert ceiling $((${#CEILINGS[@]} + 1))" insert_ceiling.sql
    expect "insert ceiling: rows in bench_plain" "$(sql "SELECT count(*) FROM bench_plain")" "$XACTS"
    CEILINGS+=("$TPS")
    CEILING_WAL+=("$(calc "$WAL_BYTES / $XACTS")")
}

# check_drained NAME PREFILL BATCH HELD checks a drain run that just ended
# (XACTS script runs of BATCH claims each, from a queue of PREFILL jobs):
# every acked job is in jobs.job as succeeded after exactly one attempt, no
# job is failed, exactly HELD jobs are left running while the queue did not
# run dry, and succeeded + running + pending is the prefill, so errors cannot
# pass for throughput.  Sets SUCCEEDED, PENDING and DRY (1 if the queue ran
# dry, in which case some script runs claimed nothing).
check_drained() {
    local name=$1 n=$2 batch=$3 held=$4 other running retried
    SUCCEEDED=$(sql "SELECT count(*) FROM jobs.job WHERE status = 'succeeded'")
    other=$(sql "SELECT count(*) FROM jobs.job WHERE status <> 'succeeded'")
    retried=$(sql "SELECT count(*) FROM jobs.job WHERE attempts <> 1")
    running=$(sql "SELECT count(*) FROM jobs.job_queue WHERE status = 'running'")
    PENDING=$(sql "SELECT count(*) FROM jobs.job_queue WHERE status = 'pending'")
    echo "  $name: $SUCCEEDED succeeded, $PENDING still pending" >&2
    expect "$name: failed jobs in jobs.job" "$other" 0
    expect "$name: jobs acked after more than one attempt" "$retried" 0
    if [ "$PENDING" -gt 0 ]; then
        expect "$name: jobs left running (claimed, never acked)" "$running" "$held"
    else
        [ "$running" -le "$held" ] || die "sanity check failed: $name: $running jobs left running"
    fi
    expect "$name: succeeded + running + pending (the prefill)" "$((SUCCEEDED + running + PENDING))" "$n"
    [ "$SUCCEEDED" -gt 0 ] || die "sanity check failed: $name completed no job"
    if [ "$PENDING" -gt 0 ]; then
        # the queue never ran dry, so every script run claimed a full batch
        expect "$name: succeeded jobs" "$SUCCEEDED" "$((XACTS * batch - held))"
        DRY=0
    else
        [ "$SUCCEEDED" -le "$((XACTS * batch))" ] ||
            die "sanity check failed: $name: $SUCCEEDED succeeded from $XACTS claims of $batch"
        # shellcheck disable=SC2034
        DRY=1
    fi
}
