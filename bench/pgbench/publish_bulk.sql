-- publish_bulk: 1000 jobs per transaction, in one call.
SELECT count(*) FROM jobs.publish_bulk((SELECT array_agg(ROW('bench.task', '{"n":1}', NULL, NULL, NULL, NULL)::jobs.bulk_job) FROM generate_series(1, 1000)));
