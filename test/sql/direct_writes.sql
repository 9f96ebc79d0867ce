-- Direct writes.  jobs.publish and jobs.publish_bulk write their jobs into
-- jobs.job_queue themselves (a bulk as COPY does: heap_multi_insert, then
-- each index), and jobs.ack and jobs.ack_batch, after the DELETE from the
-- queue, write the finished jobs into jobs.job the same way, not through
-- an INSERT statement, whenever the INSERT would do nothing more; the rows
-- are the same.  The claim marks its jobs running the same way (at the
-- end).  pg_walinspect shows which way a batch went (the direct way writes
-- Heap2 MULTI_INSERT records and no Heap INSERT), amcheck that every index
-- holds exactly the rows it should.
\set VERBOSITY default
CREATE EXTENSION IF NOT EXISTS pg_walinspect;
CREATE EXTENSION IF NOT EXISTS amcheck;
TRUNCATE jobs.job_queue, jobs.job;
SELECT setval('jobs.job_id_seq', 1, false);

-- heap_records(rel, since) counts the records written to rel's heap since
-- an LSN.  pg_walinspect reads only WAL flushed: each call follows a
-- commit, and waits for the WAL writer where commits do not flush.
CREATE FUNCTION heap_records(rel regclass, since pg_lsn, OUT multi bigint, OUT single bigint)
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
     WHERE block_ref ~ ('rel \d+/\d+/' || pg_relation_filenode(rel) || ' ');
END $$;

-- indexes_intact(rel) checks every index of rel against the heap
CREATE FUNCTION indexes_intact(rel regclass) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(c.relname, ', ' ORDER BY c.relname)
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid,
           LATERAL bt_index_check(i.indexrelid, true)
     WHERE i.indrelid = rel
$$;

-- differing(rel) counts the rows of rel written one way that the other did
-- not write, every column but job_id and finished_at compared: those whose
-- task has the mark 'via_insert.' (written through the INSERT) against the
-- others
CREATE FUNCTION differing(rel regclass) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format($q$
        SELECT count(*) FROM (
            (SELECT to_jsonb(r) - 'job_id' - 'finished_at' FROM %1$s r
              WHERE task NOT LIKE 'via_insert.%%'
             EXCEPT ALL
             SELECT jsonb_set(to_jsonb(r) - 'job_id' - 'finished_at', '{task}',
                              to_jsonb(substr(task, 12)))
               FROM %1$s r WHERE task LIKE 'via_insert.%%')
            UNION ALL
            (SELECT jsonb_set(to_jsonb(r) - 'job_id' - 'finished_at', '{task}',
                              to_jsonb(substr(task, 12)))
               FROM %1$s r WHERE task LIKE 'via_insert.%%'
             EXCEPT ALL
             SELECT to_jsonb(r) - 'job_id' - 'finished_at' FROM %1$s r
              WHERE task NOT LIKE 'via_insert.%%')) x$q$, rel) INTO n;
    RETURN n;
END $$;

-- publish: 40 elements using every field, and leaving each out
CREATE TEMP TABLE bulk_input AS
SELECT i, ROW('d.' || i,
              CASE WHEN i % 3 <> 0 THEN jsonb_build_object('i', i) END,
              CASE WHEN i % 4 = 0 THEN '2031-05-06 07:08:09.5'::timestamp END,
              CASE WHEN i % 5 = 0 THEN i END,
              CASE WHEN i % 6 <> 0 THEN i % 7 - 3 END,
              CASE WHEN i % 2 = 0 THEN i % 10 END)::jobs.bulk_job AS j
  FROM generate_series(1, 40) i;

-- a BEFORE INSERT trigger that marks the task makes publish_bulk take the
-- INSERT
CREATE FUNCTION mark_task() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.task := 'via_insert.' || NEW.task;
    RETURN NEW;
END $$;
SELECT pg_current_wal_insert_lsn() AS lsn \gset
SELECT array_agg(job_id) = array_agg(job_id ORDER BY job_id) AS in_input_order, count(*)
  FROM jobs.publish_bulk((SELECT array_agg(j ORDER BY i) FROM bulk_input));
SELECT multi > 0 AS multi_insert, single AS heap_inserts FROM heap_records('jobs.job_queue', :'lsn');
CREATE TRIGGER mark_task BEFORE INSERT ON jobs.job_queue
    FOR EACH ROW EXECUTE FUNCTION mark_task();
SELECT pg_current_wal_insert_lsn() AS lsn \gset
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(j ORDER BY i) FROM bulk_input));
SELECT multi AS multi_inserts, single AS heap_inserts FROM heap_records('jobs.job_queue', :'lsn');
DROP TRIGGER mark_task ON jobs.job_queue;

-- The same 40 jobs both ways in one transaction (one now()), in a session
-- time zone that moves the timestamps: every column but the id is the same
-- (the task without its mark).
TRUNCATE jobs.job_queue;
BEGIN;
SET LOCAL timezone = 'America/New_York';
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(j ORDER BY i) FROM bulk_input));
CREATE TRIGGER mark_task BEFORE INSERT ON jobs.job_queue
    FOR EACH ROW EXECUTE FUNCTION mark_task();
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(j ORDER BY i) FROM bulk_input));
DROP TRIGGER mark_task ON jobs.job_queue;
SELECT differing('jobs.job_queue');
COMMIT;
SELECT indexes_intact('jobs.job_queue');

-- one job at a time, both ways, the same
TRUNCATE jobs.job_queue;
BEGIN;
SET LOCAL timezone = 'Asia/Kolkata';
SELECT count(jobs.publish(t, b, s, o, p, r)) FROM (VALUES
    ('s.1', '{"a": 1}'::jsonb, NULL::timestamptz, NULL::numeric, NULL::int, NULL::int),
    ('s.2', NULL, '2030-02-03 04:05:06+00', 7.25, 4, 0),
    ('s.3', '[]', NULL, 3600, -2, 9)) v(t, b, s, o, p, r);
CREATE TRIGGER mark_task BEFORE INSERT ON jobs.job_queue
    FOR EACH ROW EXECUTE FUNCTION mark_task();
SELECT count(jobs.publish(t, b, s, o, p, r)) FROM (VALUES
    ('s.1', '{"a": 1}'::jsonb, NULL::timestamptz, NULL::numeric, NULL::int, NULL::int),
    ('s.2', NULL, '2030-02-03 04:05:06+00', 7.25, 4, 0),
    ('s.3', '[]', NULL, 3600, -2, 9)) v(t, b, s, o, p, r);
DROP TRIGGER mark_task ON jobs.job_queue;
SELECT differing('jobs.job_queue');
COMMIT;
SELECT task, body, scheduled_at = created_at AS now, timeout, priority, max_retries
  FROM jobs.job_queue WHERE task LIKE 's.%' ORDER BY job_id;
SELECT indexes_intact('jobs.job_queue');

-- An index created after the session has written jobs gets the next ones:
-- the session prepares its writes again after any change to the table.
CREATE INDEX job_queue_task_idx ON jobs.job_queue (task) WHERE priority > 0;
SELECT jobs.publish('s.4', i_priority => 1) > 0 AS published;
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(j ORDER BY i) FROM bulk_input));
SELECT indexes_intact('jobs.job_queue');
DROP INDEX jobs.job_queue_task_idx;
SELECT jobs.publish('s.5') > 0 AS published_after_drop;
SELECT indexes_intact('jobs.job_queue');

-- what the direct way wrote, read back: each job its element's, in order
TRUNCATE jobs.job_queue;
BEGIN;
SET LOCAL timezone = 'America/New_York';
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(j ORDER BY i) FROM bulk_input));
COMMIT;
SELECT count(*) AS jobs,
       bool_and(task = 'd.' || (job_id - first_id + 1)) AS ids_follow_input,
       bool_and(status = 'pending' AND attempts = 0 AND started_at IS NULL) AS pending,
       bool_and(published_by = current_user) AS publisher,
       count(*) FILTER (WHERE scheduled_at = '2031-05-06 07:08:09.5-04') AS scheduled_in_new_york,
       count(*) FILTER (WHERE timeout = 60.00) AS default_timeout,
       count(*) FILTER (WHERE priority = 0) AS priority_0,
       count(*) FILTER (WHERE max_retries = 3) AS default_retries,
       count(*) FILTER (WHERE body IS NULL) AS no_body
  FROM jobs.job_queue,
       LATERAL (SELECT min(job_id) AS first_id FROM jobs.job_queue WHERE task LIKE 'd.%') f
 WHERE task LIKE 'd.%';
-- and the claim index has them: consume hands out the highest priority first
SELECT task, priority FROM jobs.consume(2) ORDER BY job_id;

-- Columns added by hand get their defaults the direct way, evaluated once
-- (stable) or for each job (nextval); a default that calls any other
-- volatile function makes publish_bulk take the INSERT, which runs it for
-- each job.  Dropped again, they stay in the table as dropped columns.
TRUNCATE jobs.job_queue;
CREATE SEQUENCE bulk_seq;
ALTER TABLE jobs.job_queue ADD COLUMN who text DEFAULT current_user,
                           ADD COLUMN n bigint DEFAULT nextval('bulk_seq');
SELECT pg_current_wal_insert_lsn() AS lsn \gset
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(j ORDER BY i) FROM bulk_input));
SELECT multi > 0 AS multi_insert, single AS heap_inserts FROM heap_records('jobs.job_queue', :'lsn');
SELECT count(*) FILTER (WHERE who = current_user) AS who,
       count(DISTINCT n) AS distinct_n
  FROM jobs.job_queue;
ALTER TABLE jobs.job_queue ADD COLUMN r float8 DEFAULT random();
SELECT pg_current_wal_insert_lsn() AS lsn \gset
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(j ORDER BY i) FROM bulk_input));
SELECT multi AS multi_inserts, single AS heap_inserts FROM heap_records('jobs.job_queue', :'lsn');
SELECT count(*) AS jobs, count(DISTINCT r) AS distinct_r FROM jobs.job_queue;
ALTER TABLE jobs.job_queue DROP COLUMN who, DROP COLUMN n, DROP COLUMN r;
DROP SEQUENCE bulk_seq;
TRUNCATE jobs.job_queue;
SELECT pg_current_wal_insert_lsn() AS lsn \gset
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(j ORDER BY i) FROM bulk_input));
SELECT multi > 0 AS multi_insert, single AS heap_inserts FROM heap_records('jobs.job_queue', :'lsn');
SELECT count(*) AS jobs, bool_and(task LIKE 'd.%' AND status = 'pending') AS intact
  FROM jobs.job_queue;

-- a default calling a function that is not built in, or a column of a
-- domain (whose constraints an INSERT checks even on the NULL it fills in):
-- the INSERT
CREATE FUNCTION tenant_name() RETURNS text LANGUAGE plpgsql STABLE AS $$ BEGIN RETURN 'acme'; END $$;
ALTER TABLE jobs.job_queue ADD COLUMN tenant text DEFAULT tenant_name();
SELECT pg_current_wal_insert_lsn() AS lsn \gset
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(j ORDER BY i) FROM bulk_input));
SELECT multi AS multi_inserts, single AS heap_inserts FROM heap_records('jobs.job_queue', :'lsn');
SELECT count(*) FILTER (WHERE tenant = 'acme') AS tenant FROM jobs.job_queue;
ALTER TABLE jobs.job_queue DROP COLUMN tenant;
DROP FUNCTION tenant_name();
CREATE DOMAIN tag AS text CHECK (VALUE IS NOT NULL);
ALTER TABLE jobs.job_queue ADD COLUMN tag tag DEFAULT 'x';
SELECT pg_current_wal_insert_lsn() AS lsn \gset
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(j ORDER BY i) FROM bulk_input));
SELECT multi AS multi_inserts, single AS heap_inserts FROM heap_records('jobs.job_queue', :'lsn');
ALTER TABLE jobs.job_queue DROP COLUMN tag;
DROP DOMAIN tag;
SELECT indexes_intact('jobs.job_queue');

-- a NOT NULL column with no default: the error an INSERT gives
TRUNCATE jobs.job_queue;
\set VERBOSITY terse
BEGIN;
ALTER TABLE jobs.job_queue ADD COLUMN tenant text NOT NULL;
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(j ORDER BY i) FROM bulk_input));
ROLLBACK;

-- a CHECK constraint: publish_bulk takes the INSERT, which checks it
BEGIN;
ALTER TABLE jobs.job_queue ADD CONSTRAINT small_priority CHECK (priority < 3);
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(j ORDER BY i) FROM bulk_input));
ROLLBACK;

-- row security: the INSERT, which applies the policies (none to the
-- function's owner here, a superuser)
ALTER TABLE jobs.job_queue ENABLE ROW LEVEL SECURITY;
SELECT pg_current_wal_insert_lsn() AS lsn \gset
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(j ORDER BY i) FROM bulk_input));
SELECT multi AS multi_inserts, single AS heap_inserts FROM heap_records('jobs.job_queue', :'lsn');
ALTER TABLE jobs.job_queue DISABLE ROW LEVEL SECURITY;

-- a read-only transaction refuses it
BEGIN READ ONLY;
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(j ORDER BY i) FROM bulk_input));
ROLLBACK;

\set VERBOSITY default

-- a rolled-back subtransaction takes its jobs with it; the outer ones stay
TRUNCATE jobs.job_queue;
BEGIN;
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(j ORDER BY i) FROM bulk_input));
SAVEPOINT s;
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(j ORDER BY i) FROM bulk_input));
ROLLBACK TO s;
COMMIT;
SELECT count(*) AS kept FROM jobs.job_queue;

-- more jobs than one batch of slots (256), each id its element's
TRUNCATE jobs.job_queue;
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(ROW('m.' || i, NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job ORDER BY i)
                                          FROM generate_series(1, 700) i));
SELECT count(*), bool_and(task = 'm.' || (job_id - (SELECT min(job_id) FROM jobs.job_queue) + 1)) AS ids_follow_input
  FROM jobs.job_queue;
SELECT indexes_intact('jobs.job_queue');

TRUNCATE jobs.job_queue;
DROP FUNCTION mark_task();

-- ack and ack_batch
TRUNCATE jobs.job_queue, jobs.job;
SELECT setval('jobs.job_id_seq', 1, false);

-- A trigger on jobs.job makes ack take the INSERT; the jobs acked that way
-- are published with the same fields as the others, their tasks marked.
-- keep_row() is a row trigger that changes nothing: being there is enough
-- to make a statement run.
CREATE FUNCTION keep_row() RETURNS trigger LANGUAGE plpgsql AS $$
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
    FOR EACH ROW EXECUTE FUNCTION keep_row();
SELECT count(jobs.ack(job_id, jsonb_build_object('done', substr(task, 12))))
  FROM jobs.job_queue WHERE task LIKE 'via_insert.a.%' AND substr(task, 14)::int <= 10;
DROP TRIGGER count_finished ON jobs.job;

-- in batches, both ways; the direct one writes MULTI_INSERT records
SELECT pg_current_wal_insert_lsn() AS lsn \gset
SELECT count(*) FROM jobs.ack_batch(
    (SELECT array_agg(job_id ORDER BY job_id) FROM jobs.job_queue WHERE task LIKE 'a.%'),
    (SELECT array_agg(jsonb_build_object('done', task) ORDER BY job_id) FROM jobs.job_queue WHERE task LIKE 'a.%'));
SELECT multi > 0 AS multi_insert, single AS heap_inserts FROM heap_records('jobs.job', :'lsn');
CREATE TRIGGER count_finished BEFORE INSERT ON jobs.job
    FOR EACH ROW EXECUTE FUNCTION keep_row();
SELECT pg_current_wal_insert_lsn() AS lsn \gset
SELECT count(*) FROM jobs.ack_batch(
    (SELECT array_agg(job_id ORDER BY job_id) FROM jobs.job_queue WHERE task LIKE 'via_insert.a.%'),
    (SELECT array_agg(jsonb_build_object('done', substr(task, 12)) ORDER BY job_id) FROM jobs.job_queue WHERE task LIKE 'via_insert.a.%'));
SELECT multi AS multi_inserts, single AS heap_inserts FROM heap_records('jobs.job', :'lsn');
DROP TRIGGER count_finished ON jobs.job;

SELECT count(*) AS finished, differing('jobs.job'),
       bool_and(status = 'succeeded' AND result ->> 'done' = replace(task, 'via_insert.', '')) AS results,
       bool_and(finished_at BETWEEN started_at AND clock_timestamp()) AS finished_at,
       count(*) FILTER (WHERE progress_note = 'half') AS progress_kept
  FROM jobs.job;
SELECT count(*) AS left_in_queue FROM jobs.job_queue;
SELECT indexes_intact('jobs.job');

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
SELECT indexes_intact('jobs.job');
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
SELECT indexes_intact('jobs.job');

TRUNCATE jobs.job_queue, jobs.job;

-- pkey_scans(stmt) runs a statement and says how many rows it returned and
-- whether it scanned job_queue_pkey: which way a claim or a take went.
CREATE FUNCTION pkey_scans(stmt text, OUT n bigint, OUT through_pkey boolean)
LANGUAGE plpgsql AS $$
DECLARE
    scans bigint := pg_stat_get_xact_numscans('jobs.job_queue_pkey'::regclass);
BEGIN
    EXECUTE format('SELECT count(*) FROM (%s) s', stmt) INTO n;
    through_pkey := pg_stat_get_xact_numscans('jobs.job_queue_pkey'::regclass) > scans;
END $$;

-- The claim.  consume locks its jobs with a SELECT ... FOR UPDATE SKIP
-- LOCKED and marks them running itself (a new version of each row, and its
-- index entries), unless the claim's UPDATE would do more: then it runs
-- the UPDATE, which finds each job again through the primary key.
-- claim(n, pattern) claims as consume_topic does, and says how many jobs
-- and which way the claim went.
CREATE FUNCTION claim(n int, pattern text DEFAULT '%',
                      OUT claimed bigint, OUT through_pkey boolean)
LANGUAGE sql AS $$
    SELECT * FROM pkey_scans(format('SELECT * FROM jobs.consume_topic(%L, %s)', pattern, n))
$$;
TRUNCATE jobs.job_queue, jobs.job;

-- 20 jobs, and the same 20 marked; the first claimed directly, the others
-- through the UPDATE (a trigger), in one transaction (one now()): every
-- column but the id is the same
SELECT count(*) FROM jobs.publish_bulk((
    SELECT array_agg(ROW(m || 'c.' || i, CASE WHEN i % 3 <> 0 THEN jsonb_build_object('i', i) END,
                         NULL, CASE WHEN i % 4 = 0 THEN i + 0.25 END, i % 5 - 2,
                         CASE WHEN i % 2 = 0 THEN i END)::jobs.bulk_job ORDER BY m, i)
      FROM generate_series(1, 20) i, (VALUES (''), ('via_insert.')) v(m)));
BEGIN;
SET LOCAL timezone = 'Pacific/Chatham';
SELECT * FROM claim(20, 'c.%');
CREATE TRIGGER noop_update BEFORE UPDATE ON jobs.job_queue
    FOR EACH ROW EXECUTE FUNCTION keep_row();
SELECT * FROM claim(20, 'via_insert.c.%');
DROP TRIGGER noop_update ON jobs.job_queue;
SELECT count(*) AS jobs,
       bool_and(status = 'running' AND attempts = 1
                AND started_at BETWEEN now() AND clock_timestamp()
                AND expires_at = started_at + make_interval(secs => timeout::float8)) AS claimed
  FROM jobs.job_queue;
-- each claim has its own clock time: the rest is the same
UPDATE jobs.job_queue SET started_at = NULL, expires_at = NULL;
SELECT differing('jobs.job_queue');
ROLLBACK;
SELECT count(*) FROM jobs.consume(40);
SELECT indexes_intact('jobs.job_queue');

-- consume's result is the rows as claimed, in claim order; a second
-- claim of the same jobs' next attempt, after a nack, sees attempt 2
TRUNCATE jobs.job_queue;
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(ROW('o.' || i, NULL, NULL, NULL, i % 3, NULL)::jobs.bulk_job ORDER BY i)
                                          FROM generate_series(1, 9) i));
SELECT task, priority, attempt FROM jobs.consume(4);
SELECT count(jobs.nack(job_id, 'again', i_schedule_at => now() - interval '1 s'))
  FROM jobs.job_queue WHERE status = 'running';
SELECT task, priority, attempt FROM jobs.consume(20);
SELECT indexes_intact('jobs.job_queue');

-- a unique job claimed directly keeps its key while it runs, when
-- published so: the unique index takes the new row version
TRUNCATE jobs.job_queue;
SELECT jobs.publish('u', i_unique_key => 'k', i_unique_running => true) AS u_id \gset
SELECT jobs.publish('v', i_unique_key => 'k') AS v_id \gset
SELECT count(*) AS claimed FROM jobs.consume(2);
SELECT jobs.publish('u', i_unique_key => 'k', i_unique_running => true) = :u_id AS u_deduplicated,
       jobs.publish('v', i_unique_key => 'k') <> :v_id AS v_queued_again;
SELECT indexes_intact('jobs.job_queue');

-- a column added with a default after the jobs were published: the new
-- row version stores it; a dropped one stays dropped
TRUNCATE jobs.job_queue;
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(ROW('a.' || i, NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job) FROM generate_series(1, 5) i));
ALTER TABLE jobs.job_queue ADD COLUMN region text NOT NULL DEFAULT 'eu',
                           ADD COLUMN gone int DEFAULT 7;
ALTER TABLE jobs.job_queue DROP COLUMN gone;
SELECT * FROM claim(5);
SELECT count(*) FILTER (WHERE region = 'eu' AND status = 'running') AS claimed_in_eu
  FROM jobs.job_queue;
ALTER TABLE jobs.job_queue DROP COLUMN region;
SELECT indexes_intact('jobs.job_queue');

-- an index created after the session claimed gets the next claims
TRUNCATE jobs.job_queue;
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(ROW('x.' || i, NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job) FROM generate_series(1, 6) i));
SELECT count(*) FROM jobs.consume(2);
CREATE INDEX job_queue_attempts_idx ON jobs.job_queue (attempts, job_id) WHERE status = 'running';
SELECT * FROM claim(2);
SELECT indexes_intact('jobs.job_queue');
DROP INDEX jobs.job_queue_attempts_idx;
SELECT count(*) FROM jobs.consume(2);
SELECT indexes_intact('jobs.job_queue');

-- Row security, or a CHECK constraint (which an UPDATE checks on the new
-- row version): the UPDATE.
TRUNCATE jobs.job_queue;
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(ROW('r.' || i, NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job) FROM generate_series(1, 4) i));
ALTER TABLE jobs.job_queue ENABLE ROW LEVEL SECURITY;
SELECT * FROM claim(1);
ALTER TABLE jobs.job_queue DISABLE ROW LEVEL SECURITY;
ALTER TABLE jobs.job_queue ADD CONSTRAINT first_attempt CHECK (attempts < 1) NOT VALID;
\set VERBOSITY terse
SELECT count(*) FROM jobs.consume(1);
\set VERBOSITY default
ALTER TABLE jobs.job_queue DROP CONSTRAINT first_attempt;
SELECT * FROM claim(10);
SELECT indexes_intact('jobs.job_queue');

-- a table inheriting from the queue: the UPDATE, which claims its jobs too
-- (the pick reads the queue alone)
CREATE TABLE more_jobs () INHERITS (jobs.job_queue);
INSERT INTO more_jobs (task) VALUES ('h.1');
SELECT * FROM claim(10, 'h.%');
SELECT task, status, attempts FROM more_jobs;
DROP TABLE more_jobs;
SELECT * FROM claim(1);

-- a read-only transaction refuses the claim
BEGIN READ ONLY;
\set VERBOSITY terse
SELECT count(*) FROM jobs.consume(1);
\set VERBOSITY default
ROLLBACK;

TRUNCATE jobs.job_queue, jobs.job;
DROP FUNCTION claim(int, text);

-- The take.  ack and ack_batch delete their jobs from the queue themselves,
-- unless the DELETE would do more.  A job this backend claimed directly is
-- found where the claim put it (a take hint); any other through the
-- primary key.  take(ids) acks as ack_batch does, and says how many jobs
-- and which way the take went.
CREATE FUNCTION take(ids bigint[], results jsonb[] DEFAULT NULL, attempts int[] DEFAULT NULL,
                     OUT acked bigint, OUT through_pkey boolean)
LANGUAGE sql AS $$
    SELECT * FROM pkey_scans(format('SELECT * FROM jobs.ack_batch(%L::bigint[], %L::jsonb[], %L::int[])',
                                    ids, results, attempts))
$$;

-- 10 jobs claimed here: found where they were claimed (once ANALYZE has
-- noted that the queue has no child table left, so that claims are direct)
TRUNCATE jobs.job_queue, jobs.job;
ANALYZE jobs.job_queue;
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(ROW('k.' || i, NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job ORDER BY i) FROM generate_series(1, 30) i));
SELECT count(*) FROM jobs.consume(10);
SELECT * FROM take((SELECT array_agg(job_id) FROM jobs.job_queue WHERE status = 'running'));
-- changed since the claim (a new row version elsewhere): the primary key
SELECT count(*) FROM jobs.consume(10);
SELECT count(jobs.progress(job_id, 0.5)) FROM jobs.job_queue WHERE status = 'running';
SELECT * FROM take((SELECT array_agg(job_id) FROM jobs.job_queue WHERE status = 'running'));
SELECT count(*) AS finished, count(*) FILTER (WHERE progress = 0.5) AS with_progress FROM jobs.job;
-- the table rewritten since (where a claim left one job another may be
-- now) or emptied and truncated: the job found by its id, or not at all
SELECT count(*) FROM jobs.consume(4);
VACUUM FULL jobs.job_queue;
SELECT * FROM take((SELECT ARRAY[max(job_id)] FROM jobs.job_queue WHERE status = 'running'));
SELECT count(*) AS still_running FROM jobs.job_queue WHERE status = 'running';
SELECT count(*) FROM jobs.consume(3);
SELECT array_agg(job_id) AS gone_ids FROM jobs.job_queue WHERE status = 'running' \gset
DELETE FROM jobs.job_queue;
VACUUM jobs.job_queue;
SELECT pg_relation_size('jobs.job_queue') AS truncated_to;
SELECT * FROM take(:'gone_ids');
SELECT indexes_intact('jobs.job_queue');

-- Both ways in one transaction (one now()), with results, the attempt to
-- end, a job given twice (taken with the element whose attempt matches,
-- and its result), a job whose lease lapsed and one whose cancellation was
-- requested (neither taken; both changed since their claim, so looked up
-- in the primary key): the same jobs.job rows, the marked ones through the
-- statements (a trigger on jobs.job)
TRUNCATE jobs.job_queue, jobs.job;
SELECT count(*) FROM jobs.publish_bulk((
    SELECT array_agg(ROW(m || 'w.' || i, CASE WHEN i % 2 = 0 THEN jsonb_build_object('i', i) END,
                         NULL, NULL, i % 3, NULL)::jobs.bulk_job ORDER BY m, i)
      FROM generate_series(1, 8) i, (VALUES (''), ('via_insert.')) v(m)));
SELECT count(*) FROM jobs.consume(16);
UPDATE jobs.job_queue SET expires_at = now() - interval '1 s' WHERE task LIKE '%w.7';
UPDATE jobs.job_queue SET cancel_requested_at = now() WHERE task LIKE '%w.8';
CREATE TEMP TABLE to_take AS
SELECT m, array_agg(job_id ORDER BY ord) AS ids, array_agg(res ORDER BY ord) AS results,
       array_agg(att ORDER BY ord) AS attempts
  FROM (SELECT CASE WHEN task LIKE 'via_insert.%' THEN 'statement' ELSE 'direct' END AS m,
               job_id, n AS ord, jsonb_build_object('n', n) AS res,
               CASE WHEN task LIKE '%w.1' THEN CASE n WHEN 1 THEN 9 ELSE 1 END END AS att
          FROM jobs.job_queue, LATERAL (VALUES (1), (2)) d(n)
         WHERE n = 1 OR task LIKE '%w.1') x
 GROUP BY m;
BEGIN;
SELECT * FROM take((SELECT ids FROM to_take WHERE m = 'direct'),
                   (SELECT results FROM to_take WHERE m = 'direct'),
                   (SELECT attempts FROM to_take WHERE m = 'direct'));
CREATE TRIGGER count_finished BEFORE INSERT ON jobs.job
    FOR EACH ROW EXECUTE FUNCTION keep_row();
SELECT * FROM take((SELECT ids FROM to_take WHERE m = 'statement'),
                   (SELECT results FROM to_take WHERE m = 'statement'),
                   (SELECT attempts FROM to_take WHERE m = 'statement'));
DROP TRIGGER count_finished ON jobs.job;
SELECT differing('jobs.job');
COMMIT;
SELECT task, result FROM jobs.job WHERE task LIKE 'w.%' ORDER BY job_id;
SELECT task, status FROM jobs.job_queue ORDER BY job_id;
SELECT indexes_intact('jobs.job_queue'), indexes_intact('jobs.job');

-- Versions written before a column was added (which lack it) and with a
-- dropped column's value still in them: the same jobs.job rows both ways,
-- for ack_batch and for ack
TRUNCATE jobs.job_queue, jobs.job;
ALTER TABLE jobs.job_queue ADD COLUMN gone int DEFAULT 7;
SELECT count(*) FROM jobs.publish_bulk((
    SELECT array_agg(ROW(m || 'a.' || i, jsonb_build_object('i', i), NULL, NULL, i, NULL)::jobs.bulk_job
                     ORDER BY m, i)
      FROM generate_series(1, 4) i, (VALUES (''), ('via_insert.')) v(m)));
SELECT count(*) FROM jobs.consume(8);
ALTER TABLE jobs.job_queue ADD COLUMN region text NOT NULL DEFAULT 'eu', DROP COLUMN gone;
BEGIN;
SELECT * FROM take((SELECT array_agg(job_id) FROM jobs.job_queue
                     WHERE task LIKE 'a.%' AND task <> 'a.4'));
SELECT jobs.ack(job_id, '{"one": 1}') FROM jobs.job_queue WHERE task = 'a.4';
CREATE TRIGGER count_finished BEFORE INSERT ON jobs.job
    FOR EACH ROW EXECUTE FUNCTION keep_row();
SELECT * FROM take((SELECT array_agg(job_id) FROM jobs.job_queue
                     WHERE task LIKE 'via_insert.a.%' AND task <> 'via_insert.a.4'));
SELECT jobs.ack(job_id, '{"one": 1}') FROM jobs.job_queue WHERE task = 'via_insert.a.4';
DROP TRIGGER count_finished ON jobs.job;
SELECT differing('jobs.job');
COMMIT;
SELECT task, body, priority, attempts, result FROM jobs.job WHERE task LIKE 'a.%' ORDER BY job_id;
SELECT count(*) AS left_queued FROM jobs.job_queue;
-- versions written since, full length with the dropped column's place in
-- them, and bodies stored out of line (TOAST): kept as they are, the same
-- rows both ways, bodies intact
TRUNCATE jobs.job_queue, jobs.job;
SELECT count(*) FROM jobs.publish_bulk((
    SELECT array_agg(ROW(m || 'b.' || i,
                         jsonb_build_object('pad', (SELECT string_agg(md5(i || '.' || j), '')
                                                      FROM generate_series(1, 300) j)),
                         NULL, NULL, i, NULL)::jobs.bulk_job ORDER BY m, i)
      FROM generate_series(1, 3) i, (VALUES (''), ('via_insert.')) v(m)));
SELECT count(*) FROM jobs.consume(6);
BEGIN;
SELECT * FROM take((SELECT array_agg(job_id ORDER BY job_id) FROM jobs.job_queue WHERE task LIKE 'b.%'),
                   ARRAY['{"r": 1}', '{"r": 2}', '{"r": 3}']::jsonb[]);
CREATE TRIGGER count_finished BEFORE INSERT ON jobs.job
    FOR EACH ROW EXECUTE FUNCTION keep_row();
SELECT * FROM take((SELECT array_agg(job_id ORDER BY job_id) FROM jobs.job_queue WHERE task LIKE 'via_insert.b.%'),
                   ARRAY['{"r": 1}', '{"r": 2}', '{"r": 3}']::jsonb[]);
DROP TRIGGER count_finished ON jobs.job;
SELECT differing('jobs.job');
COMMIT;
SELECT task, length(body->>'pad') AS pad, body->>'pad' = (SELECT string_agg(md5(substr(task, 3) || '.' || j), '')
                                                           FROM generate_series(1, 300) j) AS intact,
       result
  FROM jobs.job WHERE task LIKE 'b.%' ORDER BY job_id;
SELECT pg_relation_size(reltoastrelid) > 0 AS bodies_out_of_line
  FROM pg_class WHERE oid IN ('jobs.job_queue'::regclass, 'jobs.job'::regclass);
ALTER TABLE jobs.job_queue DROP COLUMN region;

-- a table inheriting from the queue: the DELETE, which takes its jobs too
TRUNCATE jobs.job_queue, jobs.job;
CREATE TABLE more_jobs () INHERITS (jobs.job_queue);
INSERT INTO more_jobs (task, status, attempts, started_at, expires_at)
VALUES ('h.1', 'running', 1, now(), now() + interval '1 minute');
SELECT * FROM take((SELECT array_agg(job_id) FROM more_jobs));
SELECT task, status FROM jobs.job;
DROP TABLE more_jobs;

TRUNCATE jobs.job_queue, jobs.job;
DROP FUNCTION take(bigint[], jsonb[], int[]);
DROP FUNCTION pkey_scans(text);
DROP FUNCTION keep_row();

DROP FUNCTION heap_records(regclass, pg_lsn);
DROP FUNCTION indexes_intact(regclass);
DROP FUNCTION differing(regclass);
DROP EXTENSION pg_walinspect;
DROP EXTENSION amcheck;
