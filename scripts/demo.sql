-- pgjobs demo: run by scripts/demo.sh on a throwaway cluster.
\set ON_ERROR_STOP on
\pset footer off
CREATE EXTENSION pgjobs;

-- Publish from SQL: a job exists when its transaction commits.
SELECT jobs.publish('mail.send', '{"args": ["ada@example.com"], "kwargs": {}}') AS job_id;
SELECT job_id FROM jobs.publish('report.build', i_priority => 10, i_timeout => 300);
SELECT jobs.publish('report.nightly', i_scheduled_at => now() + interval '1 hour');
SELECT * FROM jobs.publish_bulk(ARRAY[
    ROW('thumb.make', '{"args": [1]}', NULL, NULL, NULL, NULL),
    ROW('thumb.make', '{"args": [2]}', NULL, NULL, NULL, NULL)
]::jobs.bulk_job[]);

-- Publish from a trigger: every new order queues a confirmation e-mail.
CREATE TABLE orders (id serial PRIMARY KEY, email text NOT NULL);
CREATE FUNCTION orders_confirm() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM jobs.publish('mail.confirm', jsonb_build_object('kwargs', jsonb_build_object('order', NEW.id, 'to', NEW.email)));
    RETURN NEW;
END $$;
CREATE TRIGGER orders_confirm AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION orders_confirm();
INSERT INTO orders (email) VALUES ('grace@example.com');

SELECT job_id, task, status, priority, scheduled_at > now() AS scheduled_later FROM jobs.all ORDER BY job_id;

-- A worker claims jobs: highest priority first; the future job waits.
SELECT job_id, task, body, attempt, expires_at - now() AS lease FROM jobs.consume(2);
SELECT job_id, task FROM jobs.consume_topic('thumb.%', 10);
SELECT job_id, task, attempts FROM jobs.running ORDER BY job_id;

-- Acknowledge successes (with a result) and fail one attempt.
SELECT jobs.ack(2, '{"pages": 12}');
SELECT jobs.ack(4);
SELECT jobs.nack(1, 'SMTPError: 421 try again later');
SELECT jobs.nack(5, 'ValueError: bad image', now());

-- The failed attempts are back in the queue, with their errors.
SELECT job_id, task, status, attempts, last_error, scheduled_at - now() AS retry_in
  FROM jobs.job_queue WHERE last_error IS NOT NULL ORDER BY job_id;

-- A job that outlives its timeout expires and is retried.
SELECT jobs.publish('slow.task', i_timeout => 0.1) AS slow_id \gset
SELECT job_id, task FROM jobs.consume_topic('slow.%', 1);
SELECT pg_sleep(0.2);
SELECT job_id, task, attempts FROM jobs.expired;
SELECT jobs.expire() AS reclaimed;

-- A consumer can wait in the server for work: nothing of 'report.%' is ready
-- (report.nightly is due in an hour), so this returns nothing after 1 s.
SELECT job_id, task FROM jobs.consume_topic('report.%', 1, 1);

-- Finished jobs, and everything at a glance.
SELECT job_id, task, status, attempts, result FROM jobs.job ORDER BY job_id;
SELECT status, count(*) FROM jobs.all GROUP BY status ORDER BY status;

-- Monitoring: per-topic statistics and the queue's health.
SELECT name AS topic, ready, scheduled, running, completions_5m FROM jobs.stats WHERE level = 'topic' ORDER BY name;
SELECT "check", status, value FROM jobs.health ORDER BY "check";
