-- pgjobs 1.1 -> 1.2: jobs.ack_and_consume.  Hand-written; frozen once
-- released.

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pgjobs UPDATE TO '1.2'" to load this file. \quit

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

ALTER FUNCTION jobs.ack_and_consume(bigint, integer, jsonb, integer, text) SET enable_seqscan = off;
ALTER FUNCTION jobs.ack_and_consume(bigint, integer, jsonb, integer, text)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION jobs.ack_and_consume(bigint, integer, jsonb, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION jobs.ack_and_consume(bigint, integer, jsonb, integer, text)
    TO pgjobs_consumer, pgjobs_admin;
