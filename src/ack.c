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

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "pgjobs.h"

PG_FUNCTION_INFO_V1(pgjobs_ack);
PG_FUNCTION_INFO_V1(pgjobs_nack);
PG_FUNCTION_INFO_V1(pgjobs_ack_batch);
PG_FUNCTION_INFO_V1(pgjobs_nack_batch);
PG_FUNCTION_INFO_V1(pgjobs_touch);
PG_FUNCTION_INFO_V1(pgjobs_progress);
PG_FUNCTION_INFO_V1(pgjobs_release);

/* Most job ids one batch ack or nack takes. */
#define MAX_BATCH	100000

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
int32
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
	bool		result_isnull = PG_ARGISNULL(1);

	AckJob(job_id, result_isnull ? (Datum) 0 : PG_GETARG_DATUM(1), result_isnull,
		   GetAttempt(fcinfo, 2));
	PG_RETURN_VOID();
}

/*
 * AckJob completes running job job_id with result (unless result_isnull),
 * for claim attempt (or ANY_ATTEMPT), or raises the error that says why
 * it cannot.
 */
void
AckJob(int64 job_id, Datum result, bool result_isnull, int32 attempt)
{
	TimestampTz now = GetCurrentTimestamp();

	CheckJobAllowed(job_id);
	if (!CatalogFinishJob(job_id, attempt, now, result, result_isnull))
		CatalogReportNotRunning(job_id, attempt, now, "ack");
	NoteJobsFinished();
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

	CheckJobAllowed(job_id);
	if (!CatalogFailJob(job_id, attempt, now, traceback, retry_at, retry_at_isnull))
		CatalogReportNotRunning(job_id, attempt, now, "nack");
	NoteJobsReadied();			/* the retry may be due at once */

	PG_RETURN_VOID();
}

/*
 * CheckBatchArray checks the optional array argument argno of a batch
 * call: one dimension, no more elements than the ids (nids), and, for the
 * ids themselves (nids < 0), no NULL element and at most MAX_BATCH.
 * Returns its element count; *isnull tells whether it was NULL.
 */
static int
CheckBatchArray(FunctionCallInfo fcinfo, int argno, const char *name,
				int nids, bool *isnull)
{
	ArrayType  *arr;
	int			n;

	*isnull = PG_ARGISNULL(argno);
	if (*isnull)
	{
		if (nids < 0)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be NULL", name),
					 errhint("Pass the job_ids returned by jobs.consume.")));
		return 0;
	}
	arr = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", name)));
	n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	if (nids < 0)
	{
		if (n > MAX_BATCH)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("%s has %d elements, more than the maximum of %d",
							name, n, MAX_BATCH)));
		if (array_contains_nulls(arr))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL", name)));
	}
	else if (n != nids)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s has %d elements, but i_job_ids has %d", name, n, nids),
				 errhint("Pass one element per job, or NULL.")));
	return n;
}

/*
 * CheckAttempts rejects an attempt below 1 in the int4[] at argno.
 */
static void
CheckAttempts(FunctionCallInfo fcinfo, int argno)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(argno);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	deconstruct_array(arr, INT4OID, sizeof(int32), true, TYPALIGN_INT,
					  &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		if (!nulls[i] && DatumGetInt32(elems[i]) < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("i_attempts must hold attempts of 1 or more, not %d",
							DatumGetInt32(elems[i])),
					 errhint("Pass the attempts jobs.consume returned, or NULL.")));
	}
}

/*
 * KeepElements returns the one-dimensional array a with only the elements
 * whose keep flag is set (NULLs included), in order.
 */
static Datum
KeepElements(ArrayType *a, const bool *keep)
{
	Oid			elemtype = ARR_ELEMTYPE(a);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			kept = 0;
	int			lbound = 1;
	int			i;

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(a, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		if (keep[i])
		{
			elems[kept] = elems[i];
			nulls[kept] = nulls[i];
			kept++;
		}
	}
	if (kept == 0)
		return PointerGetDatum(construct_empty_array(elemtype));
	return PointerGetDatum(construct_md_array(elems, nulls, 1, &kept, &lbound, elemtype,
											  typlen, typbyval, typalign));
}

/*
 * AllowedJobs puts in args the array arguments argnos of a batch call (the
 * int8[] ids first, then arrays each NULL or as long, one element per id,
 * checked by CheckBatchArray), less the elements of the jobs whose task
 * topic grants keep the calling role from consuming: a batch call leaves
 * them alone and out of its result, as it does unknown ids, so that it
 * tells nothing apart.  A NULL argument stays (Datum) 0.
 */
static void
AllowedJobs(FunctionCallInfo fcinfo, int nargs, const int *argnos, Datum *args)
{
	Datum	   *elems;
	bool	   *nulls;
	bool	   *keep;
	int			n;
	int			i;

	for (i = 0; i < nargs; i++)
		args[i] = PG_ARGISNULL(argnos[i]) ? (Datum) 0 : PG_GETARG_DATUM(argnos[i]);
	if (!ConsumeRestricted())
		return;
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(argnos[0]), INT8OID, sizeof(int64),
					  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
	keep = palloc(sizeof(bool) * (n + 1));
	for (i = 0; i < n; i++)
		keep[i] = !nulls[i] && JobAllowed(DatumGetInt64(elems[i]));
	for (i = 0; i < nargs; i++)
	{
		if (!PG_ARGISNULL(argnos[i]))
			args[i] = KeepElements(PG_GETARG_ARRAYTYPE_P(argnos[i]), keep);
	}
}

/*
 * pgjobs_ack_batch completes every running job of i_job_ids whose claim
 * still counts and returns their ids; the others are left alone.
 *
 * jobs.ack_batch(i_job_ids, i_results, i_attempts) -> setof job_id
 */
Datum
pgjobs_ack_batch(PG_FUNCTION_ARGS)
{
	bool		ids_isnull;
	bool		results_isnull;
	bool		attempts_isnull;
	int			nids;
	static const int argnos[3] = {0, 1, 2};
	Datum		args[3];
	Tuplestorestate *out;
	TupleDesc	desc;

	nids = CheckBatchArray(fcinfo, 0, "i_job_ids", -1, &ids_isnull);
	(void) CheckBatchArray(fcinfo, 1, "i_results", nids, &results_isnull);
	(void) CheckBatchArray(fcinfo, 2, "i_attempts", nids, &attempts_isnull);
	if (!attempts_isnull)
		CheckAttempts(fcinfo, 2);

	out = BeginMaterializedResult(fcinfo, &desc);
	if (nids == 0)
		return (Datum) 0;
	AllowedJobs(fcinfo, 3, argnos, args);
	if (CatalogFinishJobs(GetCurrentTimestamp(), args[0], args[1], results_isnull,
						  args[2], attempts_isnull, out, desc) > 0)
		NoteJobsFinished();
	return (Datum) 0;
}

/*
 * pgjobs_nack_batch fails the current attempt of every running job of
 * i_job_ids whose claim still counts and returns their ids.
 *
 * jobs.nack_batch(i_job_ids, i_traceback, i_schedule_at, i_attempts) -> setof job_id
 */
Datum
pgjobs_nack_batch(PG_FUNCTION_ARGS)
{
	bool		ids_isnull;
	bool		attempts_isnull;
	int			nids;
	text	   *traceback = PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1);
	bool		retry_at_isnull = PG_ARGISNULL(2);
	Datum		retry_at = retry_at_isnull ? (Datum) 0 : PG_GETARG_DATUM(2);
	static const int argnos[2] = {0, 3};
	Datum		args[2];
	Tuplestorestate *out;
	TupleDesc	desc;

	nids = CheckBatchArray(fcinfo, 0, "i_job_ids", -1, &ids_isnull);
	(void) CheckBatchArray(fcinfo, 3, "i_attempts", nids, &attempts_isnull);
	if (!attempts_isnull)
		CheckAttempts(fcinfo, 3);
	if (!retry_at_isnull && TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(retry_at)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("i_schedule_at must be a finite timestamp"),
				 errhint("Pass NULL to retry after the backoff.")));

	out = BeginMaterializedResult(fcinfo, &desc);
	if (nids == 0)
		return (Datum) 0;
	AllowedJobs(fcinfo, 2, argnos, args);
	if (CatalogFailJobs(GetCurrentTimestamp(), args[0], traceback, retry_at, retry_at_isnull,
						args[1], attempts_isnull, out, desc) > 0)
		NoteJobsReadied();
	return (Datum) 0;
}

/*
 * pgjobs_touch extends the lease of a running job and returns its new
 * end.
 *
 * jobs.touch(i_job_id, i_extend, i_attempt) -> expires_at
 */
Datum
pgjobs_touch(PG_FUNCTION_ARGS)
{
	int64		job_id = GetJobId(fcinfo, "touch");
	TimestampTz now = GetCurrentTimestamp();
	bool		extend_isnull = PG_ARGISNULL(1);
	double		extend = 0;
	int32		attempt = GetAttempt(fcinfo, 2);
	TimestampTz expires_at;

	if (!extend_isnull)
	{
		Numeric		n = PG_GETARG_NUMERIC(1);

		extend = numeric_is_nan(n) ? -1.0 :
			DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											   NumericGetDatum(n)));
		if (!(extend >= PGJOBS_MIN_TIMEOUT && extend <= PGJOBS_MAX_TIMEOUT))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("i_extend must be between %.2f and %.2f seconds",
							PGJOBS_MIN_TIMEOUT, PGJOBS_MAX_TIMEOUT),
					 errhint("Pass NULL to extend the lease by the job's timeout.")));
	}

	CheckJobAllowed(job_id);
	if (!CatalogTouchJob(job_id, attempt, now, extend, extend_isnull, &expires_at))
		CatalogReportNotRunning(job_id, attempt, now, "touch");
	PG_RETURN_TIMESTAMPTZ(expires_at);
}

/*
 * pgjobs_progress records the progress of a running job.
 *
 * jobs.progress(i_job_id, i_progress, i_note, i_attempt)
 */
Datum
pgjobs_progress(PG_FUNCTION_ARGS)
{
	int64		job_id = GetJobId(fcinfo, "progress");
	TimestampTz now = GetCurrentTimestamp();
	double		progress;
	text	   *note = PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2);
	int32		attempt = GetAttempt(fcinfo, 3);

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("i_progress must not be NULL"),
				 errhint("Pass the fraction done, from 0 to 1.")));
	progress = PG_GETARG_FLOAT8(1);
	if (!(progress >= 0.0 && progress <= 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("i_progress must be between 0 and 1"),
				 errhint("Pass the fraction done, from 0 to 1.")));
	if (note != NULL && VARSIZE_ANY_EXHDR(note) > PGJOBS_MAX_NOTE_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("i_note is longer than %d bytes", PGJOBS_MAX_NOTE_BYTES)));

	CheckJobAllowed(job_id);
	if (!CatalogProgressJob(job_id, attempt, now, progress, note))
		CatalogReportNotRunning(job_id, attempt, now, "record progress of");
	PG_RETURN_VOID();
}

/*
 * pgjobs_release gives a running job back to the queue without spending
 * an attempt.
 *
 * jobs.release(i_job_id, i_schedule_at, i_attempt)
 */
Datum
pgjobs_release(PG_FUNCTION_ARGS)
{
	int64		job_id = GetJobId(fcinfo, "release");
	TimestampTz now = GetCurrentTimestamp();
	bool		retry_at_isnull = PG_ARGISNULL(1);
	Datum		retry_at = retry_at_isnull ? (Datum) 0 : PG_GETARG_DATUM(1);
	int32		attempt = GetAttempt(fcinfo, 2);

	if (!retry_at_isnull && TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(retry_at)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("i_schedule_at must be a finite timestamp"),
				 errhint("Pass NULL to make the job ready now.")));
	CheckJobAllowed(job_id);
	if (!CatalogReleaseJob(job_id, attempt, now, retry_at, retry_at_isnull))
		CatalogReportNotRunning(job_id, attempt, now, "release");
	NoteJobsReadied();
	PG_RETURN_VOID();
}
