-- jobs.consume: what is claimed, in which order, and what a claim changes
\set VERBOSITY default
TRUNCATE jobs.job_queue, jobs.job;
SELECT setval('jobs.job_id_seq', 1, false);

-- nothing to claim
SELECT count(*) FROM jobs.consume(1);

SELECT jobs.publish('low', i_priority => -1);                          -- 1
SELECT jobs.publish('normal.a');                                       -- 2
SELECT jobs.publish('high', i_priority => 10);                         -- 3
SELECT jobs.publish('normal.b');                                       -- 4
SELECT jobs.publish('future', i_priority => 100,
                    i_scheduled_at => now() + interval '1 hour');      -- 5
SELECT jobs.publish('past', i_scheduled_at => now() - interval '1 hour'); -- 6

-- highest priority first, then the longest ready; future jobs wait
SELECT job_id, task, attempt, max_retries, priority, timeout
  FROM jobs.consume(2);
SELECT job_id, task, attempt FROM jobs.consume(10);
SELECT count(*) AS nothing_left FROM jobs.consume(10);

-- a claim marks the job running with a lease of timeout seconds
SELECT job_id, status, attempts, started_at IS NOT NULL AS started,
       expires_at > now() + interval '59 seconds' AND
       expires_at <= now() + interval '61 seconds' AS lease_60s
  FROM jobs.job_queue ORDER BY job_id;

-- consume returns the lease and the body
TRUNCATE jobs.job_queue;
SELECT jobs.publish('t', '{"args": [1]}', i_timeout => 2.5);
SELECT task, body, timeout, expires_at - now() BETWEEN interval '2 seconds' AND interval '3 seconds' AS lease_2_5s,
       scheduled_at <= now() AS was_ready, created_at <= now() AS created
  FROM jobs.consume(1);

-- a claim in a transaction that rolls back leaves the job pending, untouched
TRUNCATE jobs.job_queue;
SELECT jobs.publish('rb') AS rb_id \gset
BEGIN;
SELECT job_id = :rb_id AS claimed FROM jobs.consume(1);
ROLLBACK;
SELECT status, attempts, started_at IS NULL AS not_started FROM jobs.job_queue WHERE job_id = :rb_id;
SELECT job_id = :rb_id AS claimed_again, attempt FROM jobs.consume(1);

-- equal priority and ready time: the older job first
TRUNCATE jobs.job_queue;
SELECT jobs.publish_bulk(ARRAY[ROW('same.' || i, NULL, '2020-01-01', NULL, 5, NULL)::jobs.bulk_job])
  FROM generate_series(1, 3) i;
SELECT task FROM jobs.consume(3);

-- bad num
SELECT * FROM jobs.consume(0);
\echo :SQLSTATE
SELECT * FROM jobs.consume(-1);
SELECT * FROM jobs.consume(NULL);
\echo :SQLSTATE
-- a huge num is just an upper bound
SELECT count(*) FROM jobs.consume(2147483647);
