-- pgjobs client SQL: every statement the Python layer sends, as named blocks
-- (as procrastinate does).  A block starts with a line "-- name --", then
-- comment lines saying what it does, then one statement.  Parameters are
-- typed explicitly, and JSON travels as text, so the queries work whatever
-- type codecs the caller has set on its connection.

-- publish --
-- Queues one job in the caller's transaction; returns its id.
SELECT jobs.publish($1::varchar, $2::text::jsonb, $3::timestamptz,
                    $4::float8::numeric, $5::integer, $6::integer) AS job_id;

-- publish_bulk --
-- Queues many jobs in one statement, all or nothing; ids in input order.
SELECT b.job_id
  FROM jobs.publish_bulk(ARRAY(
           SELECT ROW(u.task, u.body::jsonb, u.scheduled_at::timestamp,
                      u.timeout, u.priority, u.max_retries)::jobs.bulk_job
             FROM ROWS FROM (pg_catalog.unnest($1::varchar[]), pg_catalog.unnest($2::text[]),
                             pg_catalog.unnest($3::timestamptz[]), pg_catalog.unnest($4::integer[]),
                             pg_catalog.unnest($5::integer[]), pg_catalog.unnest($6::integer[]))
                  WITH ORDINALITY AS u(task, body, scheduled_at, timeout,
                                       priority, max_retries, ord)
            ORDER BY u.ord)) AS b(job_id);

-- consume --
-- Claims up to $1 ready jobs.
SELECT job_id, task, body::text AS body, attempt, max_retries, priority,
       timeout::float8 AS timeout, created_at, scheduled_at, expires_at
  FROM jobs.consume($1::integer);

-- consume_topic --
-- Claims up to $2 ready jobs whose task matches the topic pattern $1.
SELECT job_id, task, body::text AS body, attempt, max_retries, priority,
       timeout::float8 AS timeout, created_at, scheduled_at, expires_at
  FROM jobs.consume_topic($1::text, $2::integer);

-- consume_wait --
-- Claims up to $1 ready jobs, waiting in the server up to $2 seconds for some
-- (needs the blocking consume, jobs.consume(num, i_wait)).
SELECT job_id, task, body::text AS body, attempt, max_retries, priority,
       timeout::float8 AS timeout, created_at, scheduled_at, expires_at
  FROM jobs.consume($1::integer, $2::float8::numeric);

-- consume_topic_wait --
-- As consume_topic, waiting in the server up to $3 seconds.
SELECT job_id, task, body::text AS body, attempt, max_retries, priority,
       timeout::float8 AS timeout, created_at, scheduled_at, expires_at
  FROM jobs.consume_topic($1::text, $2::integer, $3::float8::numeric);

-- ack_and_consume --
-- Acks job $1 (result $2, attempt $3; nothing when $1 is NULL), then claims
-- up to $4 ready jobs matching the topic pattern $5 (all when NULL), in one
-- statement (pgjobs 1.2).
SELECT job_id, task, body::text AS body, attempt, max_retries, priority,
       timeout::float8 AS timeout, created_at, scheduled_at, expires_at
  FROM jobs.ack_and_consume($1::bigint, $4::integer, $2::text::jsonb, $3::integer, $5::text);

-- ack --
-- Completes a running job as succeeded, with an optional JSON result.
SELECT jobs.ack($1::bigint, $2::text::jsonb, $3::integer);

-- nack --
-- Fails the current attempt; retried at $3, or after the backoff when NULL.
SELECT jobs.nack($1::bigint, $2::text, $3::timestamptz, $4::integer);

-- nack_now --
-- Fails the current attempt and makes the job ready again at once (server clock).
SELECT jobs.nack($1::bigint, $2::text, pg_catalog.clock_timestamp(), $3::integer);

-- release --
-- Gives a running job back, ready at once, without spending an attempt (pgjobs 1.1).
SELECT jobs.release($1::bigint, NULL::timestamptz, $2::integer);

-- touch --
-- Extends a running job's lease to now + $2 seconds (NULL: its timeout) (pgjobs 1.1).
SELECT jobs.touch($1::bigint, $2::float8::numeric, $3::integer);

-- progress --
-- Records a running job's progress, 0 to 1, and a note (pgjobs 1.1).
SELECT jobs.progress($1::bigint, $2::float8, $3::text, $4::integer);

-- cancel --
-- Cancels a pending job, or asks a running one to stop (pgjobs 1.1).
SELECT jobs.cancel($1::bigint, $2::text);

-- retry --
-- Puts a failed or cancelled job back in the queue (pgjobs 1.1).
SELECT jobs.retry($1::bigint);

-- running_job --
-- One running job by id, shaped like a consume row (for run(conn, job_id)).
SELECT job_id, task, body::text AS body, attempts AS attempt, max_retries, priority,
       timeout::float8 AS timeout, created_at, scheduled_at, expires_at
  FROM jobs.job_queue
 WHERE job_id OPERATOR(pg_catalog.=) $1::bigint AND status = 'running';

-- extension_version --
-- The installed version of the extension, or no row.
SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pgjobs';

-- available_version --
-- The default version the server's extension files offer, or no row.
SELECT default_version FROM pg_catalog.pg_available_extensions WHERE name = 'pgjobs';

-- create_extension --
-- Creates the extension (jobs-migrate only; the client never does this by itself).
CREATE EXTENSION IF NOT EXISTS pgjobs;

-- update_extension --
-- Updates the extension to the default version of the server's files.
ALTER EXTENSION pgjobs UPDATE;
