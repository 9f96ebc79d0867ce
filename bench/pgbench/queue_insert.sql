-- queue_insert: the bare INSERT of one job into jobs.job_queue, one per
-- transaction; what publish writes, without publish (a reference row).
INSERT INTO jobs.job_queue (task, body) VALUES ('bench.task', '{"n":1}');
