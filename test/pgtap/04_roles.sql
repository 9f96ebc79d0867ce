-- pgTAP API contract, part 4: the README's roles, and search_path safety.
--
-- The README's privilege recipe (an app_producer that publishes, an
-- app_worker that consumes, acks and nacks) must work as written, and a role
-- must not get further than its grants allow, even through the plans a
-- backend keeps across calls.  Objects in a caller's search_path must not
-- capture what pgjobs' own statements call.  Everything is rolled back,
-- roles and schemas included.

BEGIN;
SELECT plan(23);

SET LOCAL TimeZone = 'UTC';

-- ---------------------------------------------------------------------------
-- search_path capture.  The README and catalog.c promise that objects in a
-- caller's schemas cannot capture what pgjobs' statements call.  This runs
-- first, so the backend's kept plans are first used here.
-- ---------------------------------------------------------------------------

CREATE SCHEMA tap_evil;
CREATE FUNCTION tap_evil.now() RETURNS timestamptz
    LANGUAGE sql STABLE AS $$SELECT '2000-01-01 00:00+00'::timestamptz$$;
CREATE FUNCTION tap_evil.always(bigint, bigint) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS $$SELECT true$$;
CREATE OPERATOR tap_evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = tap_evil.always);
CREATE FUNCTION tap_evil.millennium(numeric, interval) RETURNS interval
    LANGUAGE sql IMMUTABLE AS $$SELECT interval '1000 years'$$;
CREATE OPERATOR tap_evil.* (LEFTARG = numeric, RIGHTARG = interval, FUNCTION = tap_evil.millennium);

-- Callers with hostile search_paths.  The first leaves pg_catalog implicitly
-- first, as every default search_path does: only a better-matching operator
-- can capture (numeric * interval beats pg_catalog's float8 * interval).
CREATE FUNCTION tap_evil.consume_as_usual(integer) RETURNS SETOF bigint
    LANGUAGE sql SET search_path = tap_evil, public
    AS $$SELECT job_id FROM jobs.consume($1)$$;
CREATE FUNCTION tap_evil.publish_hostile(text) RETURNS bigint
    LANGUAGE sql SET search_path = tap_evil, pg_catalog, public
    AS $$SELECT jobs.publish($1)$$;
CREATE FUNCTION tap_evil.ack_hostile(bigint) RETURNS void
    LANGUAGE sql SET search_path = tap_evil, pg_catalog, public
    AS $$SELECT jobs.ack($1)$$;

CREATE TEMP TABLE tap_ids (label text PRIMARY KEY, job_id bigint NOT NULL);
GRANT ALL ON tap_ids TO PUBLIC;

INSERT INTO tap_ids SELECT 'capture.1', jobs.publish('tap.capture.1', i_priority => 2000);
INSERT INTO tap_ids SELECT 'capture.2', jobs.publish('tap.capture.2', i_priority => 1999);
SELECT is(
    (SELECT array_agg(c ORDER BY c) FROM tap_evil.consume_as_usual(2) AS c),
    (SELECT array_agg(job_id ORDER BY job_id) FROM tap_ids WHERE label LIKE 'capture.%'),
    'consume under search_path = tap_evil, public claims the two jobs');
SELECT is(
    (SELECT array_agg(q.expires_at - q.started_at)
       FROM tap_ids i JOIN jobs.job_queue q USING (job_id) WHERE i.label LIKE 'capture.%'),
    ARRAY[interval '60 seconds', interval '60 seconds'],
    'a numeric * interval operator in the caller''s search_path does not capture the lease');

INSERT INTO tap_ids SELECT 'capture.3', tap_evil.publish_hostile('tap.capture.3');
SELECT is(
    (SELECT q.scheduled_at FROM tap_ids i JOIN jobs.job_queue q USING (job_id)
      WHERE i.label = 'capture.3'),
    pg_catalog.now(),
    'a now() ahead of pg_catalog in the caller''s search_path does not capture publish''s default');

SELECT lives_ok(
    format('SELECT tap_evil.ack_hostile(%s)', (SELECT job_id FROM tap_ids WHERE label = 'capture.1')),
    'ack with an = operator ahead of pg_catalog in the caller''s search_path');
SELECT results_eq(
    $$SELECT a.status::text AS status FROM tap_ids i JOIN jobs.all a USING (job_id)
       WHERE i.label IN ('capture.1', 'capture.2') ORDER BY i.label$$,
    ARRAY['succeeded', 'running'],
    'that = operator does not capture ack''s job_id match: exactly the acked job finished');

-- ---------------------------------------------------------------------------
-- The README's recipe, verbatim but for the role names
-- ---------------------------------------------------------------------------

CREATE ROLE pgjobs_tap_producer NOLOGIN;
CREATE ROLE pgjobs_tap_worker NOLOGIN;
GRANT USAGE ON SCHEMA jobs TO pgjobs_tap_producer, pgjobs_tap_worker;
GRANT EXECUTE ON FUNCTION jobs.publish(varchar, jsonb, timestamptz, numeric, integer, integer),
                          jobs.publish_bulk(jobs.bulk_job[]) TO pgjobs_tap_producer;
GRANT INSERT, SELECT (job_id) ON jobs.job_queue TO pgjobs_tap_producer;   -- publish returns the new id
GRANT USAGE ON SEQUENCE jobs.job_id_seq TO pgjobs_tap_producer;
GRANT EXECUTE ON FUNCTION jobs.consume(integer, numeric), jobs.consume_topic(text, integer, numeric),
                          jobs.ack(bigint, jsonb, integer), jobs.nack(bigint, text, timestamptz, integer),
                          jobs.expire(), jobs.retry_delay(integer) TO pgjobs_tap_worker;
GRANT SELECT, UPDATE, DELETE ON jobs.job_queue TO pgjobs_tap_worker;
GRANT INSERT, SELECT ON jobs.job TO pgjobs_tap_worker;

-- A role that may call the functions but has no table privileges at all.
CREATE ROLE pgjobs_tap_exec_only NOLOGIN;
GRANT USAGE ON SCHEMA jobs TO pgjobs_tap_exec_only;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA jobs TO pgjobs_tap_exec_only;

-- Jobs for the worker, published by the superuser so that the worker's
-- checks do not depend on the producer's.
INSERT INTO tap_ids SELECT 'work.1', jobs.publish('tap.work.1', i_priority => 1000);
INSERT INTO tap_ids SELECT 'work.2', jobs.publish('tap.work.2', i_priority => 999);

-- The producer.
SET LOCAL ROLE pgjobs_tap_producer;
SELECT lives_ok($$SELECT jobs.publish('tap.producer')$$,
    'the README''s producer can call jobs.publish');
SELECT lives_ok($$SELECT job_id FROM jobs.publish('tap.producer', i_priority => -1)$$,
    'the README''s producer can call SELECT job_id FROM jobs.publish(...)');
SELECT lives_ok(
    $$SELECT * FROM jobs.publish_bulk(ARRAY[ROW('tap.producer.bulk', NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job])$$,
    'the README''s producer can call jobs.publish_bulk');
SELECT throws_ok($$SELECT * FROM jobs.consume(1)$$, '42501',
    'permission denied for function consume', 'the producer cannot consume');
SELECT throws_ok($$SELECT jobs.ack(1)$$, '42501',
    'permission denied for function ack', 'the producer cannot ack');
SELECT throws_ok($$SELECT count(*) FROM jobs.job$$, '42501',
    'permission denied for table job', 'the producer cannot read finished jobs');
RESET ROLE;

-- The worker.
SET LOCAL ROLE pgjobs_tap_worker;
SELECT results_eq($$SELECT task::text FROM jobs.consume(2)$$,
    ARRAY['tap.work.1', 'tap.work.2'],
    'the README''s worker can consume');
SELECT lives_ok(
    format('SELECT jobs.ack(%s, %L)', (SELECT job_id FROM tap_ids WHERE label = 'work.1'), '{"by": "worker"}'),
    'the README''s worker can ack');
SELECT lives_ok(
    format('SELECT jobs.nack(%s, %L)', (SELECT job_id FROM tap_ids WHERE label = 'work.2'), 'worker failed'),
    'the README''s worker can nack (with the backoff of jobs.retry_delay)');
SELECT lives_ok($$SELECT jobs.expire()$$, 'the README''s worker can call jobs.expire');
SELECT throws_ok($$SELECT jobs.publish('tap.worker')$$, '42501',
    'permission denied for function publish', 'the worker cannot publish');
SELECT throws_ok($$SELECT nextval('jobs.job_id_seq')$$, '42501',
    'permission denied for sequence job_id_seq', 'the worker cannot draw ids');
RESET ROLE;

SELECT results_eq(
    $$SELECT a.status::text AS status, a.attempts, a.last_error, a.result
        FROM tap_ids i JOIN jobs.all a USING (job_id)
       WHERE i.label LIKE 'work.%' ORDER BY i.label$$,
    $$VALUES ('succeeded', 1, NULL, '{"by": "worker"}'::jsonb),
             ('pending', 1, 'worker failed', NULL)$$,
    'the worker''s ack and nack took effect');

-- Function privileges without table privileges get nowhere, although this
-- backend already keeps prepared plans for every statement involved.
SET LOCAL ROLE pgjobs_tap_exec_only;
SELECT throws_ok($$SELECT jobs.publish('tap.exec_only')$$, '42501',
    'permission denied for table job_queue',
    'EXECUTE on jobs.publish alone does not let a role insert jobs');
SELECT throws_ok($$SELECT * FROM jobs.consume(1)$$, '42501',
    'permission denied for table job_queue',
    'EXECUTE on jobs.consume alone does not let a role claim jobs');
SELECT throws_ok(
    format('SELECT jobs.ack(%s)', (SELECT job_id FROM tap_ids WHERE label = 'capture.2')),
    '42501', NULL, 'EXECUTE on jobs.ack alone does not let a role finish jobs');
RESET ROLE;

SELECT is(
    (SELECT count(*)::int FROM jobs.job_queue WHERE task = 'tap.exec_only'),
    0, 'the exec-only role queued nothing');
SELECT is(
    (SELECT status::text FROM tap_ids i JOIN jobs.job_queue q USING (job_id) WHERE i.label = 'capture.2'),
    'running', 'the exec-only role finished nothing');

SELECT * FROM finish();
ROLLBACK;
