-- ALTER EXTENSION pgjobs UPDATE from every released version, with jobs
-- pending, running and finished: nothing is lost, and every function works
-- before and after each step.  (Like pg_stat_statements' oldextversions.)
\set VERBOSITY terse
DROP EXTENSION pgjobs;

-- 1.0, as released, served by the current library
CREATE EXTENSION pgjobs VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'pgjobs';
SELECT count(*) FROM jobs.publish_bulk(ARRAY(
    SELECT ROW('up.' || (i % 3), jsonb_build_object('i', i), NULL, 30, i % 2, 1)::jobs.bulk_job
      FROM generate_series(1, 20) i));
SELECT jobs.publish('up.later', '{"later": true}', now() + interval '1 day') AS later \gset
SELECT array_agg(job_id ORDER BY job_id) AS claimed FROM jobs.consume(6) \gset
SELECT jobs.ack((:'claimed'::bigint[])[1], '{"done": 1}');
SELECT jobs.nack((:'claimed'::bigint[])[2], 'retry me');
SELECT jobs.nack((:'claimed'::bigint[])[3], 'first failure', i_attempt => 1);
SELECT status, count(*) FROM jobs.all GROUP BY status ORDER BY status;
CREATE TEMP TABLE before AS
    SELECT job_id, task, body, status, attempts, last_error, result FROM jobs.all;

-- 1.0 -> 1.1
ALTER EXTENSION pgjobs UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'pgjobs';
-- every job is still there, unchanged
SELECT count(*) AS jobs, count(*) FILTER (WHERE b.job_id IS NULL) AS lost,
       count(*) FILTER (WHERE (a.task, a.body, a.status, a.attempts, a.last_error, a.result)
                       IS DISTINCT FROM (b.task, b.body, b.status, b.attempts, b.last_error, b.result)) AS changed
  FROM jobs.all a FULL JOIN before b USING (job_id);
-- the jobs claimed under 1.0 can be touched, acked, cancelled with 1.1
SELECT jobs.touch((:'claimed'::bigint[])[4], 60) > now() AS touched;
SELECT jobs.progress((:'claimed'::bigint[])[4], 0.5);
SELECT job_id = (:'claimed'::bigint[])[4] AS acked
  FROM jobs.ack_batch(ARRAY[(:'claimed'::bigint[])[4]], ARRAY['{"done": 4}'::jsonb], ARRAY[1]);
SELECT jobs.cancel((:'claimed'::bigint[])[5]);
SELECT jobs.nack((:'claimed'::bigint[])[5]);
SELECT jobs.release((:'claimed'::bigint[])[6]);
SELECT jobs.cancel(:later);
SELECT jobs.retry(:later) = :later AS redriven;
-- new functions on old rows
SELECT jobs.publish('up.0', '{}', i_unique_key => 'k') = jobs.publish('up.0', '{}', i_unique_key => 'k') AS unique_ok;
SELECT jobs.pause('up.2');
SELECT count(*) > 0 AS consumed, bool_and(task <> 'up.2') AS paused_skipped FROM jobs.consume(100);
SELECT jobs.resume('up.2');
SELECT jobs.schedule('upgrade-test', '*/5 * * * *', 'up.cron') > now() AS scheduled;
SELECT jobs.unschedule('upgrade-test');
SELECT status, count(*) FROM jobs.all GROUP BY status ORDER BY status;
-- the enum gained its value at the end, as a fresh install has it
SELECT array_agg(enumlabel ORDER BY enumsortorder) FROM pg_enum
 WHERE enumtypid = 'jobs.job_status'::regtype;
-- nothing is granted to PUBLIC
SELECT count(*) AS public_functions FROM pg_proc p
 WHERE pronamespace = 'jobs'::regnamespace
   AND has_function_privilege('public', p.oid, 'EXECUTE');
SELECT count(*) AS public_relations FROM pg_class c
 WHERE relnamespace = 'jobs'::regnamespace
   AND has_table_privilege('public', c.oid, 'SELECT');

-- 1.1 -> 1.2, with a job claimed under 1.1: ack_and_consume completes it
-- and claims the next
SELECT job_id AS held FROM jobs.consume(1) \gset
ALTER EXTENSION pgjobs UPDATE TO '1.2';
SELECT extversion FROM pg_extension WHERE extname = 'pgjobs';
SELECT count(*) AS claimed FROM jobs.ack_and_consume(:held, 2);
SELECT status FROM jobs.job WHERE job_id = :held;
SELECT count(*) AS public_functions FROM pg_proc p
 WHERE pronamespace = 'jobs'::regnamespace
   AND has_function_privilege('public', p.oid, 'EXECUTE');

-- leave a fresh current version for the tests that follow
DROP TABLE before;
DROP EXTENSION pgjobs;
CREATE EXTENSION pgjobs;
