-- publish: one job per transaction.
SELECT jobs.publish('bench.task', '{"n":1}');
