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
CREATE TYPE jobs.job_status AS ENUM ('pending', 'running', 'succeeded', 'failed', 'cancelled');

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
    unique_key   text,
    unique_while_running boolean,
    cancel_requested_at timestamptz,
    progress     double precision,
    progress_note text,
    published_by text,
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
    unique_key   text,
    progress     double precision,
    progress_note text,
    published_by text,
    CONSTRAINT job_pkey PRIMARY KEY (job_id)
);

CREATE INDEX job_finished_at_idx ON jobs.job (finished_at);

-- Unique jobs: a key is taken while a job holding it is pending, or
-- running when it was published with i_unique_running.  Rows without a
-- key are not in the index at all.
CREATE UNIQUE INDEX job_queue_unique_key_idx ON jobs.job_queue (task, unique_key)
    WHERE unique_key IS NOT NULL
      AND (status OPERATOR(pg_catalog.=) 'pending' OR unique_while_running);

-- The dead-letter queue: failed jobs by the time they failed.
CREATE INDEX job_failed_idx ON jobs.job (finished_at)
    WHERE status OPERATOR(pg_catalog.=) 'failed';

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

-- ----------------------------------------------------------------------
-- Function: jobs.sees_all_jobs()
--
--      Whether the current role sees every job in the views: false only
--      for a member of pgjobs_tenant (granted explicitly; a superuser is
--      not one unless granted) that is not a superuser or has not the
--      privileges of pgjobs_admin.  A tenant sees the jobs it published.
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.sees_all_jobs()
RETURNS boolean
AS 'MODULE_PATHNAME', 'pgjobs_sees_all_jobs'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION jobs.sees_all_jobs() IS
    'pgjobs: false when the current role is a tenant, who sees only the jobs it published';


CREATE VIEW jobs.all WITH (security_barrier) AS
    -- the tenant filter sits above the UNION ALL: a UNION ALL view is
    -- flattened into its branches, and a condition of the caller's query
    -- could then run on rows the filter would drop
    SELECT a.job_id, a.task, a.body, a.status, a.priority, a.attempts,
           a.max_retries, a.timeout, a.last_error, a.result, a.created_at,
           a.scheduled_at, a.started_at, a.expires_at, a.finished_at,
           a.unique_key, a.progress, a.progress_note, a.cancel_requested_at,
           a.published_by
      FROM (SELECT q.job_id, q.task, q.body, q.status, q.priority, q.attempts,
                   q.max_retries, q.timeout, q.last_error, NULL::jsonb AS result,
                   q.created_at, q.scheduled_at, q.started_at, q.expires_at,
                   NULL::timestamptz AS finished_at, q.unique_key, q.progress,
                   q.progress_note, q.cancel_requested_at, q.published_by
              FROM jobs.job_queue q
            UNION ALL
            SELECT j.job_id, j.task, j.body, j.status, j.priority, j.attempts,
                   j.max_retries, j.timeout, j.last_error, j.result,
                   j.created_at, j.scheduled_at, j.started_at, NULL::timestamptz,
                   j.finished_at, j.unique_key, j.progress, j.progress_note,
                   NULL::timestamptz, j.published_by
              FROM jobs.job j) a
     WHERE (jobs.sees_all_jobs() OR a.published_by OPERATOR(pg_catalog.=) CURRENT_USER::text);

COMMENT ON VIEW jobs.all IS 'pgjobs: every job, queued or finished';

CREATE VIEW jobs.running WITH (security_barrier) AS
    SELECT q.job_id, q.task, q.body, q.priority, q.attempts, q.max_retries,
           q.timeout, q.created_at, q.scheduled_at, q.started_at, q.expires_at,
           q.progress, q.progress_note, q.cancel_requested_at, q.published_by
      FROM jobs.job_queue q
     WHERE q.status OPERATOR(pg_catalog.=) 'running'
       AND q.expires_at OPERATOR(pg_catalog.>=) pg_catalog.now()
       AND (jobs.sees_all_jobs() OR q.published_by OPERATOR(pg_catalog.=) CURRENT_USER::text);

COMMENT ON VIEW jobs.running IS 'pgjobs: running jobs whose lease has not lapsed';

CREATE VIEW jobs.expired WITH (security_barrier) AS
    SELECT q.job_id, q.task, q.body, q.priority, q.attempts, q.max_retries,
           q.timeout, q.created_at, q.scheduled_at, q.started_at, q.expires_at,
           q.published_by
      FROM jobs.job_queue q
     WHERE q.status OPERATOR(pg_catalog.=) 'running'
       AND q.expires_at OPERATOR(pg_catalog.<) pg_catalog.now()
       AND (jobs.sees_all_jobs() OR q.published_by OPERATOR(pg_catalog.=) CURRENT_USER::text);

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
-- Function: jobs.publish(task, body, scheduled_at, timeout, priority,
--                        max_retries, unique_key, on_duplicate, unique_running)
--
--      Queues one job in the caller's transaction: it exists exactly when
--      that transaction commits.  With i_unique_key, at most one job of the
--      task with that key is pending (or, when it was published with
--      i_unique_running, pending or running): a second publish with the key
--      returns the existing job's id, and with i_on_duplicate => 'replace'
--      also gives a pending job the new body, schedule, timeout, priority
--      and retries.  Concurrent publishes of one key wait for each other.
--
-- Parameters:
--      i_task          - task name, 1 to 1024 characters
--      i_body          - arguments (the Python layer uses {"args": [], "kwargs": {}})
--      i_scheduled_at  - earliest start (default: now)
--      i_timeout       - seconds a claim lasts before the job expires (default 60)
--      i_priority      - greater runs first (default 0)
--      i_max_retries   - attempts after the first (default 3)
--      i_unique_key    - optional uniqueness key, 1 to 1024 characters
--      i_on_duplicate  - 'ignore' (default) or 'replace'
--      i_unique_running - the key stays taken while the job runs (default false)
--
-- Returns:
--      job_id of the new job, or of the existing job holding the key
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
    i_unique_key    text DEFAULT NULL,
    i_on_duplicate  text DEFAULT 'ignore',
    i_unique_running boolean DEFAULT false,
    OUT job_id      bigint)
AS 'MODULE_PATHNAME', 'pgjobs_publish_1_1'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

COMMENT ON FUNCTION jobs.publish(varchar, jsonb, timestamptz, numeric, integer, integer, text, text, boolean) IS
    'pgjobs: queue one job in the current transaction, optionally unique by key';

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
-- Function: jobs.ack_and_consume(job_id, num, result, attempt, pattern)
--
--      Completes a running job as jobs.ack does, then claims up to num
--      ready jobs as jobs.consume (or, with i_pattern, jobs.consume_topic)
--      does, in one statement and one transaction: a worker that acks
--      each job before it claims the next spends one round trip and one
--      commit per job instead of two.  If the ack fails (the errors of
--      jobs.ack) nothing is claimed.  With i_job_id NULL it only claims.
--      It never waits for jobs (the ack would stay uncommitted while it
--      did): when it returns none, wait with jobs.consume(num, i_wait).
--
-- Parameters:
--      i_job_id    - the job to complete, or NULL
--      num         - how many jobs to claim at most (1 or more)
--      i_result    - optional result of the completed job
--      i_attempt   - optional: the attempt consume returned (as for ack)
--      i_pattern   - optional topic pattern, as for jobs.consume_topic
--
-- Returns:
--      the claimed jobs
--
-- Tables written:
--      jobs.job_queue, jobs.job
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.ack_and_consume(
    i_job_id        bigint,
    num             integer DEFAULT 1,
    i_result        jsonb DEFAULT NULL,
    i_attempt       integer DEFAULT NULL,
    i_pattern       text DEFAULT NULL)
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
AS 'MODULE_PATHNAME', 'pgjobs_ack_and_consume'
LANGUAGE C CALLED ON NULL INPUT VOLATILE ROWS 10;

COMMENT ON FUNCTION jobs.ack_and_consume(bigint, integer, jsonb, integer, text) IS
    'pgjobs: complete a running job and claim up to num ready jobs, in one statement';

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

-- ---------------------------------------------------------------------------
-- Job control (1.1): batches, leases, progress, cancel, redrive, topic
-- controls, recurring jobs
-- ---------------------------------------------------------------------------

-- jobs.topic_control holds what an administrator set per topic pattern:
-- paused, at most max_running jobs running at once, at most rate claims a
-- second with bursts of burst (tokens and refilled_at are the token
-- bucket's state).  A pattern with nothing set has no row.  Consumers
-- cache the patterns; the trigger below tells them when they change.
CREATE TABLE jobs.topic_control (
    pattern      text        NOT NULL,
    paused       boolean     NOT NULL DEFAULT false,
    max_running  integer,
    rate         double precision,
    burst        integer,
    tokens       double precision,
    refilled_at  timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT topic_control_pkey PRIMARY KEY (pattern)
);

COMMENT ON TABLE jobs.topic_control IS
    'pgjobs: paused topics, concurrency and rate limits (set with jobs.pause, jobs.resume, jobs.set_limit)';

-- jobs.recurring holds the recurring jobs jobs.schedule defines.  The
-- maintenance worker (or jobs.maintain) publishes each occurrence in the
-- transaction that moves next_run_at on, with the row locked: an
-- occurrence is published exactly once.
CREATE TABLE jobs.recurring (
    name         text        NOT NULL,
    cron         text        NOT NULL,
    time_zone    text        NOT NULL,
    task         varchar     NOT NULL,
    body         jsonb,
    timeout      numeric(7,2),
    priority     integer,
    max_retries  integer,
    catch_up     text        NOT NULL DEFAULT 'once',
    next_run_at  timestamptz NOT NULL,
    last_run_at  timestamptz,
    last_job_id  bigint,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT recurring_pkey PRIMARY KEY (name)
);

CREATE INDEX recurring_next_run_at_idx ON jobs.recurring (next_run_at);

COMMENT ON TABLE jobs.recurring IS
    'pgjobs: recurring jobs (jobs.schedule), published by the maintenance worker or jobs.maintain';

SELECT pg_catalog.pg_extension_config_dump('jobs.topic_control', '');
SELECT pg_catalog.pg_extension_config_dump('jobs.recurring', '');

-- jobs.dead_letter: the failed jobs, newest first through job_failed_idx.
CREATE VIEW jobs.dead_letter WITH (security_barrier) AS
    SELECT j.job_id, j.task, j.body, j.priority, j.attempts, j.max_retries,
           j.timeout, j.last_error, j.created_at, j.scheduled_at,
           j.started_at, j.finished_at, j.unique_key, j.published_by
      FROM jobs.job j
     WHERE j.status OPERATOR(pg_catalog.=) 'failed'
       AND (jobs.sees_all_jobs() OR j.published_by OPERATOR(pg_catalog.=) CURRENT_USER::text);

COMMENT ON VIEW jobs.dead_letter IS
    'pgjobs: the dead-letter queue: jobs that failed after their retries (redrive with jobs.retry)';

-- ----------------------------------------------------------------------
-- Function: jobs.ack_batch(job_ids, results, attempts)
--
--      Completes a batch of running jobs in one statement, as jobs.ack
--      does one.  (A name of its own, not an overload of jobs.ack: a call
--      such as jobs.ack($1) with an untyped parameter must keep resolving.)  A job whose claim no longer counts (lease lapsed, not
--      running, cancellation requested, other attempt) is left alone and
--      left out of the result: compare it with i_job_ids.
--
-- Parameters:
--      i_job_ids   - the claimed jobs
--      i_results   - optional results, element i for job i
--      i_attempts  - optional attempts consume returned, element i for job i
--
-- Returns:
--      the ids of the jobs completed
--
-- Tables written:
--      jobs.job_queue, jobs.job
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.ack_batch(
    i_job_ids       bigint[],
    i_results       jsonb[] DEFAULT NULL,
    i_attempts      integer[] DEFAULT NULL)
RETURNS TABLE (job_id bigint)
AS 'MODULE_PATHNAME', 'pgjobs_ack_batch'
LANGUAGE C CALLED ON NULL INPUT VOLATILE ROWS 50;

COMMENT ON FUNCTION jobs.ack_batch(bigint[], jsonb[], integer[]) IS
    'pgjobs: complete a batch of running jobs; returns those completed';

-- ----------------------------------------------------------------------
-- Function: jobs.nack_batch(job_ids, traceback, schedule_at, attempts)
--
--      Fails the current attempt of a batch of running jobs in one
--      statement, as jobs.nack does one; jobs whose claim no longer counts
--      are left alone and out of the result.
--
-- Parameters:
--      i_job_ids       - the claimed jobs
--      i_traceback     - what went wrong, kept in last_error
--      i_schedule_at   - when to retry (default: backoff)
--      i_attempts      - optional attempts consume returned
--
-- Returns:
--      the ids of the jobs failed (retried, failed or cancelled)
--
-- Tables written:
--      jobs.job_queue, jobs.job
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.nack_batch(
    i_job_ids       bigint[],
    i_traceback     text DEFAULT NULL,
    i_schedule_at   timestamptz DEFAULT NULL,
    i_attempts      integer[] DEFAULT NULL)
RETURNS TABLE (job_id bigint)
AS 'MODULE_PATHNAME', 'pgjobs_nack_batch'
LANGUAGE C CALLED ON NULL INPUT VOLATILE ROWS 50;

COMMENT ON FUNCTION jobs.nack_batch(bigint[], text, timestamptz, integer[]) IS
    'pgjobs: fail the current attempt of a batch of running jobs; returns those failed';

-- ----------------------------------------------------------------------
-- Function: jobs.touch(job_id, extend, attempt)
--
--      Extends a running job's lease to now + i_extend seconds (default:
--      its timeout): the heartbeat of a long job.  Fails as jobs.ack does
--      when the claim no longer counts, and with PJ004 when cancellation
--      was requested.
--
-- Parameters:
--      i_job_id    - the claimed job
--      i_extend    - seconds from now the lease lasts (0.01 to 99999.99)
--      i_attempt   - optional: the attempt consume returned
--
-- Returns:
--      the new end of the lease (expires_at)
--
-- Tables written:
--      jobs.job_queue
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.touch(
    i_job_id        bigint,
    i_extend        numeric DEFAULT NULL,
    i_attempt       integer DEFAULT NULL)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pgjobs_touch'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

COMMENT ON FUNCTION jobs.touch(bigint, numeric, integer) IS
    'pgjobs: extend the lease of a running job (heartbeat)';

-- ----------------------------------------------------------------------
-- Function: jobs.progress(job_id, progress, note, attempt)
--
--      Records how far a running job has got (0 to 1) and an optional
--      note, shown in jobs.running and jobs.all and kept in jobs.job; with
--      pgjobs.notify = all it also sends a "progress" event.  Fails as
--      jobs.touch does.  It does not extend the lease.
--
-- Parameters:
--      i_job_id    - the claimed job
--      i_progress  - fraction done, 0 to 1
--      i_note      - optional text
--      i_attempt   - optional: the attempt consume returned
--
-- Tables written:
--      jobs.job_queue
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.progress(
    i_job_id        bigint,
    i_progress      double precision,
    i_note          text DEFAULT NULL,
    i_attempt       integer DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pgjobs_progress'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

COMMENT ON FUNCTION jobs.progress(bigint, double precision, text, integer) IS
    'pgjobs: record the progress of a running job';

-- ----------------------------------------------------------------------
-- Function: jobs.release(job_id, schedule_at, attempt)
--
--      Gives a running job back without spending an attempt: it is pending
--      again at i_schedule_at (default: now), with its attempt count as
--      before the claim.  For a worker that shuts down before starting it.
--      Fails as jobs.ack does.
--
-- Parameters:
--      i_job_id        - the claimed job
--      i_schedule_at   - when it may be claimed again (default: now)
--      i_attempt       - optional: the attempt consume returned
--
-- Tables written:
--      jobs.job_queue
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.release(
    i_job_id        bigint,
    i_schedule_at   timestamptz DEFAULT NULL,
    i_attempt       integer DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pgjobs_release'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

COMMENT ON FUNCTION jobs.release(bigint, timestamptz, integer) IS
    'pgjobs: give a running job back to the queue without spending an attempt';

-- ----------------------------------------------------------------------
-- Function: jobs.cancel(job_id, reason)
--
--      Cancels a job.  A pending job moves to jobs.job as cancelled at
--      once.  For a running job cancellation is requested: its worker's
--      next jobs.touch, jobs.progress or jobs.ack fails with SQLSTATE
--      PJ004, and its jobs.nack, or the end of its lease, finishes it as
--      cancelled.
--
-- Parameters:
--      i_job_id    - the job
--      i_reason    - optional, kept in last_error (default 'cancelled')
--
-- Returns:
--      'cancelled' (was pending) or 'cancelling' (was running)
--
-- Tables written:
--      jobs.job_queue, jobs.job
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.cancel(i_job_id bigint, i_reason text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'pgjobs_cancel'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

COMMENT ON FUNCTION jobs.cancel(bigint, text) IS
    'pgjobs: cancel a pending job, or request cancellation of a running one';

-- ----------------------------------------------------------------------
-- Function: jobs.retry(job_id)
--
--      Redrives a failed or cancelled job: it moves from jobs.job back to
--      the queue, pending now, with its id, body and settings and a fresh
--      count of attempts (last_error is kept until the next attempt ends).
--
-- Parameters:
--      i_job_id    - a failed or cancelled job
--
-- Returns:
--      i_job_id
--
-- Tables written:
--      jobs.job, jobs.job_queue
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.retry(i_job_id bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgjobs_retry'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

COMMENT ON FUNCTION jobs.retry(bigint) IS
    'pgjobs: put a failed or cancelled job back in the queue with fresh attempts';

-- ----------------------------------------------------------------------
-- Function: jobs.retry_topic(pattern, include_cancelled)
--
--      Redrives every failed job (and cancelled job, when asked) whose
--      task matches a topic pattern, as jobs.retry does one.
--
-- Parameters:
--      i_pattern           - topic pattern, as for jobs.consume_topic
--      i_include_cancelled - also redrive cancelled jobs (default false)
--
-- Returns:
--      how many jobs went back to the queue
--
-- Tables written:
--      jobs.job, jobs.job_queue
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.retry_topic(i_pattern text, i_include_cancelled boolean DEFAULT false)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgjobs_retry_topic'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

COMMENT ON FUNCTION jobs.retry_topic(text, boolean) IS
    'pgjobs: put every failed job matching a topic pattern back in the queue';

-- ----------------------------------------------------------------------
-- Functions: jobs.pause(pattern), jobs.resume(pattern),
--            jobs.set_limit(pattern, max_running, rate, burst)
--
--      Topic controls, enforced by consume and consume_topic.  A job whose
--      task matches a paused pattern is not claimed (publishing goes on).
--      With max_running, at most that many jobs matching the pattern run
--      at once across all consumers; with rate, at most rate claims a
--      second, in bursts of up to burst (default: rate rounded up).  NULL
--      clears a limit.  The limits hold atomically across consumers: with
--      pgjobs preloaded, a concurrency limit's claims are reserved in shared
--      memory until their transaction ends, under a lock held only while
--      they are counted and made; otherwise, and for a rate, claims are
--      taken under a lock of the pattern's jobs.topic_control row until the
--      claimer commits.  Consumers of other patterns are not slowed.
--      Changes take effect when the caller commits.
--
-- Parameters:
--      i_pattern       - topic pattern, as for jobs.consume_topic
--      i_max_running   - 1 or more, or NULL for no concurrency limit
--      i_rate          - claims per second (> 0), or NULL for no rate limit
--      i_burst         - bucket size (1 or more)
--
-- Tables written:
--      jobs.topic_control
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.pause(i_pattern text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM jobs.check_topic_pattern(i_pattern);
    INSERT INTO jobs.topic_control AS c (pattern, paused)
    VALUES (i_pattern, true)
    ON CONFLICT (pattern) DO UPDATE
        SET paused = true, updated_at = pg_catalog.now();
END
$$;

COMMENT ON FUNCTION jobs.pause(text) IS
    'pgjobs: stop claiming jobs whose task matches a topic pattern';

CREATE FUNCTION jobs.resume(i_pattern text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM jobs.check_topic_pattern(i_pattern);
    UPDATE jobs.topic_control
       SET paused = false, updated_at = pg_catalog.now()
     WHERE pattern OPERATOR(pg_catalog.=) i_pattern AND paused;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    DELETE FROM jobs.topic_control
     WHERE pattern OPERATOR(pg_catalog.=) i_pattern
       AND max_running IS NULL AND rate IS NULL;
    RETURN true;
END
$$;

COMMENT ON FUNCTION jobs.resume(text) IS
    'pgjobs: claim jobs of a paused topic pattern again; false if it was not paused';

CREATE FUNCTION jobs.set_limit(
    i_pattern       text,
    i_max_running   integer DEFAULT NULL,
    i_rate          double precision DEFAULT NULL,
    i_burst         integer DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_burst integer;
BEGIN
    PERFORM jobs.check_topic_pattern(i_pattern);
    IF i_max_running IS NOT NULL AND i_max_running OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'max_running must be 1 or more, not %', i_max_running
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass NULL to remove the concurrency limit.';
    END IF;
    IF i_rate IS NOT NULL AND NOT (i_rate OPERATOR(pg_catalog.>=) 0.001
                                   AND i_rate OPERATOR(pg_catalog.<=) 1000000) THEN
        RAISE EXCEPTION 'rate must be between 0.001 and 1000000 claims a second, not %', i_rate
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass NULL to remove the rate limit.';
    END IF;
    IF i_burst IS NOT NULL AND (i_rate IS NULL OR i_burst OPERATOR(pg_catalog.<) 1) THEN
        RAISE EXCEPTION 'burst must be 1 or more, and needs a rate'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_burst := COALESCE(i_burst,
                        pg_catalog.ceil(i_rate)::integer);
    IF i_max_running IS NULL AND i_rate IS NULL THEN
        UPDATE jobs.topic_control
           SET max_running = NULL, rate = NULL, burst = NULL, tokens = NULL,
               refilled_at = NULL, updated_at = pg_catalog.now()
         WHERE pattern OPERATOR(pg_catalog.=) i_pattern;
        DELETE FROM jobs.topic_control
         WHERE pattern OPERATOR(pg_catalog.=) i_pattern AND NOT paused;
        RETURN;
    END IF;
    INSERT INTO jobs.topic_control AS c
           (pattern, max_running, rate, burst, tokens, refilled_at)
    VALUES (i_pattern, i_max_running, i_rate, v_burst, v_burst, pg_catalog.now())
    ON CONFLICT (pattern) DO UPDATE
        SET max_running = EXCLUDED.max_running, rate = EXCLUDED.rate,
            burst = EXCLUDED.burst, tokens = EXCLUDED.tokens,
            refilled_at = EXCLUDED.refilled_at, updated_at = pg_catalog.now();
END
$$;

COMMENT ON FUNCTION jobs.set_limit(text, integer, double precision, integer) IS
    'pgjobs: limit the jobs of a topic pattern running at once and claimed per second (NULL: no limit)';

-- ----------------------------------------------------------------------
-- Function: jobs.check_topic_pattern(pattern)
--
--      Raises the error consume_topic raises for a pattern it refuses.
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.check_topic_pattern(i_pattern text)
RETURNS void
AS 'MODULE_PATHNAME', 'pgjobs_check_topic_pattern'
LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION jobs.check_topic_pattern(text) IS
    'pgjobs: raise an error unless i_pattern is a valid topic pattern';

-- ----------------------------------------------------------------------
-- Function: jobs.check_job(task, timeout, priority, max_retries)
--
--      Raises the error jobs.publish would raise for these arguments.
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.check_job(
    i_task          varchar,
    i_timeout       numeric DEFAULT NULL,
    i_priority      integer DEFAULT NULL,
    i_max_retries   integer DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pgjobs_check_job'
LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION jobs.check_job(varchar, numeric, integer, integer) IS
    'pgjobs: raise an error unless jobs.publish would accept these arguments';

-- jobs.topic_control_changed tells every session's consumers, at commit,
-- that the topic controls changed, and wakes waiting consumers (a resume
-- or a raised limit may free jobs).  Token bucket updates by consumers
-- do not fire it.
CREATE FUNCTION jobs.topic_control_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pgjobs_topic_control_changed'
LANGUAGE C;

CREATE TRIGGER topic_control_changed
    AFTER INSERT OR DELETE OR TRUNCATE
       OR UPDATE OF pattern, paused, max_running, rate, burst
    ON jobs.topic_control
    FOR EACH STATEMENT EXECUTE FUNCTION jobs.topic_control_changed();

-- ----------------------------------------------------------------------
-- Function: jobs.wake_consumers()
--
--      Wakes waiting consumers when the caller commits: for jobs queued or
--      readied by writing jobs.job_queue directly.
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.wake_consumers()
RETURNS void
AS 'MODULE_PATHNAME', 'pgjobs_wake_consumers'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION jobs.wake_consumers() IS
    'pgjobs: wake waiting consumers at commit';

-- ----------------------------------------------------------------------
-- Function: jobs.cron_next(expression, after, time_zone)
--
--      The first time strictly after i_after that a five-field cron
--      expression (minute hour day-of-month month day-of-week, or @hourly,
--      @daily, ...) names, in wall-clock time of i_time_zone (default: the
--      session's TimeZone).
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.cron_next(
    i_expression    text,
    i_after         timestamptz DEFAULT pg_catalog.now(),
    i_time_zone     text DEFAULT NULL)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'pgjobs_cron_next'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION jobs.cron_next(text, timestamptz, text) IS
    'pgjobs: next time a cron expression fires after a given time';

-- ----------------------------------------------------------------------
-- Function: jobs.schedule(name, cron, task, body, time_zone, timeout,
--                         priority, max_retries, catch_up)
--
--      Creates or replaces the recurring job name: a job of i_task with
--      i_body is published at every time the cron expression names, in
--      i_time_zone (default: the session's TimeZone when scheduling).  The
--      maintenance worker publishes each occurrence exactly once (or
--      jobs.maintain() does, from pg_cron or any scheduler).  After
--      downtime, missed occurrences are published once (catch_up 'once')
--      or skipped ('skip'); an occurrence more than 60 seconds late counts
--      as missed.
--
-- Parameters:
--      i_name          - the schedule's name
--      i_cron          - five-field cron expression
--      i_task, i_body  - the job to publish (other fields: as jobs.publish)
--      i_time_zone     - IANA zone name, e.g. 'Europe/Berlin'
--      i_catch_up      - 'once' (default) or 'skip'
--
-- Returns:
--      the first time the schedule fires
--
-- Tables written:
--      jobs.recurring
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.schedule(
    i_name          text,
    i_cron          text,
    i_task          varchar,
    i_body          jsonb DEFAULT NULL,
    i_time_zone     text DEFAULT NULL,
    i_timeout       numeric DEFAULT NULL,
    i_priority      integer DEFAULT NULL,
    i_max_retries   integer DEFAULT NULL,
    i_catch_up      text DEFAULT 'once')
RETURNS timestamptz
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_zone text := COALESCE(i_time_zone, pg_catalog.current_setting('TimeZone'));
    v_next timestamptz;
BEGIN
    IF i_name IS NULL THEN
        RAISE EXCEPTION 'schedule name must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF pg_catalog.length(i_name) OPERATOR(pg_catalog.=) 0
       OR pg_catalog.length(i_name) OPERATOR(pg_catalog.>) 200 THEN
        RAISE EXCEPTION 'schedule name must be 1 to 200 characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF i_catch_up IS NULL OR i_catch_up NOT IN ('once', 'skip') THEN
        RAISE EXCEPTION 'catch_up must be ''once'' or ''skip'', not %',
                        COALESCE(pg_catalog.quote_literal(i_catch_up), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- the job must be publishable
    PERFORM jobs.check_job(i_task, i_timeout, i_priority, i_max_retries);
    v_next := jobs.cron_next(i_cron, pg_catalog.now(), v_zone);
    INSERT INTO jobs.recurring AS r
           (name, cron, time_zone, task, body, timeout, priority,
            max_retries, catch_up, next_run_at)
    VALUES (i_name, i_cron, v_zone, i_task, i_body, i_timeout, i_priority,
            i_max_retries, i_catch_up, v_next)
    ON CONFLICT (name) DO UPDATE
        SET cron = EXCLUDED.cron, time_zone = EXCLUDED.time_zone,
            task = EXCLUDED.task, body = EXCLUDED.body,
            timeout = EXCLUDED.timeout, priority = EXCLUDED.priority,
            max_retries = EXCLUDED.max_retries, catch_up = EXCLUDED.catch_up,
            next_run_at = EXCLUDED.next_run_at;
    RETURN v_next;
END
$$;

COMMENT ON FUNCTION jobs.schedule(text, text, varchar, jsonb, text, numeric, integer, integer, text) IS
    'pgjobs: create or replace a recurring job (five-field cron expression)';

CREATE FUNCTION jobs.unschedule(i_name text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM jobs.recurring WHERE name OPERATOR(pg_catalog.=) i_name;
    RETURN FOUND;
END
$$;

COMMENT ON FUNCTION jobs.unschedule(text) IS
    'pgjobs: remove a recurring job; false if there was none';

-- ----------------------------------------------------------------------
-- Function: jobs.run_schedules()
--
--      Publishes every due occurrence of the recurring jobs, each in the
--      same transaction as the move of its schedule's next_run_at, with the
--      schedule row locked (SKIP LOCKED: two runners never publish one
--      occurrence twice).  The maintenance worker and jobs.maintain() call
--      it; call it from pg_cron when neither runs.
--
-- Returns:
--      how many jobs were published
--
-- Tables written:
--      jobs.recurring, jobs.job_queue
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.run_schedules()
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    v_now timestamptz := pg_catalog.clock_timestamp();
    v_published bigint := 0;
    v_job bigint;
BEGIN
    FOR r IN
        SELECT * FROM jobs.recurring
         WHERE next_run_at OPERATOR(pg_catalog.<=) v_now
         ORDER BY next_run_at
         FOR UPDATE SKIP LOCKED
    LOOP
        v_job := NULL;
        BEGIN
            IF r.catch_up OPERATOR(pg_catalog.=) 'once'
               OR r.next_run_at OPERATOR(pg_catalog.>=)
                  (v_now OPERATOR(pg_catalog.-) interval '60 seconds') THEN
                v_job := jobs.publish(r.task, r.body, NULL, r.timeout,
                                      r.priority, r.max_retries);
            END IF;
            UPDATE jobs.recurring
               SET next_run_at = jobs.cron_next(r.cron, v_now, r.time_zone),
                   last_run_at = CASE WHEN v_job IS NULL THEN last_run_at ELSE v_now END,
                   last_job_id = COALESCE(v_job, last_job_id)
             WHERE name OPERATOR(pg_catalog.=) r.name;
            IF v_job IS NOT NULL THEN
                v_published := v_published OPERATOR(pg_catalog.+) 1;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            -- one broken schedule (say, its time zone was removed) must
            -- not stop the others: report it and try it again in a minute
            RAISE WARNING 'pgjobs: recurring job "%" could not be published: %',
                          r.name, SQLERRM;
            UPDATE jobs.recurring
               SET next_run_at = v_now OPERATOR(pg_catalog.+) interval '60 seconds'
             WHERE name OPERATOR(pg_catalog.=) r.name;
        END;
    END LOOP;
    RETURN v_published;
END
$$;

COMMENT ON FUNCTION jobs.run_schedules() IS
    'pgjobs: publish the due occurrences of recurring jobs, each exactly once';

-- The statements these functions run are planned once per session and
-- kept.  Planned while the queue is empty (a worker that starts before the
-- first job), a claim or an ack would otherwise be kept as a sequential
-- scan of the queue, and stay one however large the queue grows: their
-- plans must use the indexes whatever the statistics say.
ALTER FUNCTION jobs.consume(integer, numeric) SET enable_seqscan = off;
ALTER FUNCTION jobs.consume_topic(text, integer, numeric) SET enable_seqscan = off;
ALTER FUNCTION jobs.ack(bigint, jsonb, integer) SET enable_seqscan = off;
ALTER FUNCTION jobs.ack_and_consume(bigint, integer, jsonb, integer, text) SET enable_seqscan = off;
ALTER FUNCTION jobs.nack(bigint, text, timestamptz, integer) SET enable_seqscan = off;
ALTER FUNCTION jobs.expire() SET enable_seqscan = off;
ALTER FUNCTION jobs.maintain() SET enable_seqscan = off;
ALTER FUNCTION jobs.ack_batch(bigint[], jsonb[], integer[]) SET enable_seqscan = off;
ALTER FUNCTION jobs.nack_batch(bigint[], text, timestamptz, integer[]) SET enable_seqscan = off;
ALTER FUNCTION jobs.touch(bigint, numeric, integer) SET enable_seqscan = off;
ALTER FUNCTION jobs.progress(bigint, double precision, text, integer) SET enable_seqscan = off;
ALTER FUNCTION jobs.release(bigint, timestamptz, integer) SET enable_seqscan = off;
ALTER FUNCTION jobs.cancel(bigint, text) SET enable_seqscan = off;
ALTER FUNCTION jobs.retry(bigint) SET enable_seqscan = off;
ALTER FUNCTION jobs.retry_topic(text, boolean) SET enable_seqscan = off;

-- ---------------------------------------------------------------------------
-- Security (1.1): roles, SECURITY DEFINER functions, topic grants, owners
-- ---------------------------------------------------------------------------

-- jobs.topic_grant restricts roles to topic patterns (by role OID: a
-- renamed role keeps its grants, and a new role of a dropped role's name
-- does not inherit them): a role with grants
-- here (its own, or those of a role whose privileges it has) may publish
-- only tasks matching a pattern it may publish, and consume only tasks
-- matching one it may consume.  Roles without grants are not restricted
-- beyond their function privileges.  Set with jobs.grant_topic and
-- jobs.revoke_topic; sessions cache it like jobs.topic_control.
CREATE TABLE jobs.topic_grant (
    role         regrole     NOT NULL,
    pattern      text        NOT NULL,
    can_publish  boolean     NOT NULL DEFAULT true,
    can_consume  boolean     NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT topic_grant_pkey PRIMARY KEY (role, pattern)
);

COMMENT ON TABLE jobs.topic_grant IS
    'pgjobs: the topic patterns restricted roles may publish and consume (jobs.grant_topic, jobs.revoke_topic)';

SELECT pg_catalog.pg_extension_config_dump('jobs.topic_grant', '');

CREATE TRIGGER topic_grant_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON jobs.topic_grant
    FOR EACH STATEMENT EXECUTE FUNCTION jobs.topic_control_changed();

-- ----------------------------------------------------------------------
-- Functions: jobs.grant_topic(role, pattern, publish, consume),
--            jobs.revoke_topic(role, pattern)
--
--      Restrict a role to topic patterns (see jobs.topic_grant).  Enforced
--      in C by publish, publish_bulk, consume, consume_topic and by every
--      function that ends or changes a claim, with SQLSTATE 42501.
--      Granting a pattern again replaces what it allows.
--
-- Parameters:
--      i_role      - the role (a name; it must exist)
--      i_pattern   - topic pattern, as for jobs.consume_topic
--      i_publish   - the role may publish matching tasks (default true)
--      i_consume   - the role may consume matching tasks (default true)
--
-- Returns:
--      revoke_topic: how many grants it removed (all the role's when
--      i_pattern is NULL)
--
-- Tables written:
--      jobs.topic_grant
-- ----------------------------------------------------------------------
CREATE FUNCTION jobs.grant_topic(
    i_role          text,
    i_pattern       text,
    i_publish       boolean DEFAULT true,
    i_consume       boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_role regrole;
BEGIN
    -- the role's name exactly as it is (no identifier parsing, no case folding)
    SELECT r.oid::pg_catalog.regrole INTO v_role FROM pg_catalog.pg_roles r
     WHERE r.rolname OPERATOR(pg_catalog.=) i_role;
    IF v_role IS NULL THEN
        RAISE EXCEPTION 'role "%" does not exist', i_role
            USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM jobs.check_topic_pattern(i_pattern);
    IF i_publish IS NULL OR i_consume IS NULL THEN
        RAISE EXCEPTION 'i_publish and i_consume must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT (i_publish OR i_consume) THEN
        RAISE EXCEPTION 'a topic grant must allow publishing or consuming'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use jobs.revoke_topic to remove a grant.';
    END IF;
    INSERT INTO jobs.topic_grant AS g (role, pattern, can_publish, can_consume)
    VALUES (v_role, i_pattern, i_publish, i_consume)
    ON CONFLICT (role, pattern) DO UPDATE
        SET can_publish = EXCLUDED.can_publish, can_consume = EXCLUDED.can_consume;
END
$$;

COMMENT ON FUNCTION jobs.grant_topic(text, text, boolean, boolean) IS
    'pgjobs: let a role publish and/or consume only tasks matching the topic patterns granted to it';

CREATE FUNCTION jobs.revoke_topic(i_role text, i_pattern text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_count bigint;
BEGIN
    DELETE FROM jobs.topic_grant
     WHERE role::pg_catalog.oid OPERATOR(pg_catalog.=)
           (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) i_role)
       AND (i_pattern IS NULL OR pattern OPERATOR(pg_catalog.=) i_pattern);
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$$;

COMMENT ON FUNCTION jobs.revoke_topic(text, text) IS
    'pgjobs: remove a role''s topic grant (all of them when i_pattern is NULL)';

-- The group roles.  Roles belong to the cluster, not to a database: they
-- are created when missing and outlive DROP EXTENSION.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['pgjobs_producer', 'pgjobs_consumer', 'pgjobs_admin',
                             'pgjobs_tenant'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                        WHERE rolname OPERATOR(pg_catalog.=) r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        ELSIF EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                       WHERE rolname OPERATOR(pg_catalog.=) r
                         AND (rolcanlogin OR rolsuper OR rolcreaterole OR rolcreatedb
                              OR rolreplication OR rolbypassrls)) THEN
            -- a role made beforehand by someone else would get every right
            RAISE EXCEPTION 'role "%" exists and is not a plain NOLOGIN group role', r
                USING ERRCODE = 'duplicate_object',
                      HINT = 'pgjobs creates its group roles itself; drop the role, or make it NOLOGIN without other attributes.';
        END IF;
    END LOOP;
END
$$;

-- Every function that reads or writes the tables runs as the extension's
-- owner with a pinned search_path: the roles need no privilege on the
-- tables, which they cannot write directly.  (Every name in the C
-- statements and the PL/pgSQL bodies is qualified as well.)
ALTER FUNCTION jobs.publish(varchar, jsonb, timestamptz, numeric, integer, integer, text, text, boolean)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION jobs.publish_bulk(jobs.bulk_job[])
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION jobs.consume(integer, numeric)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION jobs.consume_topic(text, integer, numeric)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION jobs.ack(bigint, jsonb, integer)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION jobs.ack_and_consume(bigint, integer, jsonb, integer, text)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION jobs.nack(bigint, text, timestamptz, integer)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION jobs.ack_batch(bigint[], jsonb[], integer[])
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION jobs.nack_batch(bigint[], text, timestamptz, integer[])
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION jobs.touch(bigint, numeric, integer)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION jobs.progress(bigint, double precision, text, integer)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION jobs.release(bigint, timestamptz, integer)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION jobs.expire()
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION jobs.maintain()
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION jobs.cancel(bigint, text)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION jobs.retry(bigint)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION jobs.retry_topic(text, boolean)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION jobs.wake_consumers()
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION jobs.pause(text) SECURITY DEFINER;
ALTER FUNCTION jobs.resume(text) SECURITY DEFINER;
ALTER FUNCTION jobs.set_limit(text, integer, double precision, integer) SECURITY DEFINER;
ALTER FUNCTION jobs.schedule(text, text, varchar, jsonb, text, numeric, integer, integer, text)
    SECURITY DEFINER;
ALTER FUNCTION jobs.unschedule(text) SECURITY DEFINER;
ALTER FUNCTION jobs.run_schedules() SECURITY DEFINER;
ALTER FUNCTION jobs.grant_topic(text, text, boolean, boolean) SECURITY DEFINER;
ALTER FUNCTION jobs.revoke_topic(text, text) SECURITY DEFINER;

-- Privileges: nothing for PUBLIC; each group role gets what it needs.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA jobs FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA jobs FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA jobs FROM PUBLIC;

GRANT USAGE ON SCHEMA jobs TO pgjobs_producer, pgjobs_consumer, pgjobs_admin;
-- the views: tenants see their own jobs only (jobs.sees_all_jobs)
GRANT SELECT ON jobs.all, jobs.running, jobs.expired, jobs.dead_letter
    TO pgjobs_producer, pgjobs_consumer;
GRANT EXECUTE ON FUNCTION
    jobs.publish(varchar, jsonb, timestamptz, numeric, integer, integer, text, text, boolean),
    jobs.publish_bulk(jobs.bulk_job[]),
    jobs.check_topic_pattern(text),
    jobs.sees_all_jobs()
    TO pgjobs_producer;
GRANT EXECUTE ON FUNCTION
    jobs.consume(integer, numeric),
    jobs.consume_topic(text, integer, numeric),
    jobs.ack(bigint, jsonb, integer),
    jobs.ack_and_consume(bigint, integer, jsonb, integer, text),
    jobs.nack(bigint, text, timestamptz, integer),
    jobs.ack_batch(bigint[], jsonb[], integer[]),
    jobs.nack_batch(bigint[], text, timestamptz, integer[]),
    jobs.touch(bigint, numeric, integer),
    jobs.progress(bigint, double precision, text, integer),
    jobs.release(bigint, timestamptz, integer),
    jobs.retry_delay(integer),
    jobs.check_topic_pattern(text),
    jobs.sees_all_jobs()
    TO pgjobs_consumer;
-- the administrator: every function and every table, read only
GRANT pgjobs_producer, pgjobs_consumer TO pgjobs_admin;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA jobs TO pgjobs_admin;
REVOKE EXECUTE ON FUNCTION jobs.topic_control_changed() FROM pgjobs_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA jobs TO pgjobs_admin;
