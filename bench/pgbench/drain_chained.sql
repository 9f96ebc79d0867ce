-- drain, chained: a worker that acks its previous job and claims the next
-- one in the same transaction, so each job costs one commit instead of two.
-- At-least-once still holds: if the transaction rolls back, the previous job
-- stays claimed (and expires if the worker is gone) and the next stays
-- pending.  job_id starts at 0 (pgbench -D job_id=0); an empty queue yields
-- 0 again.  Each client's last claim is left running at the end.
BEGIN;
\if :job_id > 0
SELECT jobs.ack(:job_id);
\endif
SELECT coalesce((SELECT job_id FROM jobs.consume(1)), 0) AS job_id \gset
COMMIT;
