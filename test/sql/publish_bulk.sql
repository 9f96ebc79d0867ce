-- jobs.publish_bulk: ids in input order, defaults, all or nothing
\set VERBOSITY default
TRUNCATE jobs.job_queue, jobs.job;
SELECT setval('jobs.job_id_seq', 1, false);

SELECT * FROM jobs.publish_bulk(ARRAY[
    ROW('b.one', '{"n": 1}', NULL, NULL, NULL, NULL),
    ROW('b.two', NULL, '2000-01-01 00:00', 5, 9, 0),
    ROW('b.three', '[]', NULL, 120, -1, 7)
]::jobs.bulk_job[]);
SELECT job_id, task, body, priority, timeout, max_retries, status,
       scheduled_at <= now() AS ready
  FROM jobs.job_queue ORDER BY job_id;

-- ids come back in input order, whatever the tasks
SELECT array_agg(job_id) = array_agg(job_id ORDER BY job_id) AS in_input_order,
       count(*)
  FROM jobs.publish_bulk((SELECT array_agg(ROW('b.' || (1000 - i), NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job
                                          ORDER BY i)
                            FROM generate_series(1, 1000) i));
-- ... and each id is its element's: the i-th element (task b.<1000 - i>)
-- got id 3 + i
SELECT bool_and(task = 'b.' || (1003 - job_id)) AS ids_follow_input, count(*)
  FROM jobs.job_queue WHERE job_id BETWEEN 4 AND 1003;
SELECT count(*) AS queued FROM jobs.job_queue;

-- an empty array publishes nothing
SELECT count(*) FROM jobs.publish_bulk('{}');

-- the original's call form
SELECT count(*) FROM jobs.publish_bulk(ARRAY[ROW('b.x', NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job]);

-- bad elements: the error names the element, and nothing is written
SELECT count(*) AS before FROM jobs.job_queue \gset
SELECT * FROM jobs.publish_bulk(NULL);
\echo :SQLSTATE
SELECT * FROM jobs.publish_bulk(ARRAY[ROW('ok', NULL, NULL, NULL, NULL, NULL), NULL]::jobs.bulk_job[]);
SELECT * FROM jobs.publish_bulk(ARRAY[ROW('ok', NULL, NULL, NULL, NULL, NULL),
                                      ROW(NULL, NULL, NULL, NULL, NULL, NULL)]::jobs.bulk_job[]);
SELECT * FROM jobs.publish_bulk(ARRAY[ROW('ok', NULL, NULL, NULL, NULL, NULL),
                                      ROW('ok', NULL, NULL, NULL, NULL, NULL),
                                      ROW('bad', NULL, NULL, 0, NULL, NULL)]::jobs.bulk_job[]);
SELECT * FROM jobs.publish_bulk(ARRAY[ROW('', NULL, NULL, NULL, NULL, NULL)]::jobs.bulk_job[]);
SELECT * FROM jobs.publish_bulk(ARRAY[ROW('x', NULL, NULL, NULL, NULL, -3)]::jobs.bulk_job[]);
SELECT * FROM jobs.publish_bulk(ARRAY[ROW('x', NULL, 'infinity', NULL, NULL, NULL)]::jobs.bulk_job[]);
SELECT * FROM jobs.publish_bulk('{{"(a,,,,,)"},{"(b,,,,,)"}}'::jobs.bulk_job[]);
SELECT count(*) = :before AS nothing_written FROM jobs.job_queue;

-- a bulk publish in a rolled-back transaction leaves nothing
BEGIN;
SELECT count(*) FROM jobs.publish_bulk(ARRAY[ROW('rb', NULL, NULL, NULL, NULL, NULL)]::jobs.bulk_job[]);
ROLLBACK;
SELECT count(*) AS rolled_back FROM jobs.job_queue WHERE task = 'rb';

-- a jobs.bulk_job altered by hand is refused, not misread
BEGIN;
ALTER TYPE jobs.bulk_job ALTER ATTRIBUTE task TYPE integer;
SELECT * FROM jobs.publish_bulk(ARRAY[ROW(1, NULL, NULL, NULL, NULL, NULL)]::jobs.bulk_job[]);
ROLLBACK;
BEGIN;
ALTER TYPE jobs.bulk_job ADD ATTRIBUTE extra integer;
SELECT * FROM jobs.publish_bulk(ARRAY[ROW('x', NULL, NULL, NULL, NULL, NULL, 1)]::jobs.bulk_job[]);
ROLLBACK;

-- a trigger that skips rows cannot make publish lose jobs silently
CREATE FUNCTION skip_odd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.task LIKE 'skip%' THEN RETURN NULL; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER skip_odd BEFORE INSERT ON jobs.job_queue FOR EACH ROW EXECUTE FUNCTION skip_odd();
SELECT jobs.publish('skip.me');
\echo :SQLSTATE
SELECT * FROM jobs.publish_bulk(ARRAY[ROW('keep', NULL, NULL, NULL, NULL, NULL),
                                      ROW('skip.me', NULL, NULL, NULL, NULL, NULL)]::jobs.bulk_job[]);
SELECT jobs.publish('keep') > 0 AS kept;
DROP TRIGGER skip_odd ON jobs.job_queue;
DROP FUNCTION skip_odd();
