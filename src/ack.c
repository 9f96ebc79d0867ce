/*-------------------------------------------------------------------------
 *
 * ack.c
 *	  jobs.ack and jobs.nack: ending an attempt.
 *
 * An ack or nack counts only while the job is running and its lease (the
 * expiry set at claim time) has not passed.  Otherwise nothing changes and
 * the caller gets an error with a pgjobs SQLSTATE, so a worker whose lease
 * lapsed learns that its outcome was not recorded.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "pgjobs.h"

PG_FUNCTION_INFO_V1(pgjobs_ack);
PG_FUNCTION_INFO_V1(pgjobs_nack);

/*
 * GetJobId returns the job id argument, rejecting NULL.
 */
static int64
GetJobId(FunctionCallInfo fcinfo, const char *action)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("job_id must not be NULL"),
				 errhint("Pass the job_id returned by jobs.consume to jobs.%s.", action)));
	return PG_GETARG_INT64(0);
}

/*
 * GetAttempt returns the optional attempt argument at argno, ANY_ATTEMPT
 * when it is NULL.
 */
static int32
GetAttempt(FunctionCallInfo fcinfo, int argno)
{
	int32		attempt;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return ANY_ATTEMPT;
	attempt = PG_GETARG_INT32(argno);
	if (attempt < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("i_attempt must be 1 or more, not %d", attempt),
				 errhint("Pass the attempt jobs.consume returned, or NULL.")));
	return attempt;
}

/*
 * pgjobs_ack completes a running job: it moves to jobs.job as succeeded,
 * with the optional result.
 *
 * jobs.ack(i_job_id, i_result, i_attempt)
 */
Datum
pgjobs_ack(PG_FUNCTION_ARGS)
{
	int64		job_id = GetJobId(fcinfo, "ack");
	TimestampTz now = GetCurrentTimestamp();
	bool		result_isnull = PG_ARGISNULL(1);
	Datum		result = result_isnull ? (Datum) 0 : PG_GETARG_DATUM(1);
	int32		attempt = GetAttempt(fcinfo, 2);

	if (!CatalogFinishJob(job_id, attempt, now, result, result_isnull))
		CatalogReportNotRunning(job_id, attempt, now, "ack");

	PG_RETURN_VOID();
}

/*
 * pgjobs_nack fails the current attempt of a running job: it is retried at
 * i_schedule_at or after the backoff, or fails for good when its retries
 * are spent.
 *
 * jobs.nack(i_job_id, i_traceback, i_schedule_at, i_attempt)
 */
Datum
pgjobs_nack(PG_FUNCTION_ARGS)
{
	int64		job_id = GetJobId(fcinfo, "nack");
	TimestampTz now = GetCurrentTimestamp();
	text	   *traceback = PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1);
	bool		retry_at_isnull = PG_ARGISNULL(2);
	Datum		retry_at = retry_at_isnull ? (Datum) 0 : PG_GETARG_DATUM(2);
	int32		attempt = GetAttempt(fcinfo, 3);

	if (!retry_at_isnull && TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(retry_at)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("i_schedule_at must be a finite timestamp"),
				 errhint("Pass NULL to retry after the backoff.")));

	if (!CatalogFailJob(job_id, attempt, now, traceback, retry_at, retry_at_isnull))
		CatalogReportNotRunning(job_id, attempt, now, "nack");
	NoteJobsReadied();			/* the retry may be due at once */

	PG_RETURN_VOID();
}
