#!/usr/bin/env bash
# bench/stats.sh: what jobs.stats and jobs.health cost on a big queue.
#
# Builds and installs the extension, starts a throwaway cluster (scripts/lib.sh),
# fills jobs.job_queue with PENDING pending jobs (default 1 000 000; 20 tasks
# in 5 topics, 90 % ready, 10 % scheduled in the future), claims 1000 of them,
# and puts FINISHED jobs (default 100 000) in jobs.job, finished within the
# last 15 minutes (the window jobs.stats reads).  Then it prints the plan of
# SELECT * FROM jobs.stats with EXPLAIN (ANALYZE, BUFFERS), and the median of
# RUNS timed runs of jobs.stats (with the default 2 parallel workers, then
# with none) and of jobs.health.
#
# Usage: bash bench/stats.sh [PENDING [FINISHED [RUNS]]]
#   PGJOBS_PORT picks the cluster's port (otherwise random).
set -u
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

PENDING=${1:-1000000}
FINISHED=${2:-100000}
RUNS=${3:-9}

install_deps || exit 1
build_install || { echo "bench/stats.sh: build failed" >&2; exit 1; }
cluster_start "shared_buffers = 512MB" "max_wal_size = 4GB" "checkpoint_timeout = 30min" \
    "autovacuum = off" || exit 1

psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

echo "filling: $PENDING pending jobs, $FINISHED finished in the last 15 minutes" >&2
psql_q -c "CREATE EXTENSION pgjobs" || exit 1
psql_q -c "
INSERT INTO jobs.job_queue (task, body, scheduled_at)
SELECT 'app.topic' || (g % 5) || '.task' || (g % 20), '{\"args\": [1], \"kwargs\": {}}',
       CASE WHEN g % 10 = 0 THEN now() + interval '1 hour'
            ELSE now() - interval '10 minutes' + (g % 600) * interval '1 second' END
  FROM generate_series(1, $PENDING) AS g;" || exit 1
psql_q -c "
INSERT INTO jobs.job (job_id, task, body, status, priority, attempts, max_retries, timeout,
                      created_at, scheduled_at, started_at, finished_at)
SELECT -g, 'app.topic' || (g % 5) || '.task' || (g % 20), '{\"args\": [1], \"kwargs\": {}}',
       CASE WHEN g % 50 = 0 THEN 'failed' ELSE 'succeeded' END::jobs.job_status, 0, 1, 3, 60,
       now() - interval '15 minutes', now() - interval '15 minutes' + (g % 840) * interval '1 second',
       now() - interval '15 minutes' + (g % 840 + 1 + g % 7) * interval '1 second',
       now() - interval '15 minutes' + (g % 840 + 10 + g % 13) * interval '1 second'
  FROM generate_series(1, $FINISHED) AS g;" || exit 1
psql_q -c "SELECT count(*) FROM jobs.consume(1000)" >/dev/null || exit 1
psql_q -c "VACUUM ANALYZE jobs.job_queue" -c "VACUUM ANALYZE jobs.job" -c "CHECKPOINT" || exit 1
psql_q -At -c "SELECT 'job_queue: ' || pg_size_pretty(pg_table_size('jobs.job_queue'))
                      || ', jobs.job: ' || pg_size_pretty(pg_table_size('jobs.job'))"

# median_ms SQL [SET...] runs SQL RUNS times (after one warm-up run) and prints
# the median wall time in milliseconds, as psql's \timing measures it.
median_ms() {
    local sql=$1 setting=${2:-}
    {
        echo '\timing on'
        [ -n "$setting" ] && echo "$setting;"
        for _ in $(seq 0 "$RUNS"); do echo "$sql \\g /dev/null"; done
    } | psql -X -q 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n "$RUNS" |
        sort -n | awk '{ a[NR] = $1 } END { printf "%.1f", a[int((NR + 1) / 2)] }'
}

echo
echo "== EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM jobs.stats"
psql -X -c "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM jobs.stats"
echo "== EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM jobs.health"
psql -X -c "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM jobs.health" | tail -n 3

stats=$(median_ms "SELECT * FROM jobs.stats")
serial=$(median_ms "SELECT * FROM jobs.stats" "SET max_parallel_workers_per_gather = 0")
health=$(median_ms "SELECT * FROM jobs.health")
rows=$(psql -X -At -c "SELECT count(*) FROM jobs.stats")

echo
echo "== median of $RUNS runs ($PENDING pending, 1000 running, $FINISHED finished in the window)"
echo "SELECT * FROM jobs.stats  ($rows rows), 2 parallel workers: $stats ms"
echo "SELECT * FROM jobs.stats, no parallel workers:           $serial ms"
echo "SELECT * FROM jobs.health:                               $health ms"
