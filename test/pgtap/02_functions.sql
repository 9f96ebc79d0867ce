-- pgTAP API contract, part 2: function signatures and privileges.
--
-- The compatibility contract: every jobs function keeps its name, argument
-- types, argument names and defaults (callers use named notation) and its
-- result type.  PUBLIC can execute no jobs function and has no privilege on
-- any jobs table, view or sequence; roles get only what is granted to them.
-- Everything is rolled back, including the role created here.

BEGIN;
SELECT plan(49);

-- ---------------------------------------------------------------------------
-- The set of functions
-- ---------------------------------------------------------------------------

SELECT functions_are('jobs', ARRAY[
    'publish', 'publish_bulk', 'consume', 'consume_topic', 'ack', 'nack',
    'expire', 'retry_delay', 'maintain'], 'jobs has exactly the expected functions');
SELECT is(
    (SELECT count(*)::int FROM pg_catalog.pg_proc WHERE pronamespace = 'jobs'::regnamespace),
    9, 'no jobs function is overloaded');

-- Language, volatility, strictness, set-returning, SECURITY DEFINER.
-- consume/publish must stay VOLATILE: a STABLE claim could be folded or
-- cached by the planner.
SELECT results_eq(
    $$SELECT p.proname::text COLLATE "default", l.lanname::text COLLATE "default",
             p.provolatile::text, p.proisstrict, p.proretset, p.prosecdef
        FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
       WHERE p.pronamespace = 'jobs'::regnamespace
       ORDER BY p.proname$$,
    $$VALUES ('ack',           'c', 'v', false, false, false),
             ('consume',       'c', 'v', false, true,  false),
             ('consume_topic', 'c', 'v', false, true,  false),
             ('expire',        'c', 'v', false, false, false),
             ('maintain',      'c', 'v', false, false, false),
             ('nack',          'c', 'v', false, false, false),
             ('publish',       'c', 'v', false, false, false),
             ('publish_bulk',  'c', 'v', false, true,  false),
             ('retry_delay',   'c', 'v', true,  false, false)$$,
    'jobs functions: language C, volatile, strictness, set-returning, not SECURITY DEFINER');

-- jobs.maintain() -> (expired, pruned)
SELECT has_function('jobs', 'maintain', ARRAY[]::text[], 'jobs.maintain() exists');
SELECT is(
    pg_catalog.pg_get_function_result('jobs.maintain()'::regprocedure),
    'record', 'jobs.maintain returns a record (OUT expired bigint, OUT pruned bigint)');

-- ---------------------------------------------------------------------------
-- jobs.publish(i_task, i_body, i_scheduled_at, i_timeout, i_priority, i_max_retries)
-- ---------------------------------------------------------------------------

SELECT has_function('jobs', 'publish',
    ARRAY['character varying', 'jsonb', 'timestamp with time zone', 'numeric', 'integer', 'integer'],
    'jobs.publish(varchar, jsonb, timestamptz, numeric, integer, integer) exists');
SELECT function_returns('jobs', 'publish',
    ARRAY['character varying', 'jsonb', 'timestamp with time zone', 'numeric', 'integer', 'integer'],
    'bigint', 'jobs.publish returns bigint');
SELECT is(
    pg_catalog.pg_get_function_arguments('jobs.publish(varchar, jsonb, timestamptz, numeric, integer, integer)'::regprocedure),
    'i_task character varying, i_body jsonb DEFAULT NULL::jsonb, '
    'i_scheduled_at timestamp with time zone DEFAULT NULL::timestamp with time zone, '
    'i_timeout numeric DEFAULT NULL::numeric, i_priority integer DEFAULT NULL::integer, '
    'i_max_retries integer DEFAULT NULL::integer, OUT job_id bigint',
    'jobs.publish argument names, all-NULL defaults and OUT job_id');
SELECT is(
    (SELECT pronargdefaults::int FROM pg_catalog.pg_proc
      WHERE oid = 'jobs.publish(varchar, jsonb, timestamptz, numeric, integer, integer)'::regprocedure),
    5, 'jobs.publish: every argument after i_task has a default');
SELECT is(
    (SELECT proargnames FROM pg_catalog.pg_proc
      WHERE oid = 'jobs.publish(varchar, jsonb, timestamptz, numeric, integer, integer)'::regprocedure),
    ARRAY['i_task', 'i_body', 'i_scheduled_at', 'i_timeout', 'i_priority', 'i_max_retries', 'job_id'],
    'jobs.publish proargnames');

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
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
