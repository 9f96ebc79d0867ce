-- drain, batch variant: claim up to 50 jobs in one transaction, then ack
-- them all in a second one with one statement, jobs.ack_batch.  An empty
-- claim skips the ack.
SELECT coalesce(array_agg(job_id), '{}') AS ids, count(*) AS n FROM jobs.consume(50) \gset
\if :n > 0
SELECT count(*) FROM jobs.ack_batch(:ids::bigint[]);
\endif
