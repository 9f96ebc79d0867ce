-- jobs.consume_topic: the pattern grammar (% and * match any run, all else literal)
\set VERBOSITY default
TRUNCATE jobs.job_queue, jobs.job;
SELECT setval('jobs.job_id_seq', 1, false);

CREATE FUNCTION refill() RETURNS void LANGUAGE sql AS $$
    TRUNCATE jobs.job_queue;
    SELECT jobs.publish(t) FROM unnest(ARRAY[
        'email.send', 'email.bounce.hard', 'emailx', 'sms.send',
        'report_daily', 'reportXdaily', 'back\slash', 'a.b.c', 'a.b', 'a.bc.d']) t;
$$;

-- claim with a pattern: claimed tasks, sorted for a stable listing
CREATE FUNCTION claimed(p text) RETURNS text[] LANGUAGE sql AS $$
    SELECT array_agg(task ORDER BY task) FROM jobs.consume_topic(p, 100);
$$;

SELECT refill();
SELECT claimed('email.%');            -- a dot-prefix: every depth below it
SELECT claimed('email.%');            -- already claimed: nothing
SELECT refill();
SELECT claimed('email.*');            -- * is the same as %
SELECT refill();
SELECT claimed('email%');             -- no dot: emailx too
SELECT refill();
SELECT claimed('report_daily');       -- _ is literal, not LIKE's any-character
SELECT refill();
SELECT claimed('back\slash');         -- \ is literal
SELECT refill();
SELECT claimed('a.%.c');              -- a wildcard in the middle
SELECT refill();
SELECT claimed('a.b');                -- no wildcard: exact match
SELECT refill();
SELECT claimed('%.send');             -- a suffix
SELECT refill();
SELECT claimed('nothing.%');
SELECT refill();
SELECT array_length(claimed('%'), 1) AS everything;
SELECT array_length(claimed('**'), 1) AS everything;

-- priority still decides among matching jobs, and num limits the claim
SELECT refill();
SELECT jobs.publish('email.urgent', i_priority => 5);
SELECT task FROM jobs.consume_topic('email.%', 2);

-- bad patterns and num
SELECT * FROM jobs.consume_topic(NULL, 1);
\echo :SQLSTATE
SELECT * FROM jobs.consume_topic('', 1);
\echo :SQLSTATE
SELECT * FROM jobs.consume_topic(repeat('a', 1025), 1);
SELECT * FROM jobs.consume_topic('a.%', 0);
SELECT * FROM jobs.consume_topic('a.%', NULL);

DROP FUNCTION claimed(text);
DROP FUNCTION refill();
