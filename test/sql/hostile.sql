-- Hostile input: every API function gets NULLs, wrong types, huge and
-- deeply nested JSON, patterns full of %, _ and \, and negative and
-- enormous numbers.  Each call ends in a result or a clean error with its
-- SQLSTATE; nothing is half-written.
\set VERBOSITY terse
TRUNCATE jobs.job_queue, jobs.job, jobs.topic_control, jobs.recurring;

-- NULL for every argument of every function that takes one: each call
-- either works (NULL means "the default") or raises 22004/22023.
CREATE TEMP TABLE outcome (call text, sqlstate text);
DO $$
DECLARE
    f record;
    sql text;
BEGIN
    FOR f IN
        SELECT p.oid, p.proname, p.pronargs
          FROM pg_proc p
         WHERE p.pronamespace = 'jobs'::regnamespace AND p.pronargs > 0
           AND p.prorettype <> 'trigger'::regtype
         ORDER BY p.oid::regprocedure::text
    LOOP
        sql := format('SELECT * FROM %s(%s)', f.oid::regproc,
                      (SELECT string_agg(format('NULL::%s', format_type(t, NULL)), ', ')
                         FROM unnest((SELECT proargtypes::oid[] FROM pg_proc WHERE oid = f.oid)) t));
        BEGIN
            EXECUTE sql;
            INSERT INTO outcome VALUES (f.oid::regprocedure::text, 'ok');
        EXCEPTION WHEN OTHERS THEN
            INSERT INTO outcome VALUES (f.oid::regprocedure::text, SQLSTATE);
        END;
    END LOOP;
END
$$;
SELECT call, sqlstate FROM outcome ORDER BY call;
SELECT count(*) AS queued_by_nulls FROM jobs.job_queue;
-- ack_and_consume with NULL in one argument at a time: a NULL job id only
-- claims; a NULL num is refused; NULL result, attempt and pattern are the
-- defaults (the ack of job 0 then fails: it does not exist)
SELECT count(*) AS claimed FROM jobs.ack_and_consume(NULL, 1, '{}', 1, '%');
SELECT jobs.ack_and_consume(0, NULL, '{}', 1, '%');
SELECT jobs.ack_and_consume(0, 1, NULL, 1, '%');
SELECT jobs.ack_and_consume(0, 1, '{}', NULL, '%');
SELECT jobs.ack_and_consume(0, 1, '{}', 1, NULL);

-- wrong types: no function matches
SELECT jobs.publish(42);
SELECT jobs.consume('many');
SELECT jobs.ack('{}'::jsonb);
SELECT jobs.ack_and_consume('{}'::jsonb);
SELECT jobs.ack_and_consume(1, 'one');

-- huge and deeply nested bodies are stored and handed back intact
SELECT jobs.publish('big.body', jsonb_build_object('blob', repeat('x', 10 * 1024 * 1024))) AS big \gset
SELECT job_id = :big AS claimed, length(body->>'blob') AS blob_length FROM jobs.consume(1);
SELECT jobs.ack(:big);
SELECT jobs.publish('deep.body', (repeat('[', 5000) || repeat(']', 5000))::jsonb) AS deep \gset
SELECT jsonb_array_length(body) AS outer_length FROM jobs.consume(1);
SELECT jobs.ack(:deep);
-- nested beyond what the JSON parser allows: its own clean error
SELECT jobs.publish('deeper.body', (repeat('[', 1000000) || repeat(']', 1000000))::jsonb);
-- a huge result and a huge traceback
SELECT jobs.publish('big.result') AS r \gset
SELECT count(*) FROM jobs.consume(1);
SELECT jobs.ack(:r, jsonb_build_object('r', repeat('y', 5 * 1024 * 1024)));
SELECT length(result->>'r') FROM jobs.job WHERE job_id = :r;
SELECT jobs.publish('big.result.aac') AS ra \gset
SELECT count(*) FROM jobs.consume(1);
SELECT count(*) AS claimed FROM jobs.ack_and_consume(:ra, 1, jsonb_build_object('r', repeat('y', 5 * 1024 * 1024)));
SELECT length(result->>'r') FROM jobs.job WHERE job_id = :ra;
SELECT jobs.publish('big.error', i_max_retries => 0) AS e \gset
SELECT count(*) FROM jobs.consume(1);
SELECT jobs.nack(:e, repeat('z', 5 * 1024 * 1024));
SELECT length(last_error) FROM jobs.dead_letter WHERE job_id = :e;

-- patterns full of %, _ and \: _ and \ match only themselves
TRUNCATE jobs.job_queue, jobs.job;
SELECT count(*) FROM jobs.publish_bulk(ARRAY[
    ROW('a_b', NULL, NULL, NULL, NULL, NULL), ROW('axb', NULL, NULL, NULL, NULL, NULL),
    ROW('a\b', NULL, NULL, NULL, NULL, NULL), ROW('a%b', NULL, NULL, NULL, NULL, NULL)]::jobs.bulk_job[]);
SELECT task FROM jobs.consume_topic('a_b', 10);
SELECT task FROM jobs.consume_topic('a\b', 10);
SELECT task FROM jobs.consume_topic('a%%', 10) ORDER BY task;
SELECT task FROM jobs.consume_topic('\%_\\%', 10);
SELECT jobs.pause('%\_%');
SELECT jobs.resume('%\_%');
SELECT jobs.retry_topic('%\%%');
SELECT jobs.consume_topic(repeat('%', 1025), 1);
SELECT count(*) FROM jobs.publish_bulk(ARRAY[
    ROW('a_b', NULL, NULL, NULL, NULL, NULL), ROW('a\b', NULL, NULL, NULL, NULL, NULL)]::jobs.bulk_job[]);
SELECT task FROM jobs.ack_and_consume(NULL, 10, NULL, NULL, 'a_b');
SELECT task FROM jobs.ack_and_consume(NULL, 10, NULL, NULL, 'a\b');
SELECT jobs.ack_and_consume(NULL, 1, NULL, NULL, repeat('%', 1025));
SELECT jobs.ack_and_consume(NULL, 1, NULL, NULL, '');
SELECT jobs.set_limit(repeat('a', 1024), 1);
SELECT jobs.set_limit(repeat('a', 1024));

-- negative and enormous numbers
SELECT jobs.consume(-1);
SELECT jobs.consume(0);
SELECT count(*) FROM jobs.consume(2147483647);
SELECT jobs.ack_and_consume(NULL, -1);
SELECT jobs.ack_and_consume(NULL, 0);
SELECT jobs.ack_and_consume(0, -2147483648);
SELECT count(*) FROM jobs.ack_and_consume(NULL, 2147483647);
SELECT jobs.ack_and_consume(-9223372036854775808);
SELECT jobs.ack_and_consume(9223372036854775807, 2147483647, NULL, 2147483647);
SELECT jobs.ack_and_consume(0, 1, NULL, 0);
SELECT jobs.ack_and_consume(0, 1, NULL, -2147483648);
SELECT jobs.consume(1, -1);
SELECT jobs.consume(1, 1e100);
SELECT jobs.consume(1, 'NaN');
SELECT jobs.publish('n', NULL, NULL, -1);
SELECT jobs.publish('n', NULL, NULL, 1e100);
SELECT jobs.publish('n', NULL, NULL, 'Infinity');
SELECT jobs.publish('n', NULL, NULL, NULL, 2147483648);
SELECT jobs.publish('n', NULL, 'infinity');
SELECT jobs.publish('n', NULL, NULL, NULL, -2147483648, 2147483647) > 0 AS extreme_ok;
SELECT jobs.publish('n', NULL, NULL, NULL, NULL, -1);
SELECT jobs.retry_delay(-5) >= interval '0' AS clamped, jobs.retry_delay(2147483647) <= interval '1 hour' AS capped;
SELECT jobs.touch(-1);
SELECT jobs.touch(9223372036854775807, 1e308);
SELECT jobs.progress(1, 1e-320);
SELECT jobs.ack(-9223372036854775808);
SELECT jobs.nack(0, NULL, '294277-01-01');
SELECT count(*) FROM jobs.ack_batch(ARRAY[-1, 0, 9223372036854775807]::bigint[]);
SELECT jobs.cancel(-1);
SELECT jobs.retry(-1);
SELECT jobs.set_limit('n.%', 2147483647, 1000000, 2147483647);
SELECT jobs.set_limit('n.%', -2147483648);
SELECT jobs.set_limit('n.%');
SELECT jobs.cron_next('*/1000000000 * * * *');
SELECT jobs.cron_next('* * * * *', 'infinity');
SELECT jobs.cron_next('* * * * *', '294276-12-31 23:59:00+00');
SELECT jobs.schedule(repeat('s', 201), '* * * * *', 'n');

-- nothing above left a job behind but the ones it meant to queue
SELECT task, status, count(*) FROM jobs.all GROUP BY 1, 2 ORDER BY 1, 2;
TRUNCATE jobs.job_queue, jobs.job, jobs.topic_control, jobs.recurring;
