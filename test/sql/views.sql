-- jobs.all, jobs.running, jobs.expired
\set VERBOSITY default
TRUNCATE jobs.job_queue, jobs.job;
SELECT setval('jobs.job_id_seq', 1, false);

SELECT jobs.publish('v.pending');                          -- 1
SELECT jobs.publish('v.scheduled', i_scheduled_at => now() + interval '1 day'); -- 2
SELECT jobs.publish('v.running', i_priority => 3);         -- 3
SELECT jobs.publish('v.expired', i_priority => 2, i_timeout => 0.01); -- 4
SELECT jobs.publish('v.succeeded', i_priority => 9);       -- 5
SELECT jobs.publish('v.failed', i_priority => 8, i_max_retries => 0); -- 6
SELECT job_id FROM jobs.consume(4) ORDER BY job_id;
SELECT jobs.ack(5, '"done"');
SELECT jobs.nack(6, 'broken');
SELECT pg_sleep(0.05);

SELECT job_id, task, status, attempts, result, last_error,
       expires_at IS NOT NULL AS has_lease, finished_at IS NOT NULL AS finished
  FROM jobs.all ORDER BY job_id;
SELECT job_id, task, attempts FROM jobs.running;
SELECT job_id, task, attempts FROM jobs.expired;
SELECT status, count(*) FROM jobs.all GROUP BY status ORDER BY status;
