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
ALTER TABLE jobs.job_queue SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0.05
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

-- ---------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC.  Grant what each role needs (README).
-- ---------------------------------------------------------------------------

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA jobs FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA jobs FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA jobs FROM PUBLIC;
