-- drain, chained: a worker that acks its previous job and claims the next
-- one in one statement, jobs.ack_and_consume, so each job costs one round
-- trip and one commit instead of two of each.  At-least-once still holds:
-- if the statement fails, the previous job stays claimed (and expires if
-- the worker is gone) and the next stays pending.  job_id starts at 0
-- (pgbench -D job_id=0), passed as NULL: claim only; an empty queue yields
-- 0 again.  Each client's last claim is left running at the end.
SELECT coalesce((SELECT job_id FROM jobs.ack_and_consume(nullif(:job_id, 0))), 0) AS job_id \gset
