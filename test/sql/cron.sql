-- jobs.cron_next: cron syntax, the day-of-month/day-of-week rule, calendar
-- rollover, leap years, daylight-saving gaps and overlaps, errors
\set VERBOSITY default
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

-- the next n occurrences after p_after, each computed from the one before
CREATE FUNCTION pg_temp.occurrences(p_expr text, p_after timestamptz, p_n integer,
                                    p_tz text DEFAULT 'UTC')
RETURNS TABLE (occurrence timestamptz, weekday text)
LANGUAGE plpgsql AS $$
DECLARE
    t timestamptz := p_after;
BEGIN
    FOR i IN 1 .. p_n LOOP
        t := jobs.cron_next(p_expr, t, p_tz);
        occurrence := t;
        weekday := to_char(t AT TIME ZONE p_tz, 'Dy');
        RETURN NEXT;
    END LOOP;
END $$;

-- every syntax form, from Tuesday 2024-01-30 22:50 UTC
SELECT e AS expression, o.*
  FROM (VALUES ('* * * * *'), ('*/15 * * * *'), ('7 * * * *'), ('5,35 * * * *'),
               ('10-12 * * * *'), ('10-30/10 * * * *'), ('50/3 * * * *'),
               ('0 */6 * * *'), ('0 9-17/4 * * *'), ('00 07 * * *'),
               (E'  0\t0   * *  *  ')) v(e),
       LATERAL pg_temp.occurrences(e, '2024-01-30 22:50:00+00', 3) o;

-- months: numbers, names in any case, ranges of names, steps; month and
-- year rollover; a day-of-month that some months lack is skipped there
SELECT e AS expression, o.*
  FROM (VALUES ('0 0 1 * *'), ('0 0 31 * *'), ('0 12 * 2 *'), ('0 0 1 */4 *'),
               ('0 0 1 JAN,jul *'), ('0 0 1 feb-Apr *'), ('59 23 31 12 *')) v(e),
       LATERAL pg_temp.occurrences(e, '2024-01-30 22:50:00+00', 3) o;

-- days of the week: 0 and 7 are Sunday, names, ranges ending in Sunday,
-- steps over the week
SELECT e AS expression, o.*
  FROM (VALUES ('0 0 * * 0'), ('0 0 * * 7'), ('0 0 * * MON-FRI'), ('0 0 * * sat,SUN'),
               ('0 0 * * FRI-SUN'), ('0 0 * * 5-7'), ('0 0 * * 1/2'), ('0 0 * * */2')) v(e),
       LATERAL pg_temp.occurrences(e, '2024-01-30 22:50:00+00', 4) o;

-- macros, in any case and with surrounding white space
SELECT e AS expression, o.*
  FROM (VALUES ('@yearly'), ('@annually'), ('@monthly'), ('@weekly'), ('@daily'),
               ('@midnight'), ('@hourly'), ('@DAILY'), ('  @Hourly  ')) v(e),
       LATERAL pg_temp.occurrences(e, '2024-01-30 22:50:00+00', 2) o;

-- Vixie cron's rule: day of month and day of week both restricted (neither
-- starts with '*') match either; otherwise both must match
SELECT e AS expression, o.*
  FROM (VALUES ('0 0 13 * 5'),      -- the 13th, and every Friday
               ('0 0 13 * *'),      -- the 13th only
               ('0 0 1-31 * 5'),    -- every day: 1-31 is not '*'
               ('0 0 */13 * 5'),    -- the 1st, 14th or 27th when a Friday
               ('0 0 13 * */7'),    -- the 13th when a Sunday
               ('0 0 30 2 MON')) v(e),  -- never the 30th, but Mondays in February
       LATERAL pg_temp.occurrences(e, '2024-01-30 22:50:00+00', 3) o;

-- strictly after: an occurrence at exactly i_after is not returned
SELECT jobs.cron_next('0 0 * * *', '2024-02-01 00:00:00+00', 'UTC') AS at_midnight,
       jobs.cron_next('0 0 * * *', '2024-01-31 23:59:59.999999+00', 'UTC') AS just_before,
       jobs.cron_next('0 0 * * *', '2024-02-01 00:00:00.000001+00', 'UTC') AS just_after;

-- leap years: February 29th every four years, but not in 2100
SELECT * FROM pg_temp.occurrences('0 0 29 2 *', '2024-01-30 22:50:00+00', 3);
SELECT * FROM pg_temp.occurrences('0 0 29 2 *', '2096-03-01 00:00:00+00', 2);
-- February 29th on a Sunday: gaps of 28 and 40 years, found quickly
SELECT * FROM pg_temp.occurrences('0 0 29 2 */7', '2024-01-30 22:50:00+00', 4);

-- daylight saving in Europe/Berlin: 2024-03-31 02:00 CET jumps to 03:00
-- CEST; 2024-10-27 03:00 CEST falls back to 02:00 CET
SET TimeZone = 'Europe/Berlin';
-- a skipped time fires once, when the gap ends
SELECT * FROM pg_temp.occurrences('30 2 * * *', '2024-03-29 12:00:00+01', 4, 'Europe/Berlin');
SELECT * FROM pg_temp.occurrences('0 2 * * *', '2024-03-30 12:00:00+01', 2, 'Europe/Berlin');
-- 02:00, 02:20, 02:40 and 03:00 all become 03:00 CEST, once
SELECT * FROM pg_temp.occurrences('*/20 * * * *', '2024-03-31 01:30:00+01', 4, 'Europe/Berlin');
-- a repeated time fires once, at its first occurrence (CEST)
SELECT * FROM pg_temp.occurrences('30 2 * * *', '2024-10-26 12:00:00+02', 3, 'Europe/Berlin');
SELECT * FROM pg_temp.occurrences('*/20 * * * *', '2024-10-27 01:30:00+02', 6, 'Europe/Berlin');
SELECT * FROM pg_temp.occurrences('0 * * * *', '2024-10-27 00:30:00+02', 3, 'Europe/Berlin');
-- asked during the second pass, the repeated times are already past
SELECT jobs.cron_next('30 2 * * *', '2024-10-27 02:10:00+01', 'Europe/Berlin') AS daily,
       jobs.cron_next('*/20 * * * *', '2024-10-27 02:10:00+01', 'Europe/Berlin') AS every_20_min;
-- midnight stays at local midnight across both changes
SELECT count(*) AS days, count(DISTINCT (t AT TIME ZONE 'Europe/Berlin')::time) AS local_times,
       min(t) AS first, max(t) AS last
  FROM (WITH RECURSIVE r(t) AS (
            SELECT jobs.cron_next('0 0 * * *', '2024-01-01 00:00:00+01', 'Europe/Berlin')
            UNION ALL
            SELECT jobs.cron_next('0 0 * * *', t, 'Europe/Berlin') FROM r
             WHERE t < '2024-12-31 00:00:00+01')
        SELECT t FROM r) s;
-- hourly over the local year 2024: 366 * 24 local hours, less the skipped 02:00
SELECT count(*) AS firings, count(DISTINCT t) AS distinct_instants
  FROM (WITH RECURSIVE r(t) AS (
            SELECT jobs.cron_next('0 * * * *', '2023-12-31 23:59:00+01', 'Europe/Berlin')
            UNION ALL
            SELECT jobs.cron_next('0 * * * *', t, 'Europe/Berlin') FROM r
             WHERE t < '2024-12-31 23:00:00+01')
        SELECT t FROM r) s;

-- daylight saving in America/New_York: 2024-03-10 02:00 EST jumps to 03:00
-- EDT; 2024-11-03 02:00 EDT falls back to 01:00 EST
SET TimeZone = 'America/New_York';
SELECT * FROM pg_temp.occurrences('30 2 * * *', '2024-03-09 12:00:00-05', 2, 'America/New_York');
SELECT * FROM pg_temp.occurrences('0 2 * * 0', '2024-03-09 12:00:00-05', 2, 'America/New_York');
SELECT * FROM pg_temp.occurrences('30 1 * * *', '2024-11-02 12:00:00-04', 2, 'America/New_York');
SELECT * FROM pg_temp.occurrences('*/30 * * * *', '2024-11-03 00:45:00-04', 4, 'America/New_York');
SELECT jobs.cron_next('30 1 * * *', '2024-11-03 01:15:00-05', 'America/New_York') AS second_pass;
-- every 15 minutes over the local year 2024: 366 * 96 local times, less the
-- four skipped ones (02:00 to 02:45 on 2024-03-10 fire once, as 03:00)
SELECT count(*) AS firings, count(DISTINCT t) AS distinct_instants
  FROM (WITH RECURSIVE r(t) AS (
            SELECT jobs.cron_next('*/15 * * * *', '2023-12-31 23:59:00-05', 'America/New_York')
            UNION ALL
            SELECT jobs.cron_next('*/15 * * * *', t, 'America/New_York') FROM r
             WHERE t < '2024-12-31 23:45:00-05')
        SELECT t FROM r) s;

-- a half-hour change: Australia/Lord_Howe goes from 02:00 (+10:30) to 02:30 (+11)
SELECT jobs.cron_next('15 2 * * *', '2024-10-05 12:00:00+10:30', 'Australia/Lord_Howe')
       AT TIME ZONE 'Australia/Lord_Howe' AS lord_howe_local;

-- no time zone, or NULL: the session's TimeZone
SET TimeZone = 'Asia/Tokyo';
SELECT jobs.cron_next('0 9 * * *', '2024-06-01 12:00:00+00') AS session_zone,
       jobs.cron_next('0 9 * * *', '2024-06-01 12:00:00+00', NULL) AS null_zone,
       jobs.cron_next('0 9 * * *', '2024-06-01 12:00:00+00', 'UTC') AS utc;
SELECT jobs.cron_next(i_time_zone => 'Asia/Kolkata', i_expression => '@daily',
                      i_after => '2024-01-01 00:00:00+00') AS named_arguments;
-- time zone names in any case, and POSIX zone specifications (with POSIX's
-- sign: UTC+3 is three hours west of UTC)
SELECT jobs.cron_next('@daily', '2024-01-01 00:00:00+00', 'europe/berlin') AS lower_case,
       jobs.cron_next('@daily', '2024-01-01 00:00:00+00', 'UTC+3') AS posix;
-- i_after defaults to now()
SELECT jobs.cron_next('* * * * *') > now() AS after_now,
       jobs.cron_next('* * * * *') <= now() + interval '1 minute' AS within_a_minute,
       date_part('second', jobs.cron_next('* * * * *')) = 0 AS on_the_minute;
SET TimeZone = 'UTC';

-- NULL after: NULL, once the expression and the time zone are valid
SELECT jobs.cron_next('* * * * *', NULL) IS NULL AS null_after;
SELECT jobs.cron_next('* * * * *', NULL, 'UTC') IS NULL AS null_after_with_zone;

-- errors, with their SQLSTATEs first
\set VERBOSITY sqlstate
SELECT jobs.cron_next(NULL);
SELECT jobs.cron_next(NULL, NULL);
SELECT jobs.cron_next('60 * * * *');
SELECT jobs.cron_next('* * * * *', now(), 'Mars/Olympus_Mons');
\set VERBOSITY default
SELECT jobs.cron_next(NULL, '2024-01-01 00:00:00+00');
SELECT jobs.cron_next('* * * * *', '2024-01-01 00:00:00+00', 'Mars/Olympus_Mons');
SELECT jobs.cron_next('* * * * *', NULL, 'Mars/Olympus_Mons');
SELECT jobs.cron_next('* * * * *', '2024-01-01 00:00:00+00', '');
SELECT jobs.cron_next('* * * * *', '2024-01-01 00:00:00+00', 'PST');
-- field counts: empty, too few, seconds, too many
SELECT jobs.cron_next('');
SELECT jobs.cron_next(E'  \t ');
SELECT jobs.cron_next('* * * *');
SELECT jobs.cron_next('0 0 * * * *');
SELECT jobs.cron_next('0 0 1 1 * 2025 x');
-- out of range
SELECT jobs.cron_next('60 * * * *');
SELECT jobs.cron_next('* 24 * * *');
SELECT jobs.cron_next('* * 0 * *');
SELECT jobs.cron_next('* * 32 * *');
SELECT jobs.cron_next('* * * 0 *');
SELECT jobs.cron_next('* * * 13 *');
SELECT jobs.cron_next('* * * * 8');
SELECT jobs.cron_next('99999999999999999999 * * * *');
-- reversed ranges
SELECT jobs.cron_next('30-10 * * * *');
SELECT jobs.cron_next('* * * DEC-JAN *');
SELECT jobs.cron_next('* * * * SAT-MON');
-- steps
SELECT jobs.cron_next('*/0 * * * *');
SELECT jobs.cron_next('1-5/0 * * * *');
SELECT jobs.cron_next('*/61 * * * *');
SELECT jobs.cron_next('* * * * */8');
SELECT jobs.cron_next('5/ * * * *');
SELECT jobs.cron_next('* * * * */2/3');
-- syntax
SELECT jobs.cron_next('1, * * * *');
SELECT jobs.cron_next(',1 * * * *');
SELECT jobs.cron_next('1,,2 * * * *');
SELECT jobs.cron_next('1-2-3 * * * *');
SELECT jobs.cron_next('*-5 * * * *');
SELECT jobs.cron_next('-5 * * * *');
SELECT jobs.cron_next('5x * * * *');
SELECT jobs.cron_next('* * * * *;');
SELECT jobs.cron_next('ä * * * *');
-- names only where they belong, and only the three-letter ones
SELECT jobs.cron_next('MON * * * *');
SELECT jobs.cron_next('* * * JANUARY *');
SELECT jobs.cron_next('* * * * MONDAY');
SELECT jobs.cron_next('* * * * FOO');
SELECT jobs.cron_next('* * * MON *');
-- never matches
SELECT jobs.cron_next('0 0 30 2 *');
SELECT jobs.cron_next('0 0 31 4 *');
SELECT jobs.cron_next('0 0 31 4,6,9,11 *');
SELECT jobs.cron_next('0 0 30,31 feb *');
SELECT jobs.cron_next('0 0 31 2 */7');
-- macros
SELECT jobs.cron_next('@reboot');
SELECT jobs.cron_next('@every 5m');
SELECT jobs.cron_next('@');
SELECT jobs.cron_next('@daily 0');
-- too long
SELECT jobs.cron_next(repeat('1,', 600) || '1 * * * *');
-- infinite and out-of-range times
SELECT jobs.cron_next('* * * * *', 'infinity');
SELECT jobs.cron_next('* * * * *', '-infinity');
SELECT jobs.cron_next('0 0 1 1 *', '294276-12-01 00:00:00+00');

RESET TimeZone;
RESET DateStyle;
