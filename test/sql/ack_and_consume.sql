-- jobs.ack_and_consume (1.2): complete a job as jobs.ack does and claim the
-- next ones as jobs.consume (or consume_topic) does, in one statement
\set VERBOSITY terse
TRUNCATE jobs.job_queue, jobs.job, jobs.topic_control;
SELECT setval('jobs.job_id_seq', 1, false);

SELECT jobs.publish('w.a', '{"n": 1}', i_priority => 3);    -- 1
SELECT jobs.publish('w.b', '{"n": 2}', i_priority => 2);    -- 2
SELECT jobs.publish('w.c', '{"n": 3}', i_priority => 1);    -- 3
SELECT jobs.publish('w.d', '{"n": 4}', i_priority => 1);    -- 4

-- a NULL job id acks nothing: it only claims, num defaulting to 1
SELECT job_id, task, body, attempt, expires_at > now() AS leased FROM jobs.ack_and_consume(NULL);
SELECT job_id, status FROM jobs.all ORDER BY job_id;

-- ack job 1 with a result, then claim the next in priority order
SELECT job_id, task, attempt FROM jobs.ack_and_consume(1, 1, '{"done": 1}');
SELECT job_id, status, result, attempts FROM jobs.job ORDER BY job_id;
SELECT job_id, status FROM jobs.job_queue ORDER BY job_id;

-- num > 1: the next ones in priority order, then (same priority) in order
-- of publication; i_result NULL stores no result
SELECT job_id, task FROM jobs.ack_and_consume(2, 5);
SELECT job_id, status, result FROM jobs.job ORDER BY job_id;
SELECT job_id, status FROM jobs.job_queue ORDER BY job_id;

-- i_attempt names the claim: a mismatch raises PJ003, and then nothing is
-- acked or claimed
SELECT jobs.publish('w.e', i_priority => 9);                -- 5
SELECT * FROM jobs.ack_and_consume(3, 1, '{"x": 1}', 2);
\echo :SQLSTATE
SELECT job_id, status, attempts FROM jobs.job_queue ORDER BY job_id;
SELECT count(*) AS finished FROM jobs.job;
-- the right attempt acks it and claims job 5
SELECT job_id, task, attempt FROM jobs.ack_and_consume(3, 1, '{"x": 1}', 1);
SELECT job_id, status, result FROM jobs.job WHERE job_id = 3;

-- the other errors of ack; each claims nothing (job 6 stays pending)
SELECT jobs.publish('w.f', i_priority => 9);                -- 6
SELECT * FROM jobs.ack_and_consume(12345);                  -- unknown
\echo :SQLSTATE
SELECT * FROM jobs.ack_and_consume(1);                      -- finished already
\echo :SQLSTATE
SELECT * FROM jobs.ack_and_consume(6);                      -- pending, never claimed
\echo :SQLSTATE
SELECT jobs.cancel(5);
SELECT * FROM jobs.ack_and_consume(5);                      -- its cancellation was requested
\echo :SQLSTATE
SELECT * FROM jobs.ack_and_consume(4, 1, NULL, 0);          -- attempts start at 1
\echo :SQLSTATE
SELECT * FROM jobs.ack_and_consume(NULL, 1, NULL, 0);       -- checked with no job to ack too
\echo :SQLSTATE
SELECT * FROM jobs.ack_and_consume(4, NULL);                -- num is required
\echo :SQLSTATE
SELECT * FROM jobs.ack_and_consume(4, 0);
\echo :SQLSTATE
SELECT * FROM jobs.ack_and_consume(4, i_pattern => '');
\echo :SQLSTATE
SELECT job_id, status, attempts FROM jobs.job_queue ORDER BY job_id;
SELECT jobs.nack(5, 'stopped');
SELECT job_id, status FROM jobs.job WHERE job_id = 5;

-- an ack rolled back with its transaction: the job runs again, the claim
-- is undone too
BEGIN;
SELECT job_id FROM jobs.ack_and_consume(4);
ROLLBACK;
SELECT job_id, status, attempts FROM jobs.job_queue ORDER BY job_id;

-- i_pattern restricts the claim as consume_topic does (% and * match any
-- run, _ only itself)
SELECT jobs.publish('mail.send', i_priority => 1);          -- 7
SELECT jobs.publish('mailxsend', i_priority => 1);          -- 8
SELECT jobs.publish('sms_send', i_priority => 1);           -- 9
SELECT jobs.publish('smsxsend', i_priority => 1);           -- 10
SELECT job_id, task FROM jobs.ack_and_consume(4, 5, NULL, NULL, 'mail.*');
SELECT job_id, task FROM jobs.ack_and_consume(7, 5, NULL, NULL, 'sms_%');
SELECT job_id, task FROM jobs.ack_and_consume(9, 5, NULL, NULL, 'sms_%');
SELECT job_id, status FROM jobs.all WHERE job_id >= 4 ORDER BY job_id;
TRUNCATE jobs.job_queue, jobs.job;

-- a paused topic is skipped, though its jobs come first
SELECT jobs.publish('paused.a', i_priority => 10);         -- 11
SELECT jobs.publish('free.a', i_priority => 1);            -- 12
SELECT jobs.publish('free.b', i_priority => 1);            -- 13
SELECT jobs.pause('paused.%');
SELECT job_id, task FROM jobs.ack_and_consume(NULL);
SELECT job_id, task FROM jobs.ack_and_consume(12, 5);
SELECT job_id, task FROM jobs.ack_and_consume(13, 5, NULL, NULL, 'paused.*');
SELECT job_id, status FROM jobs.job_queue ORDER BY job_id;
SELECT jobs.resume('paused.%');
SELECT job_id, task FROM jobs.ack_and_consume(NULL, 5, NULL, NULL, 'paused.*');
SELECT jobs.ack(11);
TRUNCATE jobs.job_queue, jobs.job, jobs.topic_control;

-- a concurrency limit holds when one call acks and claims: the ack frees
-- room for one claim, no more
SELECT jobs.set_limit('lim.%', i_max_running => 1);
SELECT count(*) FROM jobs.publish_bulk(ARRAY(
    SELECT ROW('lim.' || i, NULL, NULL, NULL, 5, NULL)::jobs.bulk_job FROM generate_series(1, 4) i));
SELECT jobs.publish('other', i_priority => 1);             -- 18
SELECT job_id, task FROM jobs.ack_and_consume(NULL, 10);   -- 14 and 18: the limit lets one lim job through
SELECT job_id, task FROM jobs.ack_and_consume(NULL, 10);   -- full: nothing
SELECT job_id, task FROM jobs.ack_and_consume(14, 10);     -- 14 acked: room for one
SELECT count(*) AS running_lim FROM jobs.job_queue WHERE task LIKE 'lim.%' AND status = 'running';
SELECT job_id, task FROM jobs.ack_and_consume(15, 10, NULL, NULL, 'lim.%');
SELECT count(*) AS running_lim FROM jobs.job_queue WHERE task LIKE 'lim.%' AND status = 'running';
-- in one transaction, the same
BEGIN;
SELECT job_id, task FROM jobs.ack_and_consume(16, 10);
SELECT job_id, task FROM jobs.ack_and_consume(NULL, 10);
COMMIT;
SELECT count(*) AS running_lim FROM jobs.job_queue WHERE task LIKE 'lim.%' AND status = 'running';
-- two of room: the ack frees one more
SELECT jobs.set_limit('lim.%', i_max_running => 2);
SELECT count(*) FROM jobs.publish_bulk(ARRAY(
    SELECT ROW('lim.' || i, NULL, NULL, NULL, 5, NULL)::jobs.bulk_job FROM generate_series(5, 7) i));
SELECT job_id, task FROM jobs.ack_and_consume(17, 10);
SELECT count(*) AS running_lim FROM jobs.job_queue WHERE task LIKE 'lim.%' AND status = 'running';
SELECT job_id, task FROM jobs.ack_and_consume(NULL, 10);
TRUNCATE jobs.job_queue, jobs.job, jobs.topic_control;

-- a worker's loop: each call acks the job the one before claimed
SELECT count(*) FROM jobs.publish_bulk(ARRAY(
    SELECT ROW('loop', jsonb_build_object('i', i), NULL, NULL, NULL, NULL)::jobs.bulk_job
      FROM generate_series(1, 3) i));                      -- 22, 23, 24
SELECT job_id AS prev, body->>'i' AS i FROM jobs.ack_and_consume(NULL) \gset
\echo :prev :i
SELECT job_id AS prev, body->>'i' AS i FROM jobs.ack_and_consume(:prev, i_result => jsonb_build_object('i', :i)) \gset
\echo :prev :i
BEGIN;
SELECT job_id AS prev, body->>'i' AS i FROM jobs.ack_and_consume(:prev, i_result => jsonb_build_object('i', :i)) \gset
\echo :prev :i
SELECT count(*) AS claimed FROM jobs.ack_and_consume(:prev, i_result => jsonb_build_object('i', :i));
COMMIT;
SELECT job_id, status, result, attempts FROM jobs.job ORDER BY job_id;
SELECT count(*) AS queued FROM jobs.job_queue;

TRUNCATE jobs.job_queue, jobs.job, jobs.topic_control;
