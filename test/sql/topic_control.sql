-- Topic controls: jobs.pause, jobs.resume and jobs.set_limit
\set VERBOSITY default
TRUNCATE jobs.job_queue, jobs.job, jobs.topic_control;
SELECT setval('jobs.job_id_seq', 1, false);

SELECT jobs.publish('email.send', '{}', i_priority => 5);   -- 1
SELECT jobs.publish('sms.send', '{}');                      -- 2
SELECT jobs.publish('email.bounce', '{}', i_priority => 1); -- 3

-- a paused pattern's jobs are not claimed; publishing goes on
SELECT jobs.pause('email.%');
SELECT jobs.publish('email.send', '{}') AS published;      -- 4
SELECT job_id, task FROM jobs.consume(10);
SELECT job_id FROM jobs.consume_topic('email.%', 10);
SELECT pattern, paused FROM jobs.topic_control;
SELECT jobs.resume('email.%');
SELECT jobs.resume('email.%');                               -- not paused
SELECT count(*) AS controls FROM jobs.topic_control;
SELECT job_id, task FROM jobs.consume(1);

-- a concurrency limit: at most 2 running jobs of the pattern
TRUNCATE jobs.job_queue, jobs.job;
SELECT setval('jobs.job_id_seq', 1, false);
SELECT count(*) FROM jobs.publish_bulk(ARRAY(
    SELECT ROW('thumb.make', NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job
      FROM generate_series(1, 5)));
SELECT jobs.publish('other.task');                          -- 6
SELECT jobs.set_limit('thumb.%', i_max_running => 2);
SELECT job_id, task FROM jobs.consume(10) ORDER BY job_id;
SELECT count(*) AS more FROM jobs.consume(10);
-- finishing one frees a slot
SELECT jobs.ack(1);
SELECT job_id FROM jobs.consume(10);
SELECT count(*) AS more FROM jobs.consume(10);
-- a consumer of another topic is not held back by the limit
SELECT jobs.publish('other.task');                          -- 7
SELECT job_id FROM jobs.consume_topic('other.%', 10);
-- lifting the limit
SELECT jobs.set_limit('thumb.%');
SELECT count(*) AS controls FROM jobs.topic_control;
SELECT count(*) AS rest FROM jobs.consume(10);

-- a rate limit: a burst of 3, then 1000 a second
TRUNCATE jobs.job_queue, jobs.job;
SELECT count(*) FROM jobs.publish_bulk(ARRAY(
    SELECT ROW('api.call', NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job
      FROM generate_series(1, 10)));
SELECT jobs.set_limit('api.%', i_rate => 0.001, i_burst => 3);
SELECT count(*) AS burst FROM jobs.consume(10);
SELECT count(*) AS none_left FROM jobs.consume(10);
SELECT tokens < 1 AS spent FROM jobs.topic_control WHERE pattern = 'api.%';
SELECT jobs.set_limit('api.%', i_rate => 1000000);
SELECT count(*) AS rest FROM jobs.consume(10);
SELECT jobs.set_limit('api.%');

-- paused and limited together; pause survives lifting the limit
SELECT jobs.set_limit('x.%', 1);
SELECT jobs.pause('x.%');
SELECT jobs.set_limit('x.%');
SELECT pattern, paused, max_running FROM jobs.topic_control;
SELECT jobs.resume('x.%');
SELECT count(*) AS controls FROM jobs.topic_control;

-- bad input
SELECT jobs.pause(NULL);
\echo :SQLSTATE
SELECT jobs.pause('');
\echo :SQLSTATE
SELECT jobs.set_limit('a.%', 0);
\echo :SQLSTATE
SELECT jobs.set_limit('a.%', i_rate => -1);
\echo :SQLSTATE
SELECT jobs.set_limit('a.%', i_rate => 'NaN');
\echo :SQLSTATE
SELECT jobs.set_limit('a.%', i_burst => 5);
\echo :SQLSTATE
SELECT count(*) AS controls FROM jobs.topic_control;
