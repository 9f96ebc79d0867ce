-- jobs.publish: call forms, defaults, validation, transactional visibility
\set VERBOSITY default
TRUNCATE jobs.job_queue, jobs.job;
SELECT setval('jobs.job_id_seq', 1, false);

-- both call forms of the original API
SELECT jobs.publish('mail.send');
SELECT job_id FROM jobs.publish('mail.send', '{"args": [1, 2], "kwargs": {}}');
SELECT * FROM jobs.publish('mail.send', i_priority => 7);
-- positional and named arguments, in any order
SELECT jobs.publish('report.build', '{"id": 1}', now() + interval '1 hour', 30, 2, 5);
SELECT jobs.publish(i_max_retries => 0, i_task => 'report.build', i_timeout => 0.5);
-- a timestamp without time zone is taken in the session time zone
SELECT jobs.publish('report.build', i_scheduled_at => '2000-01-01 00:00:00'::timestamp);

-- defaults: priority 0, timeout 60 s, 3 retries, ready now, pending, no attempts
SELECT job_id, task, body, status, priority, attempts, max_retries, timeout,
       scheduled_at = created_at AS ready_now, started_at IS NULL AS not_started,
       expires_at IS NULL AS no_lease, last_error
  FROM jobs.job_queue ORDER BY job_id;

-- explicit NULLs mean the defaults too
SELECT jobs.publish('x', NULL, NULL, NULL, NULL, NULL);
SELECT priority, timeout, max_retries, scheduled_at <= now() AS ready
  FROM jobs.job_queue WHERE job_id = 7;

-- a job exists exactly when the publishing transaction commits
BEGIN;
SELECT jobs.publish('rolled.back');
ROLLBACK;
SELECT count(*) AS rolled_back_jobs FROM jobs.job_queue WHERE task = 'rolled.back';
BEGIN;
SELECT jobs.publish('committed') AS id \gset
SAVEPOINT s;
SELECT jobs.publish('rolled.back.to.savepoint');
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT task FROM jobs.job_queue WHERE task LIKE '%committed%' OR task LIKE 'rolled%';

-- publishing from a trigger: one job per inserted row, in the same transaction
CREATE TABLE signup (email text);
CREATE FUNCTION signup_welcome() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM jobs.publish('mail.welcome', jsonb_build_object('kwargs', jsonb_build_object('to', NEW.email)));
    RETURN NEW;
END $$;
CREATE TRIGGER signup_welcome AFTER INSERT ON signup
    FOR EACH ROW EXECUTE FUNCTION signup_welcome();
INSERT INTO signup VALUES ('a@example.com'), ('b@example.com');
SELECT task, body FROM jobs.job_queue WHERE task = 'mail.welcome' ORDER BY job_id;
BEGIN;
INSERT INTO signup VALUES ('c@example.com');
ROLLBACK;
SELECT count(*) AS welcome_jobs FROM jobs.job_queue WHERE task = 'mail.welcome';
DROP TABLE signup;
DROP FUNCTION signup_welcome();

-- large bodies are stored whole
SELECT jobs.publish('big', jsonb_build_object('data', repeat('x', 5000000))) AS big_id \gset
SELECT length(body->>'data') AS big_body_length FROM jobs.job_queue WHERE job_id = :big_id;

-- bad input: each a clear error, nothing written
SELECT count(*) AS before FROM jobs.job_queue \gset
SELECT jobs.publish(NULL);
\echo :SQLSTATE
SELECT jobs.publish('');
\echo :SQLSTATE
SELECT jobs.publish('   ');
\echo :SQLSTATE
SELECT jobs.publish(repeat('t', 1025));
\echo :SQLSTATE
SELECT jobs.publish('x', i_timeout => 0);
\echo :SQLSTATE
SELECT jobs.publish('x', i_timeout => -5);
SELECT jobs.publish('x', i_timeout => 0.001);
SELECT jobs.publish('x', i_timeout => 100000);
SELECT jobs.publish('x', i_timeout => 'NaN');
SELECT jobs.publish('x', i_max_retries => -1);
\echo :SQLSTATE
SELECT jobs.publish('x', i_scheduled_at => 'infinity');
\echo :SQLSTATE
SELECT jobs.publish('x', '{bad json');
SELECT count(*) = :before AS nothing_written FROM jobs.job_queue;
-- the longest accepted task name and the extremes of the ranges
SELECT jobs.publish(repeat('t', 1024), i_timeout => 0.01, i_priority => -2147483648,
                    i_max_retries => 2147483647) > 0 AS accepted;
SELECT jobs.publish('x', i_timeout => 99999.99, i_priority => 2147483647) > 0 AS accepted;
