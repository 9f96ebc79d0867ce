-- Unique jobs: jobs.publish(..., i_unique_key, i_on_duplicate, i_unique_running)
\set VERBOSITY default
TRUNCATE jobs.job_queue, jobs.job;

-- a second publish of a pending key returns the first job's id
SELECT jobs.publish('mail.send', '{"to": "a"}', i_unique_key => 'user-1') AS first \gset
SELECT jobs.publish('mail.send', '{"to": "b"}', i_unique_key => 'user-1') = :first AS same_job;
SELECT count(*) AS queued, min(body::text) AS body FROM jobs.job_queue;

-- keys are per task; no key means no uniqueness
SELECT jobs.publish('mail.other', '{}', i_unique_key => 'user-1') <> :first AS other_task_other_job;
SELECT jobs.publish('mail.send', '{}') <> :first AS no_key_new_job;

-- 'replace' gives the pending job the new body, schedule and priority
SELECT jobs.publish('mail.send', '{"to": "c"}', '2030-01-01 00:00+00', 30, 7, 1,
                    i_unique_key => 'user-1', i_on_duplicate => 'replace') = :first AS same_job;
SELECT body, scheduled_at = '2030-01-01 00:00+00' AS rescheduled, timeout, priority,
       max_retries, unique_key
  FROM jobs.job_queue WHERE job_id = :first;

-- by default a running job frees its key: the next publish queues anew
TRUNCATE jobs.job_queue, jobs.job;
SELECT jobs.publish('sync', '{}', i_unique_key => 'acct-9') AS running_one \gset
SELECT job_id = :running_one AS claimed FROM jobs.consume(1);
SELECT jobs.publish('sync', '{}', i_unique_key => 'acct-9') <> :running_one AS new_job;
-- ... unless it was published with i_unique_running
TRUNCATE jobs.job_queue, jobs.job;
SELECT jobs.publish('sync', '{}', i_unique_key => 'acct-9', i_unique_running => true) AS held \gset
SELECT job_id = :held AS claimed FROM jobs.consume(1);
SELECT jobs.publish('sync', '{"v": 2}', i_unique_key => 'acct-9') = :held AS still_held;
-- replace does not touch a running job
SELECT jobs.publish('sync', '{"v": 3}', i_unique_key => 'acct-9',
                    i_on_duplicate => 'replace') = :held AS still_held;
SELECT body FROM jobs.job_queue WHERE job_id = :held;
-- once it finishes, the key is free
SELECT jobs.ack(:held);
SELECT jobs.publish('sync', '{}', i_unique_key => 'acct-9') <> :held AS new_job;
SELECT unique_key FROM jobs.job WHERE job_id = :held;

-- bad input
SELECT jobs.publish('sync', '{}', i_unique_key => '');
\echo :SQLSTATE
SELECT jobs.publish('sync', '{}', i_unique_key => repeat('k', 1025));
\echo :SQLSTATE
SELECT jobs.publish('sync', '{}', i_unique_key => 'x', i_on_duplicate => 'merge');
\echo :SQLSTATE
-- NULL policy and NULL running flag take the defaults
SELECT jobs.publish('sync', '{}', i_unique_key => 'y', i_on_duplicate => NULL,
                    i_unique_running => NULL) > 0 AS ok;

-- the original six-argument call still works, positionally and by name
SELECT jobs.publish('legacy', '{}', NULL, 60, 0, 3) > 0 AS ok;
SELECT jobs.publish(i_task => 'legacy', i_max_retries => 1) > 0 AS ok;
