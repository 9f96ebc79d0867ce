-- jobs.ack and jobs.nack: completing, retrying and failing jobs
\set VERBOSITY default
TRUNCATE jobs.job_queue, jobs.job;
SELECT setval('jobs.job_id_seq', 1, false);

-- ack moves a running job to jobs.job as succeeded, with its result
SELECT jobs.publish('ok.task', '{"n": 1}');
SELECT job_id FROM jobs.consume(1);
SELECT jobs.ack(1, '{"sum": 3}');
SELECT count(*) AS still_queued FROM jobs.job_queue WHERE job_id = 1;
SELECT job_id, task, body, status, attempts, result, last_error,
       finished_at >= started_at AND started_at >= created_at AS ordered_times
  FROM jobs.job;
-- the original's call form, without a result
SELECT jobs.publish('ok.task');
SELECT job_id FROM jobs.consume(1);
SELECT FROM jobs.ack(2);
SELECT job_id, status, result FROM jobs.job WHERE job_id = 2;

-- an ack that cannot count says why, with its own SQLSTATE
SELECT jobs.ack(1);                    -- finished already
\echo :SQLSTATE
SELECT jobs.ack(12345);                -- unknown
\echo :SQLSTATE
SELECT jobs.publish('pending.task');   -- 3, never claimed
SELECT jobs.ack(3);
\echo :SQLSTATE
SELECT jobs.nack(3, 'boom');
\echo :SQLSTATE
SELECT jobs.ack(NULL);
\echo :SQLSTATE
SELECT jobs.nack(NULL);

-- nack: back to the queue after the backoff (base 2 s: attempt 1 waits 1 to 2 s)
SELECT job_id FROM jobs.consume(1);
SELECT jobs.nack(3, 'Traceback: boom');
SELECT status, attempts, last_error, expires_at IS NULL AS no_lease,
       scheduled_at - now() BETWEEN interval '0.5 seconds' AND interval '2.1 seconds' AS backed_off
  FROM jobs.job_queue WHERE job_id = 3;
-- not ready during the backoff
SELECT count(*) AS claimable FROM jobs.consume(1);

-- nack with i_schedule_at: retried exactly then
UPDATE jobs.job_queue SET scheduled_at = now() - interval '1 second' WHERE job_id = 3;
SELECT FROM jobs.wake_consumers();      -- after a write behind pgjobs' back
SELECT job_id, attempt FROM jobs.consume(1);
SELECT jobs.nack(3, 'again', '2000-01-01 00:00:00+00');
SELECT status, attempts, scheduled_at = '2000-01-01 00:00:00+00' AS at_given_time, last_error
  FROM jobs.job_queue WHERE job_id = 3;
-- original call form: the job, a traceback, a time
SELECT job_id, attempt FROM jobs.consume(1);
SELECT FROM jobs.nack(3, 'third', now() - interval '1 second');
-- the fourth attempt is the last (1 + 3 retries): its nack fails the job
SELECT job_id, attempt, max_retries FROM jobs.consume(1);
SELECT jobs.nack(3, 'final traceback');
SELECT count(*) AS still_queued FROM jobs.job_queue WHERE job_id = 3;
SELECT job_id, status, attempts, max_retries, last_error, result FROM jobs.job WHERE job_id = 3;

-- max_retries 0: the first nack fails the job, even with i_schedule_at
SELECT jobs.publish('once', i_max_retries => 0);
SELECT job_id FROM jobs.consume(1);
SELECT jobs.nack(4, NULL, now());
SELECT job_id, status, attempts, last_error FROM jobs.job WHERE job_id = 4;

-- a succeeded job keeps the error of its last failed attempt
SELECT jobs.publish('flaky', i_max_retries => 1);
SELECT job_id FROM jobs.consume(1);
SELECT jobs.nack(5, 'first try failed', now() - interval '1 second');
SELECT job_id, attempt FROM jobs.consume(1);
SELECT jobs.ack(5);
SELECT status, attempts, last_error FROM jobs.job WHERE job_id = 5;

-- an ack or nack rolled back changes nothing
SELECT jobs.publish('rb');
SELECT job_id FROM jobs.consume(1);
BEGIN;
SELECT jobs.ack(6);
ROLLBACK;
SELECT status, attempts FROM jobs.job_queue WHERE job_id = 6;
SELECT jobs.nack(6, 'x', 'infinity');
\echo :SQLSTATE
SELECT jobs.ack(6, '[1, 2, 3]');
SELECT status, result FROM jobs.job WHERE job_id = 6;

-- i_attempt names the claim: the matching attempt counts, another does not
SELECT jobs.publish('attempts') AS att_id \gset
SELECT attempt FROM jobs.consume(1);
SELECT jobs.nack(:att_id, 'wrong claim', now(), i_attempt => 2);
\echo :SQLSTATE
SELECT jobs.nack(:att_id, 'first', now() - interval '1 second', i_attempt => 1);
SELECT attempt FROM jobs.consume(1);
SELECT jobs.ack(:att_id, i_attempt => 1);
\echo :SQLSTATE
SELECT jobs.ack(:att_id, i_attempt => -1);
SELECT jobs.ack(:att_id, i_attempt => 2);
SELECT status, attempts FROM jobs.job WHERE job_id = :att_id;
