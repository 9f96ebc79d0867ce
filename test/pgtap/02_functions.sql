-- pgTAP API contract, part 2: function signatures and privileges.
--
-- The compatibility contract: every jobs function keeps its name, argument
-- types, argument names and defaults (callers use named notation) and its
-- result type.  The security contract (1.1): every function that touches
-- the tables is SECURITY DEFINER, runs as the extension's owner and pins
-- search_path to exactly pg_catalog, pg_temp; only the C helpers that touch
-- no table (retry_delay, cron_next, check_topic_pattern, check_job,
-- sees_all_jobs) and
-- the trigger function run as their caller.  1.2 adds ack_and_consume.  PUBLIC can execute no jobs
-- function and has no privilege on any jobs table, view or sequence; a role
-- outside the group roles can do nothing (what each group role may do is
-- 04_roles.sql).  Everything is rolled back, including the role created
-- here.

BEGIN;
SELECT plan(145);

-- ---------------------------------------------------------------------------
-- The set of functions
-- ---------------------------------------------------------------------------

SELECT functions_are('jobs', ARRAY[
    'publish', 'publish_bulk', 'consume', 'consume_topic', 'ack', 'nack',
    'expire', 'retry_delay', 'maintain',
    -- 1.1
    'ack_batch', 'nack_batch', 'touch', 'progress', 'release', 'cancel', 'retry',
    'retry_topic', 'pause', 'resume', 'set_limit', 'check_topic_pattern',
    'topic_control_changed', 'wake_consumers', 'cron_next', 'schedule', 'unschedule',
    'run_schedules', 'check_job', 'grant_topic', 'revoke_topic', 'sees_all_jobs',
    -- 1.2
    'ack_and_consume'],
    'jobs has exactly the expected functions');
SELECT is(
    (SELECT count(*)::int FROM pg_catalog.pg_proc WHERE pronamespace = 'jobs'::regnamespace),
    32, 'no jobs function is overloaded (1.1 replaced publish, it did not overload it)');

-- Language, volatility, strictness, set-returning, SECURITY DEFINER, and
-- the settings each function pins (proconfig).  consume/publish must stay
-- VOLATILE: a STABLE claim could be folded or cached by the planner.  The
-- functions that scan the queue pin enable_seqscan = off (their statements
-- are planned on the indexes whatever the statistics); every SECURITY
-- DEFINER function pins search_path = pg_catalog, pg_temp (after
-- enable_seqscan where both are set).  None is STRICT but retry_delay: the
-- C functions raise a clean error for a NULL they cannot take.
SELECT results_eq(
    $$SELECT p.proname::text COLLATE "default", l.lanname::text COLLATE "default",
             p.provolatile::text, p.proisstrict, p.proretset, p.prosecdef,
             p.proconfig::text COLLATE "default"
        FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
       WHERE p.pronamespace = 'jobs'::regnamespace
       ORDER BY p.proname$$,
    $$VALUES ('ack',                   'c',       'v', false, false, true,  '{enable_seqscan=off,"search_path=pg_catalog, pg_temp"}'),
             ('ack_and_consume',       'c',       'v', false, true,  true,  '{enable_seqscan=off,"search_path=pg_catalog, pg_temp"}'),
             ('ack_batch',             'c',       'v', false, true,  true,  '{enable_seqscan=off,"search_path=pg_catalog, pg_temp"}'),
             ('cancel',                'c',       'v', false, false, true,  '{enable_seqscan=off,"search_path=pg_catalog, pg_temp"}'),
             ('check_job',             'c',       'i', false, false, false, NULL),
             ('check_topic_pattern',   'c',       'i', false, false, false, NULL),
             ('consume',               'c',       'v', false, true,  true,  '{enable_seqscan=off,"search_path=pg_catalog, pg_temp"}'),
             ('consume_topic',         'c',       'v', false, true,  true,  '{enable_seqscan=off,"search_path=pg_catalog, pg_temp"}'),
             ('cron_next',             'c',       's', false, false, false, NULL),
             ('expire',                'c',       'v', false, false, true,  '{enable_seqscan=off,"search_path=pg_catalog, pg_temp"}'),
             ('grant_topic',           'plpgsql', 'v', false, false, true,  '{"search_path=pg_catalog, pg_temp"}'),
             ('maintain',              'c',       'v', false, false, true,  '{enable_seqscan=off,"search_path=pg_catalog, pg_temp"}'),
             ('nack',                  'c',       'v', false, false, true,  '{enable_seqscan=off,"search_path=pg_catalog, pg_temp"}'),
             ('nack_batch',            'c',       'v', false, true,  true,  '{enable_seqscan=off,"search_path=pg_catalog, pg_temp"}'),
             ('pause',                 'plpgsql', 'v', false, false, true,  '{"search_path=pg_catalog, pg_temp"}'),
             ('progress',              'c',       'v', false, false, true,  '{enable_seqscan=off,"search_path=pg_catalog, pg_temp"}'),
             ('publish',               'c',       'v', false, false, true,  '{"search_path=pg_catalog, pg_temp"}'),
             ('publish_bulk',          'c',       'v', false, true,  true,  '{"search_path=pg_catalog, pg_temp"}'),
             ('release',               'c',       'v', false, false, true,  '{enable_seqscan=off,"search_path=pg_catalog, pg_temp"}'),
             ('resume',                'plpgsql', 'v', false, false, true,  '{"search_path=pg_catalog, pg_temp"}'),
             ('retry',                 'c',       'v', false, false, true,  '{enable_seqscan=off,"search_path=pg_catalog, pg_temp"}'),
             ('retry_delay',           'c',       'v', true,  false, false, NULL),
             ('retry_topic',           'c',       'v', false, false, true,  '{enable_seqscan=off,"search_path=pg_catalog, pg_temp"}'),
             ('revoke_topic',          'plpgsql', 'v', false, false, true,  '{"search_path=pg_catalog, pg_temp"}'),
             ('run_schedules',         'plpgsql', 'v', false, false, true,  '{"search_path=pg_catalog, pg_temp"}'),
             ('schedule',              'plpgsql', 'v', false, false, true,  '{"search_path=pg_catalog, pg_temp"}'),
             ('sees_all_jobs',         'c',       's', false, false, false, NULL),
             ('set_limit',             'plpgsql', 'v', false, false, true,  '{"search_path=pg_catalog, pg_temp"}'),
             ('topic_control_changed', 'c',       'v', false, false, false, NULL),
             ('touch',                 'c',       'v', false, false, true,  '{enable_seqscan=off,"search_path=pg_catalog, pg_temp"}'),
             ('unschedule',            'plpgsql', 'v', false, false, true,  '{"search_path=pg_catalog, pg_temp"}'),
             ('wake_consumers',        'c',       'v', false, false, true,  '{"search_path=pg_catalog, pg_temp"}')$$,
    'jobs functions: language, volatility, strictness, set-returning, SECURITY DEFINER, pinned settings');

-- Whatever functions are added later: a PL/pgSQL (or SQL) function resolves
-- names at run time, so it must pin search_path to pg_catalog, pg_temp, or a
-- caller's schema could capture what it calls; a SECURITY DEFINER function
-- runs as the extension's owner, so it must pin exactly that search_path
-- once (no schema a caller can create objects in, pg_temp last), or a
-- caller's objects would run with the owner's rights.
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text
        FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
       WHERE p.pronamespace = 'jobs'::regnamespace AND l.lanname <> 'c'
         AND NOT ('search_path=pg_catalog, pg_temp' = ANY (COALESCE(p.proconfig, '{}')))$$,
    'every jobs function not written in C pins search_path = pg_catalog, pg_temp');
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text, p.proconfig::text
        FROM pg_catalog.pg_proc p
       WHERE p.pronamespace = 'jobs'::regnamespace AND p.prosecdef
         AND (SELECT pg_catalog.array_agg(c) FROM unnest(COALESCE(p.proconfig, '{}')) c
               WHERE c LIKE 'search_path=%')
             IS DISTINCT FROM ARRAY['search_path=pg_catalog, pg_temp']$$,
    'every SECURITY DEFINER jobs function pins search_path to exactly pg_catalog, pg_temp, once');
SELECT set_eq(
    $$SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p
       WHERE p.pronamespace = 'jobs'::regnamespace AND NOT p.prosecdef$$,
    ARRAY['jobs.retry_delay(integer)', 'jobs.cron_next(text,timestamp with time zone,text)',
          'jobs.check_topic_pattern(text)', 'jobs.check_job(character varying,numeric,integer,integer)',
          'jobs.sees_all_jobs()', 'jobs.topic_control_changed()'],
    'only the C helpers that touch no table, and the trigger function, run as their caller');
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text, p.proconfig::text
        FROM pg_catalog.pg_proc p
       WHERE p.pronamespace = 'jobs'::regnamespace AND NOT p.prosecdef AND p.proconfig IS NOT NULL$$,
    'the SECURITY INVOKER jobs functions pin no setting (they run no statement)');
-- SECURITY DEFINER runs as the function's owner: the extension's owner,
-- who owns the tables too.
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p
       WHERE p.pronamespace = 'jobs'::regnamespace
         AND p.proowner <> (SELECT extowner FROM pg_catalog.pg_extension WHERE extname = 'pgjobs')$$,
    'every jobs function is owned by the extension''s owner');
SELECT is_empty(
    $$SELECT c.oid::regclass::text FROM pg_catalog.pg_class c
       WHERE c.relnamespace = 'jobs'::regnamespace
         AND c.relowner <> (SELECT extowner FROM pg_catalog.pg_extension WHERE extname = 'pgjobs')$$,
    'every jobs table, view, sequence and index is owned by the extension''s owner');
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p
       WHERE p.pronamespace = 'jobs'::regnamespace
         AND pg_catalog.obj_description(p.oid, 'pg_proc') IS NULL
         AND p.prorettype <> 'pg_catalog.trigger'::regtype$$,
    'every jobs function but the trigger function has a comment');

-- jobs.maintain() -> (expired, pruned)
SELECT has_function('jobs', 'maintain', ARRAY[]::text[], 'jobs.maintain() exists');
SELECT is(
    pg_catalog.pg_get_function_result('jobs.maintain()'::regprocedure),
    'record', 'jobs.maintain returns a record (OUT expired bigint, OUT pruned bigint)');

-- ---------------------------------------------------------------------------
-- jobs.publish(i_task, i_body, i_scheduled_at, i_timeout, i_priority,
--              i_max_retries, i_unique_key, i_on_duplicate, i_unique_running)
-- ---------------------------------------------------------------------------

SELECT has_function('jobs', 'publish',
    ARRAY['character varying', 'jsonb', 'timestamp with time zone', 'numeric', 'integer', 'integer',
          'text', 'text', 'boolean'],
    'jobs.publish(varchar, jsonb, timestamptz, numeric, integer, integer, text, text, boolean) exists');
SELECT hasnt_function('jobs', 'publish',
    ARRAY['character varying', 'jsonb', 'timestamp with time zone', 'numeric', 'integer', 'integer'],
    'the six-argument jobs.publish of 1.0 is gone (replaced, not overloaded: calls with six arguments still resolve)');
SELECT function_returns('jobs', 'publish',
    ARRAY['character varying', 'jsonb', 'timestamp with time zone', 'numeric', 'integer', 'integer',
          'text', 'text', 'boolean'],
    'bigint', 'jobs.publish returns bigint');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.publish(varchar, jsonb, timestamptz, numeric, integer, integer, text, text, boolean)'::regprocedure),
    'i_task character varying, i_body jsonb DEFAULT NULL::jsonb, '
    'i_scheduled_at timestamp with time zone DEFAULT NULL::timestamp with time zone, '
    'i_timeout numeric DEFAULT NULL::numeric, i_priority integer DEFAULT NULL::integer, '
    'i_max_retries integer DEFAULT NULL::integer, i_unique_key text DEFAULT NULL::text, '
    'i_on_duplicate text DEFAULT ''ignore''::text, i_unique_running boolean DEFAULT false, '
    'OUT job_id bigint',
    'jobs.publish argument names, defaults and OUT job_id');
SELECT is(
    (SELECT pronargdefaults::int FROM pg_catalog.pg_proc
      WHERE oid = 'jobs.publish(varchar, jsonb, timestamptz, numeric, integer, integer, text, text, boolean)'::regprocedure),
    8, 'jobs.publish: every argument after i_task has a default');
SELECT is(
    (SELECT proargnames FROM pg_catalog.pg_proc
      WHERE oid = 'jobs.publish(varchar, jsonb, timestamptz, numeric, integer, integer, text, text, boolean)'::regprocedure),
    ARRAY['i_task', 'i_body', 'i_scheduled_at', 'i_timeout', 'i_priority', 'i_max_retries',
          'i_unique_key', 'i_on_duplicate', 'i_unique_running', 'job_id'],
    'jobs.publish proargnames: the 1.0 names first, in their positions');
SELECT is(
    (SELECT prosrc FROM pg_catalog.pg_proc
      WHERE oid = 'jobs.publish(varchar, jsonb, timestamptz, numeric, integer, integer, text, text, boolean)'::regprocedure),
    'pgjobs_publish_1_1', 'jobs.publish binds the versioned symbol pgjobs_publish_1_1');

-- ---------------------------------------------------------------------------
-- jobs.publish_bulk(i_jobs)
-- ---------------------------------------------------------------------------

SELECT has_function('jobs', 'publish_bulk', ARRAY['jobs.bulk_job[]'],
    'jobs.publish_bulk(jobs.bulk_job[]) exists');
SELECT function_returns('jobs', 'publish_bulk', ARRAY['jobs.bulk_job[]'],
    'setof bigint', 'jobs.publish_bulk returns setof bigint');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.publish_bulk(jobs.bulk_job[])'::regprocedure),
    'i_jobs jobs.bulk_job[]', 'jobs.publish_bulk argument name');
SELECT is(
    pg_catalog.pg_get_function_result('jobs.publish_bulk(jobs.bulk_job[])'::regprocedure),
    'TABLE(job_id bigint)', 'jobs.publish_bulk result column');

-- ---------------------------------------------------------------------------
-- jobs.consume(num, i_wait) and jobs.consume_topic(pattern, num, i_wait)
-- ---------------------------------------------------------------------------

SELECT has_function('jobs', 'consume', ARRAY['integer', 'numeric'], 'jobs.consume(integer, numeric) exists');
SELECT function_returns('jobs', 'consume', ARRAY['integer', 'numeric'], 'setof record',
    'jobs.consume returns a set of rows');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.consume(integer, numeric)'::regprocedure),
    'num integer, i_wait numeric DEFAULT 0', 'jobs.consume argument names; i_wait defaults to no wait');
SELECT is(
    pg_catalog.pg_get_function_result('jobs.consume(integer, numeric)'::regprocedure),
    'TABLE(job_id bigint, task character varying, body jsonb, attempt integer, '
    'max_retries integer, priority integer, timeout numeric, '
    'created_at timestamp with time zone, scheduled_at timestamp with time zone, '
    'expires_at timestamp with time zone)',
    'jobs.consume result columns');

SELECT has_function('jobs', 'consume_topic', ARRAY['text', 'integer', 'numeric'],
    'jobs.consume_topic(text, integer, numeric) exists');
SELECT function_returns('jobs', 'consume_topic', ARRAY['text', 'integer', 'numeric'], 'setof record',
    'jobs.consume_topic returns a set of rows');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.consume_topic(text, integer, numeric)'::regprocedure),
    'pattern text, num integer, i_wait numeric DEFAULT 0', 'jobs.consume_topic argument names; i_wait defaults to no wait');
SELECT is(
    pg_catalog.pg_get_function_result('jobs.consume_topic(text, integer, numeric)'::regprocedure),
    pg_catalog.pg_get_function_result('jobs.consume(integer, numeric)'::regprocedure),
    'jobs.consume_topic returns the same columns as jobs.consume');

-- ---------------------------------------------------------------------------
-- jobs.ack(i_job_id, i_result, i_attempt) and
-- jobs.nack(i_job_id, i_traceback, i_schedule_at, i_attempt)
-- ---------------------------------------------------------------------------

SELECT has_function('jobs', 'ack', ARRAY['bigint', 'jsonb', 'integer'],
    'jobs.ack(bigint, jsonb, integer) exists');
SELECT function_returns('jobs', 'ack', ARRAY['bigint', 'jsonb', 'integer'], 'void', 'jobs.ack returns void');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.ack(bigint, jsonb, integer)'::regprocedure),
    'i_job_id bigint, i_result jsonb DEFAULT NULL::jsonb, i_attempt integer DEFAULT NULL::integer',
    'jobs.ack argument names and defaults');

SELECT has_function('jobs', 'nack', ARRAY['bigint', 'text', 'timestamp with time zone', 'integer'],
    'jobs.nack(bigint, text, timestamptz, integer) exists');
SELECT function_returns('jobs', 'nack', ARRAY['bigint', 'text', 'timestamp with time zone', 'integer'],
    'void', 'jobs.nack returns void');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.nack(bigint, text, timestamptz, integer)'::regprocedure),
    'i_job_id bigint, i_traceback text DEFAULT NULL::text, '
    'i_schedule_at timestamp with time zone DEFAULT NULL::timestamp with time zone, '
    'i_attempt integer DEFAULT NULL::integer',
    'jobs.nack argument names and defaults');

-- ---------------------------------------------------------------------------
-- 1.2: jobs.ack_and_consume(i_job_id, num, i_result, i_attempt, i_pattern)
-- ---------------------------------------------------------------------------

SELECT has_function('jobs', 'ack_and_consume', ARRAY['bigint', 'integer', 'jsonb', 'integer', 'text'],
    'jobs.ack_and_consume(bigint, integer, jsonb, integer, text) exists');
SELECT function_returns('jobs', 'ack_and_consume', ARRAY['bigint', 'integer', 'jsonb', 'integer', 'text'],
    'setof record', 'jobs.ack_and_consume returns a set of rows');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.ack_and_consume(bigint, integer, jsonb, integer, text)'::regprocedure),
    'i_job_id bigint, num integer DEFAULT 1, i_result jsonb DEFAULT NULL::jsonb, '
    'i_attempt integer DEFAULT NULL::integer, i_pattern text DEFAULT NULL::text',
    'jobs.ack_and_consume argument names and defaults (ack''s names, consume''s num, consume_topic''s pattern)');
SELECT is(
    (SELECT pronargdefaults::int FROM pg_catalog.pg_proc
      WHERE oid = 'jobs.ack_and_consume(bigint, integer, jsonb, integer, text)'::regprocedure),
    4, 'jobs.ack_and_consume: every argument after i_job_id has a default');
SELECT is(
    pg_catalog.pg_get_function_result('jobs.ack_and_consume(bigint, integer, jsonb, integer, text)'::regprocedure),
    pg_catalog.pg_get_function_result('jobs.consume(integer, numeric)'::regprocedure),
    'jobs.ack_and_consume returns the same columns as jobs.consume');
SELECT results_eq(
    $$SELECT prosrc COLLATE "default", prorows::int FROM pg_catalog.pg_proc
       WHERE oid = 'jobs.ack_and_consume(bigint, integer, jsonb, integer, text)'::regprocedure$$,
    $$VALUES ('pgjobs_ack_and_consume', 10)$$,
    'jobs.ack_and_consume binds pgjobs_ack_and_consume and is estimated at 10 rows, as consume');

-- ---------------------------------------------------------------------------
-- jobs.expire() and jobs.retry_delay(i_attempt)
-- ---------------------------------------------------------------------------

SELECT has_function('jobs', 'expire', ARRAY[]::text[], 'jobs.expire() exists');
SELECT function_returns('jobs', 'expire', ARRAY[]::text[], 'bigint', 'jobs.expire returns bigint');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.expire()'::regprocedure),
    '', 'jobs.expire takes no arguments');

SELECT has_function('jobs', 'retry_delay', ARRAY['integer'], 'jobs.retry_delay(integer) exists');
SELECT function_returns('jobs', 'retry_delay', ARRAY['integer'], 'interval',
    'jobs.retry_delay returns interval');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.retry_delay(integer)'::regprocedure),
    'i_attempt integer', 'jobs.retry_delay argument name, no default');

-- ---------------------------------------------------------------------------
-- 1.1: batches, leases, progress, release, cancel, redrive
-- ---------------------------------------------------------------------------

SELECT has_function('jobs', 'ack_batch', ARRAY['bigint[]', 'jsonb[]', 'integer[]'],
    'jobs.ack_batch(bigint[], jsonb[], integer[]) exists');
SELECT function_returns('jobs', 'ack_batch', ARRAY['bigint[]', 'jsonb[]', 'integer[]'],
    'setof bigint', 'jobs.ack_batch returns setof bigint');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.ack_batch(bigint[], jsonb[], integer[])'::regprocedure),
    'i_job_ids bigint[], i_results jsonb[] DEFAULT NULL::jsonb[], i_attempts integer[] DEFAULT NULL::integer[]',
    'jobs.ack_batch argument names and defaults');
SELECT is(
    pg_catalog.pg_get_function_result('jobs.ack_batch(bigint[], jsonb[], integer[])'::regprocedure),
    'TABLE(job_id bigint)', 'jobs.ack_batch result column');

SELECT has_function('jobs', 'nack_batch', ARRAY['bigint[]', 'text', 'timestamp with time zone', 'integer[]'],
    'jobs.nack_batch(bigint[], text, timestamptz, integer[]) exists');
SELECT function_returns('jobs', 'nack_batch', ARRAY['bigint[]', 'text', 'timestamp with time zone', 'integer[]'],
    'setof bigint', 'jobs.nack_batch returns setof bigint');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.nack_batch(bigint[], text, timestamptz, integer[])'::regprocedure),
    'i_job_ids bigint[], i_traceback text DEFAULT NULL::text, '
    'i_schedule_at timestamp with time zone DEFAULT NULL::timestamp with time zone, '
    'i_attempts integer[] DEFAULT NULL::integer[]',
    'jobs.nack_batch argument names and defaults');
SELECT is(
    pg_catalog.pg_get_function_result('jobs.nack_batch(bigint[], text, timestamptz, integer[])'::regprocedure),
    'TABLE(job_id bigint)', 'jobs.nack_batch result column');

SELECT has_function('jobs', 'touch', ARRAY['bigint', 'numeric', 'integer'],
    'jobs.touch(bigint, numeric, integer) exists');
SELECT function_returns('jobs', 'touch', ARRAY['bigint', 'numeric', 'integer'],
    'timestamp with time zone', 'jobs.touch returns timestamptz (the new expires_at)');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.touch(bigint, numeric, integer)'::regprocedure),
    'i_job_id bigint, i_extend numeric DEFAULT NULL::numeric, i_attempt integer DEFAULT NULL::integer',
    'jobs.touch argument names and defaults');

SELECT has_function('jobs', 'progress', ARRAY['bigint', 'double precision', 'text', 'integer'],
    'jobs.progress(bigint, double precision, text, integer) exists');
SELECT function_returns('jobs', 'progress', ARRAY['bigint', 'double precision', 'text', 'integer'],
    'void', 'jobs.progress returns void');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.progress(bigint, double precision, text, integer)'::regprocedure),
    'i_job_id bigint, i_progress double precision, i_note text DEFAULT NULL::text, '
    'i_attempt integer DEFAULT NULL::integer',
    'jobs.progress argument names and defaults (i_progress required)');

SELECT has_function('jobs', 'release', ARRAY['bigint', 'timestamp with time zone', 'integer'],
    'jobs.release(bigint, timestamptz, integer) exists');
SELECT function_returns('jobs', 'release', ARRAY['bigint', 'timestamp with time zone', 'integer'],
    'void', 'jobs.release returns void');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.release(bigint, timestamptz, integer)'::regprocedure),
    'i_job_id bigint, i_schedule_at timestamp with time zone DEFAULT NULL::timestamp with time zone, '
    'i_attempt integer DEFAULT NULL::integer',
    'jobs.release argument names and defaults');

SELECT has_function('jobs', 'cancel', ARRAY['bigint', 'text'], 'jobs.cancel(bigint, text) exists');
SELECT function_returns('jobs', 'cancel', ARRAY['bigint', 'text'], 'text',
    'jobs.cancel returns text (''cancelled'' or ''cancelling'')');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.cancel(bigint, text)'::regprocedure),
    'i_job_id bigint, i_reason text DEFAULT NULL::text', 'jobs.cancel argument names and defaults');

SELECT has_function('jobs', 'retry', ARRAY['bigint'], 'jobs.retry(bigint) exists');
SELECT function_returns('jobs', 'retry', ARRAY['bigint'], 'bigint', 'jobs.retry returns bigint');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.retry(bigint)'::regprocedure),
    'i_job_id bigint', 'jobs.retry argument name, no default');

SELECT has_function('jobs', 'retry_topic', ARRAY['text', 'boolean'], 'jobs.retry_topic(text, boolean) exists');
SELECT function_returns('jobs', 'retry_topic', ARRAY['text', 'boolean'], 'bigint',
    'jobs.retry_topic returns bigint (how many)');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.retry_topic(text, boolean)'::regprocedure),
    'i_pattern text, i_include_cancelled boolean DEFAULT false',
    'jobs.retry_topic argument names and defaults');

-- ---------------------------------------------------------------------------
-- 1.1: topic controls
-- ---------------------------------------------------------------------------

SELECT has_function('jobs', 'pause', ARRAY['text'], 'jobs.pause(text) exists');
SELECT function_returns('jobs', 'pause', ARRAY['text'], 'void', 'jobs.pause returns void');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.pause(text)'::regprocedure),
    'i_pattern text', 'jobs.pause argument name');

SELECT has_function('jobs', 'resume', ARRAY['text'], 'jobs.resume(text) exists');
SELECT function_returns('jobs', 'resume', ARRAY['text'], 'boolean',
    'jobs.resume returns boolean (false: it was not paused)');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.resume(text)'::regprocedure),
    'i_pattern text', 'jobs.resume argument name');

SELECT has_function('jobs', 'set_limit', ARRAY['text', 'integer', 'double precision', 'integer'],
    'jobs.set_limit(text, integer, double precision, integer) exists');
SELECT function_returns('jobs', 'set_limit', ARRAY['text', 'integer', 'double precision', 'integer'],
    'void', 'jobs.set_limit returns void');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.set_limit(text, integer, double precision, integer)'::regprocedure),
    'i_pattern text, i_max_running integer DEFAULT NULL::integer, '
    'i_rate double precision DEFAULT NULL::double precision, i_burst integer DEFAULT NULL::integer',
    'jobs.set_limit argument names and defaults (NULL: no limit)');

SELECT has_function('jobs', 'check_topic_pattern', ARRAY['text'], 'jobs.check_topic_pattern(text) exists');
SELECT function_returns('jobs', 'check_topic_pattern', ARRAY['text'], 'void',
    'jobs.check_topic_pattern returns void');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.check_topic_pattern(text)'::regprocedure),
    'i_pattern text', 'jobs.check_topic_pattern argument name');

SELECT has_function('jobs', 'check_job', ARRAY['character varying', 'numeric', 'integer', 'integer'],
    'jobs.check_job(varchar, numeric, integer, integer) exists');
SELECT function_returns('jobs', 'check_job', ARRAY['character varying', 'numeric', 'integer', 'integer'], 'void',
    'jobs.check_job returns void');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.check_job(varchar, numeric, integer, integer)'::regprocedure),
    'i_task character varying, i_timeout numeric DEFAULT NULL::numeric, '
    'i_priority integer DEFAULT NULL::integer, i_max_retries integer DEFAULT NULL::integer',
    'jobs.check_job argument names and defaults (publish''s)');

SELECT has_function('jobs', 'topic_control_changed', ARRAY[]::text[],
    'jobs.topic_control_changed() exists');
SELECT function_returns('jobs', 'topic_control_changed', ARRAY[]::text[], 'trigger',
    'jobs.topic_control_changed is a trigger function');

SELECT has_function('jobs', 'wake_consumers', ARRAY[]::text[], 'jobs.wake_consumers() exists');
SELECT function_returns('jobs', 'wake_consumers', ARRAY[]::text[], 'void',
    'jobs.wake_consumers returns void');

-- ---------------------------------------------------------------------------
-- 1.1: recurring jobs
-- ---------------------------------------------------------------------------

SELECT has_function('jobs', 'cron_next', ARRAY['text', 'timestamp with time zone', 'text'],
    'jobs.cron_next(text, timestamptz, text) exists');
SELECT function_returns('jobs', 'cron_next', ARRAY['text', 'timestamp with time zone', 'text'],
    'timestamp with time zone', 'jobs.cron_next returns timestamptz');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.cron_next(text, timestamptz, text)'::regprocedure),
    'i_expression text, i_after timestamp with time zone DEFAULT now(), i_time_zone text DEFAULT NULL::text',
    'jobs.cron_next argument names and defaults (after: now(); zone: the session''s)');

SELECT has_function('jobs', 'schedule',
    ARRAY['text', 'text', 'character varying', 'jsonb', 'text', 'numeric', 'integer', 'integer', 'text'],
    'jobs.schedule(text, text, varchar, jsonb, text, numeric, integer, integer, text) exists');
SELECT function_returns('jobs', 'schedule',
    ARRAY['text', 'text', 'character varying', 'jsonb', 'text', 'numeric', 'integer', 'integer', 'text'],
    'timestamp with time zone', 'jobs.schedule returns timestamptz (the first run)');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.schedule(text, text, varchar, jsonb, text, numeric, integer, integer, text)'::regprocedure),
    'i_name text, i_cron text, i_task character varying, i_body jsonb DEFAULT NULL::jsonb, '
    'i_time_zone text DEFAULT NULL::text, i_timeout numeric DEFAULT NULL::numeric, '
    'i_priority integer DEFAULT NULL::integer, i_max_retries integer DEFAULT NULL::integer, '
    'i_catch_up text DEFAULT ''once''::text',
    'jobs.schedule argument names and defaults');

SELECT has_function('jobs', 'unschedule', ARRAY['text'], 'jobs.unschedule(text) exists');
SELECT function_returns('jobs', 'unschedule', ARRAY['text'], 'boolean',
    'jobs.unschedule returns boolean (false: there was none)');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.unschedule(text)'::regprocedure),
    'i_name text', 'jobs.unschedule argument name');

SELECT has_function('jobs', 'run_schedules', ARRAY[]::text[], 'jobs.run_schedules() exists');
SELECT function_returns('jobs', 'run_schedules', ARRAY[]::text[], 'bigint',
    'jobs.run_schedules returns bigint (how many published)');

-- ---------------------------------------------------------------------------
-- 1.1: topic grants and tenants
-- ---------------------------------------------------------------------------

SELECT has_function('jobs', 'grant_topic', ARRAY['text', 'text', 'boolean', 'boolean'],
    'jobs.grant_topic(text, text, boolean, boolean) exists');
SELECT function_returns('jobs', 'grant_topic', ARRAY['text', 'text', 'boolean', 'boolean'], 'void',
    'jobs.grant_topic returns void');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.grant_topic(text, text, boolean, boolean)'::regprocedure),
    'i_role text, i_pattern text, i_publish boolean DEFAULT true, i_consume boolean DEFAULT true',
    'jobs.grant_topic argument names and defaults (publish and consume)');

SELECT has_function('jobs', 'revoke_topic', ARRAY['text', 'text'], 'jobs.revoke_topic(text, text) exists');
SELECT function_returns('jobs', 'revoke_topic', ARRAY['text', 'text'], 'bigint',
    'jobs.revoke_topic returns bigint (how many grants it removed)');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.revoke_topic(text, text)'::regprocedure),
    'i_role text, i_pattern text DEFAULT NULL::text',
    'jobs.revoke_topic argument names and defaults (no pattern: every grant of the role)');

SELECT has_function('jobs', 'sees_all_jobs', ARRAY[]::text[], 'jobs.sees_all_jobs() exists');
SELECT function_returns('jobs', 'sees_all_jobs', ARRAY[]::text[], 'boolean',
    'jobs.sees_all_jobs returns boolean');
SELECT results_eq(
    $$SELECT prosrc COLLATE "default", proparallel::text FROM pg_catalog.pg_proc
       WHERE oid = 'jobs.sees_all_jobs()'::regprocedure$$,
    $$VALUES ('pgjobs_sees_all_jobs', 's')$$,
    'jobs.sees_all_jobs is C (pgjobs_sees_all_jobs), STABLE and PARALLEL SAFE (the views call it)');

-- ---------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC
-- ---------------------------------------------------------------------------

-- A NULL proacl means the default ACL, which grants EXECUTE to PUBLIC, so
-- the default is expanded before looking for grantee 0 (PUBLIC).
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text, a.privilege_type
        FROM pg_catalog.pg_proc p,
             LATERAL pg_catalog.aclexplode(
                 COALESCE(p.proacl, pg_catalog.acldefault('f', p.proowner))) a
       WHERE p.pronamespace = 'jobs'::regnamespace AND a.grantee = 0$$,
    'PUBLIC has no privilege on any jobs function');
SELECT is_empty(
    $$SELECT c.oid::regclass::text, a.privilege_type
        FROM pg_catalog.pg_class c,
             LATERAL pg_catalog.aclexplode(
                 COALESCE(c.relacl, pg_catalog.acldefault(
                     CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) a
       WHERE c.relnamespace = 'jobs'::regnamespace AND c.relkind IN ('r', 'v', 'S')
         AND a.grantee = 0$$,
    'PUBLIC has no privilege on any jobs table, view or sequence');
SELECT is_empty(
    $$SELECT c.oid::regclass::text, a.attname, x.privilege_type
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid,
             LATERAL pg_catalog.aclexplode(a.attacl) x
       WHERE c.relnamespace = 'jobs'::regnamespace AND x.grantee = 0$$,
    'PUBLIC has no column privilege in jobs');
SELECT is_empty(
    $$SELECT n.nspname, a.privilege_type
        FROM pg_catalog.pg_namespace n,
             LATERAL pg_catalog.aclexplode(
                 COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a
       WHERE n.nspname = 'jobs' AND a.grantee = 0$$,
    'PUBLIC has no privilege on schema jobs');

-- A fresh role (rolled back with the test) sees the effective privileges:
-- what PUBLIC grants, it would have.  It is given USAGE on the schema so
-- that the checks below fail on the objects, not on the schema.
CREATE ROLE pgjobs_tap_nobody NOLOGIN;
GRANT USAGE ON SCHEMA jobs TO pgjobs_tap_nobody;

SELECT is_empty(
    $$SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p
       WHERE p.pronamespace = 'jobs'::regnamespace
         AND pg_catalog.has_function_privilege('pgjobs_tap_nobody', p.oid, 'EXECUTE')$$,
    'a role without grants can execute no jobs function');
SELECT is_empty(
    $$SELECT c.oid::regclass::text, priv
        FROM pg_catalog.pg_class c,
             unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE',
                          'REFERENCES', 'TRIGGER']) AS priv
       WHERE c.relnamespace = 'jobs'::regnamespace AND c.relkind IN ('r', 'v')
         AND pg_catalog.has_table_privilege('pgjobs_tap_nobody', c.oid, priv)$$,
    'a role without grants has no privilege on any jobs table or view');
SELECT is_empty(
    $$SELECT c.oid::regclass::text, priv
        FROM pg_catalog.pg_class c, unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) AS priv
       WHERE c.relnamespace = 'jobs'::regnamespace AND c.relkind = 'S'
         AND pg_catalog.has_sequence_privilege('pgjobs_tap_nobody', c.oid, priv)$$,
    'a role without grants has no privilege on the jobs sequence');
SELECT is_empty(
    $$SELECT c.oid::regclass::text, a.attname
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
       WHERE c.relnamespace = 'jobs'::regnamespace AND c.relkind IN ('r', 'v')
         AND a.attnum > 0 AND NOT a.attisdropped
         AND pg_catalog.has_column_privilege('pgjobs_tap_nobody', c.oid, a.attnum,
                                             'SELECT, INSERT, UPDATE, REFERENCES')$$,
    'a role without grants has no column privilege in jobs');

-- And the server agrees when the role tries.
SET LOCAL ROLE pgjobs_tap_nobody;
SELECT throws_ok($$SELECT jobs.publish('tap.denied')$$, '42501',
    'permission denied for function publish',
    'a role without grants cannot call jobs.publish');
SELECT throws_ok($$SELECT * FROM jobs.consume(1)$$, '42501',
    'permission denied for function consume',
    'a role without grants cannot call jobs.consume');
SELECT throws_ok($$SELECT jobs.ack(1)$$, '42501',
    'permission denied for function ack',
    'a role without grants cannot call jobs.ack');
SELECT throws_ok($$SELECT * FROM jobs.ack_and_consume(NULL)$$, '42501',
    'permission denied for function ack_and_consume',
    'a role without grants cannot call jobs.ack_and_consume');
SELECT throws_ok($$SELECT jobs.expire()$$, '42501',
    'permission denied for function expire',
    'a role without grants cannot call jobs.expire');
SELECT throws_ok($$SELECT count(*) FROM jobs.job_queue$$, '42501',
    'permission denied for table job_queue',
    'a role without grants cannot read jobs.job_queue');
SELECT throws_ok($$SELECT count(*) FROM jobs.all$$, '42501',
    'permission denied for view all',
    'a role without grants cannot read jobs.all');
SELECT throws_ok($$INSERT INTO jobs.job_queue (task) VALUES ('tap.denied')$$, '42501',
    'permission denied for table job_queue',
    'a role without grants cannot insert into jobs.job_queue');
SELECT throws_ok($$SELECT nextval('jobs.job_id_seq')$$, '42501',
    'permission denied for sequence job_id_seq',
    'a role without grants cannot draw from jobs.job_id_seq');
SELECT throws_ok($$SELECT * FROM jobs.ack_batch(ARRAY[1]::bigint[])$$, '42501',
    'permission denied for function ack_batch',
    'a role without grants cannot call jobs.ack_batch');
SELECT throws_ok($$SELECT jobs.cancel(1)$$, '42501',
    'permission denied for function cancel',
    'a role without grants cannot call jobs.cancel');
SELECT throws_ok($$SELECT jobs.pause('tap.%')$$, '42501',
    'permission denied for function pause',
    'a role without grants cannot call jobs.pause (PL/pgSQL)');
SELECT throws_ok($$SELECT jobs.schedule('tap', '* * * * *', 'tap.denied')$$, '42501',
    'permission denied for function schedule',
    'a role without grants cannot call jobs.schedule (PL/pgSQL)');
SELECT throws_ok($$SELECT jobs.cron_next('* * * * *')$$, '42501',
    'permission denied for function cron_next',
    'a role without grants cannot call jobs.cron_next');
SELECT throws_ok($$SELECT count(*) FROM jobs.topic_control$$, '42501',
    'permission denied for table topic_control',
    'a role without grants cannot read jobs.topic_control');
SELECT throws_ok($$INSERT INTO jobs.topic_control (pattern, paused) VALUES ('%', true)$$, '42501',
    'permission denied for table topic_control',
    'a role without grants cannot pause topics by writing jobs.topic_control');
SELECT throws_ok($$SELECT count(*) FROM jobs.recurring$$, '42501',
    'permission denied for table recurring',
    'a role without grants cannot read jobs.recurring');
SELECT throws_ok($$SELECT count(*) FROM jobs.dead_letter$$, '42501',
    'permission denied for view dead_letter',
    'a role without grants cannot read jobs.dead_letter');
SELECT throws_ok($$SELECT jobs.grant_topic('pgjobs_tap_nobody', '%')$$, '42501',
    'permission denied for function grant_topic',
    'a role without grants cannot grant itself topics');
SELECT throws_ok($$SELECT jobs.revoke_topic('pgjobs_tap_nobody')$$, '42501',
    'permission denied for function revoke_topic',
    'a role without grants cannot revoke topic grants');
SELECT throws_ok($$SELECT jobs.sees_all_jobs()$$, '42501',
    'permission denied for function sees_all_jobs',
    'a role without grants cannot call jobs.sees_all_jobs');
SELECT throws_ok($$SELECT count(*) FROM jobs.topic_grant$$, '42501',
    'permission denied for table topic_grant',
    'a role without grants cannot read jobs.topic_grant');
SELECT throws_ok($$INSERT INTO jobs.topic_grant (role, pattern) VALUES ('pgjobs_tap_nobody', '%')$$, '42501',
    'permission denied for table topic_grant',
    'a role without grants cannot write jobs.topic_grant');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
