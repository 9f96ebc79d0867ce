/*-------------------------------------------------------------------------
 *
 * publish.c
 *	  jobs.publish and jobs.publish_bulk: queueing jobs.
 *
 * Both check every argument before anything is written, so bad input gets
 * a precise error instead of a constraint violation, then hand the rows to
 * catalog.c.  A job is published in the caller's transaction and exists
 * exactly when that transaction commits.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "pgjobs.h"

PG_FUNCTION_INFO_V1(pgjobs_publish);
PG_FUNCTION_INFO_V1(pgjobs_publish_1_1);
PG_FUNCTION_INFO_V1(pgjobs_check_job);
PG_FUNCTION_INFO_V1(pgjobs_publish_bulk);

/* Fields of jobs.bulk_job, in declaration order (1-based). */
#define BULK_TASK			1
#define BULK_BODY			2
#define BULK_SCHEDULED_AT	3
#define BULK_TIMEOUT		4
#define BULK_PRIORITY		5
#define BULK_MAX_RETRIES	6
#define BULK_NATTS			6

/*
 * ElementSuffix returns the message suffix naming the bulk element, or ""
 * for a single publish.
 */
static char *
ElementSuffix(int element)
{
	if (element <= 0)
		return "";
	return psprintf(" (element %d of the array)", element);
}

/*
 * ValidateJobSpec raises an error if spec cannot be queued.  element is the
 * 1-based array position for publish_bulk, 0 for publish.
 */
void
ValidateJobSpec(const JobSpec *spec, int element)
{
	int			len;
	char	   *task;
	int			i;
	bool		blank = true;

	if (spec->task == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("task must not be NULL%s", ElementSuffix(element)),
				 errhint("Name the task to run, for example 'email.send'.")));

	task = text_to_cstring(spec->task);
	len = pg_mbstrlen(task);
	for (i = 0; task[i] != '\0'; i++)
	{
		if (!isspace((unsigned char) task[i]))
			blank = false;
	}
	if (len == 0 || blank)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("task must not be empty%s", ElementSuffix(element)),
				 errhint("Name the task to run, for example 'email.send'.")));
	if (len > PGJOBS_MAX_TASK_LENGTH)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("task name is %d characters long, longer than the maximum of %d%s",
						len, PGJOBS_MAX_TASK_LENGTH, ElementSuffix(element))));
	pfree(task);

	if (!spec->timeout_isnull)
	{
		Numeric		num = DatumGetNumeric(spec->timeout);
		double		seconds;

		if (numeric_is_nan(num))
			seconds = -1.0;
		else
			seconds = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
														 spec->timeout));
		if (!(seconds >= PGJOBS_MIN_TIMEOUT && seconds <= PGJOBS_MAX_TIMEOUT))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("timeout must be between %.2f and %.2f seconds%s",
							PGJOBS_MIN_TIMEOUT, PGJOBS_MAX_TIMEOUT,
							ElementSuffix(element)),
					 errhint("Pass NULL for the default of " PGJOBS_DEFAULT_TIMEOUT " seconds.")));
	}

	if (!spec->max_retries_isnull && spec->max_retries < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_retries must not be negative%s", ElementSuffix(element)),
				 errhint("Pass 0 for a job that is never retried, or NULL for the default of %d.",
						 PGJOBS_DEFAULT_MAX_RETRIES)));

	if (!spec->scheduled_at_isnull &&
		TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(spec->scheduled_at)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("scheduled_at must be a finite timestamp%s", ElementSuffix(element)),
				 errhint("Pass NULL to make the job ready now.")));
}

/*
 * GetJobSpec reads the first six arguments, common to every version of
 * jobs.publish, into spec and checks them.
 */
static void
GetJobSpec(FunctionCallInfo fcinfo, JobSpec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->task = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	spec->body_isnull = PG_ARGISNULL(1);
	if (!spec->body_isnull)
		spec->body = PG_GETARG_DATUM(1);
	spec->scheduled_at_isnull = PG_ARGISNULL(2);
	if (!spec->scheduled_at_isnull)
		spec->scheduled_at = PG_GETARG_DATUM(2);
	spec->timeout_isnull = PG_ARGISNULL(3);
	if (!spec->timeout_isnull)
		spec->timeout = PG_GETARG_DATUM(3);
	spec->priority_isnull = PG_ARGISNULL(4);
	if (!spec->priority_isnull)
		spec->priority = PG_GETARG_INT32(4);
	spec->max_retries_isnull = PG_ARGISNULL(5);
	if (!spec->max_retries_isnull)
		spec->max_retries = PG_GETARG_INT32(5);

	ValidateJobSpec(spec, 0);
}

/*
 * pgjobs_publish queues one job and returns its id (pgjobs 1.0).
 *
 * jobs.publish(i_task, i_body, i_scheduled_at, i_timeout, i_priority,
 * i_max_retries) -> job_id
 */
Datum
pgjobs_publish(PG_FUNCTION_ARGS)
{
	JobSpec		spec;
	int64		job_id;

	GetJobSpec(fcinfo, &spec);
	job_id = CatalogInsertJob(&spec);
	NoteJobsReadied();
	if (NotifyWanted(PGJOBS_NOTIFY_ALL))
		NotifyJobEvent("queued", job_id, text_to_cstring(spec.task));
	PG_RETURN_INT64(job_id);
}

/*
 * pgjobs_publish_1_1 queues one job, unique by key when one is given, and
 * returns its id, or the id of the job already holding the key.
 *
 * jobs.publish(i_task, i_body, i_scheduled_at, i_timeout, i_priority,
 * i_max_retries, i_unique_key, i_on_duplicate, i_unique_running) -> job_id
 */
Datum
pgjobs_publish_1_1(PG_FUNCTION_ARGS)
{
	JobSpec		spec;
	int64		job_id;
	text	   *key;
	bool		replace = false;
	bool		while_running;
	bool		inserted = true;

	if (PG_NARGS() != 9)
		elog(ERROR, "pgjobs: jobs.publish 1.1 takes 9 arguments, not %d", PG_NARGS());
	GetJobSpec(fcinfo, &spec);
	CheckPublishAllowed(spec.task, 0);
	key = PG_ARGISNULL(6) ? NULL : PG_GETARG_TEXT_PP(6);
	while_running = !PG_ARGISNULL(8) && PG_GETARG_BOOL(8);
	if (!PG_ARGISNULL(7))
	{
		char	   *policy = text_to_cstring(PG_GETARG_TEXT_PP(7));

		if (strcmp(policy, "replace") == 0)
			replace = true;
		else if (strcmp(policy, "ignore") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("i_on_duplicate must be 'ignore' or 'replace', not \"%s\"", policy)));
	}

	if (key == NULL)
		job_id = CatalogInsertJob(&spec);
	else
	{
		int			len = pg_mbstrlen_with_len(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key));

		if (len == 0 || len > PGJOBS_MAX_TASK_LENGTH)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("i_unique_key must be 1 to %d characters long", PGJOBS_MAX_TASK_LENGTH),
					 errhint("Pass NULL for a job that need not be unique.")));
		job_id = CatalogInsertUniqueJob(&spec, TenantScopedKey(key), replace,
										while_running, &inserted);
	}
	NoteJobsReadied();
	if (inserted && NotifyWanted(PGJOBS_NOTIFY_ALL))
		NotifyJobEvent("queued", job_id, text_to_cstring(spec.task));
	PG_RETURN_INT64(job_id);
}

/*
 * CheckBulkJobType raises an error unless desc is jobs.bulk_job as the
 * extension created it: the fields are read by position and type below, and
 * a type altered by hand must not make them read as something else.
 */
static void
CheckBulkJobType(TupleDesc desc)
{
	static const Oid expected[BULK_NATTS] = {
		VARCHAROID, JSONBOID, TIMESTAMPOID, INT4OID, INT4OID, INT4OID
	};
	int			natts = 0;
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		if (natts >= BULK_NATTS || att->attnum != natts + 1 ||
			att->atttypid != expected[natts])
			break;
		natts++;
	}
	if (natts != BULK_NATTS || i != desc->natts)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("type jobs.bulk_job has been altered"),
				 errdetail("publish_bulk needs (task varchar, body jsonb, scheduled_at timestamp, timeout integer, priority integer, max_retries integer)."),
				 errhint("Reinstall the extension, or restore the type's definition.")));
}

/*
 * pgjobs_publish_bulk queues every element of a jobs.bulk_job[] in one
 * statement and returns the new ids in input order.  Every element is
 * checked first; one bad element rejects the whole call.
 */
Datum
pgjobs_publish_bulk(PG_FUNCTION_ARGS)
{
	ArrayType  *arr;
	Oid			array_type;
	Oid			elem_type;
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	Datum	   *elems;
	bool	   *elem_nulls;
	int			nelems;
	TupleDesc	elem_desc;
	Tuplestorestate *out;
	TupleDesc	out_desc;
	char	  **tasks = NULL;
	JobSpec    *specs;
	int			i;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("jobs array must not be NULL"),
				 errhint("Pass an array of jobs.bulk_job, for example ARRAY[ROW('email.send', NULL, NULL, NULL, NULL, NULL)::jobs.bulk_job].")));

	arr = PG_GETARG_ARRAYTYPE_P(0);
	array_type = get_fn_expr_argtype(fcinfo->flinfo, 0);
	if (!OidIsValid(array_type))
		elog(ERROR, "pgjobs: could not determine the argument type of publish_bulk");
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("jobs array must have one dimension, not %d", ARR_NDIM(arr))));

	elem_type = ARR_ELEMTYPE(arr);
	get_typlenbyvalalign(elem_type, &elmlen, &elmbyval, &elmalign);
	deconstruct_array(arr, elem_type, elmlen, elmbyval, elmalign,
					  &elems, &elem_nulls, &nelems);
	elem_desc = lookup_rowtype_tupdesc(elem_type, -1);
	if (NotifyWanted(PGJOBS_NOTIFY_ALL) && nelems > 0)
		tasks = palloc(sizeof(char *) * nelems);
	CheckBulkJobType(elem_desc);
	specs = palloc_extended(sizeof(JobSpec) * Max(nelems, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);

	for (i = 0; i < nelems; i++)
	{
		HeapTupleHeader rec;
		HeapTupleData tuple;
		JobSpec		spec;
		Datum		d;
		bool		isnull;

		if (elem_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("element %d of the jobs array is NULL", i + 1),
					 errhint("Every element must be a jobs.bulk_job with at least a task.")));

		rec = DatumGetHeapTupleHeader(elems[i]);
		tuple.t_len = HeapTupleHeaderGetDatumLength(rec);
		ItemPointerSetInvalid(&tuple.t_self);
		tuple.t_tableOid = InvalidOid;
		tuple.t_data = rec;

		memset(&spec, 0, sizeof(spec));
		d = heap_getattr(&tuple, BULK_TASK, elem_desc, &isnull);
		spec.task = isnull ? NULL : DatumGetTextPP(d);
		spec.body = heap_getattr(&tuple, BULK_BODY, elem_desc, &spec.body_isnull);
		d = heap_getattr(&tuple, BULK_SCHEDULED_AT, elem_desc, &isnull);
		spec.scheduled_at_isnull = isnull;
		/* timestamp and timestamptz share a representation; only finiteness is checked */
		spec.scheduled_at = d;
		d = heap_getattr(&tuple, BULK_TIMEOUT, elem_desc, &isnull);
		spec.timeout_isnull = isnull;
		if (!isnull)
			spec.timeout = DirectFunctionCall1(int4_numeric, d);
		d = heap_getattr(&tuple, BULK_PRIORITY, elem_desc, &isnull);
		spec.priority_isnull = isnull;
		if (!isnull)
			spec.priority = DatumGetInt32(d);
		d = heap_getattr(&tuple, BULK_MAX_RETRIES, elem_desc, &isnull);
		spec.max_retries_isnull = isnull;
		if (!isnull)
			spec.max_retries = DatumGetInt32(d);

		ValidateJobSpec(&spec, i + 1);
		CheckPublishAllowed(spec.task, i + 1);
		if (tasks != NULL)
			tasks[i] = text_to_cstring(spec.task);
		specs[i] = spec;
	}
	ReleaseTupleDesc(elem_desc);

	out = BeginMaterializedResult(fcinfo, &out_desc);
	if (nelems > 0)
	{
		if (!CatalogInsertJobsDirect(specs, nelems, out, out_desc, tasks))
			CatalogInsertJobs(PointerGetDatum(arr), array_type, out, out_desc,
							  tasks, nelems);
		NoteJobsReadied();
	}

	return (Datum) 0;
}

/*
 * pgjobs_check_job raises the error jobs.publish would raise for a task,
 * timeout, priority and retries (jobs.schedule checks its job with it).
 *
 * jobs.check_job(i_task, i_timeout, i_priority, i_max_retries)
 */
Datum
pgjobs_check_job(PG_FUNCTION_ARGS)
{
	JobSpec		spec;

	memset(&spec, 0, sizeof(spec));
	spec.task = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	spec.body_isnull = true;
	spec.scheduled_at_isnull = true;
	spec.timeout_isnull = PG_ARGISNULL(1);
	if (!spec.timeout_isnull)
		spec.timeout = PG_GETARG_DATUM(1);
	spec.priority_isnull = PG_ARGISNULL(2);
	if (!spec.priority_isnull)
		spec.priority = PG_GETARG_INT32(2);
	spec.max_retries_isnull = PG_ARGISNULL(3);
	if (!spec.max_retries_isnull)
		spec.max_retries = PG_GETARG_INT32(3);
	ValidateJobSpec(&spec, 0);
	PG_RETURN_VOID();
}
