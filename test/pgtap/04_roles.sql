-- pgTAP API contract, part 4: the README's roles, and search_path safety.
--
-- The README's privilege recipe (an app_producer that publishes, unique
-- jobs included, an app_worker that consumes, acks and nacks, one by one or
-- in batches, heartbeats, reports progress and gives jobs back, under topic
-- controls) must work as written, and a role must not get further than its
-- grants allow, even through the plans a backend keeps across calls.
-- Objects in a caller's search_path must not capture what pgjobs' own
-- statements call, in 1.0's functions and in 1.1's (unique publish, touch,
-- progress, release, ack_batch, nack_batch, cancel, retry, retry_topic, a
-- claim under topic controls).  Everything is rolled back, roles and
-- schemas included.

BEGIN;
SELECT plan(83);

SET LOCAL TimeZone = 'UTC';
SET LOCAL pgjobs.retry_backoff_base = 2;

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
-- search_path capture in the 1.1 functions.  More hostile objects: an = on
-- text and a LIKE (~~) that match everything, a timestamptz + interval that
-- lands in 2000, an integer - that jumps, <= and > on integers that swap a
-- retry for a failure, and a count(*) that counts nothing.  Each C function
-- is called through a function whose search_path puts tap_evil before
-- pg_catalog; its kept plans are first prepared here.
-- ---------------------------------------------------------------------------

CREATE FUNCTION tap_evil.always_text(text, text) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS $$SELECT true$$;
CREATE OPERATOR tap_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = tap_evil.always_text);
CREATE OPERATOR tap_evil.~~ (LEFTARG = text, RIGHTARG = text, FUNCTION = tap_evil.always_text);
CREATE FUNCTION tap_evil.y2k(timestamptz, interval) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE AS $$SELECT '2000-01-01 00:00+00'::timestamptz$$;
CREATE OPERATOR tap_evil.+ (LEFTARG = timestamptz, RIGHTARG = interval, FUNCTION = tap_evil.y2k);
CREATE FUNCTION tap_evil.jump(integer, integer) RETURNS integer
    LANGUAGE sql IMMUTABLE AS $$SELECT 1000$$;
CREATE OPERATOR tap_evil.- (LEFTARG = integer, RIGHTARG = integer, FUNCTION = tap_evil.jump);
CREATE FUNCTION tap_evil.never_int(integer, integer) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS $$SELECT false$$;
CREATE FUNCTION tap_evil.always_int(integer, integer) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS $$SELECT true$$;
CREATE OPERATOR tap_evil.<= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = tap_evil.never_int);
CREATE OPERATOR tap_evil.> (LEFTARG = integer, RIGHTARG = integer, FUNCTION = tap_evil.always_int);
CREATE FUNCTION tap_evil.nothing(bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE AS $$SELECT 0::bigint$$;
CREATE AGGREGATE tap_evil.count(*) (SFUNC = tap_evil.nothing, STYPE = bigint, INITCOND = '0');

CREATE FUNCTION tap_evil.publish_unique(text, text) RETURNS bigint
    LANGUAGE sql SET search_path = tap_evil, pg_catalog, public
    AS $$SELECT jobs.publish($1, NULL, NULL, NULL, -100, NULL, $2)$$;
CREATE FUNCTION tap_evil.touch_hostile(bigint, numeric) RETURNS timestamptz
    LANGUAGE sql SET search_path = tap_evil, pg_catalog, public
    AS $$SELECT jobs.touch($1, $2)$$;
CREATE FUNCTION tap_evil.progress_hostile(bigint, float8) RETURNS void
    LANGUAGE sql SET search_path = tap_evil, pg_catalog, public
    AS $$SELECT jobs.progress($1, $2, 'hostile')$$;
CREATE FUNCTION tap_evil.release_hostile(bigint) RETURNS void
    LANGUAGE sql SET search_path = tap_evil, pg_catalog, public
    AS $$SELECT jobs.release($1)$$;
CREATE FUNCTION tap_evil.ack_batch_hostile(bigint[]) RETURNS SETOF bigint
    LANGUAGE sql SET search_path = tap_evil, pg_catalog, public
    AS $$SELECT job_id FROM jobs.ack_batch($1)$$;
CREATE FUNCTION tap_evil.nack_batch_hostile(bigint[]) RETURNS SETOF bigint
    LANGUAGE sql SET search_path = tap_evil, pg_catalog, public
    AS $$SELECT job_id FROM jobs.nack_batch($1, 'hostile')$$;
CREATE FUNCTION tap_evil.cancel_hostile(bigint) RETURNS text
    LANGUAGE sql SET search_path = tap_evil, pg_catalog, public
    AS $$SELECT jobs.cancel($1)$$;
CREATE FUNCTION tap_evil.retry_hostile(bigint) RETURNS bigint
    LANGUAGE sql SET search_path = tap_evil, pg_catalog, public
    AS $$SELECT jobs.retry($1)$$;
CREATE FUNCTION tap_evil.retry_topic_hostile(text) RETURNS bigint
    LANGUAGE sql SET search_path = tap_evil, pg_catalog, public
    AS $$SELECT jobs.retry_topic($1)$$;
CREATE FUNCTION tap_evil.consume_hostile(integer) RETURNS SETOF text
    LANGUAGE sql SET search_path = tap_evil, pg_catalog, public
    AS $$SELECT task::text FROM jobs.consume($1)$$;
CREATE FUNCTION tap_evil.unschedule_hostile(text) RETURNS boolean
    LANGUAGE sql SET search_path = tap_evil, pg_catalog, public
    AS $$SELECT jobs.unschedule($1)$$;

-- A unique publish: the key lookup after a conflict is not captured by
-- the = on text (it would match the other keyed jobs too and fail).
INSERT INTO tap_ids SELECT 'cap.key.a', tap_evil.publish_unique('tap.cap.key', 'a');
INSERT INTO tap_ids SELECT 'cap.key.other', jobs.publish('tap.cap.key.other', i_unique_key => 'a', i_priority => -100);
SELECT is(
    tap_evil.publish_unique('tap.cap.key', 'a'),
    (SELECT job_id FROM tap_ids WHERE label = 'cap.key.a'),
    'a unique publish under a hostile search_path returns the holder of its key');
SELECT isnt(
    tap_evil.publish_unique('tap.cap.key', 'b'),
    (SELECT job_id FROM tap_ids WHERE label = 'cap.key.a'),
    'and a new job for another key');
SELECT results_eq(
    $$SELECT count(*)::int, bool_and(scheduled_at = pg_catalog.now())
        FROM jobs.job_queue WHERE task = 'tap.cap.key'$$,
    $$VALUES (2, true)$$,
    'two jobs for two keys, scheduled at pg_catalog.now(), not at the captured now()');

-- Running jobs for the lease functions, claimed by the superuser.
INSERT INTO tap_ids
SELECT 'cap.run.' || n, jobs.publish('tap.cap.run.' || n, i_priority => 3000 - n, i_timeout => 60)
  FROM generate_series(1, 6) n;
SELECT is((SELECT count(*)::int FROM jobs.consume_topic('tap.cap.run.%', 6)), 6,
    'six jobs claimed for the lease functions');

SELECT ok(
    tap_evil.touch_hostile((SELECT job_id FROM tap_ids WHERE label = 'cap.run.1'), 300)
        > pg_catalog.clock_timestamp() + interval '299 seconds',
    'touch under a hostile search_path: the + on timestamptz does not capture the new lease');
SELECT results_eq(
    $$SELECT i.label, q.expires_at > pg_catalog.now() + interval '200 seconds'
        FROM tap_ids i JOIN jobs.job_queue q USING (job_id)
       WHERE i.label LIKE 'cap.run.%' ORDER BY i.label$$,
    $$VALUES ('cap.run.1', true), ('cap.run.2', false), ('cap.run.3', false),
             ('cap.run.4', false), ('cap.run.5', false), ('cap.run.6', false)$$,
    'and the = on bigint does not capture its job match: only that job''s lease moved');

SELECT lives_ok(
    format('SELECT tap_evil.progress_hostile(%s, 0.75)', (SELECT job_id FROM tap_ids WHERE label = 'cap.run.1')),
    'progress under a hostile search_path');
SELECT results_eq(
    $$SELECT i.label, q.progress FROM tap_ids i JOIN jobs.job_queue q USING (job_id)
       WHERE i.label LIKE 'cap.run.%' AND q.progress IS NOT NULL$$,
    $$VALUES ('cap.run.1', 0.75::float8)$$,
    'only that job''s progress was recorded');

SELECT lives_ok(
    format('SELECT tap_evil.release_hostile(%s)', (SELECT job_id FROM tap_ids WHERE label = 'cap.run.2')),
    'release under a hostile search_path');
SELECT results_eq(
    $$SELECT i.label, q.status::text, q.attempts FROM tap_ids i JOIN jobs.job_queue q USING (job_id)
       WHERE i.label LIKE 'cap.run.%' AND q.status <> 'running'$$,
    $$VALUES ('cap.run.2', 'pending', 0)$$,
    'only that job went back, its attempt count down by exactly one (no captured -)');
UPDATE jobs.job_queue SET priority = -100
 WHERE job_id = (SELECT job_id FROM tap_ids WHERE label = 'cap.run.2');

SELECT results_eq(
    format('SELECT * FROM tap_evil.ack_batch_hostile(ARRAY[%s])',
           (SELECT job_id FROM tap_ids WHERE label = 'cap.run.3')),
    $$SELECT job_id FROM tap_ids WHERE label = 'cap.run.3'$$,
    'ack_batch under a hostile search_path acks and returns exactly its job');
SELECT results_eq(
    format('SELECT * FROM tap_evil.nack_batch_hostile(ARRAY[%s])',
           (SELECT job_id FROM tap_ids WHERE label = 'cap.run.4')),
    $$SELECT job_id FROM tap_ids WHERE label = 'cap.run.4'$$,
    'nack_batch under a hostile search_path nacks and returns exactly its job');
SELECT results_eq(
    $$SELECT i.label, a.status::text, a.scheduled_at > pg_catalog.now() + interval '0.5 seconds', a.last_error
        FROM tap_ids i JOIN jobs.all a USING (job_id)
       WHERE i.label LIKE 'cap.run.%' ORDER BY i.label$$,
    $$VALUES ('cap.run.1', 'running', false, NULL), ('cap.run.2', 'pending', false, NULL),
             ('cap.run.3', 'succeeded', false, NULL), ('cap.run.4', 'pending', true, 'hostile'),
             ('cap.run.5', 'running', false, NULL), ('cap.run.6', 'running', false, NULL)$$,
    'the nacked job is retried after its backoff (no captured <=, > or +); the others untouched');

SELECT is(
    tap_evil.cancel_hostile((SELECT job_id FROM tap_ids WHERE label = 'cap.run.5')),
    'cancelling', 'cancel under a hostile search_path');
SELECT results_eq(
    $$SELECT i.label FROM tap_ids i JOIN jobs.job_queue q USING (job_id)
       WHERE q.cancel_requested_at IS NOT NULL$$,
    $$VALUES ('cap.run.5')$$,
    'only that job''s cancellation was requested');

-- Failed jobs to redrive.
INSERT INTO tap_ids
SELECT 'cap.dead.' || n, jobs.publish('tap.cap.dead.' || n, i_max_retries => 0, i_priority => 3000)
  FROM generate_series(1, 3) n;
SELECT is(
    (SELECT count(*)::int FROM jobs.consume_topic('tap.cap.dead.%', 3) c, LATERAL jobs.nack(c.job_id, 'dead') n),
    3, 'three jobs failed');
INSERT INTO tap_ids SELECT 'cap.other.dead', jobs.publish('tap.cap.other', i_max_retries => 0, i_priority => 3000);
SELECT is(
    (SELECT count(*)::int FROM jobs.consume_topic('tap.cap.other', 1) c, LATERAL jobs.nack(c.job_id, 'dead') n),
    1, 'a failed job of another topic');
SELECT is(
    tap_evil.retry_hostile((SELECT job_id FROM tap_ids WHERE label = 'cap.dead.1')),
    (SELECT job_id FROM tap_ids WHERE label = 'cap.dead.1'),
    'retry under a hostile search_path');
SELECT is(tap_evil.retry_topic_hostile('tap.cap.dead.%'), 2::bigint,
    'retry_topic under a hostile search_path: the LIKE on text does not capture its pattern');
SELECT results_eq(
    $$SELECT i.label, a.status::text FROM tap_ids i JOIN jobs.all a USING (job_id)
       WHERE i.label LIKE 'cap.%dead%' ORDER BY i.label$$,
    $$VALUES ('cap.dead.1', 'pending'), ('cap.dead.2', 'pending'), ('cap.dead.3', 'pending'),
             ('cap.other.dead', 'failed')$$,
    'exactly the jobs of the topic were redriven');
UPDATE jobs.job_queue SET priority = -100
 WHERE job_id IN (SELECT job_id FROM tap_ids WHERE label LIKE 'cap.dead.%');

-- A claim under topic controls: a paused topic, a concurrency limit of 1
-- with one job of it running, and a rate limit with a bucket of 1.  A
-- captured LIKE would block every task (or none), a captured count(*)
-- would ignore the concurrency limit, a captured = on text would spend the
-- tokens of every pattern.
SELECT lives_ok($$SELECT jobs.pause('tap.cap.paused.%')$$, 'a paused topic');
SELECT lives_ok($$SELECT jobs.set_limit('tap.cap.lim.%', i_max_running => 1)$$, 'a limited topic');
SELECT lives_ok($$SELECT jobs.set_limit('tap.cap.rate.%', i_rate => 1000, i_burst => 1)$$,
    'a rate-limited topic');
INSERT INTO tap_ids SELECT 'cap.lim.1', jobs.publish('tap.cap.lim.1', i_priority => 3000);
SELECT is((SELECT task::text FROM jobs.consume_topic('tap.cap.lim.%', 5)), 'tap.cap.lim.1',
    'one job of the limited topic runs');
INSERT INTO tap_ids SELECT 'cap.lim.2', jobs.publish('tap.cap.lim.2', i_priority => 3000);
INSERT INTO tap_ids SELECT 'cap.paused', jobs.publish('tap.cap.paused.1', i_priority => 3000);
INSERT INTO tap_ids SELECT 'cap.free', jobs.publish('tap.cap.free', i_priority => 2999);
INSERT INTO tap_ids
SELECT 'cap.rate.' || n, jobs.publish('tap.cap.rate.' || n, i_priority => 3000) FROM generate_series(1, 2) n;
SELECT results_eq(
    $$SELECT * FROM tap_evil.consume_hostile(2)$$,
    ARRAY['tap.cap.rate.1', 'tap.cap.free'],
    'consume under a hostile search_path skips the paused topic, the full limited one and the '
    'rate-limited one once its token is spent, though their jobs come first');
SELECT results_eq(
    $$SELECT pattern, tokens FROM jobs.topic_control ORDER BY pattern$$,
    $$VALUES ('tap.cap.lim.%', NULL::float8), ('tap.cap.paused.%', NULL), ('tap.cap.rate.%', 0)$$,
    'only the rate-limited pattern''s bucket was spent, by one token');
SELECT results_eq(
    $$SELECT i.label, q.status::text FROM tap_ids i JOIN jobs.job_queue q USING (job_id)
       WHERE i.label IN ('cap.lim.2', 'cap.paused', 'cap.free', 'cap.rate.1', 'cap.rate.2')
       ORDER BY i.label$$,
    $$VALUES ('cap.free', 'running'), ('cap.lim.2', 'pending'), ('cap.paused', 'pending'),
             ('cap.rate.1', 'running'), ('cap.rate.2', 'pending')$$,
    'the paused job and the jobs over the limits are still pending');

-- The PL/pgSQL functions pin their search_path.
SELECT lives_ok(
    $$SELECT jobs.schedule('tap-cap-1', '@daily', 'tap.cap.sched'), jobs.schedule('tap-cap-2', '@daily', 'tap.cap.sched')$$,
    'two schedules');
SELECT is(tap_evil.unschedule_hostile('tap-cap-1'), true, 'unschedule under a hostile search_path');
SELECT results_eq($$SELECT name FROM jobs.recurring WHERE name LIKE 'tap-cap-%'$$, ARRAY['tap-cap-2'],
    'the = on text does not capture its name match: only that schedule went');

-- Leave no control and nothing claimable behind for the role checks below.
DELETE FROM jobs.topic_control;
DELETE FROM jobs.job_queue WHERE job_id IN (SELECT job_id FROM tap_ids WHERE label LIKE 'cap.%');

-- ---------------------------------------------------------------------------
-- The README's recipe, verbatim but for the role names
-- ---------------------------------------------------------------------------

CREATE ROLE pgjobs_tap_producer NOLOGIN;
CREATE ROLE pgjobs_tap_worker NOLOGIN;
GRANT USAGE ON SCHEMA jobs TO pgjobs_tap_producer, pgjobs_tap_worker;
-- producers publish
GRANT EXECUTE ON FUNCTION
    jobs.publish(varchar, jsonb, timestamptz, numeric, integer, integer, text, text, boolean),
    jobs.publish_bulk(jobs.bulk_job[]) TO pgjobs_tap_producer;
GRANT INSERT, SELECT (job_id) ON jobs.job_queue TO pgjobs_tap_producer;   -- publish returns the new id
-- unique jobs (i_unique_key) also look up the holder of the key ...
GRANT SELECT (task, unique_key, status, unique_while_running) ON jobs.job_queue TO pgjobs_tap_producer;
-- ... and i_on_duplicate => 'replace' updates it (ON CONFLICT DO UPDATE reads what it replaces,
-- which lets the producer read those columns of every queued job)
GRANT SELECT (body, scheduled_at, timeout, priority, max_retries),
      UPDATE (body, scheduled_at, timeout, priority, max_retries, unique_while_running)
   ON jobs.job_queue TO pgjobs_tap_producer;
GRANT USAGE ON SEQUENCE jobs.job_id_seq TO pgjobs_tap_producer;
-- workers consume, ack and nack, and heartbeat, report progress, give jobs back
GRANT EXECUTE ON FUNCTION jobs.consume(integer, numeric), jobs.consume_topic(text, integer, numeric),
                          jobs.ack(bigint, jsonb, integer), jobs.nack(bigint, text, timestamptz, integer),
                          jobs.ack_batch(bigint[], jsonb[], integer[]),
                          jobs.nack_batch(bigint[], text, timestamptz, integer[]),
                          jobs.touch(bigint, numeric, integer),
                          jobs.progress(bigint, double precision, text, integer),
                          jobs.release(bigint, timestamptz, integer),
                          jobs.expire(), jobs.retry_delay(integer) TO pgjobs_tap_worker;
GRANT SELECT, UPDATE, DELETE ON jobs.job_queue TO pgjobs_tap_worker;
GRANT INSERT, SELECT ON jobs.job TO pgjobs_tap_worker;
-- consumers read the topic controls, and lock and update a limited topic's row
GRANT SELECT, UPDATE (tokens, refilled_at) ON jobs.topic_control TO pgjobs_tap_worker;

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
SELECT lives_ok($$SELECT jobs.publish('tap.producer.unique', i_unique_key => 'u')$$,
    'the README''s producer can publish a unique job');
SELECT lives_ok(
    $$SELECT jobs.publish('tap.producer.unique', '{"v": 2}', i_unique_key => 'u', i_on_duplicate => 'replace')$$,
    'the README''s producer can publish with i_on_duplicate => replace');
SELECT throws_ok($$SELECT * FROM jobs.consume(1)$$, '42501',
    'permission denied for function consume', 'the producer cannot consume');
SELECT throws_ok($$SELECT jobs.cancel(1)$$, '42501',
    'permission denied for function cancel', 'the producer cannot cancel (not in the recipe)');
SELECT throws_ok($$SELECT jobs.ack(1)$$, '42501',
    'permission denied for function ack', 'the producer cannot ack');
SELECT throws_ok($$SELECT count(*) FROM jobs.job$$, '42501',
    'permission denied for table job', 'the producer cannot read finished jobs');
RESET ROLE;
SELECT results_eq(
    $$SELECT count(*)::int, min(body::text) FROM jobs.job_queue WHERE task = 'tap.producer.unique'$$,
    $$VALUES (1, '{"v": 2}')$$,
    'the producer''s two unique publishes queued one job, replaced');

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
RESET ROLE;

-- The worker with the 1.1 calls, under a concurrency and a rate limit.
SELECT lives_ok(
    $$SELECT jobs.set_limit('tap.w11.lim.%', i_max_running => 2), jobs.set_limit('tap.w11.%', i_rate => 1000)$$,
    'a concurrency and a rate limit for the worker''s next jobs');
INSERT INTO tap_ids
SELECT 'w11.' || n, jobs.publish('tap.w11.lim.' || n, i_priority => 1000 - n) FROM generate_series(1, 5) n;
SET LOCAL ROLE pgjobs_tap_worker;
SELECT is((SELECT count(*)::int FROM jobs.consume_topic('tap.w11.%', 5)), 2,
    'the README''s worker consumes under topic controls, up to the limit');
SELECT ok(
    (SELECT jobs.touch(job_id, 30) FROM tap_ids i JOIN jobs.job_queue q USING (job_id)
      WHERE i.label = 'w11.1') > now(),
    'the README''s worker can touch');
SELECT lives_ok(
    format('SELECT jobs.progress(%s, 0.5)', (SELECT job_id FROM tap_ids WHERE label = 'w11.1')),
    'the README''s worker can record progress');
SELECT lives_ok(
    format('SELECT jobs.release(%s)', (SELECT job_id FROM tap_ids WHERE label = 'w11.2')),
    'the README''s worker can release');
SELECT is(
    (SELECT count(*)::int FROM jobs.ack_batch((SELECT array_agg(job_id) FROM tap_ids WHERE label = 'w11.1'))),
    1, 'the README''s worker can ack_batch');
SELECT is((SELECT count(*)::int FROM jobs.consume_topic('tap.w11.%', 5)), 2,
    'it consumes again up to the limit');
SELECT is(
    (SELECT count(*)::int FROM jobs.nack_batch(
        (SELECT array_agg(job_id) FROM jobs.job_queue WHERE task LIKE 'tap.w11.%' AND status = 'running'),
        'worker failed')),
    2, 'the README''s worker can nack_batch');
SELECT throws_ok($$SELECT jobs.pause('tap.%')$$, '42501',
    'permission denied for function pause', 'the worker cannot pause topics');
SELECT throws_ok($$SELECT jobs.cancel(1)$$, '42501',
    'permission denied for function cancel', 'the worker cannot cancel');
SELECT throws_ok($$SELECT jobs.retry(1)$$, '42501',
    'permission denied for function retry', 'the worker cannot redrive');
SELECT throws_ok($$UPDATE jobs.topic_control SET paused = true$$, '42501',
    'permission denied for table topic_control',
    'the worker cannot pause topics by writing jobs.topic_control either');
RESET ROLE;
DELETE FROM jobs.topic_control;
SET LOCAL ROLE pgjobs_tap_worker;
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
-- (1.1 reads jobs.topic_control first: the denial names that table.)
SELECT throws_ok($$SELECT * FROM jobs.consume(1)$$, '42501', NULL,
    'EXECUTE on jobs.consume alone does not let a role claim jobs');
SELECT throws_ok(
    format('SELECT jobs.ack(%s)', (SELECT job_id FROM tap_ids WHERE label = 'capture.2')),
    '42501', NULL, 'EXECUTE on jobs.ack alone does not let a role finish jobs');
SELECT throws_ok(
    format('SELECT * FROM jobs.ack_batch(ARRAY[%s])', (SELECT job_id FROM tap_ids WHERE label = 'capture.2')),
    '42501', NULL, 'EXECUTE on jobs.ack_batch alone does not let a role finish jobs');
SELECT throws_ok(
    format('SELECT * FROM jobs.nack_batch(ARRAY[%s])', (SELECT job_id FROM tap_ids WHERE label = 'capture.2')),
    '42501', NULL, 'EXECUTE on jobs.nack_batch alone does not let a role fail jobs');
SELECT throws_ok(
    format('SELECT jobs.touch(%s)', (SELECT job_id FROM tap_ids WHERE label = 'capture.2')),
    '42501', NULL, 'EXECUTE on jobs.touch alone does not let a role extend a lease');
SELECT throws_ok(
    format('SELECT jobs.progress(%s, 0.5)', (SELECT job_id FROM tap_ids WHERE label = 'capture.2')),
    '42501', NULL, 'EXECUTE on jobs.progress alone does not let a role write progress');
SELECT throws_ok(
    format('SELECT jobs.release(%s)', (SELECT job_id FROM tap_ids WHERE label = 'capture.2')),
    '42501', NULL, 'EXECUTE on jobs.release alone does not let a role give a job back');
SELECT throws_ok(
    format('SELECT jobs.cancel(%s)', (SELECT job_id FROM tap_ids WHERE label = 'capture.2')),
    '42501', NULL, 'EXECUTE on jobs.cancel alone does not let a role cancel');
SELECT throws_ok(
    format('SELECT jobs.retry(%s)', (SELECT job_id FROM tap_ids WHERE label = 'work.1')),
    '42501', NULL, 'EXECUTE on jobs.retry alone does not let a role redrive');
SELECT throws_ok($$SELECT jobs.retry_topic('%')$$,
    '42501', NULL, 'EXECUTE on jobs.retry_topic alone does not let a role redrive');
SELECT throws_ok($$SELECT jobs.publish('tap.exec_only', i_unique_key => 'x')$$, '42501',
    'permission denied for table job_queue',
    'EXECUTE on jobs.publish alone does not let a role queue a unique job');
SELECT throws_ok($$SELECT jobs.pause('tap.%')$$, '42501',
    'permission denied for table topic_control',
    'EXECUTE on jobs.pause alone does not let a role pause (SECURITY INVOKER)');
SELECT throws_ok($$SELECT jobs.schedule('tap-exec', '@daily', 'tap.exec_only')$$, '42501', NULL,
    'EXECUTE on jobs.schedule alone does not let a role schedule');
RESET ROLE;

SELECT is(
    (SELECT count(*)::int FROM jobs.job_queue WHERE task = 'tap.exec_only'),
    0, 'the exec-only role queued nothing');
SELECT is(
    (SELECT status::text FROM tap_ids i JOIN jobs.job_queue q USING (job_id) WHERE i.label = 'capture.2'),
    'running', 'the exec-only role finished nothing');
SELECT results_eq(
    $$SELECT q.expires_at - q.started_at, q.progress, q.cancel_requested_at
        FROM tap_ids i JOIN jobs.job_queue q USING (job_id) WHERE i.label = 'capture.2'$$,
    $$VALUES (interval '60 seconds', NULL::float8, NULL::timestamptz)$$,
    'the exec-only role touched, recorded and cancelled nothing');
SELECT is_empty($$SELECT * FROM jobs.topic_control$$, 'the exec-only role paused nothing');
SELECT is_empty($$SELECT * FROM jobs.recurring WHERE name = 'tap-exec'$$,
    'the exec-only role scheduled nothing');

SELECT * FROM finish();
ROLLBACK;
