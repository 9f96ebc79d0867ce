-- The hand-written reference queue of workload 4 (bench/scale.sh): a
-- producer inserts one row per transaction, the ceiling's own statement,
-- into bench_queue.
INSERT INTO bench_queue (task, body) VALUES ('bench.task', '{"n":1}');
