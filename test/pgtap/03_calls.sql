-- pgTAP API contract, part 3: the call forms clients rely on.
--
-- jobs.publish as a scalar (SELECT jobs.publish(...)) and as a row source
-- (SELECT job_id FROM jobs.publish(...)), with positional, named and mixed
-- arguments; what its NULL defaults turn into; ROW(...)::jobs.bulk_job and
-- jobs.publish_bulk; consume, consume_topic, ack, nack, expire and
-- retry_delay called with named arguments; and the 1.1 calls: publish with a
-- unique key, ack_batch and nack_batch, touch, progress, release, cancel,
-- retry and retry_topic with jobs.dead_letter, pause, resume and set_limit,
-- cron_next, schedule, unschedule and run_schedules; the security calls
-- grant_topic, revoke_topic and sees_all_jobs, and the publisher every job
-- records (published_by); 1.2's ack_and_consume, its refusals and the
-- errors of ack it shares (none of which claims a job); and the fixed
-- unique-key wedge (a job going back
-- to pending drops a key another job took meanwhile).  Everything is
-- rolled back.

BEGIN;
SELECT plan(188);

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

SELECT results_eq(
    $$SELECT i.label, q.published_by FROM tap_ids i JOIN jobs.job_queue q USING (job_id)
       WHERE i.label IN ('scalar', 'from', 'star') ORDER BY i.label$$,
    $$SELECT label, current_user::text COLLATE "default" FROM unnest(ARRAY['from', 'scalar', 'star']) label$$,
    'every call form records the calling role in published_by');

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
SELECT is(
    (SELECT array_agg(DISTINCT q.published_by) FROM tap_bulk b JOIN jobs.job_queue q USING (job_id)),
    ARRAY[current_user::text], 'publish_bulk records the calling role in published_by of every job');

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
SELECT is(
    (SELECT j.published_by FROM tap_ids i JOIN jobs.job j USING (job_id) WHERE i.label = 'first'),
    current_user::text, 'the finished job keeps its publisher');

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

-- ---------------------------------------------------------------------------
-- 1.1: unique jobs
-- ---------------------------------------------------------------------------

INSERT INTO tap_ids SELECT 'uniq', jobs.publish('tap.uniq', '{"v": 1}', i_unique_key => 'k1');
SELECT is(
    jobs.publish('tap.uniq', '{"v": 2}', i_unique_key => 'k1'),
    (SELECT job_id FROM tap_ids WHERE label = 'uniq'),
    'publish with the unique key of a pending job returns that job''s id');
SELECT is(
    (SELECT job_id FROM jobs.publish(i_unique_key => 'k1', i_task => 'tap.uniq')),
    (SELECT job_id FROM tap_ids WHERE label = 'uniq'),
    'SELECT job_id FROM jobs.publish(..., i_unique_key => ...) returns the same id again');
SELECT results_eq(
    $$SELECT q.body, q.unique_key, q.unique_while_running
        FROM jobs.job_queue q WHERE q.task = 'tap.uniq'$$,
    $$VALUES ('{"v": 1}'::jsonb, 'k1', false)$$,
    'one job holds the key; i_on_duplicate ignore (the default) left it as it was');
SELECT isnt(
    jobs.publish('tap.uniq', NULL, i_unique_key => 'k2'),
    (SELECT job_id FROM tap_ids WHERE label = 'uniq'),
    'another key: another job');
SELECT isnt(
    jobs.publish('tap.uniq.other', NULL, i_unique_key => 'k1'),
    (SELECT job_id FROM tap_ids WHERE label = 'uniq'),
    'another task with the same key: another job (keys are per task)');
SELECT is(
    jobs.publish('tap.uniq', '{"v": 3}', '2031-01-01 00:00+00', 5, 9, 1, 'k1', 'replace', false),
    (SELECT job_id FROM tap_ids WHERE label = 'uniq'),
    'all nine arguments positionally, i_on_duplicate => replace: the holder''s id');
SELECT results_eq(
    $$SELECT q.body, q.scheduled_at, q.timeout, q.priority, q.max_retries, q.status::text
        FROM tap_ids i JOIN jobs.job_queue q USING (job_id) WHERE i.label = 'uniq'$$,
    $$VALUES ('{"v": 3}'::jsonb, '2031-01-01 00:00+00'::timestamptz, 5.00::numeric, 9, 1, 'pending')$$,
    'replace gives the pending holder the new body, schedule, timeout, priority and retries');
SELECT throws_ok(
    $$SELECT jobs.publish('tap.uniq', i_unique_key => 'k1', i_on_duplicate => 'merge')$$,
    '22023', NULL, 'i_on_duplicate must be ignore or replace');
SELECT throws_ok(
    $$SELECT jobs.publish('tap.uniq', i_unique_key => '')$$,
    '22023', NULL, 'an empty unique key is refused');

-- With i_unique_running the key stays taken while the job runs.
INSERT INTO tap_ids
SELECT 'uniq.run', jobs.publish('tap.uniqrun', i_unique_key => 'r', i_unique_running => true,
                                i_priority => 1000);
SELECT is((SELECT count(*)::int FROM jobs.consume_topic('tap.uniqrun', 5)), 1,
    'the i_unique_running job is claimed');
SELECT is(
    jobs.publish('tap.uniqrun', i_unique_key => 'r'),
    (SELECT job_id FROM tap_ids WHERE label = 'uniq.run'),
    'while it runs, publishing its key returns the running job''s id');

-- ---------------------------------------------------------------------------
-- 1.1: ack_batch and nack_batch
-- ---------------------------------------------------------------------------

INSERT INTO tap_ids
SELECT 'batch.' || n, jobs.publish('tap.batch.' || n, i_priority => 1000 - n, i_max_retries => 1)
  FROM generate_series(1, 3) n;
CREATE TEMP TABLE tap_claimed AS
SELECT job_id, task::text, attempt FROM jobs.consume_topic('tap.batch.%', 3);
SELECT is((SELECT count(*)::int FROM tap_claimed), 3, 'three batch jobs claimed');

SELECT results_eq(
    $$SELECT job_id FROM jobs.ack_batch(
          (SELECT array_agg(job_id ORDER BY task) FROM tap_claimed WHERE task <> 'tap.batch.3'),
          ARRAY['{"r": 1}', '{"r": 2}']::jsonb[],
          (SELECT array_agg(attempt ORDER BY task) FROM tap_claimed WHERE task <> 'tap.batch.3'))
       ORDER BY job_id$$,
    $$SELECT job_id FROM tap_claimed WHERE task <> 'tap.batch.3' ORDER BY job_id$$,
    'ack_batch(ids, results, attempts) returns the ids of the jobs it acked');
SELECT results_eq(
    $$SELECT j.task::text, j.status::text, j.result FROM tap_claimed c JOIN jobs.job j USING (job_id)
       ORDER BY j.task$$,
    $$VALUES ('tap.batch.1', 'succeeded', '{"r": 1}'::jsonb), ('tap.batch.2', 'succeeded', '{"r": 2}'::jsonb)$$,
    'ack_batch stored each result with its job');
SELECT is_empty(
    format('SELECT * FROM jobs.ack_batch(ARRAY[%s, %s], NULL, ARRAY[NULL, 99])',
           (SELECT job_id FROM tap_ids WHERE label = 'batch.1'),
           (SELECT job_id FROM tap_ids WHERE label = 'batch.3')),
    'ack_batch leaves out a finished job and a claim whose attempt does not match');
SELECT throws_ok(
    $$SELECT * FROM jobs.ack_batch(ARRAY[1, 2]::bigint[], ARRAY['{}']::jsonb[])$$,
    '2202E', NULL, 'ack_batch: i_results must have one element per id');
SELECT throws_ok(
    $$SELECT * FROM jobs.ack_batch(NULL)$$, '22004', NULL, 'ack_batch: i_job_ids must not be NULL');
SELECT results_eq(
    format('SELECT job_id FROM jobs.nack_batch(i_job_ids => ARRAY[%s], i_traceback => %L)',
           (SELECT job_id FROM tap_ids WHERE label = 'batch.3'), 'boom'),
    $$SELECT job_id FROM tap_ids WHERE label = 'batch.3'$$,
    'nack_batch(i_job_ids => ..., i_traceback => ...) returns the ids of the jobs it nacked');
SELECT results_eq(
    $$SELECT status::text, attempts, last_error FROM tap_queued WHERE label = 'batch.3'$$,
    $$VALUES ('pending', 1, 'boom')$$,
    'the nacked batch job is pending again with its traceback');

-- ---------------------------------------------------------------------------
-- 1.1: touch, progress, release
-- ---------------------------------------------------------------------------

INSERT INTO tap_ids SELECT 'lease', jobs.publish('tap.lease', i_timeout => 30, i_priority => 1000);
SELECT is((SELECT count(*)::int FROM jobs.consume_topic('tap.lease', 1)), 1, 'the lease job is claimed');
SELECT is(
    pg_typeof(jobs.touch((SELECT job_id FROM tap_ids WHERE label = 'lease')))::text,
    'timestamp with time zone', 'jobs.touch(job_id) returns a timestamptz');
CREATE TEMP TABLE tap_touch AS
SELECT jobs.touch(i_job_id => job_id, i_extend => 120, i_attempt => 1) AS expires_at
  FROM tap_ids WHERE label = 'lease';
SELECT ok((SELECT expires_at > now() + interval '119 seconds' FROM tap_touch),
    'touch(i_extend => 120) moves the lease about 120 s ahead');
SELECT is(
    (SELECT q.expires_at FROM tap_ids i JOIN jobs.job_queue q USING (job_id) WHERE i.label = 'lease'),
    (SELECT expires_at FROM tap_touch),
    'touch returns the new expires_at of the job');
SELECT throws_ok(
    format('SELECT jobs.touch(%s, 0)', (SELECT job_id FROM tap_ids WHERE label = 'lease')),
    '22023', NULL, 'touch refuses an extension below 0.01 s');
SELECT throws_ok(
    format('SELECT jobs.touch(%s, NULL, 2)', (SELECT job_id FROM tap_ids WHERE label = 'lease')),
    'PJ003', NULL, 'touch with another attempt than the current claim''s fails like ack (PJ003)');

SELECT lives_ok(
    format('SELECT jobs.progress(%s, 0.25, %L)', (SELECT job_id FROM tap_ids WHERE label = 'lease'), 'a quarter'),
    'jobs.progress(job_id, 0.25, note)');
SELECT is(
    pg_typeof(jobs.progress((SELECT job_id FROM tap_ids WHERE label = 'lease'), 0.5, 'half')),
    'void'::regtype, 'jobs.progress returns void');
SELECT results_eq(
    $$SELECT r.progress, r.progress_note FROM tap_ids i JOIN jobs.running r USING (job_id)
       WHERE i.label = 'lease'$$,
    $$VALUES (0.5::float8, 'half')$$,
    'jobs.running shows the progress and its note');
SELECT throws_ok(
    format('SELECT jobs.progress(%s, 1.5)', (SELECT job_id FROM tap_ids WHERE label = 'lease')),
    '22023', NULL, 'progress must be between 0 and 1');

SELECT lives_ok(
    format('SELECT jobs.release(i_job_id => %s, i_attempt => 1)', (SELECT job_id FROM tap_ids WHERE label = 'lease')),
    'jobs.release(i_job_id => ..., i_attempt => ...)');
SELECT results_eq(
    $$SELECT q.status::text, q.attempts, q.expires_at IS NULL, q.scheduled_at <= clock_timestamp()
        FROM tap_ids i JOIN jobs.job_queue q USING (job_id) WHERE i.label = 'lease'$$,
    $$VALUES ('pending', 0, true, true)$$,
    'a released job is pending, ready, without a lease, its attempt not spent');

-- ---------------------------------------------------------------------------
-- 1.1: cancel
-- ---------------------------------------------------------------------------

INSERT INTO tap_ids SELECT 'cancel.pending', jobs.publish('tap.cancel.p');
SELECT is(
    jobs.cancel((SELECT job_id FROM tap_ids WHERE label = 'cancel.pending'), 'not needed'),
    'cancelled', 'jobs.cancel of a pending job returns ''cancelled''');
SELECT results_eq(
    $$SELECT j.status::text, j.last_error, j.attempts FROM tap_ids i JOIN jobs.job j USING (job_id)
       WHERE i.label = 'cancel.pending'$$,
    $$VALUES ('cancelled', 'not needed', 0)$$,
    'the pending job finished at once as cancelled, the reason in last_error');

INSERT INTO tap_ids SELECT 'cancel.running', jobs.publish('tap.cancel.r', i_priority => 1000);
SELECT is((SELECT count(*)::int FROM jobs.consume_topic('tap.cancel.r', 1)), 1, 'the job to cancel is claimed');
SELECT is(
    jobs.cancel(i_job_id => (SELECT job_id FROM tap_ids WHERE label = 'cancel.running')),
    'cancelling', 'jobs.cancel of a running job returns ''cancelling''');
SELECT is(
    jobs.cancel((SELECT job_id FROM tap_ids WHERE label = 'cancel.running')),
    'cancelling', 'and again ''cancelling'' while it still runs');
SELECT throws_ok(
    format('SELECT jobs.touch(%s)', (SELECT job_id FROM tap_ids WHERE label = 'cancel.running')),
    'PJ004', NULL, 'touch of a job whose cancellation was requested fails with PJ004');
SELECT throws_ok(
    format('SELECT jobs.ack(%s)', (SELECT job_id FROM tap_ids WHERE label = 'cancel.running')),
    'PJ004', NULL, 'ack of a job whose cancellation was requested fails with PJ004');
SELECT lives_ok(
    format('SELECT jobs.nack(%s, %L)', (SELECT job_id FROM tap_ids WHERE label = 'cancel.running'), 'stopped'),
    'the worker nacks the cancelled job');
SELECT is(
    (SELECT j.status::text FROM tap_ids i JOIN jobs.job j USING (job_id) WHERE i.label = 'cancel.running'),
    'cancelled', 'its nack finished it as cancelled, not retried');
SELECT throws_ok(
    format('SELECT jobs.cancel(%s)', (SELECT job_id FROM tap_ids WHERE label = 'cancel.running')),
    'PJ002', NULL, 'cancelling a finished job fails with PJ002');
SELECT throws_ok(
    $$SELECT jobs.cancel((SELECT max(job_id) + 1000 FROM jobs.all))$$,
    'PJ001', NULL, 'cancelling a job that does not exist fails with PJ001');

-- ---------------------------------------------------------------------------
-- 1.1: the dead-letter queue, retry and retry_topic
-- ---------------------------------------------------------------------------

INSERT INTO tap_ids
SELECT 'dead.' || n, jobs.publish('tap.dead.' || n, i_max_retries => 0, i_priority => 1000)
  FROM generate_series(1, 3) n;
SELECT is(
    (SELECT count(*)::int FROM jobs.consume_topic('tap.dead.%', 3) c, LATERAL jobs.nack(c.job_id, 'fatal') n),
    3, 'three jobs without retries claimed and nacked');
SELECT set_eq(
    $$SELECT d.job_id FROM jobs.dead_letter d WHERE d.task LIKE 'tap.dead.%'$$,
    $$SELECT job_id FROM tap_ids WHERE label LIKE 'dead.%'$$,
    'jobs.dead_letter shows the failed jobs');
SELECT is_empty(
    $$SELECT d.job_id FROM jobs.dead_letter d JOIN jobs.job j USING (job_id) WHERE j.status <> 'failed'$$,
    'jobs.dead_letter shows nothing but failed jobs (no succeeded or cancelled ones)');
SELECT is(
    jobs.retry((SELECT job_id FROM tap_ids WHERE label = 'dead.1')),
    (SELECT job_id FROM tap_ids WHERE label = 'dead.1'),
    'jobs.retry(job_id) returns the id of the job it put back');
SELECT results_eq(
    $$SELECT status::text, attempts, last_error FROM tap_queued WHERE label = 'dead.1'$$,
    $$VALUES ('pending', 0, 'fatal')$$,
    'the retried job is pending again with fresh attempts, its last error kept');
SELECT is(
    (SELECT q.published_by FROM tap_ids i JOIN jobs.job_queue q USING (job_id) WHERE i.label = 'dead.1'),
    current_user::text, 'the redriven job keeps its publisher');
SELECT throws_ok(
    format('SELECT jobs.retry(%s)', (SELECT job_id FROM tap_ids WHERE label = 'dead.1')),
    'PJ002', NULL, 'retrying a job that is not failed or cancelled fails with PJ002');
SELECT is(jobs.retry_topic('tap.dead.%'), 2::bigint,
    'jobs.retry_topic(pattern) returns how many failed jobs it put back');
SELECT is(
    jobs.retry_topic(i_pattern => 'tap.cancel.%', i_include_cancelled => true), 2::bigint,
    'jobs.retry_topic(..., i_include_cancelled => true) puts cancelled jobs back too');
SELECT is_empty(
    $$SELECT job_id FROM jobs.dead_letter WHERE task LIKE 'tap.dead.%'$$,
    'the dead-letter queue of the topic is empty after the redrive');

-- ---------------------------------------------------------------------------
-- 1.1: pause, resume, set_limit
-- ---------------------------------------------------------------------------

INSERT INTO tap_ids SELECT 'ctl', jobs.publish('tap.ctl.a', i_priority => 1000);
SELECT is(pg_typeof(jobs.pause('tap.ctl.%'))::text, 'void', 'jobs.pause(pattern) returns void');
SELECT is_empty($$SELECT * FROM jobs.consume_topic('tap.ctl.%', 5)$$,
    'a paused topic''s jobs are not claimed');
SELECT is(jobs.resume('tap.ctl.%'), true, 'jobs.resume of a paused pattern returns true');
SELECT is(jobs.resume(i_pattern => 'tap.ctl.%'), false, 'jobs.resume of a pattern not paused returns false');
SELECT results_eq(
    $$SELECT job_id FROM jobs.consume_topic('tap.ctl.%', 5)$$,
    $$SELECT job_id FROM tap_ids WHERE label = 'ctl'$$,
    'after the resume its job is claimed');

SELECT lives_ok($$SELECT jobs.set_limit('tap.lim.%', i_max_running => 1)$$,
    'jobs.set_limit(pattern, i_max_running => 1)');
INSERT INTO tap_ids
SELECT 'lim.' || n, jobs.publish('tap.lim.' || n, i_priority => 1000) FROM generate_series(1, 2) n;
SELECT is((SELECT count(*)::int FROM jobs.consume_topic('tap.lim.%', 5)), 1,
    'with max_running 1, a claim of 5 gets one job');
SELECT results_eq(
    $$SELECT pattern, paused, max_running, rate, burst FROM jobs.topic_control WHERE pattern = 'tap.lim.%'$$,
    $$VALUES ('tap.lim.%', false, 1, NULL::float8, NULL::int)$$,
    'the limit is a row of jobs.topic_control');
SELECT lives_ok($$SELECT jobs.set_limit('tap.lim.%')$$, 'jobs.set_limit(pattern) removes the limits');
SELECT is_empty($$SELECT * FROM jobs.topic_control WHERE pattern = 'tap.lim.%'$$,
    'a pattern neither paused nor limited has no row');
SELECT throws_ok($$SELECT jobs.set_limit('tap.lim.%', 0)$$, '22023', NULL,
    'set_limit refuses max_running 0');
SELECT throws_ok($$SELECT jobs.set_limit('tap.lim.%', NULL, 'NaN')$$, '22023', NULL,
    'set_limit refuses a NaN rate');
SELECT throws_ok($$SELECT jobs.pause('')$$, '22023', NULL, 'pause refuses an empty pattern');
SELECT lives_ok($$SELECT jobs.check_topic_pattern('tap.%')$$, 'check_topic_pattern accepts a valid pattern');
SELECT throws_ok($$SELECT jobs.check_topic_pattern(NULL)$$, '22004', NULL,
    'check_topic_pattern refuses NULL, as consume_topic does');
SELECT lives_ok($$SELECT jobs.check_job('tap.check'), jobs.check_job(i_task => 'tap.check', i_timeout => 0.01,
                                                                      i_priority => -5, i_max_retries => 0)$$,
    'check_job accepts what publish accepts, positionally and by name');
SELECT throws_ok($$SELECT jobs.check_job(NULL)$$, '22004', 'task must not be NULL',
    'check_job refuses a NULL task, as publish does');
SELECT throws_ok($$SELECT jobs.check_job('tap.check', 0)$$, '22023', NULL,
    'check_job refuses a timeout publish refuses');
SELECT throws_ok($$SELECT jobs.check_job('tap.check', i_max_retries => -1)$$, '22023', NULL,
    'check_job refuses negative retries, as publish does');

-- ---------------------------------------------------------------------------
-- 1.1: cron_next, schedule, unschedule, run_schedules
-- ---------------------------------------------------------------------------

SELECT is(jobs.cron_next('*/15 * * * *', '2026-01-01 00:07+00', 'UTC'), '2026-01-01 00:15+00'::timestamptz,
    'cron_next: every 15 minutes');
SELECT is(jobs.cron_next(i_expression => '@yearly', i_after => '2026-06-01 00:00+00', i_time_zone => 'UTC'),
    '2027-01-01 00:00+00'::timestamptz, 'cron_next by name: @yearly');
SELECT is(jobs.cron_next('0 0 29 2 *', '2026-01-01 00:00+00', 'UTC'), '2028-02-29 00:00+00'::timestamptz,
    'cron_next: 29 February is in the next leap year');
SELECT is(jobs.cron_next('30 2 * * *', '2026-03-28 12:00+00', 'Europe/Berlin'), '2026-03-29 01:00+00'::timestamptz,
    'cron_next: 02:30 skipped by the spring-forward change fires when the gap ends (03:00 CEST)');
SELECT is(jobs.cron_next('30 2 * * *', '2026-10-25 00:00+00', 'Europe/Berlin'), '2026-10-25 00:30+00'::timestamptz,
    'cron_next: 02:30 repeated by the fall-back change fires the first time (CEST)');
SELECT is(jobs.cron_next('0 9 * * MON-FRI', '2026-11-27 10:00+00'), '2026-11-30 09:00+00'::timestamptz,
    'cron_next without a zone uses the session''s TimeZone (UTC here)');
SELECT is(jobs.cron_next('* * * * *', NULL), NULL, 'cron_next of a NULL time is NULL');
SELECT throws_ok($$SELECT jobs.cron_next('0 0 31 2 *')$$, '22023', NULL,
    'cron_next refuses an expression that never matches');
SELECT throws_ok($$SELECT jobs.cron_next('61 * * * *')$$, '22023', NULL,
    'cron_next refuses a minute out of range');
SELECT throws_ok($$SELECT jobs.cron_next('* * * * *', now(), 'Nowhere/Bogus')$$, '22023', NULL,
    'cron_next refuses an unknown time zone');

SELECT is(
    jobs.schedule('tap-nightly', '30 2 * * *', 'tap.report', '{"r": 1}', 'Europe/Berlin'),
    jobs.cron_next('30 2 * * *', now(), 'Europe/Berlin'),
    'jobs.schedule returns its first run, as cron_next computes it');
SELECT results_eq(
    $$SELECT name, cron, time_zone, task::text, body, catch_up, next_run_at
        FROM jobs.recurring WHERE name = 'tap-nightly'$$,
    $$VALUES ('tap-nightly', '30 2 * * *', 'Europe/Berlin', 'tap.report', '{"r": 1}'::jsonb, 'once',
              jobs.cron_next('30 2 * * *', now(), 'Europe/Berlin'))$$,
    'the schedule is a row of jobs.recurring');
SELECT lives_ok(
    $$SELECT jobs.schedule(i_name => 'tap-nightly', i_cron => '@hourly', i_task => 'tap.report',
                           i_time_zone => 'UTC', i_catch_up => 'skip')$$,
    'jobs.schedule with the same name, by name');
SELECT results_eq(
    $$SELECT count(*)::int, min(cron), min(catch_up) FROM jobs.recurring WHERE name = 'tap-nightly'$$,
    $$VALUES (1, '@hourly', 'skip')$$,
    'scheduling a name again replaces the schedule');
SELECT throws_ok($$SELECT jobs.schedule('tap-bad', 'not cron', 'tap.report')$$, '22023', NULL,
    'schedule refuses a bad cron expression');
SELECT throws_ok($$SELECT jobs.schedule('tap-bad', '* * * * *', 'tap.report', i_catch_up => 'always')$$,
    '22023', NULL, 'schedule refuses a catch_up other than once or skip');

SELECT lives_ok($$SELECT jobs.schedule('tap-due', '* * * * *', 'tap.due', i_time_zone => 'UTC')$$,
    'a schedule that fires every minute');
UPDATE jobs.recurring SET next_run_at = clock_timestamp() - interval '10 seconds' WHERE name = 'tap-due';
SELECT is(jobs.run_schedules(), 1::bigint, 'jobs.run_schedules() publishes the due occurrence and counts it');
SELECT results_eq(
    $$SELECT r.last_job_id = q.job_id, r.next_run_at > clock_timestamp(), q.task::text
        FROM jobs.recurring r JOIN jobs.job_queue q ON q.job_id = r.last_job_id
       WHERE r.name = 'tap-due'$$,
    $$VALUES (true, true, 'tap.due')$$,
    'the occurrence was published and the schedule moved on to its next run');
SELECT is(jobs.run_schedules(), 0::bigint, 'a second run publishes nothing: no occurrence twice');

SELECT is(jobs.unschedule('tap-due'), true, 'jobs.unschedule of a schedule returns true');
SELECT is(jobs.unschedule(i_name => 'tap-due'), false, 'jobs.unschedule of no schedule returns false');

SELECT lives_ok($$SELECT jobs.wake_consumers()$$, 'jobs.wake_consumers()');

-- ---------------------------------------------------------------------------
-- 1.1: grant_topic, revoke_topic, sees_all_jobs (what the grants do to a
-- role is 04_roles.sql)
-- ---------------------------------------------------------------------------

CREATE ROLE pgjobs_tap_granted NOLOGIN;
SELECT is(pg_typeof(jobs.grant_topic('pgjobs_tap_granted', 'tap.grant.%'))::text, 'void',
    'jobs.grant_topic(role, pattern) returns void');
SELECT results_eq(
    $$SELECT role::text, pattern, can_publish, can_consume, created_at = now()
        FROM jobs.topic_grant WHERE role = 'pgjobs_tap_granted'::regrole$$,
    $$VALUES ('pgjobs_tap_granted', 'tap.grant.%', true, true, true)$$,
    'the grant is a row of jobs.topic_grant; by default it allows publishing and consuming');
SELECT lives_ok(
    $$SELECT jobs.grant_topic(i_role => 'pgjobs_tap_granted', i_pattern => 'tap.pub.%', i_consume => false)$$,
    'jobs.grant_topic(i_role => ..., i_pattern => ..., i_consume => false)');
SELECT lives_ok($$SELECT jobs.grant_topic('pgjobs_tap_granted', 'tap.con.%', false)$$,
    'jobs.grant_topic(role, pattern, false): consume only, positionally');
SELECT lives_ok($$SELECT jobs.grant_topic('pgjobs_tap_granted', 'tap.grant.%', i_publish => false)$$,
    'granting a pattern again');
SELECT results_eq(
    $$SELECT pattern, can_publish, can_consume FROM jobs.topic_grant
       WHERE role = 'pgjobs_tap_granted'::regrole ORDER BY pattern$$,
    $$VALUES ('tap.con.%', false, true), ('tap.grant.%', false, true), ('tap.pub.%', true, false)$$,
    'one row per pattern; granting a pattern again replaced what it allows');
SELECT throws_ok($$SELECT jobs.grant_topic('pgjobs_tap_no_such_role', 'tap.%')$$,
    '42704', 'role "pgjobs_tap_no_such_role" does not exist',
    'grant_topic refuses a role that does not exist');
SELECT throws_ok($$SELECT jobs.grant_topic('PGJOBS_TAP_GRANTED', 'tap.%')$$,
    '42704', 'role "PGJOBS_TAP_GRANTED" does not exist',
    'grant_topic takes the role''s name as it is (no case folding)');
SELECT throws_ok($$SELECT jobs.grant_topic(NULL, 'tap.%')$$, '42704', NULL,
    'grant_topic refuses a NULL role');
SELECT throws_ok($$SELECT jobs.grant_topic('pgjobs_tap_granted', NULL)$$, '22004', NULL,
    'grant_topic refuses a NULL pattern, as consume_topic does');
SELECT throws_ok($$SELECT jobs.grant_topic('pgjobs_tap_granted', '')$$, '22023', NULL,
    'grant_topic refuses an empty pattern, as consume_topic does');
SELECT throws_ok($$SELECT jobs.grant_topic('pgjobs_tap_granted', 'tap.%', NULL)$$,
    '22004', 'i_publish and i_consume must not be NULL',
    'grant_topic refuses a NULL i_publish');
SELECT throws_ok($$SELECT jobs.grant_topic('pgjobs_tap_granted', 'tap.%', i_consume => NULL)$$,
    '22004', 'i_publish and i_consume must not be NULL',
    'grant_topic refuses a NULL i_consume');
SELECT throws_ok($$SELECT jobs.grant_topic('pgjobs_tap_granted', 'tap.%', false, false)$$,
    '22023', 'a topic grant must allow publishing or consuming',
    'grant_topic refuses a grant that allows nothing (revoke_topic removes one)');
SELECT is((SELECT count(*)::int FROM jobs.topic_grant), 3, 'the refused grants wrote nothing');

SELECT is(jobs.revoke_topic('pgjobs_tap_granted', 'tap.pub.%'), 1::bigint,
    'jobs.revoke_topic(role, pattern) returns 1 for the grant it removed');
SELECT is(jobs.revoke_topic(i_role => 'pgjobs_tap_granted', i_pattern => 'tap.pub.%'), 0::bigint,
    'jobs.revoke_topic of a grant that is gone returns 0');
SELECT is(jobs.revoke_topic('pgjobs_tap_no_such_role'), 0::bigint,
    'jobs.revoke_topic of a role without grants (or that does not exist) returns 0');
SELECT is(jobs.revoke_topic(NULL), 0::bigint, 'jobs.revoke_topic(NULL) removes nothing');
SELECT is(jobs.revoke_topic(i_role => 'pgjobs_tap_granted'), 2::bigint,
    'jobs.revoke_topic(role) removes every grant of the role and counts them');
SELECT is_empty($$SELECT * FROM jobs.topic_grant$$, 'no grant is left');

SELECT is(pg_typeof(jobs.sees_all_jobs())::text, 'boolean', 'jobs.sees_all_jobs() returns a boolean');
SELECT is(jobs.sees_all_jobs(), true, 'a superuser sees every job');

-- ---------------------------------------------------------------------------
-- 1.2: ack_and_consume (what a restricted role gets is 04_roles.sql)
-- ---------------------------------------------------------------------------

-- Priorities above every other job of this file, so that a claim without a
-- pattern gets these first.
INSERT INTO tap_ids
SELECT 'aac.' || n, jobs.publish('tap.aac.' || n, i_priority => 5000 - n) FROM generate_series(1, 3) n;
SELECT results_eq(
    $$SELECT job_id, task::text, attempt FROM jobs.ack_and_consume(NULL)$$,
    $$SELECT job_id, 'tap.aac.1', 1 FROM tap_ids WHERE label = 'aac.1'$$,
    'jobs.ack_and_consume(NULL) acks nothing and claims the highest-priority ready job (num defaults to 1)');
SELECT results_eq(
    format('SELECT job_id, task::text FROM jobs.ack_and_consume(i_attempt => 1, i_result => %L, i_job_id => %s)',
           '{"n": 1}', (SELECT job_id FROM tap_ids WHERE label = 'aac.1')),
    $$SELECT job_id, 'tap.aac.2' FROM tap_ids WHERE label = 'aac.2'$$,
    'jobs.ack_and_consume(i_attempt => ..., i_result => ..., i_job_id => ...) claims the next job');
SELECT results_eq(
    $$SELECT j.status::text, j.result, j.attempts FROM tap_ids i JOIN jobs.job j USING (job_id)
       WHERE i.label = 'aac.1'$$,
    $$VALUES ('succeeded', '{"n": 1}'::jsonb, 1)$$,
    'the job it acked is in jobs.job as succeeded with its result');
-- another topic's job, ahead of every other
INSERT INTO tap_ids SELECT 'aac.other', jobs.publish('tap.aacx', i_priority => 6000);
SELECT results_eq(
    format('SELECT job_id, task::text FROM jobs.ack_and_consume(%s, 5, NULL, NULL, %L)',
           (SELECT job_id FROM tap_ids WHERE label = 'aac.2'), 'tap.aac.*'),
    $$SELECT job_id, 'tap.aac.3' FROM tap_ids WHERE label = 'aac.3'$$,
    'all five arguments positionally: with i_pattern it claims only matching jobs, as consume_topic');
SELECT results_eq(
    $$SELECT i.label, a.status::text, a.result FROM tap_ids i JOIN jobs.all a USING (job_id)
       WHERE i.label LIKE 'aac.%' ORDER BY i.label$$,
    $$VALUES ('aac.1', 'succeeded', '{"n": 1}'::jsonb), ('aac.2', 'succeeded', NULL),
             ('aac.3', 'running', NULL), ('aac.other', 'pending', NULL)$$,
    'each call acked the job before and claimed the next');
SELECT is_empty($$SELECT * FROM jobs.ack_and_consume(NULL, 5, NULL, NULL, 'tap.aac.none.%')$$,
    'with nothing ready it returns no rows at once (it never waits)');

-- bad arguments: nothing acked, nothing claimed
SELECT throws_ok(
    format('SELECT * FROM jobs.ack_and_consume(%s, NULL)', (SELECT job_id FROM tap_ids WHERE label = 'aac.3')),
    '22004', 'num must not be NULL', 'ack_and_consume refuses a NULL num, as consume does');
SELECT throws_ok(
    format('SELECT * FROM jobs.ack_and_consume(%s, 0)', (SELECT job_id FROM tap_ids WHERE label = 'aac.3')),
    '22023', 'num must be greater than zero, not 0', 'ack_and_consume refuses num 0');
SELECT throws_ok(
    format('SELECT * FROM jobs.ack_and_consume(%s, -1)', (SELECT job_id FROM tap_ids WHERE label = 'aac.3')),
    '22023', 'num must be greater than zero, not -1', 'ack_and_consume refuses a negative num');
SELECT throws_ok(
    format('SELECT * FROM jobs.ack_and_consume(%s, i_pattern => %L)',
           (SELECT job_id FROM tap_ids WHERE label = 'aac.3'), ''),
    '22023', 'topic pattern must not be empty', 'ack_and_consume refuses an empty pattern, as consume_topic does');
SELECT throws_ok(
    format('SELECT * FROM jobs.ack_and_consume(%s, i_pattern => repeat(%L, 1025))',
           (SELECT job_id FROM tap_ids WHERE label = 'aac.3'), '%'),
    '22023', 'topic pattern is 1025 characters long, longer than the maximum of 1024',
    'ack_and_consume refuses a pattern longer than 1024 characters');
SELECT throws_ok(
    format('SELECT * FROM jobs.ack_and_consume(%s, i_attempt => 0)', (SELECT job_id FROM tap_ids WHERE label = 'aac.3')),
    '22023', 'i_attempt must be 1 or more, not 0', 'ack_and_consume refuses attempt 0, as ack does');

-- the errors of ack: nothing claimed
SELECT throws_ok(
    $$SELECT * FROM jobs.ack_and_consume((SELECT max(job_id) + 1000 FROM jobs.all))$$,
    'PJ001', NULL, 'ack_and_consume of a job that does not exist fails with PJ001');
SELECT throws_ok(
    format('SELECT * FROM jobs.ack_and_consume(%s)', (SELECT job_id FROM tap_ids WHERE label = 'aac.1')),
    'PJ002', NULL, 'ack_and_consume of a finished job fails with PJ002');
SELECT throws_ok(
    format('SELECT * FROM jobs.ack_and_consume(%s)', (SELECT job_id FROM tap_ids WHERE label = 'aac.other')),
    'PJ002', NULL, 'ack_and_consume of a pending job fails with PJ002');
SELECT throws_ok(
    format('SELECT * FROM jobs.ack_and_consume(%s, 1, NULL, 2)', (SELECT job_id FROM tap_ids WHERE label = 'aac.3')),
    'PJ003', NULL, 'ack_and_consume with another attempt than the current claim''s fails with PJ003');
INSERT INTO tap_ids SELECT 'aac.cancel', jobs.publish('tap.aac.cancel', i_priority => 7000);
SELECT is((SELECT count(*)::int FROM jobs.consume_topic('tap.aac.cancel', 1)), 1, 'a job to cancel is claimed');
SELECT is(jobs.cancel((SELECT job_id FROM tap_ids WHERE label = 'aac.cancel')), 'cancelling',
    'and its cancellation requested');
SELECT throws_ok(
    format('SELECT * FROM jobs.ack_and_consume(%s)', (SELECT job_id FROM tap_ids WHERE label = 'aac.cancel')),
    'PJ004', NULL, 'ack_and_consume of a job whose cancellation was requested fails with PJ004');
INSERT INTO tap_ids
SELECT 'aac.lapse', jobs.publish('tap.aac.lapse', i_timeout => 0.01, i_priority => 7000, i_max_retries => 0);
SELECT is((SELECT count(*)::int FROM jobs.consume_topic('tap.aac.lapse', 1)), 1, 'a 10 ms job is claimed');
SELECT pg_sleep(0.05);
SELECT throws_ok(
    format('SELECT * FROM jobs.ack_and_consume(%s)', (SELECT job_id FROM tap_ids WHERE label = 'aac.lapse')),
    'PJ003', NULL, 'ack_and_consume of a job whose lease lapsed fails with PJ003');
SELECT results_eq(
    $$SELECT i.label, a.status::text, a.attempts FROM tap_ids i JOIN jobs.all a USING (job_id)
       WHERE i.label IN ('aac.3', 'aac.other', 'aac.cancel', 'aac.lapse') ORDER BY i.label$$,
    $$VALUES ('aac.3', 'running', 1), ('aac.cancel', 'running', 1), ('aac.lapse', 'running', 1),
             ('aac.other', 'pending', 0)$$,
    'none of the refused calls acked its job or claimed the ready one');
SELECT is(jobs.expire(), 1::bigint, 'the lapsed job is reclaimed (it fails: no retries)');
SELECT lives_ok(
    format('SELECT jobs.nack(%s, %L)', (SELECT job_id FROM tap_ids WHERE label = 'aac.cancel'), 'stopped'),
    'the cancelled job is nacked');

SELECT results_eq(
    format('SELECT job_id, task::text FROM jobs.ack_and_consume(%s, 2, NULL, 1, %L)',
           (SELECT job_id FROM tap_ids WHERE label = 'aac.3'), 'tap.aac%'),
    $$SELECT job_id, 'tap.aacx' FROM tap_ids WHERE label = 'aac.other'$$,
    'the same call, right, acks its job and claims up to two: the one ready job its pattern matches');
SELECT is_empty(
    $$SELECT * FROM tap_ids i, LATERAL jobs.ack_and_consume(i.job_id, 1, NULL, NULL, 'tap.aac.none')
       WHERE i.label = 'aac.other'$$,
    'in LATERAL, it acks the row''s job; nothing matches its pattern');
SELECT results_eq(
    $$SELECT i.label, j.status::text FROM tap_ids i JOIN jobs.job j USING (job_id)
       WHERE i.label LIKE 'aac.%' ORDER BY i.label$$,
    $$VALUES ('aac.1', 'succeeded'), ('aac.2', 'succeeded'), ('aac.3', 'succeeded'),
             ('aac.cancel', 'cancelled'), ('aac.lapse', 'failed'), ('aac.other', 'succeeded')$$,
    'every job of the section finished as expected');

-- ---------------------------------------------------------------------------
-- Fixed (found by the fuzz): a unique key published again while its first
-- job runs (without i_unique_running) belongs to the new pending job.  When
-- the first job goes back to pending (nack, release, expiry, redrive) it
-- drops its key rather than collide with the new holder; before, its nack,
-- release and expiry failed with a unique violation of
-- job_queue_unique_key_idx (23505), and the failing expiry made every
-- jobs.consume fail.  A job whose key nobody took keeps it.
-- ---------------------------------------------------------------------------

INSERT INTO tap_ids
SELECT 'wedge.' || op || '.old',
       jobs.publish('tap.wedge.' || op, i_unique_key => 'w', i_priority => 1000,
                    i_max_retries => CASE op WHEN 'dead' THEN 0 ELSE 3 END)
  FROM unnest(ARRAY['nack', 'release', 'expire', 'keep', 'dead']) op;
SELECT is((SELECT count(*)::int FROM jobs.consume_topic('tap.wedge.%', 10)), 5,
    'five unique jobs are claimed');
INSERT INTO tap_ids
SELECT 'wedge.' || op || '.new', jobs.publish('tap.wedge.' || op, i_unique_key => 'w', i_priority => -1000)
  FROM unnest(ARRAY['nack', 'release', 'expire']) op;
SELECT is((SELECT count(DISTINCT job_id)::int FROM tap_ids WHERE label LIKE 'wedge.%'), 8,
    'while they run, their keys are free: three new jobs take three of them');
SELECT lives_ok(
    format('SELECT jobs.nack(%s, %L)', (SELECT job_id FROM tap_ids WHERE label = 'wedge.nack.old'), 'boom'),
    'a job whose key another job took can be nacked');
SELECT lives_ok(
    format('SELECT jobs.release(%s)', (SELECT job_id FROM tap_ids WHERE label = 'wedge.release.old')),
    'a job whose key another job took can be released');
SELECT lives_ok(
    format('SELECT jobs.nack(%s, %L)', (SELECT job_id FROM tap_ids WHERE label = 'wedge.keep.old'), 'boom'),
    'a job whose key nobody took is nacked');
SELECT lives_ok(
    format('SELECT jobs.nack(%s, %L)', (SELECT job_id FROM tap_ids WHERE label = 'wedge.dead.old'), 'fatal'),
    'a job without retries is nacked: it failed, its key is free');
INSERT INTO tap_ids SELECT 'wedge.dead.new', jobs.publish('tap.wedge.dead', i_unique_key => 'w', i_priority => -1000);
SELECT ok(jobs.touch((SELECT job_id FROM tap_ids WHERE label = 'wedge.expire.old'), 0.01) IS NOT NULL,
    'the lease of a job whose key another job took is shortened to 10 ms');
SELECT pg_sleep(0.05);
SELECT is(jobs.expire(), 1::bigint, 'its lapsed lease is expired, exactly that job');
SELECT is(
    jobs.retry((SELECT job_id FROM tap_ids WHERE label = 'wedge.dead.old')),
    (SELECT job_id FROM tap_ids WHERE label = 'wedge.dead.old'),
    'a failed job whose key another job took can be redriven');
SELECT results_eq(
    $$SELECT i.label, q.status::text, q.attempts, q.unique_key
        FROM tap_ids i JOIN jobs.job_queue q USING (job_id)
       WHERE i.label LIKE 'wedge.%' ORDER BY i.label$$,
    $$VALUES ('wedge.dead.new',    'pending', 0, 'w'),
             ('wedge.dead.old',    'pending', 0, NULL),
             ('wedge.expire.new',  'pending', 0, 'w'),
             ('wedge.expire.old',  'pending', 1, NULL),
             ('wedge.keep.old',    'pending', 1, 'w'),
             ('wedge.nack.new',    'pending', 0, 'w'),
             ('wedge.nack.old',    'pending', 1, NULL),
             ('wedge.release.new', 'pending', 0, 'w'),
             ('wedge.release.old', 'pending', 0, NULL)$$,
    'each job that went back to pending dropped the key another job holds; the new holders and '
    'the job nobody competed with keep theirs');
SELECT results_eq(
    $$SELECT i.label FROM jobs.consume_topic('tap.wedge.%', 10) c JOIN tap_ids i USING (job_id)
       ORDER BY i.label$$,
    ARRAY['wedge.dead.new', 'wedge.dead.old', 'wedge.expire.new', 'wedge.nack.new',
          'wedge.release.new', 'wedge.release.old'],
    'consume (which expires first) works, and claims the ready ones (the failed attempts wait for their backoff)');

SELECT * FROM finish();
ROLLBACK;
