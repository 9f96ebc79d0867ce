-- jobs.stats and jobs.health: queue statistics and health checks
-- Times vary from run to run: assert counts, statuses and booleans, and
-- percentiles only over timestamps written here.
\set VERBOSITY terse
TRUNCATE jobs.job_queue, jobs.job;
SELECT setval('jobs.job_id_seq', 1, false);

-- an empty queue: no statistics, and nothing to worry about
SELECT count(*) AS stats_rows FROM jobs.stats;
SELECT "check", status, value FROM jobs.health
 WHERE "check" IN ('expired_jobs', 'oldest_ready_lag', 'workers_silent');
SELECT count(*) AS checks, bool_and(what_to_do <> '') AS all_say_what_to_do,
       bool_and(status IN ('ok', 'warning', 'critical')) AS statuses_known
  FROM jobs.health;

SELECT jobs.publish('mail.send');                                               -- 1
SELECT jobs.publish('mail.send');                                               -- 2
SELECT jobs.publish('mail.send');                                               -- 3
SELECT jobs.publish('mail.bounce', i_scheduled_at => now() + interval '1 day'); -- 4
SELECT jobs.publish('cleanup');                                                 -- 5
SELECT jobs.publish('report.daily.build', i_max_retries => 0);                  -- 6
SELECT job_id FROM jobs.consume_topic('mail.send', 2) ORDER BY job_id;
SELECT jobs.ack(1);
SELECT job_id FROM jobs.consume_topic('report.%', 1);
SELECT jobs.nack(6, 'broken');

-- per task and per topic (the task up to its last dot; '' without a dot)
SELECT level, name, topic, ready, scheduled, running, lag_seconds >= 0 AS lagging,
       claims_1m, claims_15m, completions_1m, completions_15m, succeeded_15m, failed_15m,
       wait_p50 >= 0 AS has_wait, run_p50 >= 0 AS has_run
  FROM jobs.stats ORDER BY level, name;

-- the topic rows add up the task rows
SELECT bool_and(t.ready = s.ready AND t.scheduled = s.scheduled AND t.running = s.running
                AND t.claims_15m = s.claims_15m AND t.completions_15m = s.completions_15m)
       AS topics_add_up
  FROM jobs.stats t
  JOIN (SELECT topic, sum(ready) AS ready, sum(scheduled) AS scheduled, sum(running) AS running,
               sum(claims_15m) AS claims_15m, sum(completions_15m) AS completions_15m
          FROM jobs.stats WHERE level = 'task' GROUP BY topic) s USING (topic)
 WHERE t.level = 'topic';

-- windows: a job finished 3 minutes ago counts in 5 and 15 minutes, one
-- finished 10 minutes ago in 15, one finished 20 minutes ago in none
INSERT INTO jobs.job (job_id, task, status, priority, attempts, max_retries, timeout,
                      created_at, scheduled_at, started_at, finished_at)
SELECT 1000 + m, 'win.job', 'succeeded', 0, 1, 3, 60, now() - m * interval '1 minute',
       now() - m * interval '1 minute', now() - m * interval '1 minute',
       now() - m * interval '1 minute'
  FROM unnest(ARRAY[3, 10, 20]) AS m;
SELECT name, claims_1m, claims_5m, claims_15m, completions_1m, completions_5m, completions_15m,
       succeeded_15m
  FROM jobs.stats WHERE level = 'task' AND name = 'win.job';

-- percentiles of wait (ready to claimed) and run (claimed to finished)
-- times: waits of 1 to 100 s, runs twice as long
INSERT INTO jobs.job (job_id, task, status, priority, attempts, max_retries, timeout,
                      created_at, scheduled_at, started_at, finished_at)
SELECT 2000 + g, 'pct.job', 'succeeded', 0, 1, 3, 60,
       now() - interval '12 minutes', now() - interval '12 minutes',
       now() - interval '12 minutes' + g * interval '1 second',
       now() - interval '12 minutes' + 3 * g * interval '1 second'
  FROM generate_series(1, 100) AS g;
SELECT level, name, claims_5m, claims_15m, completions_5m, completions_15m,
       round(wait_p50::numeric, 2) AS wait_p50, round(wait_p95::numeric, 2) AS wait_p95,
       round(wait_p99::numeric, 2) AS wait_p99, round(run_p50::numeric, 2) AS run_p50,
       round(run_p95::numeric, 2) AS run_p95, round(run_p99::numeric, 2) AS run_p99
  FROM jobs.stats WHERE name IN ('pct.job', 'pct') ORDER BY level;

-- lag: the oldest ready job, whatever its priority; a job not yet due does
-- not count
UPDATE jobs.job_queue SET scheduled_at = now() - interval '2 minutes' WHERE job_id = 5;
SELECT jobs.publish('cleanup', i_priority => 9);
SELECT jobs.publish('cleanup', i_priority => 10, i_scheduled_at => now() + interval '1 hour');
SELECT name, ready, scheduled, lag_seconds BETWEEN 119 AND 200 AS lag_about_2_minutes
  FROM jobs.stats WHERE level = 'task' AND name = 'cleanup';
SELECT "check", status, value BETWEEN 119 AND 200 AS about_2_minutes
  FROM jobs.health WHERE "check" = 'oldest_ready_lag';
UPDATE jobs.job_queue SET scheduled_at = now() - interval '20 minutes' WHERE job_id = 3;
SELECT "check", status, value BETWEEN 1199 AND 1300 AS about_20_minutes
  FROM jobs.health WHERE "check" = 'oldest_ready_lag';
-- the same lag seen from jobs.stats
SELECT max(lag_seconds) BETWEEN 1199 AND 1300 AS stats_agree
  FROM jobs.stats WHERE level = 'task';

-- expired jobs: a lease that lapsed 2 minutes ago is a warning, 20 a
-- critical problem
SELECT "check", status, value FROM jobs.health WHERE "check" = 'expired_jobs';
UPDATE jobs.job_queue SET expires_at = now() - interval '2 minutes' WHERE job_id = 2;
SELECT "check", status, value FROM jobs.health WHERE "check" = 'expired_jobs';
UPDATE jobs.job_queue SET expires_at = now() - interval '20 minutes' WHERE job_id = 2;
SELECT "check", status, value FROM jobs.health WHERE "check" = 'expired_jobs';
SELECT jobs.expire();
SELECT "check", status, value FROM jobs.health WHERE "check" = 'expired_jobs';

-- silent workers: jobs are ready and nothing was claimed or finished lately
SELECT "check", status FROM jobs.health WHERE "check" = 'workers_silent';
DELETE FROM jobs.job WHERE finished_at > now() - interval '2 minutes';
UPDATE jobs.job_queue SET started_at = now() - interval '2 minutes' WHERE started_at IS NOT NULL;
-- (the latest completion left is win.job's, 3 minutes ago)
SELECT "check", status, value BETWEEN 179 AND 240 AS about_3_minutes
  FROM jobs.health WHERE "check" = 'workers_silent';
-- nothing ready: nobody is expected to work
UPDATE jobs.job_queue SET scheduled_at = now() + interval '1 hour';
SELECT "check", status, value FROM jobs.health WHERE "check" IN ('workers_silent', 'oldest_ready_lag');
SELECT sum(ready) AS ready, bool_and(lag_seconds IS NULL) AS no_lag
  FROM jobs.stats WHERE level = 'task';

-- the table checks are there, with their values
SELECT "check", value >= 0 AS counted FROM jobs.health
 WHERE "check" LIKE '%dead_tuples' ORDER BY "check";
SELECT "check", status IN ('ok', 'warning', 'critical') AS known
  FROM jobs.health WHERE "check" LIKE '%last_vacuum' ORDER BY "check";

-- another session's open transaction holds back vacuum: not visible here
-- (one session), but the check says so when nobody does
SELECT "check", detail LIKE 'no other session%' OR detail LIKE 'pid %' AS described
  FROM jobs.health WHERE "check" = 'oldest_xmin';

-- a monitoring role needs SELECT on the views, not on the tables
CREATE ROLE pgjobs_test_monitor;
GRANT USAGE ON SCHEMA jobs TO pgjobs_test_monitor;
GRANT SELECT ON jobs.stats, jobs.health TO pgjobs_test_monitor;
SET ROLE pgjobs_test_monitor;
SELECT count(*) > 0 AS can_read_stats FROM jobs.stats;
SELECT count(*) AS health_checks FROM jobs.health;
SELECT count(*) FROM jobs.job_queue;
RESET ROLE;
REVOKE ALL ON jobs.stats, jobs.health FROM pgjobs_test_monitor;
REVOKE USAGE ON SCHEMA jobs FROM pgjobs_test_monitor;
DROP ROLE pgjobs_test_monitor;

TRUNCATE jobs.job_queue, jobs.job;
