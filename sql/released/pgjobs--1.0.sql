-- pgjobs install script: the jobs schema, its tables, views and functions.
-- Built into pgjobs--<version>.sql by the Makefile; never edited once released.

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pgjobs" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------

CREATE SEQUENCE jobs.job_id_seq AS bigint;

-- A job's state: pending and running in jobs.job_queue, succeeded and failed
-- in jobs.job.  An enum rather than text with CHECK constraints: the
-- executor parses a table's CHECK constraints afresh for every statement
-- that writes it, which cost more than the rest of a publish.  Arguments
-- are checked by the C functions before anything is written.
CREATE TYPE jobs.job_status AS ENUM ('pending', 'running', 'succeeded', 'failed');

-- jobs.job_queue holds pending and running jobs.  A job is claimed by an
-- UPDATE to 'running' and leaves the table when it finishes (ack, or its last
-- failed attempt), so the table stays as small as the live backlog.
CREATE TABLE jobs.job_queue (
    job_id       bigint      NOT NULL DEFAULT pg_catalog.nextval('jobs.job_id_seq'),
    task         varchar     NOT NULL,
    body         jsonb,
    status       jobs.job_status NOT NULL DEFAULT 'pending',
    priority     integer     NOT NULL DEFAULT 0,
    attempts     integer     NOT NULL DEFAULT 0,
    max_retries  integer     NOT NULL DEFAULT 3,
    timeout      numeric(7,2) NOT NULL DEFAULT 60,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    scheduled_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    started_at   timestamptz,
    expires_at   timestamptz,
    CONSTRAINT job_queue_pkey PRIMARY KEY (job_id)
);

-- Every claim and every finished job leaves a dead row version behind, and
-- the dead entries at the head of the claim index slow every claim until
-- VACUUM removes them: vacuum the queue after a fixed number of dead rows,
-- not a fraction of its size, and without cost-based sleeps.
-- Index cleanup always: PostgreSQL skips it when few heap pages hold dead
-- rows, which on a deep queue leaves the claim index's dead head in place.
ALTER TABLE jobs.job_queue SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0.05,
    vacuum_index_cleanup = on
);

-- The claim index: ready jobs in the order consume hands them out.
CREATE INDEX job_queue_pending_idx ON jobs.job_queue
    (priority DESC, scheduled_at, job_id) WHERE status = 'pending';

-- The expiry index: running jobs by the end of their lease.
CREATE INDEX job_queue_running_idx ON jobs.job_queue
    (expires_at) WHERE status = 'running';

-- jobs.job holds finished jobs, succeeded or failed.  It is append-only on
-- the hot path (one INSERT per finished job).
CREATE TABLE jobs.job (
    job_id       bigint      NOT NULL,
    task         varchar     NOT NULL,
    body         jsonb,
    status       jobs.job_status NOT NULL,
    priority     integer     NOT NULL,
    attempts     integer     NOT NULL,
    max_retries  integer     NOT NULL,
    timeout      numeric(7,2) NOT NULL,
    last_error   text,
    result       jsonb,
    created_at   timestamptz NOT NULL,
    scheduled_at timestamptz NOT NULL,
    started_at   timestamptz,
    finished_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT job_pkey PRIMARY KEY (job_id)
);

CREATE INDEX job_finished_at_idx ON jobs.job (finished_at);

COMMENT ON TABLE jobs.job_queue IS 'pgjobs: pending and running jobs';
COMMENT ON TABLE jobs.job IS 'pgjobs: finished jobs (succeeded or failed)';

-- Dumps keep the jobs: both tables and the id sequence are user data.
SELECT pg_catalog.pg_extension_config_dump('jobs.job_queue', '');
SELECT pg_catalog.pg_extension_config_dump('jobs.job', '');
SELECT pg_catalog.pg_extension_config_dump('jobs.job_id_seq', '');

-- ---------------------------------------------------------------------------
-- Types
-- ---------------------------------------------------------------------------

-- jobs.bulk_job is the element type of publish_bulk, field for field as in
-- the original pgjobs, so ROW(...)::jobs.bulk_job keeps working.
CREATE TYPE jobs.bulk_job AS (
    task         varchar,
    body         jsonb,
    scheduled_at timestamp,
    timeout      integer,
    priority     integer,
    max_retries  integer
);

-- ---------------------------------------------------------------------------
-- Views
-- ---------------------------------------------------------------------------

CREATE VIEW jobs.all AS
    SELECT q.job_id, q.task, q.body, q.status, q.priority, q.attempts,
           q.max_retries, q.timeout, q.last_error, NULL::jsonb AS result,
           q.created_at, q.scheduled_at, q.started_at, q.expires_at,
           NULL::timestamptz AS finished_at
      FROM jobs.job_queue q
    UNION ALL
    SELECT j.job_id, j.task, j.body, j.status, j.priority, j.attempts,
           j.max_retries, j.timeout, j.last_error, j.result,
           j.created_at, j.scheduled_at, j.started_at, NULL::timestamptz,
           j.finished_at
      FROM jobs.job j;

COMMENT ON VIEW jobs.all IS 'pgjobs: every job, queued or finished';

CREATE VIEW jobs.running AS
    SELECT q.job_id, q.task, q.body, q.priority, q.attempts, q.max_retries,
           q.timeout, q.created_at, q.scheduled_at, q.started_at, q.expires_at
      FROM jobs.job_queue q
     WHERE q.status OPERATOR(pg_catalog.=) 'running'
       AND q.expires_at OPERATOR(pg_catalog.>=) pg_catalog.now();

COMMENT ON VIEW jobs.running IS 'pgjobs: running jobs whose lease has not lapsed';

CREATE VIEW jobs.expired AS
    SELECT q.job_id, q.task, q.body, q.priority, q.attempts, q.max_retries,
           q.timeout, q.created_at, q.scheduled_at, q.started_at, q.expires_at
      FROM jobs.job_queue q
     WHERE q.status OPERATOR(pg_catalog.=) 'running'
       AND q.expires_at OPERATOR(pg_catalog.<) pg_catalog.now();

COMMENT ON VIEW jobs.expired IS 'pgjobs: running jobs past their timeout, not yet reclaimed';

-- ---------------------------------------------------------------------------
-- Functions
-- ---------------------------------------------------------------------------

-- ----------------------------------------------------------------------
-- Function: jobs.retry_delay(attempt)
--
--      How long a job waits before its next attempt after failing attempt
--      number i_attempt: exponential backoff with jitter, uniformly drawn
--      from [d/2, d] with d = least(pgjobs.retry_backoff_base * 2^(attempt-1),
--      pgjobs.retry_backoff_max).
--
-- Parameters:
--      i_attempt   - the attempt that failed (1 for the first)
--
-- Returns:
--      the delay as an interval
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.retry_delay(i_attempt integer)
RETURNS interval
AS 'MODULE_PATHNAME', 'pgjobs_retry_delay'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

COMMENT ON FUNCTION jobs.retry_delay(integer) IS
    'pgjobs: backoff before the next attempt after failed attempt i_attempt';

-- ----------------------------------------------------------------------
-- Function: jobs.publish(task, body, scheduled_at, timeout, priority, max_retries)
--
--      Queues one job in the caller's transaction: it exists exactly when
--      that transaction commits.
--
-- Parameters:
--      i_task          - task name, 1 to 1024 characters
--      i_body          - arguments (the Python layer uses {"args": [], "kwargs": {}})
--      i_scheduled_at  - earliest start (default: now)
--      i_timeout       - seconds a claim lasts before the job expires (default 60)
--      i_priority      - greater runs first (default 0)
--      i_max_retries   - attempts after the first (default 3)
--
-- Returns:
--      job_id of the new job
--
-- Tables written:
--      jobs.job_queue
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.publish(
    i_task          varchar,
    i_body          jsonb DEFAULT NULL,
    i_scheduled_at  timestamptz DEFAULT NULL,
    i_timeout       numeric DEFAULT NULL,
    i_priority      integer DEFAULT NULL,
    i_max_retries   integer DEFAULT NULL,
    OUT job_id      bigint)
AS 'MODULE_PATHNAME', 'pgjobs_publish'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

COMMENT ON FUNCTION jobs.publish(varchar, jsonb, timestamptz, numeric, integer, integer) IS
    'pgjobs: queue one job in the current transaction';

-- ----------------------------------------------------------------------
-- Function: jobs.publish_bulk(jobs)
--
--      Queues every element of i_jobs in one statement, all or nothing.
--      NULL fields take the same defaults as jobs.publish.
--
-- Parameters:
--      i_jobs  - array of jobs.bulk_job
--
-- Returns:
--      the new job ids, in input order
--
-- Tables written:
--      jobs.job_queue
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.publish_bulk(i_jobs jobs.bulk_job[])
RETURNS TABLE (job_id bigint)
AS 'MODULE_PATHNAME', 'pgjobs_publish_bulk'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

COMMENT ON FUNCTION jobs.publish_bulk(jobs.bulk_job[]) IS
    'pgjobs: queue many jobs in one call; returns their ids in input order';

-- ----------------------------------------------------------------------
-- Function: jobs.consume(num, wait)
--
--      Claims up to num ready jobs (scheduled time reached), highest
--      priority first, then longest ready, and marks them running until
--      now + timeout.  Concurrent consumers skip each other's rows
--      (FOR UPDATE SKIP LOCKED) and never wait for each other.  Expired
--      jobs are reclaimed first (see jobs.expire).  With i_wait, when no
--      job is ready it waits in the backend, up to i_wait seconds, until a
--      commit readies jobs or a scheduled one is due, then claims.
--
-- Parameters:
--      num     - how many jobs at most (1 or more)
--      i_wait  - seconds to wait for a job when none is ready (0 to 3600)
--
-- Returns:
--      the claimed jobs
--
-- Tables written:
--      jobs.job_queue, jobs.job (expired jobs out of retries)
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.consume(num integer, i_wait numeric DEFAULT 0)
RETURNS TABLE (
    job_id       bigint,
    task         varchar,
    body         jsonb,
    attempt      integer,
    max_retries  integer,
    priority     integer,
    timeout      numeric,
    created_at   timestamptz,
    scheduled_at timestamptz,
    expires_at   timestamptz)
AS 'MODULE_PATHNAME', 'pgjobs_consume'
LANGUAGE C CALLED ON NULL INPUT VOLATILE ROWS 10;

COMMENT ON FUNCTION jobs.consume(integer, numeric) IS
    'pgjobs: claim up to num ready jobs, waiting up to i_wait seconds for some';

-- ----------------------------------------------------------------------
-- Function: jobs.consume_topic(pattern, num, wait)
--
--      As jobs.consume, restricted to tasks matching pattern.  In a
--      pattern, % and * match any run of characters (dots included);
--      every other character, _ and \ among them, matches itself.
--
-- Parameters:
--      pattern - topic pattern, e.g. 'email.%' or 'email.*'
--      num     - how many jobs at most (1 or more)
--      i_wait  - seconds to wait for a job when none is ready (0 to 3600)
--
-- Returns:
--      the claimed jobs
--
-- Tables written:
--      jobs.job_queue, jobs.job (expired jobs out of retries)
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.consume_topic(pattern text, num integer, i_wait numeric DEFAULT 0)
RETURNS TABLE (
    job_id       bigint,
    task         varchar,
    body         jsonb,
    attempt      integer,
    max_retries  integer,
    priority     integer,
    timeout      numeric,
    created_at   timestamptz,
    scheduled_at timestamptz,
    expires_at   timestamptz)
AS 'MODULE_PATHNAME', 'pgjobs_consume_topic'
LANGUAGE C CALLED ON NULL INPUT VOLATILE ROWS 10;

COMMENT ON FUNCTION jobs.consume_topic(text, integer, numeric) IS
    'pgjobs: claim up to num ready jobs whose task matches pattern';

-- ----------------------------------------------------------------------
-- Function: jobs.ack(job_id, result, attempt)
--
--      Completes a running job: it moves to jobs.job as succeeded.
--      Fails with SQLSTATE PJ001 (unknown job), PJ002 (job not running)
--      or PJ003 (lease lapsed) when the ack cannot count.
--
-- Parameters:
--      i_job_id    - the claimed job
--      i_result    - optional result, stored in jobs.job.result
--      i_attempt   - optional: the attempt consume returned; the ack then
--                    counts only for that claim, not a later one
--
-- Tables written:
--      jobs.job_queue, jobs.job
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.ack(
    i_job_id        bigint,
    i_result        jsonb DEFAULT NULL,
    i_attempt       integer DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pgjobs_ack'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

COMMENT ON FUNCTION jobs.ack(bigint, jsonb, integer) IS
    'pgjobs: complete a running job as succeeded';

-- ----------------------------------------------------------------------
-- Function: jobs.nack(job_id, traceback, schedule_at, attempt)
--
--      Fails the current attempt of a running job.  With retries left, the
--      job goes back to the queue at i_schedule_at, or after
--      jobs.retry_delay(attempt); otherwise it moves to jobs.job as failed.
--      Errors as for jobs.ack.
--
-- Parameters:
--      i_job_id        - the claimed job
--      i_traceback     - what went wrong, kept in last_error
--      i_schedule_at   - when to retry (default: backoff)
--      i_attempt       - optional: the attempt consume returned (as for ack)
--
-- Tables written:
--      jobs.job_queue, jobs.job (when out of retries)
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.nack(
    i_job_id        bigint,
    i_traceback     text DEFAULT NULL,
    i_schedule_at   timestamptz DEFAULT NULL,
    i_attempt       integer DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pgjobs_nack'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

COMMENT ON FUNCTION jobs.nack(bigint, text, timestamptz, integer) IS
    'pgjobs: fail the current attempt of a running job (retry or give up)';

-- ----------------------------------------------------------------------
-- Function: jobs.expire()
--
--      Reclaims every running job whose lease has lapsed: each counts as a
--      failed attempt ("timed out") and is retried or failed as by nack.
--      consume does this by itself; call it from a scheduler to keep
--      jobs.expired empty when nobody consumes.
--
-- Returns:
--      how many jobs were reclaimed
--
-- Tables written:
--      jobs.job_queue, jobs.job
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.expire()
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgjobs_expire'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION jobs.expire() IS
    'pgjobs: reclaim running jobs past their timeout';

-- ----------------------------------------------------------------------
-- Function: jobs.maintain()
--
--      One maintenance pass, as the maintenance worker makes every
--      pgjobs.maintenance_interval (but without its VACUUM): reclaims every
--      expired job, and deletes finished jobs older than pgjobs.retention
--      (none when it is 0).  Run it from pg_cron or any scheduler when the
--      worker does not run.
--
-- Returns:
--      expired - jobs reclaimed
--      pruned  - finished jobs deleted
--
-- Tables written:
--      jobs.job_queue, jobs.job
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.maintain(OUT expired bigint, OUT pruned bigint)
AS 'MODULE_PATHNAME', 'pgjobs_maintain'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION jobs.maintain() IS
    'pgjobs: one maintenance pass: reclaim expired jobs, prune old finished jobs';

-- ---------------------------------------------------------------------------
-- Monitoring: jobs.stats and jobs.health
-- ---------------------------------------------------------------------------

-- ----------------------------------------------------------------------
-- View: jobs.stats
--
--      Queue statistics, one row per task (level 'task') and one per
--      topic (level 'topic'; the topic of a task is its name up to its
--      last dot, '' for a task without a dot).  Read with the view
--      owner's rights: a monitoring role needs only SELECT on it.
--
--      Cost: the queue counts (ready, scheduled, running, lag, claims of
--      queued jobs) come from one sequential pass over jobs.job_queue,
--      grouped by task in a hash table: no index holds the task, and
--      adding one would tax every publish.  The recent figures come from
--      the running jobs (through job_queue_running_idx) and from the jobs
--      finished in the last 15 minutes (a range of job_finished_at_idx),
--      so they cost in proportion to the throughput.  See bench/README.md
--      ("jobs.stats cost").
--
-- Columns:
--      level           - 'task' or 'topic'
--      name            - the task, or the topic
--      topic           - the topic of the row
--      ready           - pending jobs whose scheduled time has come
--      scheduled       - pending jobs not yet due (ready + scheduled = pending)
--      running         - claimed jobs, lapsed leases included
--      lag_seconds     - age of the oldest ready job (NULL when none is ready)
--      claims_1m/5m/15m        - claims started in the last 1, 5, 15
--                                minutes, by started_at of the running,
--                                retried and finished jobs
--      completions_1m/5m/15m   - jobs finished (succeeded or failed) in the
--                                last 1, 5, 15 minutes
--      succeeded_15m, failed_15m - the completions of the last 15 minutes
--                                  by outcome
--      wait_p50/p95/p99        - seconds from ready to claimed
--                                (started_at - scheduled_at) of the jobs
--                                claimed (running) or finished in the last
--                                15 minutes
--      run_p50/p95/p99         - seconds from claimed to finished
--                                (finished_at - started_at) of the jobs
--                                finished in the last 15 minutes
--
-- Tables read:
--      jobs.job_queue, jobs.job
-- ----------------------------------------------------------------------
CREATE VIEW jobs.stats AS
WITH queue AS (
    -- one pass over the queue, grouped by task
    SELECT q.task::pg_catalog.text AS task,
           pg_catalog.count(*) FILTER (
               WHERE q.status OPERATOR(pg_catalog.=) 'pending'
                 AND q.scheduled_at OPERATOR(pg_catalog.<=) pg_catalog.now()) AS ready,
           pg_catalog.count(*) FILTER (
               WHERE q.status OPERATOR(pg_catalog.=) 'pending'
                 AND q.scheduled_at OPERATOR(pg_catalog.>) pg_catalog.now()) AS scheduled,
           pg_catalog.count(*) FILTER (
               WHERE q.status OPERATOR(pg_catalog.=) 'running') AS running,
           pg_catalog.min(q.scheduled_at) FILTER (
               WHERE q.status OPERATOR(pg_catalog.=) 'pending'
                 AND q.scheduled_at OPERATOR(pg_catalog.<=) pg_catalog.now()) AS oldest_ready,
           pg_catalog.count(*) FILTER (
               WHERE q.started_at OPERATOR(pg_catalog.>=)
                     (pg_catalog.now() OPERATOR(pg_catalog.-) '1 minute'::pg_catalog.interval)) AS claims_1m,
           pg_catalog.count(*) FILTER (
               WHERE q.started_at OPERATOR(pg_catalog.>=)
                     (pg_catalog.now() OPERATOR(pg_catalog.-) '5 minutes'::pg_catalog.interval)) AS claims_5m,
           pg_catalog.count(*) FILTER (
               WHERE q.started_at OPERATOR(pg_catalog.>=)
                     (pg_catalog.now() OPERATOR(pg_catalog.-) '15 minutes'::pg_catalog.interval)) AS claims_15m
      FROM jobs.job_queue q
     GROUP BY q.task
),
queue_topics AS (
    SELECT CASE WHEN pg_catalog.strpos(qu.task, '.') OPERATOR(pg_catalog.>) 0
                THEN pg_catalog.left(qu.task,
                         pg_catalog.length(qu.task) OPERATOR(pg_catalog.-)
                         pg_catalog.strpos(pg_catalog.reverse(qu.task), '.'))
                ELSE '' END AS topic,
           qu.*
      FROM queue qu
),
queue_levels AS (
    -- per task, and rolled up per topic (few rows: one per task)
    SELECT CASE WHEN GROUPING(qt.task) OPERATOR(pg_catalog.=) 0
                THEN 'task' ELSE 'topic' END AS level,
           COALESCE(qt.task, qt.topic) AS name,
           qt.topic,
           pg_catalog.sum(qt.ready)::pg_catalog.int8 AS ready,
           pg_catalog.sum(qt.scheduled)::pg_catalog.int8 AS scheduled,
           pg_catalog.sum(qt.running)::pg_catalog.int8 AS running,
           pg_catalog.min(qt.oldest_ready) AS oldest_ready,
           pg_catalog.sum(qt.claims_1m)::pg_catalog.int8 AS claims_1m,
           pg_catalog.sum(qt.claims_5m)::pg_catalog.int8 AS claims_5m,
           pg_catalog.sum(qt.claims_15m)::pg_catalog.int8 AS claims_15m
      FROM queue_topics qt
     GROUP BY GROUPING SETS ((qt.topic, qt.task), (qt.topic))
),
recent AS (
    -- the running jobs claimed in the window (through the running index)
    -- and the jobs finished in it (through the finished_at index)
    SELECT q.task::pg_catalog.text AS task, NULL::jobs.job_status AS status,
           q.scheduled_at, q.started_at, NULL::pg_catalog.timestamptz AS finished_at
      FROM jobs.job_queue q
     WHERE q.status OPERATOR(pg_catalog.=) 'running'
       AND q.started_at OPERATOR(pg_catalog.>=)
           (pg_catalog.now() OPERATOR(pg_catalog.-) '15 minutes'::pg_catalog.interval)
    UNION ALL
    SELECT j.task::pg_catalog.text, j.status, j.scheduled_at, j.started_at, j.finished_at
      FROM jobs.job j
     WHERE j.finished_at OPERATOR(pg_catalog.>=)
           (pg_catalog.now() OPERATOR(pg_catalog.-) '15 minutes'::pg_catalog.interval)
),
recent_topics AS (
    SELECT CASE WHEN pg_catalog.strpos(r.task, '.') OPERATOR(pg_catalog.>) 0
                THEN pg_catalog.left(r.task,
                         pg_catalog.length(r.task) OPERATOR(pg_catalog.-)
                         pg_catalog.strpos(pg_catalog.reverse(r.task), '.'))
                ELSE '' END AS topic,
           r.*,
           pg_catalog.date_part('epoch', r.started_at OPERATOR(pg_catalog.-) r.scheduled_at) AS wait,
           pg_catalog.date_part('epoch', r.finished_at OPERATOR(pg_catalog.-) r.started_at) AS run
      FROM recent r
),
recent_levels AS (
    SELECT CASE WHEN GROUPING(rt.task) OPERATOR(pg_catalog.=) 0
                THEN 'task' ELSE 'topic' END AS level,
           COALESCE(rt.task, rt.topic) AS name,
           rt.topic,
           -- claims of finished jobs (running ones are counted in queue)
           pg_catalog.count(*) FILTER (
               WHERE rt.status IS NOT NULL
                 AND rt.started_at OPERATOR(pg_catalog.>=)
                     (pg_catalog.now() OPERATOR(pg_catalog.-) '1 minute'::pg_catalog.interval)) AS claims_1m,
           pg_catalog.count(*) FILTER (
               WHERE rt.status IS NOT NULL
                 AND rt.started_at OPERATOR(pg_catalog.>=)
                     (pg_catalog.now() OPERATOR(pg_catalog.-) '5 minutes'::pg_catalog.interval)) AS claims_5m,
           pg_catalog.count(*) FILTER (
               WHERE rt.status IS NOT NULL
                 AND rt.started_at OPERATOR(pg_catalog.>=)
                     (pg_catalog.now() OPERATOR(pg_catalog.-) '15 minutes'::pg_catalog.interval)) AS claims_15m,
           pg_catalog.count(*) FILTER (
               WHERE rt.finished_at OPERATOR(pg_catalog.>=)
                     (pg_catalog.now() OPERATOR(pg_catalog.-) '1 minute'::pg_catalog.interval)) AS completions_1m,
           pg_catalog.count(*) FILTER (
               WHERE rt.finished_at OPERATOR(pg_catalog.>=)
                     (pg_catalog.now() OPERATOR(pg_catalog.-) '5 minutes'::pg_catalog.interval)) AS completions_5m,
           pg_catalog.count(rt.finished_at) AS completions_15m,
           pg_catalog.count(*) FILTER (
               WHERE rt.status OPERATOR(pg_catalog.=) 'succeeded') AS succeeded_15m,
           pg_catalog.count(*) FILTER (
               WHERE rt.status OPERATOR(pg_catalog.=) 'failed') AS failed_15m,
           pg_catalog.percentile_cont(ARRAY[0.5, 0.95, 0.99]::pg_catalog.float8[])
               WITHIN GROUP (ORDER BY rt.wait) AS wait_pct,
           pg_catalog.percentile_cont(ARRAY[0.5, 0.95, 0.99]::pg_catalog.float8[])
               WITHIN GROUP (ORDER BY rt.run) AS run_pct
      FROM recent_topics rt
     GROUP BY GROUPING SETS ((rt.topic, rt.task), (rt.topic))
)
SELECT COALESCE(ql.level, rl.level) AS level,
       COALESCE(ql.name, rl.name) AS name,
       COALESCE(ql.topic, rl.topic) AS topic,
       COALESCE(ql.ready, 0) AS ready,
       COALESCE(ql.scheduled, 0) AS scheduled,
       COALESCE(ql.running, 0) AS running,
       pg_catalog.date_part('epoch',
           pg_catalog.now() OPERATOR(pg_catalog.-) ql.oldest_ready) AS lag_seconds,
       COALESCE(ql.claims_1m, 0) OPERATOR(pg_catalog.+) COALESCE(rl.claims_1m, 0) AS claims_1m,
       COALESCE(ql.claims_5m, 0) OPERATOR(pg_catalog.+) COALESCE(rl.claims_5m, 0) AS claims_5m,
       COALESCE(ql.claims_15m, 0) OPERATOR(pg_catalog.+) COALESCE(rl.claims_15m, 0) AS claims_15m,
       COALESCE(rl.completions_1m, 0) AS completions_1m,
       COALESCE(rl.completions_5m, 0) AS completions_5m,
       COALESCE(rl.completions_15m, 0) AS completions_15m,
       COALESCE(rl.succeeded_15m, 0) AS succeeded_15m,
       COALESCE(rl.failed_15m, 0) AS failed_15m,
       rl.wait_pct[1] AS wait_p50,
       rl.wait_pct[2] AS wait_p95,
       rl.wait_pct[3] AS wait_p99,
       rl.run_pct[1] AS run_p50,
       rl.run_pct[2] AS run_p95,
       rl.run_pct[3] AS run_p99
  FROM queue_levels ql
  FULL JOIN recent_levels rl
    ON rl.level OPERATOR(pg_catalog.=) ql.level
   AND rl.name OPERATOR(pg_catalog.=) ql.name;

COMMENT ON VIEW jobs.stats IS
    'pgjobs: per task and per topic: ready, scheduled and running jobs, lag, claims, completions, wait and run time percentiles';

-- ----------------------------------------------------------------------
-- View: jobs.health
--
--      What endangers the queue, one row per check, each with a status
--      (ok, warning, critical), a value, a detail and what to do.  Every
--      check is cheap: statistics views, the running index, and one
--      descent of the claim index per distinct priority.  A role reading
--      it needs pg_read_all_stats (or pg_monitor) to see other roles'
--      sessions in the oldest_xmin check.
--
-- Checks (value; warning / critical):
--      job_queue_dead_tuples   - dead rows in jobs.job_queue; 50 000 / 500 000
--      job_queue_last_vacuum   - seconds since its last (auto)vacuum, NULL if
--                                never; only while dead rows exceed the
--                                autovacuum threshold (5 000): 10 min (or
--                                never) / 1 hour
--      job_dead_tuples         - dead rows in jobs.job; 100 000 and 20 % of the
--                                live rows / 1 000 000 and as many as live
--      job_last_vacuum         - as for job_queue, threshold 50 + 20 % of live
--      oldest_xmin             - age in transactions of the oldest snapshot
--                                held by another session of this database (or
--                                a walsender); by how long its transaction
--                                has been open: 5 min / 30 min, or 50 million
--                                transactions (critical)
--      expired_jobs            - running jobs past their lease, not
--                                reclaimed; by the oldest lapse: 1 min / 10 min
--      oldest_ready_lag        - seconds the oldest ready job has waited;
--                                1 min / 10 min
--      workers_silent          - seconds without a claim or a completion
--                                while jobs are ready; 1 min / 5 min
--
-- Tables read:
--      jobs.job_queue, jobs.job, pg_stat_user_tables, pg_stat_activity
-- ----------------------------------------------------------------------
CREATE VIEW jobs.health AS
WITH tables AS (
    SELECT CASE WHEN s.relid OPERATOR(pg_catalog.=) 'jobs.job_queue'::pg_catalog.regclass::pg_catalog.oid
                THEN 'job_queue' ELSE 'job' END AS tab,
           s.n_dead_tup, s.n_live_tup,
           GREATEST(s.last_vacuum, s.last_autovacuum) AS last_vacuum,
           CASE WHEN s.relid OPERATOR(pg_catalog.=) 'jobs.job_queue'::pg_catalog.regclass::pg_catalog.oid
                THEN 5000::pg_catalog.float8
                ELSE 50 OPERATOR(pg_catalog.+) (0.2::pg_catalog.float8 OPERATOR(pg_catalog.*) s.n_live_tup)
           END AS vacuum_due
      FROM pg_catalog.pg_stat_user_tables s
     WHERE s.relid OPERATOR(pg_catalog.=) 'jobs.job_queue'::pg_catalog.regclass::pg_catalog.oid
        OR s.relid OPERATOR(pg_catalog.=) 'jobs.job'::pg_catalog.regclass::pg_catalog.oid
),
holder AS (
    -- the session of this database (or a walsender) with the oldest snapshot
    SELECT a.pid, a.application_name, a.state, a.backend_type,
           pg_catalog.age(a.backend_xmin) AS xmin_age,
           pg_catalog.now() OPERATOR(pg_catalog.-) COALESCE(a.xact_start, a.backend_start) AS held
      FROM pg_catalog.pg_stat_activity a
     WHERE a.backend_xmin IS NOT NULL
       AND a.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
       AND COALESCE(a.leader_pid, 0) OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
       AND (a.datname IS NULL OR a.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
     ORDER BY pg_catalog.age(a.backend_xmin) DESC
     LIMIT 1
),
expired AS (
    SELECT pg_catalog.count(*) AS n, pg_catalog.min(q.expires_at) AS oldest
      FROM jobs.job_queue q
     WHERE q.status OPERATOR(pg_catalog.=) 'running'
       AND q.expires_at OPERATOR(pg_catalog.<) pg_catalog.now()
),
heads AS (
    -- the first pending job of each priority, from the claim index: one
    -- descent per distinct priority, however long the queue.  Within a
    -- priority the index is in scheduled_at order, so a head that is due
    -- is that priority's oldest ready job.
    WITH RECURSIVE h AS (
        (SELECT q.priority, q.scheduled_at
           FROM jobs.job_queue q
          WHERE q.status OPERATOR(pg_catalog.=) 'pending'
          ORDER BY q.priority DESC, q.scheduled_at, q.job_id
          LIMIT 1)
        UNION ALL
        SELECT n.priority, n.scheduled_at
          FROM h,
               LATERAL (SELECT q.priority, q.scheduled_at
                          FROM jobs.job_queue q
                         WHERE q.status OPERATOR(pg_catalog.=) 'pending'
                           AND q.priority OPERATOR(pg_catalog.<) h.priority
                         ORDER BY q.priority DESC, q.scheduled_at, q.job_id
                         LIMIT 1) n
    )
    SELECT pg_catalog.min(h.scheduled_at) FILTER (
               WHERE h.scheduled_at OPERATOR(pg_catalog.<=) pg_catalog.now()) AS oldest_ready
      FROM h
),
lag AS (
    SELECT hd.oldest_ready,
           pg_catalog.date_part('epoch',
               pg_catalog.now() OPERATOR(pg_catalog.-) hd.oldest_ready) AS lag,
           GREATEST(
               (SELECT pg_catalog.max(q.started_at) FROM jobs.job_queue q
                 WHERE q.status OPERATOR(pg_catalog.=) 'running'),
               (SELECT pg_catalog.max(j.finished_at) FROM jobs.job j)) AS last_activity
      FROM heads hd
),
checks AS (
    SELECT CASE WHEN t.tab OPERATOR(pg_catalog.=) 'job_queue' THEN 1 ELSE 3 END AS ord,
           t.tab OPERATOR(pg_catalog.||) '_dead_tuples' AS "check",
           CASE WHEN t.tab OPERATOR(pg_catalog.=) 'job_queue' THEN
                    CASE WHEN t.n_dead_tup OPERATOR(pg_catalog.>=) 500000 THEN 'critical'
                         WHEN t.n_dead_tup OPERATOR(pg_catalog.>=) 50000 THEN 'warning'
                         ELSE 'ok' END
                ELSE
                    CASE WHEN t.n_dead_tup OPERATOR(pg_catalog.>=) 1000000
                          AND t.n_dead_tup OPERATOR(pg_catalog.>=) t.n_live_tup THEN 'critical'
                         WHEN t.n_dead_tup OPERATOR(pg_catalog.>=) 100000
                          AND t.n_dead_tup::pg_catalog.float8 OPERATOR(pg_catalog.>=)
                              (0.2::pg_catalog.float8 OPERATOR(pg_catalog.*) t.n_live_tup) THEN 'warning'
                         ELSE 'ok' END
           END AS status,
           t.n_dead_tup::pg_catalog.float8 AS value,
           pg_catalog.format('jobs.%s has %s dead and %s live rows', t.tab, t.n_dead_tup, t.n_live_tup) AS detail,
           CASE WHEN t.tab OPERATOR(pg_catalog.=) 'job_queue' THEN
               'Dead rows slow every claim until VACUUM removes them. Look at the oldest_xmin and '
               'job_queue_last_vacuum rows: end the old transaction that holds them back, or run '
               'VACUUM jobs.job_queue; make sure autovacuum is on and has free workers.'
           ELSE
               'Deleting finished jobs leaves dead rows: delete in batches, then VACUUM jobs.job; '
               'end any old transaction shown by the oldest_xmin row.'
           END AS what_to_do
      FROM tables t
    UNION ALL
    SELECT CASE WHEN t.tab OPERATOR(pg_catalog.=) 'job_queue' THEN 2 ELSE 4 END,
           t.tab OPERATOR(pg_catalog.||) '_last_vacuum',
           CASE WHEN t.n_dead_tup::pg_catalog.float8 OPERATOR(pg_catalog.<=) t.vacuum_due THEN 'ok'
                WHEN t.last_vacuum IS NULL THEN 'warning'
                WHEN t.last_vacuum OPERATOR(pg_catalog.<)
                     (pg_catalog.now() OPERATOR(pg_catalog.-) '1 hour'::pg_catalog.interval) THEN 'critical'
                WHEN t.last_vacuum OPERATOR(pg_catalog.<)
                     (pg_catalog.now() OPERATOR(pg_catalog.-) '10 minutes'::pg_catalog.interval) THEN 'warning'
                ELSE 'ok' END,
           pg_catalog.date_part('epoch', pg_catalog.now() OPERATOR(pg_catalog.-) t.last_vacuum),
           pg_catalog.format('jobs.%s last vacuumed %s; %s dead rows, autovacuum due at %s',
               t.tab, COALESCE(t.last_vacuum::pg_catalog.text, 'never'), t.n_dead_tup,
               pg_catalog.round(t.vacuum_due)),
           'Autovacuum has not caught up with the dead rows: check autovacuum = on, that '
           'autovacuum_max_workers are not all busy on other tables, and the oldest_xmin row; '
           'run VACUUM (VERBOSE) jobs.' OPERATOR(pg_catalog.||) t.tab
               OPERATOR(pg_catalog.||) ' to see what keeps rows from being removed.'
      FROM tables t
    UNION ALL
    SELECT 5, 'oldest_xmin',
           CASE WHEN hd.pid IS NULL THEN 'ok'
                WHEN hd.held OPERATOR(pg_catalog.>=) '30 minutes'::pg_catalog.interval
                  OR hd.xmin_age OPERATOR(pg_catalog.>=) 50000000 THEN 'critical'
                WHEN hd.held OPERATOR(pg_catalog.>=) '5 minutes'::pg_catalog.interval THEN 'warning'
                ELSE 'ok' END,
           COALESCE(hd.xmin_age, 0)::pg_catalog.float8,
           CASE WHEN hd.pid IS NULL THEN 'no other session holds a snapshot'
                ELSE pg_catalog.format(
                    'pid %s (%s, application "%s", state %s) has held a snapshot for %s; its xmin is %s transactions old',
                    hd.pid, hd.backend_type, hd.application_name, COALESCE(hd.state, 'unknown'),
                    pg_catalog.date_trunc('second', hd.held), hd.xmin_age)
           END,
           'An old snapshot keeps VACUUM from removing any dead row newer than it, in every table. '
           'If the session is idle in transaction or stuck, end it: SELECT pg_terminate_backend(pid); '
           'fix the application, and set idle_in_transaction_session_timeout. Keep consume waits short.'
      FROM (SELECT 1) one LEFT JOIN holder hd ON true
    UNION ALL
    SELECT 6, 'expired_jobs',
           CASE WHEN e.oldest OPERATOR(pg_catalog.<)
                     (pg_catalog.now() OPERATOR(pg_catalog.-) '10 minutes'::pg_catalog.interval) THEN 'critical'
                WHEN e.oldest OPERATOR(pg_catalog.<)
                     (pg_catalog.now() OPERATOR(pg_catalog.-) '1 minute'::pg_catalog.interval) THEN 'warning'
                ELSE 'ok' END,
           e.n::pg_catalog.float8,
           CASE WHEN e.n OPERATOR(pg_catalog.=) 0 THEN 'no running job is past its lease'
                ELSE pg_catalog.format('%s running jobs are past their lease, the oldest since %s',
                                       e.n, e.oldest) END,
           'Expired jobs are reclaimed by consume, so nothing is consuming: start the workers, or call '
           'SELECT jobs.expire() periodically (cron, pg_cron). Jobs that keep expiring need a larger '
           'i_timeout.'
      FROM expired e
    UNION ALL
    SELECT 7, 'oldest_ready_lag',
           CASE WHEN l.lag OPERATOR(pg_catalog.>=) 600 THEN 'critical'
                WHEN l.lag OPERATOR(pg_catalog.>=) 60 THEN 'warning'
                ELSE 'ok' END,
           COALESCE(l.lag, 0),
           CASE WHEN l.oldest_ready IS NULL THEN 'no job is ready'
                ELSE pg_catalog.format('the oldest ready job has waited since %s', l.oldest_ready) END,
           'Jobs wait longer than they should: add workers or concurrency, check that the workers '
           'claim the tasks that wait (jobs.stats shows which task''s backlog grows), and look at '
           'the workers_silent and dead-tuple rows.'
      FROM lag l
    UNION ALL
    SELECT 8, 'workers_silent',
           CASE WHEN l.oldest_ready IS NULL THEN 'ok'
                WHEN pg_catalog.now() OPERATOR(pg_catalog.-) GREATEST(l.last_activity, l.oldest_ready)
                     OPERATOR(pg_catalog.>=) '5 minutes'::pg_catalog.interval THEN 'critical'
                WHEN pg_catalog.now() OPERATOR(pg_catalog.-) GREATEST(l.last_activity, l.oldest_ready)
                     OPERATOR(pg_catalog.>=) '1 minute'::pg_catalog.interval THEN 'warning'
                ELSE 'ok' END,
           CASE WHEN l.oldest_ready IS NULL THEN 0
                ELSE pg_catalog.date_part('epoch', pg_catalog.now() OPERATOR(pg_catalog.-)
                                                   GREATEST(l.last_activity, l.oldest_ready)) END,
           pg_catalog.format('last claim or completion: %s; jobs ready: %s',
                             COALESCE(l.last_activity::pg_catalog.text, 'never'),
                             CASE WHEN l.oldest_ready IS NULL THEN 'no' ELSE 'yes' END),
           'Jobs are ready but no worker claims or finishes any: check that the workers run, are '
           'connected to this database, and consume topics that match the waiting tasks '
           '(jobs.stats).'
      FROM lag l
)
SELECT c."check", c.status, c.value, c.detail, c.what_to_do
  FROM checks c
 ORDER BY c.ord;

COMMENT ON VIEW jobs.health IS
    'pgjobs: what endangers the queue (bloat, vacuum, old snapshots, expired jobs, lag, silent workers), with what to do';

-- The statements these functions run are planned once per session and
-- kept.  Planned while the queue is empty (a worker that starts before the
-- first job), a claim or an ack would otherwise be kept as a sequential
-- scan of the queue, and stay one however large the queue grows: their
-- plans must use the indexes whatever the statistics say.
ALTER FUNCTION jobs.consume(integer, numeric) SET enable_seqscan = off;
ALTER FUNCTION jobs.consume_topic(text, integer, numeric) SET enable_seqscan = off;
ALTER FUNCTION jobs.ack(bigint, jsonb, integer) SET enable_seqscan = off;
ALTER FUNCTION jobs.nack(bigint, text, timestamptz, integer) SET enable_seqscan = off;
ALTER FUNCTION jobs.expire() SET enable_seqscan = off;
ALTER FUNCTION jobs.maintain() SET enable_seqscan = off;

-- ---------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC.  Grant what each role needs (README).
-- ---------------------------------------------------------------------------

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA jobs FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA jobs FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA jobs FROM PUBLIC;
