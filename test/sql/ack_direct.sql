-- jobs.ack and jobs.ack_batch delete the job from jobs.job_queue with a
-- statement, then write it into jobs.job themselves (a batch with
-- heap_multi_insert), not through an INSERT, whenever the INSERT would do
-- nothing more; the rows are the same.  pg_walinspect shows which way a
-- batch went, amcheck that every index of jobs.job holds exactly the rows
-- it should.
\set VERBOSITY default
CREATE EXTENSION IF NOT EXISTS pg_walinspect;
CREATE EXTENSION IF NOT EXISTS amcheck;
TRUNCATE jobs.job_queue, jobs.job;
SELECT setval('jobs.job_id_seq', 1, false);

-- finished_wal(since) counts the records written to jobs.job's heap since
-- an LSN, once the WAL writer has flushed them
CREATE FUNCTION finished_wal(since pg_lsn, OUT multi bigint, OUT single bigint)
LANGUAGE plpgsql AS $$
DECLARE
    upto pg_lsn := pg_current_wal_insert_lsn();
BEGIN
    WHILE pg_current_wal_flush_lsn() < upto LOOP
        PERFORM pg_sleep(0.01);
    END LOOP;
    SELECT count(*) FILTER (WHERE resource_manager = 'Heap2'
                              AND record_type LIKE 'MULTI_INSERT%'),
           count(*) FILTER (WHERE resource_manager = 'Heap'
                              AND record_type LIKE 'INSERT%')
      INTO multi, single
      FROM pg_get_wal_records_info(since, upto)
     WHERE block_ref ~ ('rel \d+/\d+/' || pg_relation_filenode('jobs.job') || ' ');
END $$;

-- finished_intact() checks every index of jobs.job against the heap
CREATE FUNCTION finished_intact() RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(c.relname, ', ' ORDER BY c.relname)
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid,
           LATERAL bt_index_check(i.indexrelid, true)
     WHERE i.indrelid = 'jobs.job'::regclass
$$;

-- finished_differing() counts the finished jobs written one way that the
-- other did not write, every column but the id and finished_at compared:
-- those whose task has the mark 'via_insert.' against the others
CREATE FUNCTION finished_differing() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM (
        (SELECT to_jsonb(j) - 'job_id' - 'finished_at' FROM jobs.job j
          WHERE task NOT LIKE 'via_insert.%'
         EXCEPT ALL
         SELECT jsonb_set(to_jsonb(j) - 'job_id' - 'finished_at', '{task}', to_jsonb(substr(task, 12)))
           FROM jobs.job j WHERE task LIKE 'via_insert.%')
        UNION ALL
        (SELECT jsonb_set(to_jsonb(j) - 'job_id' - 'finished_at', '{task}', to_jsonb(substr(task, 12)))
           FROM jobs.job j WHERE task LIKE 'via_insert.%'
         EXCEPT ALL
         SELECT to_jsonb(j) - 'job_id' - 'finished_at' FROM jobs.job j
          WHERE task NOT LIKE 'via_insert.%')) x
$$;

-- A trigger on jobs.job makes ack take the INSERT; the jobs acked that way
-- are published with the same fields as the others, their tasks marked.
CREATE FUNCTION count_finished() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RETURN NEW;
END $$;

-- 20 jobs, then the same 20 marked, all claimed with the same attempts
SELECT count(*) FROM jobs.publish_bulk((
    SELECT array_agg(ROW(t, b, NULL, o, p, r)::jobs.bulk_job ORDER BY k)
      FROM (SELECT k, m || 'a.' || i AS t,
                   CASE WHEN i % 3 <> 0 THEN jsonb_build_object('i', i) END AS b,
                   CASE WHEN i % 4 = 0 THEN i END AS o, i % 5 - 2 AS p,
                   CASE WHEN i % 2 = 0 THEN i END AS r
              FROM generate_series(1, 20) i,
                   LATERAL (VALUES (1, ''), (2, 'via_insert.')) v(n, m),
                   LATERAL (SELECT n * 100 + i AS k) kk) x));
SELECT count(*) AS claimed FROM jobs.consume(40);
UPDATE jobs.job_queue SET progress = 0.5, progress_note = 'half'
 WHERE task LIKE '%a.1_';

-- one at a time, both ways
SELECT count(jobs.ack(job_id, jsonb_build_object('done', task)))
  FROM jobs.job_queue WHERE task LIKE 'a.%' AND substr(task, 3)::int <= 10;
CREATE TRIGGER count_finished BEFORE INSERT ON jobs.job
    FOR EACH ROW EXECUTE FUNCTION count_finished();
SELECT count(jobs.ack(job_id, jsonb_build_object('done', substr(task, 12))))
  FROM jobs.job_queue WHERE task LIKE 'via_insert.a.%' AND substr(task, 14)::int <= 10;
DROP TRIGGER count_finished ON jobs.job;

-- in batches, both ways; the direct one writes MULTI_INSERT records
SELECT pg_current_wal_insert_lsn() AS lsn \gset
SELECT count(*) FROM jobs.ack_batch(
    (SELECT array_agg(job_id ORDER BY job_id) FROM jobs.job_queue WHERE task LIKE 'a.%'),
    (SELECT array_agg(jsonb_build_object('done', task) ORDER BY job_id) FROM jobs.job_queue WHERE task LIKE 'a.%'));
SELECT multi > 0 AS multi_insert, single AS heap_inserts FROM finished_wal(:'lsn');
CREATE TRIGGER count_finished BEFORE INSERT ON jobs.job
    FOR EACH ROW EXECUTE FUNCTION count_finished();
SELECT pg_current_wal_insert_lsn() AS lsn \gset
SELECT count(*) FROM jobs.ack_batch(
    (SELECT array_agg(job_id ORDER BY job_id) FROM jobs.job_queue WHERE task LIKE 'via_insert.a.%'),
    (SELECT array_agg(jsonb_build_object('done', substr(task, 12)) ORDER BY job_id) FROM jobs.job_queue WHERE task LIKE 'via_insert.a.%'));
SELECT multi AS multi_inserts, single AS heap_inserts FROM finished_wal(:'lsn');
DROP TRIGGER count_finished ON jobs.job;

SELECT count(*) AS finished, finished_differing() AS differing,
       bool_and(status = 'succeeded' AND result ->> 'done' = replace(task, 'via_insert.', '')) AS results,
       bool_and(finished_at BETWEEN started_at AND clock_timestamp()) AS finished_at,
       count(*) FILTER (WHERE progress_note = 'half') AS progress_kept
  FROM jobs.job;
SELECT count(*) AS left_in_queue FROM jobs.job_queue;
SELECT finished_intact();

-- an ack whose lease no longer holds writes nothing, either way
SELECT jobs.publish('late') AS late_id \gset
SELECT count(*) FROM jobs.consume(1);
UPDATE jobs.job_queue SET expires_at = now() - interval '1 minute' WHERE job_id = :late_id;
\set VERBOSITY terse
SELECT jobs.ack(:late_id);
\set VERBOSITY default
SELECT count(*) AS acked FROM jobs.ack_batch(ARRAY[:late_id]);
SELECT count(*) AS finished FROM jobs.job WHERE job_id = :late_id;

-- an index created on jobs.job after the session acked gets the next jobs
TRUNCATE jobs.job_queue, jobs.job;
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(ROW('i.' || i, NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job) FROM generate_series(1, 30) i));
SELECT count(*) FROM jobs.consume(30);
SELECT jobs.ack(min(job_id)) FROM jobs.job_queue;
CREATE INDEX job_task_idx ON jobs.job (task) WHERE task LIKE 'i.1%';
SELECT jobs.ack(min(job_id)) FROM jobs.job_queue;
SELECT count(*) FROM jobs.ack_batch((SELECT array_agg(job_id) FROM jobs.job_queue));
SELECT finished_intact();
DROP INDEX jobs.job_task_idx;

-- a trigger on jobs.job_queue: ack takes the one statement, so that the
-- trigger still finds the job in jobs.job, as it always did
TRUNCATE jobs.job_queue, jobs.job;
CREATE FUNCTION seen_finished() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'job % deleted from the queue, in jobs.job: %', OLD.task,
        (SELECT count(*) FROM jobs.job WHERE job_id = OLD.job_id);
    RETURN OLD;
END $$;
CREATE TRIGGER seen_finished AFTER DELETE ON jobs.job_queue
    FOR EACH ROW EXECUTE FUNCTION seen_finished();
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(ROW('t.' || i, NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job) FROM generate_series(1, 3) i));
SELECT count(*) FROM jobs.consume(3);
SELECT jobs.ack(min(job_id)) FROM jobs.job_queue;
SELECT count(*) FROM jobs.ack_batch((SELECT array_agg(job_id ORDER BY job_id) FROM jobs.job_queue));
DROP TRIGGER seen_finished ON jobs.job_queue;
DROP FUNCTION seen_finished();

-- a CHECK constraint on jobs.job: ack takes the INSERT, which checks it
TRUNCATE jobs.job_queue, jobs.job;
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(ROW('c.' || i, NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job) FROM generate_series(1, 3) i));
SELECT count(*) FROM jobs.consume(3);
ALTER TABLE jobs.job ADD CONSTRAINT no_results CHECK (result IS NULL);
\set VERBOSITY terse
SELECT jobs.ack(min(job_id), '{"x": 1}') FROM jobs.job_queue;
SELECT count(*) FROM jobs.ack_batch((SELECT array_agg(job_id) FROM jobs.job_queue),
                                    (SELECT array_agg('{"x": 1}'::jsonb) FROM jobs.job_queue));
\set VERBOSITY default
SELECT jobs.ack(min(job_id)) FROM jobs.job_queue;
ALTER TABLE jobs.job DROP CONSTRAINT no_results;
SELECT count(*) AS finished, count(*) FILTER (WHERE result IS NULL) AS without_result FROM jobs.job;
SELECT finished_intact();

TRUNCATE jobs.job_queue, jobs.job;
DROP FUNCTION count_finished();
DROP FUNCTION finished_wal(pg_lsn);
DROP FUNCTION finished_intact();
DROP FUNCTION finished_differing();
DROP EXTENSION pg_walinspect;
DROP EXTENSION amcheck;
