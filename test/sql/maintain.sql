-- jobs.maintain: one maintenance pass on demand (the worker's, without VACUUM)
\set VERBOSITY default
TRUNCATE jobs.job_queue, jobs.job;
SELECT setval('jobs.job_id_seq', 1, false);

-- nothing to do
SELECT * FROM jobs.maintain();

-- lapsed leases are reclaimed: retried, or failed when out of retries
SELECT jobs.publish('m.retry', i_timeout => 0.01);
SELECT jobs.publish('m.last', i_timeout => 0.01, i_max_retries => 0);
SELECT count(*) FROM jobs.consume(2);
SELECT pg_sleep(0.05);
SELECT * FROM jobs.maintain();
SELECT job_id, status, attempts, last_error FROM jobs.all ORDER BY job_id;

-- finished jobs are kept while pgjobs.retention is 0 (the default) ...
UPDATE jobs.job SET finished_at = now() - interval '10 days';
SHOW pgjobs.retention;
SELECT * FROM jobs.maintain();
SELECT count(*) AS kept FROM jobs.job;

-- ... and it is a server setting, not one a session may change
SET pgjobs.retention = '1d';

-- settings of the maintenance worker
SHOW pgjobs.maintenance_interval;
SHOW pgjobs.queue_vacuum_threshold;
-- pgjobs.database exists only when pgjobs is preloaded (the worker's databases)
SHOW pgjobs.database;
