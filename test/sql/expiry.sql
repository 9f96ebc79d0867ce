-- expiry: a running job past its timeout is a failed attempt ("timed out")
\set VERBOSITY default
TRUNCATE jobs.job_queue, jobs.job;
SELECT setval('jobs.job_id_seq', 1, false);

SELECT jobs.publish('slow', i_timeout => 0.01);                   -- 1
SELECT jobs.publish('slow.last', i_timeout => 0.01, i_max_retries => 0); -- 2
SELECT jobs.publish('fast', i_timeout => 600);                    -- 3
SELECT job_id FROM jobs.consume(3);
SELECT pg_sleep(0.1);

-- the views tell the lapsed leases from the live ones
SELECT job_id, task FROM jobs.expired ORDER BY job_id;
SELECT job_id, task FROM jobs.running ORDER BY job_id;

-- an ack after the lease lapsed does not count
SELECT jobs.ack(1);
\echo :SQLSTATE
SELECT jobs.nack(2, 'too late');
\echo :SQLSTATE

-- jobs.expire reclaims both: one retried after the backoff, one failed
SELECT jobs.expire();
SELECT job_id, status, attempts, last_error, scheduled_at > now() AS backed_off
  FROM jobs.job_queue ORDER BY job_id;
SELECT job_id, status, attempts, last_error FROM jobs.job ORDER BY job_id;
SELECT jobs.expire();
SELECT count(*) AS expired_left FROM jobs.expired;

-- consume reclaims expired jobs by itself (here on every call)
SET pgjobs.consume_expire_interval = 0;
UPDATE jobs.job_queue SET scheduled_at = now() - interval '1 second' WHERE job_id = 1;
SELECT FROM jobs.wake_consumers();      -- after a write behind pgjobs' back
SELECT job_id, attempt FROM jobs.consume(1);
SELECT pg_sleep(0.1);
SELECT count(*) AS expired_now FROM jobs.expired;
SELECT count(*) AS claimed FROM jobs.consume(1);
SELECT job_id, status, attempts, last_error FROM jobs.job_queue WHERE job_id = 1;
RESET pgjobs.consume_expire_interval;

-- an expiry in a transaction that rolls back leaves the job running
UPDATE jobs.job_queue SET scheduled_at = now() - interval '1 second' WHERE job_id = 1;
SELECT FROM jobs.wake_consumers();      -- after a write behind pgjobs' back
SELECT job_id, attempt FROM jobs.consume(1);
SELECT pg_sleep(0.1);
BEGIN;
SELECT jobs.expire();
ROLLBACK;
SELECT job_id, status FROM jobs.job_queue WHERE job_id = 1;
SELECT jobs.expire();

-- many expired jobs are reclaimed in batches by one call
TRUNCATE jobs.job_queue;
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(ROW('bulk', NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job)
                                          FROM generate_series(1, 2500)));
SELECT count(*) FROM jobs.consume(2500);
UPDATE jobs.job_queue SET expires_at = now() - interval '1 second';
SELECT jobs.expire();
SELECT status, count(*) FROM jobs.job_queue GROUP BY status;

-- a worker that passes its attempt cannot end a later claim of the same job
TRUNCATE jobs.job_queue;
SET pgjobs.retry_backoff_base = 0;
SET pgjobs.consume_expire_interval = 0;
SELECT jobs.publish('stale', i_timeout => 0.5) AS stale_id \gset
SELECT attempt FROM jobs.consume(1);               -- worker A: attempt 1
SELECT pg_sleep(0.6);                              -- A's lease lapses
SELECT attempt FROM jobs.consume(1);               -- worker B: attempt 2
SELECT jobs.ack(:stale_id, '"A, too late"', 1);    -- A's late ack is refused
\echo :SQLSTATE
SELECT jobs.nack(:stale_id, 'A failed', NULL, 1);
\echo :SQLSTATE
SELECT jobs.ack(:stale_id, '"B"', i_attempt => 2); -- B's counts
SELECT status, attempts, result FROM jobs.job WHERE job_id = :stale_id;
SELECT jobs.ack(:stale_id, NULL, 2);               -- finished already
\echo :SQLSTATE
SELECT jobs.ack(:stale_id, NULL, 0);
\echo :SQLSTATE
RESET pgjobs.retry_backoff_base;
RESET pgjobs.consume_expire_interval;
