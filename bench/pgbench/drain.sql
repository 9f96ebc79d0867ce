-- drain: a worker's loop, one job at a time.  The claim and the ack are two
-- transactions, as in a real worker.  \gset needs exactly one row, so an
-- empty queue yields job_id 0 and the ack is skipped.
SELECT coalesce((SELECT job_id FROM jobs.consume(1)), 0) AS job_id \gset
\if :job_id > 0
SELECT jobs.ack(:job_id);
\endif
