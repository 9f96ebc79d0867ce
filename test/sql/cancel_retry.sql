-- Cancel and redrive: jobs.cancel, jobs.retry, jobs.retry_topic and the
-- dead-letter view
\set VERBOSITY default
TRUNCATE jobs.job_queue, jobs.job;
SELECT setval('jobs.job_id_seq', 1, false);

-- a pending job is cancelled at once
SELECT jobs.publish('report.build', '{}');                -- 1
SELECT jobs.cancel(1, 'not needed');
SELECT job_id, status, last_error FROM jobs.job;
SELECT jobs.cancel(1);
\echo :SQLSTATE
SELECT jobs.cancel(999);
\echo :SQLSTATE
SELECT jobs.cancel(NULL);
\echo :SQLSTATE

-- a running job is asked to stop: touch, progress and ack fail with PJ004
SELECT jobs.publish('report.build', '{}');                -- 2
SELECT job_id FROM jobs.consume(1);
SELECT jobs.cancel(2);
SELECT jobs.cancel(2);                                    -- asked already
SELECT cancel_requested_at IS NOT NULL AS requested FROM jobs.running;
SELECT jobs.touch(2);
\echo :SQLSTATE
SELECT jobs.progress(2, 0.5);
\echo :SQLSTATE
SELECT jobs.ack(2);
\echo :SQLSTATE
SELECT job_id FROM jobs.ack_batch(ARRAY[2]::bigint[]);          -- left out
-- its nack finishes it as cancelled, whatever retries are left
SELECT jobs.nack(2, 'stopped');
SELECT job_id, status, attempts, last_error FROM jobs.job WHERE job_id = 2;

-- a cancelled running job whose lease lapses is cancelled, not retried
SELECT jobs.publish('report.build', '{}', i_timeout => 0.01);   -- 3
SELECT job_id FROM jobs.consume(1);
SELECT jobs.cancel(3);
SELECT pg_sleep(0.05);
SELECT jobs.expire();
SELECT job_id, status FROM jobs.job WHERE job_id = 3;

-- redrive: a failed job goes back with its id and fresh attempts
SELECT jobs.publish('etl.load', '{"day": 1}', i_max_retries => 0);  -- 4
SELECT job_id FROM jobs.consume(1);
SELECT jobs.nack(4, 'disk full');
SELECT job_id, task, last_error FROM jobs.dead_letter;
SELECT jobs.retry(4);
SELECT job_id, status, attempts, last_error FROM jobs.job_queue;
SELECT count(*) AS dead_letters FROM jobs.dead_letter;
SELECT jobs.retry(4);                                     -- pending now
\echo :SQLSTATE
SELECT jobs.retry(999);
\echo :SQLSTATE
SELECT job_id, attempt FROM jobs.consume(1);
SELECT jobs.ack(4);
SELECT jobs.retry(4);                                     -- succeeded
\echo :SQLSTATE

-- the pattern form redrives failed jobs, and cancelled ones when asked
SELECT jobs.retry_topic('report.%');
SELECT jobs.retry_topic('report.%', true);
SELECT job_id, status FROM jobs.job_queue ORDER BY 1;
SELECT jobs.retry_topic('nothing.%');
SELECT jobs.retry_topic(NULL);
\echo :SQLSTATE
SELECT jobs.retry_topic('');
\echo :SQLSTATE
