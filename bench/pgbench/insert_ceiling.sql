-- The INSERT ceiling: one single-row INSERT per transaction into a plain
-- table shaped like a small job row (bench_plain, created by bench/run.sh).
-- Every pgjobs figure is reported as a ratio to this rate.
INSERT INTO bench_plain (task, body) VALUES ('bench.task', '{"n":1}');
