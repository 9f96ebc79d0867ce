-- jobs.consume with i_wait: waiting in the backend for jobs (see also
-- test/t/003_blocking_consume.pl for wake-ups from other sessions)
\set VERBOSITY default
TRUNCATE jobs.job_queue, jobs.job;
SELECT setval('jobs.job_id_seq', 1, false);

-- the original forms are unchanged: no wait
SELECT count(*) FROM jobs.consume(1);
SELECT count(*) FROM jobs.consume_topic('a.%', 1);

-- a ready job is returned at once, whatever the wait
SELECT jobs.publish('a.ready');
SELECT job_id, task FROM jobs.consume(1, 60);
SELECT jobs.publish('a.ready.topic');
SELECT job_id, task FROM jobs.consume_topic('a.%', 1, 60);

-- nothing ready: the wait runs out and nothing is returned
SELECT count(*) FROM jobs.consume(1, 0.2);
SELECT count(*) FROM jobs.consume_topic('a.%', 5, i_wait => 0.2);

-- a job scheduled to be due within the wait is claimed when due
SELECT jobs.publish('a.soon', i_scheduled_at => clock_timestamp() + interval '0.3 seconds');
SELECT task, attempt FROM jobs.consume(1, 30);

-- a job a pattern does not match is not waited for
SELECT jobs.publish('b.soon', i_scheduled_at => clock_timestamp() + interval '0.1 seconds');
SELECT count(*) FROM jobs.consume_topic('a.%', 1, 0.3);
SELECT task FROM jobs.consume_topic('b.%', 1, 0.3);

-- a lease that ends within the wait is reclaimed, and its retry claimed
SET pgjobs.retry_backoff_base = 0;
SELECT jobs.publish('a.lapse', i_timeout => 0.2) AS lapse_id \gset
SELECT attempt FROM jobs.consume(1);
SELECT task, attempt FROM jobs.consume(1, 30);
RESET pgjobs.retry_backoff_base;

-- 0 and NULL mean no wait
SELECT count(*) FROM jobs.consume(1, 0);
SELECT count(*) FROM jobs.consume(1, NULL);

-- bad waits
SELECT * FROM jobs.consume(1, -1);
\echo :SQLSTATE
SELECT * FROM jobs.consume(1, 3601);
SELECT * FROM jobs.consume(1, 'NaN');
SELECT * FROM jobs.consume_topic('a.%', 1, -0.5);

-- a transaction snapshot never sees new jobs: waiting there is refused
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM jobs.consume(1, 1);
\echo :SQLSTATE
ROLLBACK;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM jobs.consume(1);   -- without a wait it is fine
COMMIT;

-- statement_timeout ends a wait (wherever it strikes: no context shown)
\set SHOW_CONTEXT never
SET statement_timeout = '200ms';
SELECT * FROM jobs.consume(1, 60);
\echo :SQLSTATE
RESET statement_timeout;
