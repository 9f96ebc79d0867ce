/*-------------------------------------------------------------------------
 *
 * consume.c
 *	  jobs.consume and jobs.consume_topic: claiming ready jobs.
 *
 * A claim is one statement: pick up to num pending jobs whose time has come,
 * highest priority first, with FOR UPDATE SKIP LOCKED so concurrent
 * consumers never wait for or share a row, and mark them running until
 * now + timeout.  The claim belongs to the caller's transaction: if it rolls
 * back, the jobs are pending again.  Expired jobs are reclaimed first, at
 * most every pgjobs.consume_expire_interval (expire.c).
 *
 * With i_wait, a consume that finds nothing waits in the backend until a
 * commit readies jobs, the next scheduled job is due, or the wait ends
 * (wakeup.c), and tries again; it returns as soon as it claims anything.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "pgjobs.h"

PG_FUNCTION_INFO_V1(pgjobs_consume);
PG_FUNCTION_INFO_V1(pgjobs_consume_topic);
PG_FUNCTION_INFO_V1(pgjobs_ack_and_consume);

/* Longest topic pattern accepted; no task name is longer. */
#define MAX_PATTERN_LENGTH	PGJOBS_MAX_TASK_LENGTH

/*
 * BeginMaterializedResult checks that the caller accepts a materialized
 * result set, creates the tuplestore in per-query memory and returns it with
 * the function's result descriptor.  (InitMaterializedSRF does this from
 * PostgreSQL 15 on; this works on every supported version.)
 */
Tuplestorestate *
BeginMaterializedResult(FunctionCallInfo fcinfo, TupleDesc *desc)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext old_cxt;
	Tuplestorestate *store;
	TupleDesc	tupdesc;
	Oid			result_type;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("materialize mode required, but it is not allowed in this context")));

	old_cxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	/*
	 * The caller's expected descriptor, when it has one (a function scan
	 * does), is the function's result type already worked out: building it
	 * again from pg_proc cost about 2.5% of a consume(1).  The statements
	 * whose rows go into the store check their columns against it.
	 */
	if (rsinfo->expectedDesc != NULL)
		tupdesc = CreateTupleDescCopy(rsinfo->expectedDesc);
	else
	{
		switch (get_call_result_type(fcinfo, &result_type, &tupdesc))
		{
			case TYPEFUNC_COMPOSITE:
				tupdesc = CreateTupleDescCopy(tupdesc);
				break;
			case TYPEFUNC_SCALAR:
				/* RETURNS TABLE with one column, e.g. publish_bulk's job_id */
				tupdesc = CreateTemplateTupleDesc(1);
				TupleDescInitEntry(tupdesc, (AttrNumber) 1, "result",
								   result_type, -1, 0);
				break;
			default:
				elog(ERROR, "pgjobs: unexpected result type of a set-returning function");
		}
	}
	store = tuplestore_begin_heap((rsinfo->allowedModes & SFRM_Materialize_Random) != 0,
								  false, work_mem);
	MemoryContextSwitchTo(old_cxt);

	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = tupdesc;

	*desc = tupdesc;
	return store;
}

/*
 * CheckNum rejects a NULL or non-positive job count.
 */
static int32
CheckNum(FunctionCallInfo fcinfo, int argno)
{
	int32		num;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("num must not be NULL"),
				 errhint("Pass how many jobs to claim at most, for example 1.")));
	num = PG_GETARG_INT32(argno);
	if (num <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("num must be greater than zero, not %d", num),
				 errhint("Pass how many jobs to claim at most, for example 1.")));
	return num;
}

/*
 * TopicToLikePattern translates a topic pattern into a LIKE pattern with
 * the default escape character: % and * match any run of characters, and
 * every other character, _ and \ included, matches only itself.
 */
text *
TopicToLikePattern(text *topic)
{
	char	   *src = text_to_cstring(topic);
	StringInfoData buf;
	char	   *p;
	int			len = pg_mbstrlen(src);

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("topic pattern must not be empty"),
				 errhint("Use '%%' to match every task, or a prefix such as 'email.%%'.")));
	if (len > MAX_PATTERN_LENGTH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("topic pattern is %d characters long, longer than the maximum of %d",
						len, MAX_PATTERN_LENGTH)));

	initStringInfo(&buf);
	for (p = src; *p != '\0'; p++)
	{
		switch (*p)
		{
			case '%':
			case '*':
				appendStringInfoChar(&buf, '%');
				break;
			case '_':
			case '\\':
				appendStringInfoChar(&buf, '\\');
				appendStringInfoChar(&buf, *p);
				break;
			default:
				appendStringInfoChar(&buf, *p);
				break;
		}
	}
	pfree(src);
	return cstring_to_text_with_len(buf.data, buf.len);
}

/*
 * GetWaitEnd returns the end of the wait the optional i_wait argument (seconds)
 * at argno asks for, or 0 for no wait.
 */
static TimestampTz
GetWaitEnd(FunctionCallInfo fcinfo, int argno, TimestampTz now)
{
	double		seconds;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return 0;
	if (numeric_is_nan(PG_GETARG_NUMERIC(argno)))
		seconds = -1.0;
	else
		seconds = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
													 PG_GETARG_DATUM(argno)));
	if (!(seconds >= 0.0 && seconds <= PGJOBS_MAX_WAIT))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("i_wait must be between 0 and %d seconds", PGJOBS_MAX_WAIT),
				 errhint("Pass 0 or NULL to return at once when no job is ready.")));
	if (seconds == 0.0)
		return 0;
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("jobs cannot be waited for in a REPEATABLE READ or SERIALIZABLE transaction"),
				 errdetail("Such a transaction sees no job committed after it started."),
				 errhint("Consume with i_wait in a READ COMMITTED transaction, or without i_wait.")));
	return now + (TimestampTz) (seconds * USECS_PER_SEC);
}

/*
 * ConsumeJobs claims up to num jobs matching like_pattern (all when NULL)
 * into the function's result set, waiting until wait_end (if not 0) for
 * some to be ready.
 */
static Datum
ConsumeJobs(FunctionCallInfo fcinfo, int32 num, text *like_pattern,
			TimestampTz wait_end)
{
	Tuplestorestate *out;
	TupleDesc	desc;

	out = BeginMaterializedResult(fcinfo, &desc);
	for (bool woken = false;; woken = true)
	{
		/* read before looking, so that no commit after the look is missed */
		uint64		generation = WakeupGeneration();
		TimestampTz now = GetCurrentTimestamp();
		TimestampTz wake_at;
		TimestampTz retry_at = DT_NOEND;

		ExpireJobsIfDue(now, woken);
		if (ClaimJobs(num, like_pattern, now, out, desc, &retry_at) > 0)
		{
			NoteJobsClaimed();
			break;
		}
		if (now >= wait_end)
			break;

		/* retry_at: when a rate limit lets a claim through again */
		wake_at = Min(Min(wait_end, retry_at), CatalogNextWakeup(now));
		WaitForJobs(generation, wake_at);
	}
	return (Datum) 0;
}

/*
 * pgjobs_consume claims up to num ready jobs, waiting up to i_wait seconds
 * for some.
 *
 * jobs.consume(num, i_wait) -> setof (job_id, task, body, attempt, ...)
 */
Datum
pgjobs_consume(PG_FUNCTION_ARGS)
{
	int32		num = CheckNum(fcinfo, 0);
	TimestampTz wait_end = GetWaitEnd(fcinfo, 1, GetCurrentTimestamp());

	return ConsumeJobs(fcinfo, num, NULL, wait_end);
}

/*
 * pgjobs_consume_topic claims up to num ready jobs whose task matches a
 * topic pattern, waiting up to i_wait seconds for some.
 *
 * jobs.consume_topic(pattern, num, i_wait) -> setof (job_id, task, body, ...)
 */
Datum
pgjobs_consume_topic(PG_FUNCTION_ARGS)
{
	text	   *like_pattern;
	int32		num;
	TimestampTz wait_end;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("topic pattern must not be NULL"),
				 errhint("Use '%%' to match every task, or a prefix such as 'email.%%'.")));
	num = CheckNum(fcinfo, 1);
	wait_end = GetWaitEnd(fcinfo, 2, GetCurrentTimestamp());
	like_pattern = TopicToLikePattern(PG_GETARG_TEXT_PP(0));

	return ConsumeJobs(fcinfo, num, like_pattern, wait_end);
}

/*
 * pgjobs_ack_and_consume completes a running job as jobs.ack does, then
 * claims up to num ready jobs (whose task matches i_pattern, if given) in
 * the same transaction: a worker that works one job at a time spends one
 * statement and one commit per job instead of two of each.  Nothing is
 * claimed if the ack fails.  It does not wait: the ack would stay
 * uncommitted while it did.
 *
 * jobs.ack_and_consume(i_job_id, num, i_result, i_attempt, i_pattern)
 *		-> setof (job_id, task, body, ...)
 */
Datum
pgjobs_ack_and_consume(PG_FUNCTION_ARGS)
{
	int32		num = CheckNum(fcinfo, 1);
	int32		attempt = GetAttempt(fcinfo, 3);	/* checked even with no job */
	text	   *like_pattern = NULL;

	if (!PG_ARGISNULL(4))
		like_pattern = TopicToLikePattern(PG_GETARG_TEXT_PP(4));
	if (!PG_ARGISNULL(0))
		AckJob(PG_GETARG_INT64(0), PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2),
			   PG_ARGISNULL(2), attempt);

	return ConsumeJobs(fcinfo, num, like_pattern, 0);
}
