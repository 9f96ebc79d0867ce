-- Leases and batches: jobs.touch, jobs.progress, jobs.release, and the
-- array forms of jobs.ack and jobs.nack
\set VERBOSITY default
TRUNCATE jobs.job_queue, jobs.job;
SELECT setval('jobs.job_id_seq', 1, false);

SELECT jobs.publish('long.task', '{}', i_timeout => 10);   -- 1
SELECT job_id, attempt FROM jobs.consume(1);

-- touch extends the lease from now, by i_extend or the timeout
SELECT jobs.touch(1, 3600) BETWEEN now() + interval '3599 s' AND clock_timestamp() + interval '3600 s' AS extended;
SELECT expires_at > now() + interval '3000 s' AS stored FROM jobs.job_queue WHERE job_id = 1;
SELECT jobs.touch(1) < now() + interval '11 s' AS by_timeout;
SELECT jobs.touch(1, i_attempt => 1) IS NOT NULL AS current_attempt;
SELECT jobs.touch(1, i_attempt => 2);
\echo :SQLSTATE
SELECT jobs.touch(1, 0);
\echo :SQLSTATE
SELECT jobs.touch(1, 'NaN');
\echo :SQLSTATE
SELECT jobs.touch(NULL);
\echo :SQLSTATE
SELECT jobs.touch(999);
\echo :SQLSTATE

-- progress is shown while running and kept when the job finishes
SELECT jobs.progress(1, 0.25, 'a quarter');
SELECT job_id, progress, progress_note FROM jobs.running;
SELECT jobs.progress(1, 1.5);
\echo :SQLSTATE
SELECT jobs.progress(1, NULL);
\echo :SQLSTATE
SELECT jobs.progress(1, 'NaN');
\echo :SQLSTATE
SELECT jobs.progress(1, 0.5, repeat('x', 9000));
\echo :SQLSTATE
SELECT jobs.ack(1);
SELECT job_id, status, progress, progress_note FROM jobs.job;
SELECT jobs.touch(1);
\echo :SQLSTATE
SELECT jobs.progress(1, 0.5);
\echo :SQLSTATE

-- release gives the claim back without spending an attempt
SELECT jobs.publish('fragile', '{}', i_max_retries => 0);  -- 2
SELECT job_id, attempt FROM jobs.consume(1);
SELECT jobs.release(2);
SELECT status, attempts, expires_at IS NULL AS no_lease FROM jobs.job_queue WHERE job_id = 2;
SELECT job_id, attempt FROM jobs.consume(1);
SELECT jobs.release(2, now() + interval '1 hour', 1);
SELECT status, attempts, scheduled_at > now() AS later FROM jobs.job_queue WHERE job_id = 2;
SELECT jobs.release(2);
\echo :SQLSTATE
SELECT jobs.release(2, 'infinity');
\echo :SQLSTATE

-- batch ack: completes the jobs whose claim counts, returns their ids
TRUNCATE jobs.job_queue, jobs.job;
SELECT setval('jobs.job_id_seq', 1, false);
SELECT count(*) FROM jobs.publish_bulk(ARRAY(
    SELECT ROW('batch', jsonb_build_object('i', i), NULL, NULL, NULL, 0)::jobs.bulk_job
      FROM generate_series(1, 6) i));
SELECT count(*) FROM jobs.consume(5);
SELECT job_id FROM jobs.ack_batch(ARRAY[1, 2, 6, 999]::bigint[],
                            ARRAY['{"r": 1}', '{"r": 2}', NULL, NULL]::jsonb[])
 ORDER BY 1;
SELECT job_id, status, result FROM jobs.job ORDER BY 1;
-- attempts must match when given
SELECT job_id FROM jobs.ack_batch(ARRAY[3, 4]::bigint[], NULL, ARRAY[1, 2]);
SELECT job_id FROM jobs.ack_batch(ARRAY[]::bigint[]);
-- batch nack: with max_retries 0, the jobs fail
SELECT job_id FROM jobs.nack_batch(ARRAY[4, 5]::bigint[], 'bad batch') ORDER BY 1;
SELECT job_id, status, last_error FROM jobs.job WHERE status = 'failed' ORDER BY 1;
SELECT job_id FROM jobs.dead_letter ORDER BY 1;
-- bad input
SELECT jobs.ack_batch(NULL::bigint[]);
\echo :SQLSTATE
SELECT jobs.ack_batch(ARRAY[1, NULL]::bigint[]);
\echo :SQLSTATE
SELECT jobs.ack_batch(ARRAY[1, 2]::bigint[], ARRAY['{}']::jsonb[]);
\echo :SQLSTATE
SELECT jobs.ack_batch(ARRAY[[1], [2]]::bigint[]);
\echo :SQLSTATE
SELECT jobs.nack_batch(ARRAY[1]::bigint[], NULL, NULL, ARRAY[0]);
\echo :SQLSTATE
SELECT jobs.nack_batch(ARRAY[1]::bigint[], NULL, '-infinity');
\echo :SQLSTATE
