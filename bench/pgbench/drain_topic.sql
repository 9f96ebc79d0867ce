-- drain by topic: client k (pgbench's client_id, 0..3) works only on the
-- tasks t.<k>.*, claiming one job at a time with consume_topic and acking it
-- in a second transaction, as drain.sql does.  The ack records the client
-- in the result, so the suite can check that every job was done by a
-- consumer of its own topic.  An empty claim yields job_id 0 and no ack.
SELECT coalesce((SELECT job_id FROM jobs.consume_topic('t.' || :client_id::int || '.%', 1)), 0) AS job_id \gset
\if :job_id > 0
SELECT jobs.ack(:job_id, jsonb_build_object('c', :client_id::int));
\endif
