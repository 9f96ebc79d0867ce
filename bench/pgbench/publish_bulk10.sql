-- publish, batched producer: 10 jobs per transaction, in one publish_bulk call.
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(ROW('bench.task', '{"n":1}', NULL, NULL, NULL, NULL)::jobs.bulk_job) FROM generate_series(1, 10)));
