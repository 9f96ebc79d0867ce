-- pgTAP API contract, part 3: the call forms clients rely on.
--
-- jobs.publish as a scalar (SELECT jobs.publish(...)) and as a row source
-- (SELECT job_id FROM jobs.publish(...)), with positional, named and mixed
-- arguments; what its NULL defaults turn into; ROW(...)::jobs.bulk_job and
-- jobs.publish_bulk; consume, consume_topic, ack, nack, expire and
-- retry_delay called with named arguments.  Everything is rolled back.

BEGIN;
SELECT plan(30);

-- Known settings, whatever the server has.
SET LOCAL TimeZone = 'UTC';
SET LOCAL pgjobs.retry_backoff_base = 2;
SET LOCAL pgjobs.retry_backoff_max = 3600;
SET LOCAL pgjobs.consume_expire_interval = 0;

-- Ids under test, by label.
CREATE TEMP TABLE tap_ids (label text PRIMARY KEY, job_id bigint NOT NULL);

-- jobs.job_queue row of a labelled job, without its id and timestamps.
CREATE TEMP VIEW tap_queued AS
SELECT i.label, q.task::text, q.body, q.status::text AS status, q.priority, q.attempts,
       q.max_retries, q.timeout, q.last_error
  FROM tap_ids i JOIN jobs.job_queue q USING (job_id);

-- ---------------------------------------------------------------------------
-- publish: the call forms
-- ---------------------------------------------------------------------------

INSERT INTO tap_ids SELECT 'scalar', jobs.publish('tap.scalar');
INSERT INTO tap_ids SELECT 'from', job_id FROM jobs.publish('tap.from');
INSERT INTO tap_ids SELECT 'star', p.* FROM jobs.publish('tap.star') AS p;

SELECT is(pg_typeof(jobs.publish('tap.typeof'))::text, 'bigint',
    'SELECT jobs.publish(...) yields a bigint');
SELECT ok((SELECT job_id FROM tap_ids WHERE label = 'scalar') > 0,
    'SELECT jobs.publish(''a'') returns a job id');
SELECT ok((SELECT job_id FROM tap_ids WHERE label = 'from') >
          (SELECT job_id FROM tap_ids WHERE label = 'scalar'),
    'SELECT job_id FROM jobs.publish(''a'') returns the next, greater id');
SELECT matches((SELECT row_to_json(s)::text FROM (SELECT * FROM jobs.publish('tap.json')) AS s),
    '^\{"job_id":[0-9]+\}$',
    'SELECT * FROM jobs.publish(...) is one column named job_id');
SELECT is((SELECT count(*)::int FROM tap_queued WHERE label IN ('scalar', 'from', 'star')), 3,
    'each call form queued exactly its job');

-- What the all-NULL defaults turn into.
SELECT results_eq(
    $$SELECT task, body, status::text AS status, priority, attempts, max_retries, timeout, last_error
        FROM tap_queued WHERE label = 'scalar'$$,
    $$VALUES ('tap.scalar', NULL::jsonb, 'pending', 0, 0, 3, 60.00::numeric, NULL::text)$$,
    'publish defaults: no body, pending, priority 0, no attempts, 3 retries, 60 s timeout');
SELECT results_eq(
    $$SELECT q.scheduled_at = now(), q.created_at = now(),
             q.started_at IS NULL, q.expires_at IS NULL
        FROM tap_ids i JOIN jobs.job_queue q USING (job_id) WHERE i.label = 'scalar'$$,
    $$VALUES (true, true, true, true)$$,
    'publish defaults: scheduled and created at the transaction''s now(), not started');

INSERT INTO tap_ids SELECT 'nulls', jobs.publish('tap.nulls', NULL, NULL, NULL, NULL, NULL);
SELECT results_eq(
    $$SELECT body, status::text AS status, priority, attempts, max_retries, timeout FROM tap_queued WHERE label = 'nulls'$$,
    $$SELECT body, status::text AS status, priority, attempts, max_retries, timeout FROM tap_queued WHERE label = 'scalar'$$,
    'explicit NULL arguments are the same as the defaults');

-- Named notation, every argument, in a shuffled order.
INSERT INTO tap_ids
SELECT 'named', jobs.publish(
    i_max_retries => 0, i_priority => 7, i_timeout => 2.5,
    i_scheduled_at => '2031-01-01 00:00+00', i_body => '{"k": 1}', i_task => 'tap.named');
SELECT results_eq(
    $$SELECT task, body, status::text AS status, priority, attempts, max_retries, timeout
        FROM tap_queued WHERE label = 'named'$$,
    $$VALUES ('tap.named', '{"k": 1}'::jsonb, 'pending', 7, 0, 0, 2.50::numeric)$$,
    'jobs.publish with every argument named');
SELECT is(
    (SELECT q.scheduled_at FROM tap_ids i JOIN jobs.job_queue q USING (job_id) WHERE i.label = 'named'),
    '2031-01-01 00:00+00'::timestamptz, 'i_scheduled_at is stored as given');

-- Positional then named, and the older := notation.
INSERT INTO tap_ids SELECT 'mixed', jobs.publish('tap.mixed', i_max_retries => 5);
INSERT INTO tap_ids SELECT 'colon', job_id FROM jobs.publish(i_task := 'tap.colon', i_priority := -2);
SELECT results_eq(
    $$SELECT label, task, priority, max_retries FROM tap_queued
       WHERE label IN ('mixed', 'colon') ORDER BY label$$,
    $$VALUES ('colon', 'tap.colon', -2, 3), ('mixed', 'tap.mixed', 0, 5)$$,
    'jobs.publish with mixed notation and with := notation');

-- ---------------------------------------------------------------------------
-- jobs.bulk_job and publish_bulk
-- ---------------------------------------------------------------------------

SELECT results_eq(
    $$SELECT (r).task::text, (r).body, (r).scheduled_at, (r).timeout, (r).priority, (r).max_retries
        FROM (SELECT ROW('tap.row', '{"a": 1}', '2030-01-01 00:00', 30, 7, 1)::jobs.bulk_job AS r) s$$,
    $$VALUES ('tap.row', '{"a": 1}'::jsonb, '2030-01-01 00:00'::timestamp, 30, 7, 1)$$,
    'ROW(task, body, scheduled_at, timeout, priority, max_retries)::jobs.bulk_job');
SELECT results_eq(
    $$SELECT (r).task::text, (r).body IS NULL AND (r).scheduled_at IS NULL AND (r).timeout IS NULL
             AND (r).priority IS NULL AND (r).max_retries IS NULL
        FROM (SELECT '(tap.literal,,,,,)'::jobs.bulk_job AS r) s$$,
    $$VALUES ('tap.literal', true)$$,
    'a record literal casts to jobs.bulk_job, empty fields NULL');
SELECT throws_ok(
    $$SELECT ROW('tap.short', NULL)::jobs.bulk_job$$, '42846', NULL,
    'a ROW with too few fields does not cast to jobs.bulk_job');

CREATE TEMP TABLE tap_bulk AS
SELECT row_number() OVER () AS n, job_id
  FROM jobs.publish_bulk(ARRAY[
           ROW('tap.bulk.1', '{"n": 1}', '2030-01-01 00:00', 30, 7, 1)::jobs.bulk_job,
           ROW('tap.bulk.2', NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job,
           ROW('tap.bulk.3', '[3]', NULL, 5, -1, 0)::jobs.bulk_job]);

SELECT is((SELECT count(*)::int FROM tap_bulk), 3, 'publish_bulk returns one id per element');
SELECT ok(
    (SELECT bool_and(job_id > prev) FROM
        (SELECT job_id, lag(job_id, 1, 0::bigint) OVER (ORDER BY n) AS prev FROM tap_bulk) s),
    'publish_bulk ids are ascending in input order');
SELECT results_eq(
    $$SELECT q.task::text, q.body, q.scheduled_at = now(), q.scheduled_at,
             q.timeout, q.priority, q.max_retries, q.status::text AS status, q.attempts
        FROM tap_bulk b JOIN jobs.job_queue q USING (job_id) ORDER BY b.n$$,
    $$VALUES ('tap.bulk.1', '{"n": 1}'::jsonb, false, '2030-01-01 00:00+00'::timestamptz,
              30.00::numeric, 7, 1, 'pending', 0),
             ('tap.bulk.2', NULL, true, now(), 60.00, 0, 3, 'pending', 0),
             ('tap.bulk.3', '[3]', true, now(), 5.00, -1, 0, 'pending', 0)$$,
    'publish_bulk stores each element, NULL fields taking publish''s defaults');

SET LOCAL TimeZone = 'Europe/Paris';
INSERT INTO tap_ids
SELECT 'bulk.tz', job_id FROM jobs.publish_bulk(i_jobs => ARRAY[
    ROW('tap.bulk.tz', NULL, '2030-06-01 12:00', NULL, NULL, NULL)::jobs.bulk_job]);
SELECT is(
    (SELECT q.scheduled_at FROM tap_ids i JOIN jobs.job_queue q USING (job_id)
      WHERE i.label = 'bulk.tz'),
    '2030-06-01 10:00+00'::timestamptz,
    'publish_bulk(i_jobs => ...) reads bulk_job.scheduled_at in the session time zone');
SET LOCAL TimeZone = 'UTC';

SELECT is(
    (SELECT array_agg(job_id) FROM jobs.publish_bulk(ARRAY[]::jobs.bulk_job[])),
    NULL, 'publish_bulk of an empty array returns no ids');

-- ---------------------------------------------------------------------------
-- consume, consume_topic, ack, nack, expire, retry_delay by name
-- ---------------------------------------------------------------------------

-- The highest priority, so it is the first job any consumer gets.
INSERT INTO tap_ids SELECT 'first', jobs.publish(i_task => 'tap.first', i_priority => 1000);
SELECT results_eq(
    $$SELECT job_id, task::text, attempt, priority FROM jobs.consume(num => 1)$$,
    $$SELECT job_id, 'tap.first', 1, 1000 FROM tap_ids WHERE label = 'first'$$,
    'jobs.consume(num => 1) claims the highest-priority ready job');
SELECT lives_ok(
    format('SELECT jobs.ack(i_job_id => %s, i_result => %L)',
           (SELECT job_id FROM tap_ids WHERE label = 'first'), '{"ok": true}'),
    'jobs.ack(i_job_id => ..., i_result => ...)');
SELECT results_eq(
    $$SELECT j.status::text AS status, j.result, j.attempts FROM tap_ids i JOIN jobs.job j USING (job_id)
       WHERE i.label = 'first'$$,
    $$VALUES ('succeeded', '{"ok": true}'::jsonb, 1)$$,
    'the acked job is in jobs.job as succeeded with its result');

INSERT INTO tap_ids SELECT 'topic', jobs.publish('tap.topic.x', i_priority => 1000);
SELECT results_eq(
    $$SELECT job_id, task::text FROM jobs.consume_topic(pattern => 'tap.topic.*', num => 5)$$,
    $$SELECT job_id, 'tap.topic.x' FROM tap_ids WHERE label = 'topic'$$,
    'jobs.consume_topic(pattern => ..., num => ...) claims only matching jobs');
SELECT lives_ok(
    format('SELECT jobs.nack(i_job_id => %s, i_traceback => %L, i_schedule_at => %L)',
           (SELECT job_id FROM tap_ids WHERE label = 'topic'), 'boom', '2035-01-01 00:00+00'),
    'jobs.nack(i_job_id => ..., i_traceback => ..., i_schedule_at => ...)');
SELECT results_eq(
    $$SELECT q.status::text AS status, q.attempts, q.last_error, q.scheduled_at
        FROM tap_ids i JOIN jobs.job_queue q USING (job_id) WHERE i.label = 'topic'$$,
    $$VALUES ('pending', 1, 'boom', '2035-01-01 00:00+00'::timestamptz)$$,
    'the nacked job is pending again at i_schedule_at with its traceback');

-- A job whose 10 ms lease lapses.
INSERT INTO tap_ids
SELECT 'lapse', jobs.publish('tap.lapse', i_timeout => 0.01, i_priority => 1000);
SELECT is((SELECT count(*)::int FROM jobs.consume_topic('tap.lapse', 1)), 1,
    'jobs.consume_topic(pattern, num) positional claims the short job');
SELECT pg_sleep(0.05);
SELECT is(jobs.expire(), 1::bigint, 'jobs.expire() reclaims the job whose lease lapsed');
SELECT results_eq(
    $$SELECT status::text AS status, attempts, last_error FROM tap_queued WHERE label = 'lapse'$$,
    $$VALUES ('pending', 1, 'job timed out after 0.01 seconds')$$,
    'the expired job is pending again, its attempt counted as timed out');

SELECT ok(jobs.retry_delay(i_attempt => 1) BETWEEN interval '1 second' AND interval '2 seconds',
    'jobs.retry_delay(i_attempt => 1) is within [base/2, base]');
SELECT ok(jobs.retry_delay(i_attempt => 3) BETWEEN interval '4 seconds' AND interval '8 seconds',
    'jobs.retry_delay(i_attempt => 3) is within [4 s, 8 s]');

SELECT * FROM finish();
ROLLBACK;
