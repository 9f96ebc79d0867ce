-- jobs.retry_delay: exponential backoff with jitter, within [d/2, d]
\set VERBOSITY default

-- the settings exist once the library is loaded (here by the first call);
-- defaults: base 2 s, cap 3600 s
SELECT jobs.retry_delay(1) > interval '0' AS loaded;
SHOW pgjobs.retry_backoff_base;
SHOW pgjobs.retry_backoff_max;

SELECT a AS attempt,
       bool_and(d BETWEEN make_interval(secs => least(2 * 2 ^ (a - 1), 3600) / 2)
                      AND make_interval(secs => least(2 * 2 ^ (a - 1), 3600))) AS within_bounds,
       count(DISTINCT d) > 1 AS jittered
  FROM generate_series(1, 14) a, LATERAL (SELECT jobs.retry_delay(a) AS d FROM generate_series(1, 50)) s
 GROUP BY a ORDER BY a;

-- attempts below 1 count as 1; huge attempts stay at the cap
SELECT bool_and(jobs.retry_delay(0) BETWEEN interval '1 second' AND interval '2 seconds') AS zero,
       bool_and(jobs.retry_delay(-5) BETWEEN interval '1 second' AND interval '2 seconds') AS negative,
       bool_and(jobs.retry_delay(2147483647) BETWEEN interval '30 minutes' AND interval '1 hour') AS huge
  FROM generate_series(1, 20);
SELECT jobs.retry_delay(NULL) IS NULL AS null_in_null_out;

-- the settings change it
SET pgjobs.retry_backoff_base = '10s';
SET pgjobs.retry_backoff_max = '1min';
SELECT bool_and(jobs.retry_delay(1) BETWEEN interval '5 seconds' AND interval '10 seconds') AS base_10s,
       bool_and(jobs.retry_delay(10) BETWEEN interval '30 seconds' AND interval '60 seconds') AS capped
  FROM generate_series(1, 20);
SET pgjobs.retry_backoff_base = 0;
SELECT jobs.retry_delay(3) = interval '0' AS no_backoff;
RESET pgjobs.retry_backoff_base;
RESET pgjobs.retry_backoff_max;
SET pgjobs.retry_backoff_base = -1;
SET pgjobs.no_such_setting = 1;

-- nack uses it
TRUNCATE jobs.job_queue, jobs.job;
SET pgjobs.retry_backoff_base = '100s';
SELECT jobs.publish('x') AS id \gset
SELECT count(*) FROM jobs.consume(1);
SELECT jobs.nack(:id, 'e');
SELECT scheduled_at - now() BETWEEN interval '49 seconds' AND interval '101 seconds' AS backoff_from_setting
  FROM jobs.job_queue WHERE job_id = :id;
RESET pgjobs.retry_backoff_base;
