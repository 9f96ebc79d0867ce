-- Recurring jobs: jobs.schedule, jobs.unschedule, jobs.run_schedules
\set VERBOSITY default
SET TimeZone = 'UTC';
TRUNCATE jobs.job_queue, jobs.job, jobs.recurring;

-- schedule returns the first run; the row keeps the zone it was made in
SELECT jobs.schedule('every-5', '*/5 * * * *', 'report.tick', '{"k": 1}') =
       jobs.cron_next('*/5 * * * *', now(), 'UTC') AS first_run;
SELECT name, cron, time_zone, task, body, catch_up, next_run_at > now() AS future
  FROM jobs.recurring;
SELECT jobs.schedule('berlin', '30 2 * * *', 'report.nightly', NULL, 'Europe/Berlin',
                     i_priority => 5, i_max_retries => 0, i_catch_up => 'skip') > now() AS scheduled;
SELECT name, time_zone, priority, max_retries, catch_up FROM jobs.recurring ORDER BY name;

-- nothing is due yet
SELECT jobs.run_schedules();

-- due now: one job each, and next_run_at moves past now
UPDATE jobs.recurring SET next_run_at = now() - interval '1 second';
SELECT jobs.run_schedules();
SELECT task, body, priority, max_retries FROM jobs.job_queue ORDER BY task;
SELECT name, next_run_at > now() AS moved_on, last_run_at IS NOT NULL AS ran,
       last_job_id = (SELECT job_id FROM jobs.job_queue q WHERE q.task = r.task) AS last_job
  FROM jobs.recurring r ORDER BY name;
-- run again at once: nothing more (each occurrence once)
SELECT jobs.run_schedules();

-- after downtime: 'once' publishes one job for all missed occurrences,
-- 'skip' publishes none; both move on to the next occurrence
TRUNCATE jobs.job_queue;
UPDATE jobs.recurring SET next_run_at = now() - interval '3 days';
SELECT jobs.run_schedules();
SELECT task FROM jobs.job_queue ORDER BY task;
SELECT name, next_run_at > now() AS moved_on FROM jobs.recurring ORDER BY name;
-- a late but recent occurrence (under 60 s) of a 'skip' schedule runs
TRUNCATE jobs.job_queue;
UPDATE jobs.recurring SET next_run_at = now() - interval '10 seconds' WHERE name = 'berlin';
SELECT jobs.run_schedules();

-- replace by name; unschedule
SELECT jobs.schedule('every-5', '0 * * * *', 'report.hourly') IS NOT NULL AS replaced;
SELECT name, cron, task FROM jobs.recurring WHERE name = 'every-5';
SELECT jobs.unschedule('every-5');
SELECT jobs.unschedule('every-5');
SELECT count(*) FROM jobs.recurring;

-- jobs.maintain() runs the schedules too
TRUNCATE jobs.job_queue;
UPDATE jobs.recurring SET next_run_at = now() - interval '1 second';
SELECT expired, pruned FROM jobs.maintain();
SELECT task FROM jobs.job_queue;

-- a broken schedule is reported and retried later; the others still run
SELECT jobs.schedule('ok', '* * * * *', 'ok.task') IS NOT NULL;
UPDATE jobs.recurring SET time_zone = 'No/Such_Zone', next_run_at = now() - interval '1 second'
 WHERE name = 'berlin';
UPDATE jobs.recurring SET next_run_at = now() - interval '1 second' WHERE name = 'ok';
TRUNCATE jobs.job_queue;
SET client_min_messages = error;
SELECT jobs.run_schedules();
RESET client_min_messages;
SELECT name, next_run_at > now() AS later FROM jobs.recurring ORDER BY name;

-- bad input
SELECT jobs.schedule('x', '* * *', 'a.task');
\echo :SQLSTATE
SELECT jobs.schedule('x', '61 * * * *', 'a.task');
\echo :SQLSTATE
SELECT jobs.schedule('x', '* * * * *', 'a.task', i_time_zone => 'Mars/Olympus');
\echo :SQLSTATE
SELECT jobs.schedule('x', '* * * * *', '');
\echo :SQLSTATE
SELECT jobs.schedule('x', '* * * * *', 'a.task', i_timeout => 0);
\echo :SQLSTATE
SELECT jobs.schedule('x', '* * * * *', 'a.task', i_catch_up => 'all');
\echo :SQLSTATE
SELECT jobs.schedule('', '* * * * *', 'a.task');
\echo :SQLSTATE
SELECT jobs.schedule(NULL, '* * * * *', 'a.task');
\echo :SQLSTATE
SELECT jobs.schedule('x', NULL, 'a.task');
\echo :SQLSTATE
SELECT count(*) AS nothing_added FROM jobs.recurring WHERE name = 'x';
TRUNCATE jobs.job_queue, jobs.recurring;
