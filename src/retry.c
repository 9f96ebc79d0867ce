/*-------------------------------------------------------------------------
 *
 * retry.c
 *	  Backoff between attempts of a failed job.
 *
 * After failed attempt n a job waits a random time drawn uniformly from
 * [d/2, d], d = min(pgjobs.retry_backoff_base * 2^(n-1),
 * pgjobs.retry_backoff_max).  The jitter spreads out jobs that failed
 * together (a dependency going down) so they do not all come back at once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/timestamp.h"

#include "compat.h"
#include "pgjobs.h"

PG_FUNCTION_INFO_V1(pgjobs_retry_delay);

/*
 * NextBackoff returns the delay before the attempt after failed attempt
 * number attempt (1 for the first; smaller values count as 1).
 */
Interval *
NextBackoff(int32 attempt)
{
	Interval   *result = palloc0(sizeof(Interval));
	double		base = pgjobs_retry_backoff_base;
	double		cap = pgjobs_retry_backoff_max;
	double		delay;
	int			exponent;

	if (attempt < 1)
		attempt = 1;
	/* 2^62 times any base overflows nothing in a double and exceeds any cap */
	exponent = Min(attempt - 1, 62);
	delay = ldexp(base, exponent);
	if (delay > cap)
		delay = cap;
	delay = delay / 2.0 + (delay / 2.0) * PgjobsRandomDouble();

	result->time = (int64) rint(delay * USECS_PER_SEC);
	return result;
}

/*
 * pgjobs_retry_delay exposes NextBackoff to SQL; the nack and expiry
 * statements call it per job.
 *
 * jobs.retry_delay(i_attempt) -> interval
 */
Datum
pgjobs_retry_delay(PG_FUNCTION_ARGS)
{
	PG_RETURN_INTERVAL_P(NextBackoff(PG_GETARG_INT32(0)));
}
