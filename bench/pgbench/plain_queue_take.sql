-- The hand-written reference queue of workload 4 (bench/scale.sh): a
-- consumer takes the oldest row and deletes it in one transaction, the
-- least a SKIP LOCKED queue can do per job: no lease, no retries, no
-- history, no priorities.  A run that finds the queue empty deletes
-- nothing.
DELETE FROM bench_queue
 WHERE id = (SELECT id FROM bench_queue ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED);
