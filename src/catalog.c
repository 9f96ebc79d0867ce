/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  All access to the jobs.* tables.
 *
 * Every statement pgjobs runs per job is here, prepared once per backend
 * with SPI_prepare, kept with SPI_keepplan and run with SPI_execute_plan.
 * Every name in them is schema-qualified, so that no object in a caller's
 * schemas can capture an operator, function or type.  Values only ever
 * travel as parameters, never as SQL text.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "access/htup_details.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "pgjobs.h"

/*
 * Operators spelt with their schema.  The plan cache parses a kept
 * statement again whenever the caller's search_path differs from the one it
 * was last parsed under, so pinning search_path at prepare time protects
 * nothing: every operator, function and type name in these statements is
 * qualified instead, and relations are in jobs.  (ORDER BY uses the types'
 * default btree operator classes, which no search_path can change.)
 */
#define EQ	" OPERATOR(pg_catalog.=) "
#define LT	" OPERATOR(pg_catalog.<) "
#define LE	" OPERATOR(pg_catalog.<=) "
#define GT	" OPERATOR(pg_catalog.>) "
#define GE	" OPERATOR(pg_catalog.>=) "
#define PLUS " OPERATOR(pg_catalog.+) "
#define LIKE " OPERATOR(pg_catalog.~~) "

/*
 * What a failed attempt does, shared by nack and expiry.  The statement
 * that includes it starts with a CTE "target(job_id)" of locked running
 * jobs; those with retries left go back to pending, ready at retry_at or
 * after the backoff, the others move to jobs.job as failed.  Both record
 * error.  $1 is always the current time.
 *
 * The locked ids are handed on as an array (= ANY (ARRAY(...))), which
 * plans as a primary-key lookup whatever the LIMIT, rather than as a join
 * the generic plan might hash over the whole queue.
 */
#define FAIL_JOBS_TAIL(error, retry_at) \
	", retried AS (" \
	"  UPDATE jobs.job_queue q" \
	"     SET status = 'pending', expires_at = NULL, last_error = " error "," \
	"         scheduled_at = COALESCE(" retry_at "," \
	"                                 $1" PLUS "jobs.retry_delay(q.attempts))" \
	"   WHERE q.job_id" EQ "ANY (ARRAY(SELECT job_id FROM target))" \
	"     AND q.attempts" LE "q.max_retries" \
	"  RETURNING q.job_id, q.task" \
	"), failed AS (" \
	"  DELETE FROM jobs.job_queue q" \
	"   WHERE q.job_id" EQ "ANY (ARRAY(SELECT job_id FROM target))" \
	"     AND q.attempts" GT "q.max_retries" \
	"  RETURNING q.job_id, q.task, q.body, q.priority, q.attempts," \
	"            q.max_retries, q.timeout, " error " AS error, q.created_at," \
	"            q.scheduled_at, q.started_at" \
	"), finished AS (" \
	"  INSERT INTO jobs.job (job_id, task, body, status, priority, attempts," \
	"                        max_retries, timeout, last_error, created_at," \
	"                        scheduled_at, started_at, finished_at)" \
	"  SELECT f.job_id, f.task, f.body, 'failed', f.priority, f.attempts," \
	"         f.max_retries, f.timeout, f.error, f.created_at," \
	"         f.scheduled_at, f.started_at, $1" \
	"    FROM failed f" \
	"  RETURNING job_id, task" \
	")" \
	" SELECT job_id, task, 'retried' FROM retried" \
	" UNION ALL" \
	" SELECT job_id, task, 'failed' FROM finished"

/*
 * The claim: lock up to $2 ready jobs in claim order (the partial index
 * job_queue_pending_idx), mark them running and return them in that order.
 */
#define CLAIM(extra_qual) \
	"WITH claimed AS (" \
	"  UPDATE jobs.job_queue q" \
	"     SET status = 'running', attempts = q.attempts" PLUS "1," \
	"         started_at = $1," \
	"         expires_at = $1" PLUS \
	"             pg_catalog.make_interval(secs => q.timeout::pg_catalog.float8)" \
	"   WHERE q.job_id" EQ "ANY (ARRAY(" \
	"           SELECT job_id FROM jobs.job_queue" \
	"            WHERE status" EQ "'pending' AND scheduled_at" LE "$1" extra_qual \
	"            ORDER BY priority DESC, scheduled_at, job_id" \
	"            LIMIT $2" \
	"            FOR UPDATE SKIP LOCKED))" \
	"  RETURNING q.job_id, q.task, q.body, q.attempts, q.max_retries," \
	"            q.priority, q.timeout, q.created_at, q.scheduled_at," \
	"            q.expires_at" \
	")" \
	" SELECT * FROM claimed ORDER BY priority DESC, scheduled_at, job_id"

/*
 * The claim an ack or nack ends is still current: the job is running, its
 * lease (from $1, the current time) holds, and it is at the given attempt
 * unless that is NULL.  Wrapped in IS TRUE so that it cannot match the
 * predicate of job_queue_running_idx: the row is always found through the
 * primary key, never by scanning every running job.
 */
#define LEASE_HOLDS(attempt) \
	" AND (status" EQ "'running' AND expires_at" GE "$1" \
	"      AND (" attempt "::pg_catalog.int4 IS NULL OR attempts" EQ attempt ")) IS TRUE"

typedef enum CatalogPlanId
{
	PLAN_INSERT_JOB,
	PLAN_INSERT_JOBS,
	PLAN_CLAIM,
	PLAN_CLAIM_TOPIC,
	PLAN_EXPIRE,
	PLAN_FINISH,
	PLAN_FAIL,
	PLAN_DIAGNOSE,
	PLAN_NEXT_WAKEUP,
	PLAN_PRUNE,
	PLAN_DEAD_ROWS,
	NUM_PLANS
} CatalogPlanId;

typedef struct CatalogPlanDef
{
	const char *sql;
	int			nargs;
	Oid			argtypes[6];
} CatalogPlanDef;

/*
 * The statements.  PLAN_INSERT_JOBS has one argument whose type
 * (jobs.bulk_job[]) has no fixed OID; it is filled in at prepare time.
 */
static const CatalogPlanDef plan_defs[NUM_PLANS] = {
	[PLAN_INSERT_JOB] = {
		"INSERT INTO jobs.job_queue"
		"  (task, body, scheduled_at, timeout, priority, max_retries)"
		" VALUES ($1, $2, COALESCE($3, pg_catalog.now()),"
		"         COALESCE($4, " PGJOBS_DEFAULT_TIMEOUT "), $5, $6)"
		" RETURNING job_id",
		6, {VARCHAROID, JSONBOID, TIMESTAMPTZOID, NUMERICOID, INT4OID, INT4OID}
	},
	[PLAN_INSERT_JOBS] = {
		"INSERT INTO jobs.job_queue"
		"  (task, body, scheduled_at, timeout, priority, max_retries)"
		" SELECT j.task, j.body,"
		"        COALESCE(j.scheduled_at::pg_catalog.timestamptz, pg_catalog.now()),"
		"        COALESCE(j.timeout, " PGJOBS_DEFAULT_TIMEOUT "),"
		"        COALESCE(j.priority, 0), COALESCE(j.max_retries, 3)"
		"   FROM pg_catalog.unnest($1) WITH ORDINALITY"
		"        AS j(task, body, scheduled_at, timeout, priority, max_retries, ord)"
		"  ORDER BY j.ord"
		" RETURNING job_id",
		1, {InvalidOid}
	},
	[PLAN_CLAIM] = {
		CLAIM(""),
		2, {TIMESTAMPTZOID, INT4OID}
	},
	[PLAN_CLAIM_TOPIC] = {
		CLAIM(" AND task" LIKE "$3"),
		3, {TIMESTAMPTZOID, INT4OID, TEXTOID}
	},
	[PLAN_EXPIRE] = {
		"WITH target AS MATERIALIZED ("
		"  SELECT job_id FROM jobs.job_queue"
		"   WHERE status" EQ "'running' AND expires_at" LT "$1"
		"   ORDER BY expires_at"
		"   LIMIT $2"
		"   FOR UPDATE SKIP LOCKED"
		")" FAIL_JOBS_TAIL("pg_catalog.format('job timed out after %s seconds', q.timeout)",
						   "NULL"),
		2, {TIMESTAMPTZOID, INT4OID}
	},
	[PLAN_FINISH] = {
		"WITH done AS ("
		"  DELETE FROM jobs.job_queue"
		"   WHERE job_id" EQ "$2" LEASE_HOLDS("$4")
		"  RETURNING job_id, task, body, priority, attempts, max_retries,"
		"            timeout, last_error, created_at, scheduled_at, started_at"
		")"
		" INSERT INTO jobs.job (job_id, task, body, status, priority, attempts,"
		"                       max_retries, timeout, last_error, result,"
		"                       created_at, scheduled_at, started_at, finished_at)"
		" SELECT d.job_id, d.task, d.body, 'succeeded', d.priority, d.attempts,"
		"        d.max_retries, d.timeout, d.last_error, $3,"
		"        d.created_at, d.scheduled_at, d.started_at, $1"
		"   FROM done d"
		" RETURNING job_id, task",
		4, {TIMESTAMPTZOID, INT8OID, JSONBOID, INT4OID}
	},
	[PLAN_FAIL] = {
		"WITH target AS MATERIALIZED ("
		"  SELECT job_id FROM jobs.job_queue"
		"   WHERE job_id" EQ "$2" LEASE_HOLDS("$5")
		"   FOR UPDATE"
		")" FAIL_JOBS_TAIL("$3::pg_catalog.text", "$4::pg_catalog.timestamptz"),
		5, {TIMESTAMPTZOID, INT8OID, TEXTOID, TIMESTAMPTZOID, INT4OID}
	},
	[PLAN_DIAGNOSE] = {
		"SELECT status, expires_at" LT "$1, timeout::pg_catalog.text, attempts"
		"  FROM jobs.job_queue WHERE job_id" EQ "$2"
		" UNION ALL "
		"SELECT status, false, timeout::pg_catalog.text, attempts"
		"  FROM jobs.job WHERE job_id" EQ "$2"
		" LIMIT 1",
		2, {TIMESTAMPTZOID, INT8OID}
	},
	/*
	 * When a waiting consumer should look again: the earliest future
	 * scheduled_at of a pending job or expires_at of a running one.  The
	 * claim index is ordered by priority first, so the earliest due time is
	 * found by walking the distinct priorities (a loose index scan) and
	 * taking the first future time within each.
	 */
	[PLAN_NEXT_WAKEUP] = {
		"WITH RECURSIVE prio(p) AS ("
		"    (SELECT priority FROM jobs.job_queue"
		"      WHERE status" EQ "'pending'"
		"      ORDER BY priority DESC LIMIT 1)"
		"  UNION ALL"
		"    SELECT (SELECT q.priority FROM jobs.job_queue q"
		"             WHERE q.status" EQ "'pending' AND q.priority" LT "prio.p"
		"             ORDER BY q.priority DESC LIMIT 1)"
		"      FROM prio WHERE prio.p IS NOT NULL"
		")"
		" SELECT LEAST("
		"   (SELECT pg_catalog.min("
		"       (SELECT q.scheduled_at FROM jobs.job_queue q"
		"         WHERE q.status" EQ "'pending' AND q.priority" EQ "prio.p"
		"           AND q.scheduled_at" GT "$1"
		"         ORDER BY q.priority DESC, q.scheduled_at LIMIT 1))"
		"      FROM prio WHERE prio.p IS NOT NULL),"
		"   (SELECT q.expires_at FROM jobs.job_queue q"
		"     WHERE q.status" EQ "'running' AND q.expires_at" GT "$1"
		"     ORDER BY q.expires_at LIMIT 1))",
		1, {TIMESTAMPTZOID}
	},
	[PLAN_PRUNE] = {
		"DELETE FROM jobs.job"
		" WHERE job_id" EQ "ANY (ARRAY("
		"         SELECT job_id FROM jobs.job"
		"          WHERE finished_at" LT "$1"
		"          ORDER BY finished_at LIMIT $2))",
		2, {TIMESTAMPTZOID, INT4OID}
	},
	[PLAN_DEAD_ROWS] = {
		"SELECT COALESCE(pg_catalog.pg_stat_get_dead_tuples("
		"                  pg_catalog.to_regclass('jobs.job_queue')), 0)",
		0, {InvalidOid}
	},
};

static SPIPlanPtr plans[NUM_PLANS];

/* The array type PLAN_INSERT_JOBS was prepared for. */
static Oid	insert_jobs_array_type = InvalidOid;

/*
 * PreparePlan prepares the statement def for this backend and keeps it.
 *
 * The plan is generic from the start: the statements are written so that
 * their generic plans are the right ones, and planning them again on every
 * call (as the plan cache would while it compares custom plans) would cost
 * more than running them.
 */
static SPIPlanPtr
PreparePlan(const CatalogPlanDef *def, const Oid *argtypes)
{
	SPIPlanPtr	plan;

	plan = SPI_prepare_cursor(def->sql, def->nargs, (Oid *) argtypes,
							  CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "pgjobs: SPI_prepare failed: %s",
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "pgjobs: SPI_keepplan failed");
	return plan;
}

/*
 * GetPlan returns the kept plan for id, preparing it on first use.
 * The caller must be connected to SPI.
 */
static SPIPlanPtr
GetPlan(CatalogPlanId id)
{
	if (plans[id] == NULL)
		plans[id] = PreparePlan(&plan_defs[id], plan_defs[id].argtypes);
	return plans[id];
}

/*
 * ExecutePlan runs plan id and checks that it answered with expected_rc.
 */
static void
ExecutePlan(CatalogPlanId id, Datum *values, const char *nulls, int expected_rc)
{
	int			rc;

	rc = SPI_execute_plan(GetPlan(id), values, nulls, false, 0);
	if (rc != expected_rc)
		elog(ERROR, "pgjobs: statement %d failed: %s",
			 (int) id, SPI_result_code_string(rc));
}

/*
 * ConnectSPI opens an SPI session, failing loudly if it cannot.
 */
static void
ConnectSPI(void)
{
	int			rc = SPI_connect();

	if (rc != SPI_OK_CONNECT)
		elog(ERROR, "pgjobs: SPI_connect failed: %s", SPI_result_code_string(rc));
}

/*
 * FinishSPI closes the SPI session opened by ConnectSPI.
 */
static void
FinishSPI(void)
{
	int			rc = SPI_finish();

	if (rc != SPI_OK_FINISH)
		elog(ERROR, "pgjobs: SPI_finish failed: %s", SPI_result_code_string(rc));
}

/*
 * FirstInt64Result returns the int8 in the first column of the only row of
 * the last SPI result.
 */
static int64
FirstInt64Result(void)
{
	bool		isnull;
	Datum		d;

	if (SPI_processed != 1 || SPI_tuptable == NULL)
		elog(ERROR, "pgjobs: expected one row, got " UINT64_FORMAT " rows",
			 (uint64) SPI_processed);
	if (TupleDescAttr(SPI_tuptable->tupdesc, 0)->atttypid != INT8OID)
		elog(ERROR, "pgjobs: expected a bigint result");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		elog(ERROR, "pgjobs: unexpected NULL result");
	return DatumGetInt64(d);
}

/*
 * NotifyResultRows sends a job event for each row of the last SPI result,
 * whose first two columns are job_id and task: event if it is not NULL,
 * else the text in the third column.  Nothing is done unless pgjobs.notify
 * asks for some events at all.
 */
static void
NotifyResultRows(const char *event)
{
	TupleDesc	desc;
	uint64		row;

	if (SPI_processed == 0 ||
		!NotifyWanted(event ? NotifyEventLevel(event) : PGJOBS_NOTIFY_FINISHED))
		return;
	if (SPI_tuptable == NULL || SPI_tuptable->tupdesc->natts < (event ? 2 : 3))
		elog(ERROR, "pgjobs: statement returned no job events");
	desc = SPI_tuptable->tupdesc;
	for (row = 0; row < SPI_processed; row++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[row];
		bool		isnull;
		Datum		job_id = SPI_getbinval(tuple, desc, 1, &isnull);
		char	   *task;
		char	   *row_event;

		if (isnull)
			elog(ERROR, "pgjobs: unexpected NULL job_id");
		task = SPI_getvalue(tuple, desc, 2);
		row_event = event ? (char *) event : SPI_getvalue(tuple, desc, 3);
		if (row_event == NULL)
			elog(ERROR, "pgjobs: unexpected NULL job event");
		NotifyJobEvent(row_event, DatumGetInt64(job_id), task);
	}
}

/*
 * CopyResultRows appends every row of the last SPI result to out, as rows
 * of out_desc: the result's first columns must have out_desc's types, in
 * order; any further columns are left out.  tuplestore_putvalues copies the
 * values into the store's own memory.
 */
static void
CopyResultRows(Tuplestorestate *out, TupleDesc out_desc)
{
	TupleDesc	spi_desc;
	Datum	   *values;
	bool	   *isnull;
	uint64		row;
	int			col;

	if (SPI_tuptable == NULL)
		elog(ERROR, "pgjobs: statement returned no result set");
	spi_desc = SPI_tuptable->tupdesc;
	if (spi_desc->natts < out_desc->natts)
		elog(ERROR, "pgjobs: statement returned %d columns, expected %d",
			 spi_desc->natts, out_desc->natts);
	for (col = 0; col < out_desc->natts; col++)
	{
		if (TupleDescAttr(spi_desc, col)->atttypid !=
			TupleDescAttr(out_desc, col)->atttypid)
			elog(ERROR, "pgjobs: column %d has type %u, expected %u", col + 1,
				 TupleDescAttr(spi_desc, col)->atttypid,
				 TupleDescAttr(out_desc, col)->atttypid);
	}

	values = palloc(sizeof(Datum) * spi_desc->natts);
	isnull = palloc(sizeof(bool) * spi_desc->natts);
	for (row = 0; row < SPI_processed; row++)
	{
		heap_deform_tuple(SPI_tuptable->vals[row], spi_desc, values, isnull);
		tuplestore_putvalues(out, out_desc, values, isnull);
	}
}

/*
 * ReportSkippedInsert raises the error for an INSERT into jobs.job_queue
 * that queued fewer than all of its jobs: only a trigger can do that.
 */
static void
ReportSkippedInsert(int wanted, uint64 queued)
{
	ereport(ERROR,
			(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
			 errmsg("only " UINT64_FORMAT " of %d jobs were queued", queued, wanted),
			 errdetail("A BEFORE INSERT trigger on jobs.job_queue skipped the others."),
			 errhint("Triggers on jobs.job_queue must not skip rows; raise an error to refuse a job.")));
}

/*
 * CatalogInsertJob queues one job and returns its id.
 */
int64
CatalogInsertJob(const JobSpec *spec)
{
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	int64		job_id;

	values[0] = PointerGetDatum(spec->task);
	values[1] = spec->body;
	if (spec->body_isnull)
		nulls[1] = 'n';
	values[2] = spec->scheduled_at;
	if (spec->scheduled_at_isnull)
		nulls[2] = 'n';
	values[3] = spec->timeout;
	if (spec->timeout_isnull)
		nulls[3] = 'n';
	values[4] = Int32GetDatum(spec->priority_isnull ?
							  PGJOBS_DEFAULT_PRIORITY : spec->priority);
	values[5] = Int32GetDatum(spec->max_retries_isnull ?
							  PGJOBS_DEFAULT_MAX_RETRIES : spec->max_retries);

	ConnectSPI();
	ExecutePlan(PLAN_INSERT_JOB, values, nulls, SPI_OK_INSERT_RETURNING);
	if (SPI_processed == 0)
		ReportSkippedInsert(1, 0);
	job_id = FirstInt64Result();
	FinishSPI();

	return job_id;
}

/*
 * CatalogInsertJobs queues every element of the jobs.bulk_job[] array jobs
 * in one statement and appends the new ids, in input order, to out.  The
 * array has ntasks elements; if tasks is not NULL, it holds their task
 * names, and a "queued" event is sent for each job.
 *
 * The array type's OID belongs to the extension, so a plan prepared before
 * the extension was dropped and created again would name a type that no
 * longer exists: prepare again when the OID changes.
 */
void
CatalogInsertJobs(Datum jobs, Oid array_type, Tuplestorestate *out,
				  TupleDesc out_desc, char **tasks, int ntasks)
{
	Datum		values[1];

	ConnectSPI();
	if (plans[PLAN_INSERT_JOBS] == NULL || insert_jobs_array_type != array_type)
	{
		if (plans[PLAN_INSERT_JOBS] != NULL)
		{
			SPI_freeplan(plans[PLAN_INSERT_JOBS]);
			plans[PLAN_INSERT_JOBS] = NULL;
		}
		plans[PLAN_INSERT_JOBS] = PreparePlan(&plan_defs[PLAN_INSERT_JOBS],
											  &array_type);
		insert_jobs_array_type = array_type;
	}

	values[0] = jobs;
	ExecutePlan(PLAN_INSERT_JOBS, values, NULL, SPI_OK_INSERT_RETURNING);
	if (SPI_processed != (uint64) ntasks)
		ReportSkippedInsert(ntasks, SPI_processed);
	CopyResultRows(out, out_desc);
	if (tasks != NULL)
	{
		uint64		row;

		for (row = 0; row < SPI_processed; row++)
		{
			bool		isnull;
			Datum		id = SPI_getbinval(SPI_tuptable->vals[row],
										   SPI_tuptable->tupdesc, 1, &isnull);

			if (isnull)
				elog(ERROR, "pgjobs: unexpected NULL job_id");
			NotifyJobEvent("queued", DatumGetInt64(id), tasks[row]);
		}
	}
	FinishSPI();
}

/*
 * CatalogClaimJobs claims up to num ready jobs, those whose task is LIKE
 * like_pattern when it is not NULL, appends them to out and returns how
 * many it claimed.
 */
uint64
CatalogClaimJobs(int32 num, text *like_pattern, TimestampTz now,
				 Tuplestorestate *out, TupleDesc out_desc)
{
	Datum		values[3];
	uint64		claimed;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int32GetDatum(num);
	values[2] = PointerGetDatum(like_pattern);

	ConnectSPI();
	ExecutePlan(like_pattern ? PLAN_CLAIM_TOPIC : PLAN_CLAIM, values, NULL,
				SPI_OK_SELECT);
	claimed = SPI_processed;
	CopyResultRows(out, out_desc);
	NotifyResultRows("picked");
	FinishSPI();

	return claimed;
}

/*
 * CatalogExpireJobs reclaims up to limit running jobs whose lease ended
 * before now, skipping rows other sessions hold, and returns how many it
 * reclaimed.  Each counts as a failed attempt.
 */
int64
CatalogExpireJobs(TimestampTz now, int32 limit)
{
	Datum		values[2];
	int64		count;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int32GetDatum(limit);

	ConnectSPI();
	ExecutePlan(PLAN_EXPIRE, values, NULL, SPI_OK_SELECT);
	count = (int64) SPI_processed;
	NotifyResultRows(NULL);
	FinishSPI();

	return count;
}

/*
 * CatalogNextWakeup returns when a consumer that found nothing to claim at
 * now should look again (the next due job or lease end), or DT_NOEND if
 * nothing is scheduled.
 */
TimestampTz
CatalogNextWakeup(TimestampTz now)
{
	Datum		values[1];
	Datum		d;
	bool		isnull;
	TimestampTz result = DT_NOEND;

	values[0] = TimestampTzGetDatum(now);

	ConnectSPI();
	ExecutePlan(PLAN_NEXT_WAKEUP, values, NULL, SPI_OK_SELECT);
	if (SPI_processed != 1 || SPI_tuptable == NULL)
		elog(ERROR, "pgjobs: next wake-up query returned " UINT64_FORMAT " rows",
			 (uint64) SPI_processed);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		result = DatumGetTimestampTz(d);
	FinishSPI();

	return result;
}

/*
 * CatalogPruneJobs deletes up to limit finished jobs that finished before
 * cutoff, oldest first, and returns how many it deleted.
 */
int64
CatalogPruneJobs(TimestampTz cutoff, int32 limit)
{
	Datum		values[2];
	int64		count;

	values[0] = TimestampTzGetDatum(cutoff);
	values[1] = Int32GetDatum(limit);

	ConnectSPI();
	ExecutePlan(PLAN_PRUNE, values, NULL, SPI_OK_DELETE);
	count = (int64) SPI_processed;
	FinishSPI();

	return count;
}

/*
 * CatalogQueueDeadRows returns the dead row versions in jobs.job_queue, as
 * the cumulative statistics system last counted them.
 */
int64
CatalogQueueDeadRows(void)
{
	int64		dead;

	ConnectSPI();
	ExecutePlan(PLAN_DEAD_ROWS, NULL, NULL, SPI_OK_SELECT);
	dead = FirstInt64Result();
	FinishSPI();

	return dead;
}

/*
 * CatalogFinishJob moves running job job_id to jobs.job as succeeded, if its
 * lease still holds at now and, unless attempt is ANY_ATTEMPT, the current
 * claim is that attempt.  Returns false, changing nothing, otherwise.
 *
 * Under READ COMMITTED a concurrent expiry or nack of the same row makes the
 * DELETE wait, then recheck the row: exactly one of them wins.
 */
bool
CatalogFinishJob(int64 job_id, int32 attempt, TimestampTz now,
				 Datum result, bool result_isnull)
{
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	bool		done;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int64GetDatum(job_id);
	values[2] = result;
	if (result_isnull)
		nulls[2] = 'n';
	values[3] = Int32GetDatum(attempt);
	if (attempt == ANY_ATTEMPT)
		nulls[3] = 'n';

	ConnectSPI();
	ExecutePlan(PLAN_FINISH, values, nulls, SPI_OK_INSERT_RETURNING);
	if (SPI_processed > 1)
		elog(ERROR, "pgjobs: ack finished " UINT64_FORMAT " jobs", (uint64) SPI_processed);
	done = (SPI_processed == 1);
	NotifyResultRows("succeeded");
	FinishSPI();

	return done;
}

/*
 * CatalogFailJob ends the current attempt of running job job_id as failed
 * with error, if its lease still holds at now (and the claim is attempt, as
 * for CatalogFinishJob): the job is retried at retry_at (or after the
 * backoff), or moved to jobs.job as failed when it has no retries left.
 * Returns false, changing nothing, otherwise.
 */
bool
CatalogFailJob(int64 job_id, int32 attempt, TimestampTz now, text *error,
			   Datum retry_at, bool retry_at_isnull)
{
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	int64		count;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int64GetDatum(job_id);
	values[2] = PointerGetDatum(error);
	if (error == NULL)
		nulls[2] = 'n';
	values[3] = retry_at;
	if (retry_at_isnull)
		nulls[3] = 'n';
	values[4] = Int32GetDatum(attempt);
	if (attempt == ANY_ATTEMPT)
		nulls[4] = 'n';

	ConnectSPI();
	ExecutePlan(PLAN_FAIL, values, nulls, SPI_OK_SELECT);
	count = (int64) SPI_processed;
	NotifyResultRows(NULL);
	FinishSPI();

	if (count > 1)
		elog(ERROR, "pgjobs: nack changed " INT64_FORMAT " jobs", count);
	return count == 1;
}

/*
 * CatalogReportNotRunning raises the error that tells a worker why its ack
 * or nack (action) of job_id did not count: the job does not exist, is not
 * running, its lease lapsed, or the claim being ended (attempt) is no
 * longer the current one.  It runs only after the change failed, so
 * a race can at worst make the detail describe a newer state.
 */
void
CatalogReportNotRunning(int64 job_id, int32 attempt, TimestampTz now,
						const char *action)
{
	Datum		values[2];
	char	   *status = NULL;
	bool		lapsed = false;
	char	   *timeout = NULL;
	int32		current_attempt = 0;
	MemoryContext caller_cxt = CurrentMemoryContext;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int64GetDatum(job_id);

	ConnectSPI();
	ExecutePlan(PLAN_DIAGNOSE, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 1)
	{
		HeapTuple	tuple = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;
		MemoryContext spi_cxt;

		/* the strings must outlive SPI_finish: make them in caller memory */
		spi_cxt = MemoryContextSwitchTo(caller_cxt);
		status = SPI_getvalue(tuple, desc, 1);
		timeout = SPI_getvalue(tuple, desc, 3);
		MemoryContextSwitchTo(spi_cxt);
		d = SPI_getbinval(tuple, desc, 2, &isnull);
		lapsed = !isnull && DatumGetBool(d);
		d = SPI_getbinval(tuple, desc, 4, &isnull);
		current_attempt = isnull ? 0 : DatumGetInt32(d);
	}
	FinishSPI();

	if (status == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PGJOBS_JOB_NOT_FOUND),
				 errmsg("job " INT64_FORMAT " does not exist", job_id),
				 errhint("Pass a job_id returned by jobs.consume or jobs.consume_topic.")));

	if (attempt != ANY_ATTEMPT && attempt != current_attempt)
		ereport(ERROR,
				(errcode(ERRCODE_PGJOBS_LEASE_EXPIRED),
				 errmsg("cannot %s job " INT64_FORMAT ": attempt %d is not its current claim",
						action, job_id, attempt),
				 errdetail("The job is %s, at attempt %d; a claim whose lease lapsed can no longer be acknowledged.",
						   status, current_attempt),
				 errhint("Publish the job with a longer timeout.")));

	if (strcmp(status, "running") == 0 && lapsed)
		ereport(ERROR,
				(errcode(ERRCODE_PGJOBS_LEASE_EXPIRED),
				 errmsg("cannot %s job " INT64_FORMAT ": its lease has expired",
						action, job_id),
				 errdetail("The job ran past its timeout of %s seconds and will be retried or failed as a timed-out attempt.",
						   timeout ? timeout : "?"),
				 errhint("Publish the job with a longer timeout.")));

	if (strcmp(status, "pending") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_PGJOBS_JOB_NOT_RUNNING),
				 errmsg("cannot %s job " INT64_FORMAT ": it is not running",
						action, job_id),
				 errdetail("The job is pending: it was never claimed, or its lease lapsed and it went back to the queue."),
				 errhint("Only a job claimed by jobs.consume can be acknowledged, and only before its timeout.")));

	ereport(ERROR,
			(errcode(ERRCODE_PGJOBS_JOB_NOT_RUNNING),
			 errmsg("cannot %s job " INT64_FORMAT ": it is not running",
					action, job_id),
			 errdetail("The job has already finished as %s.", status),
			 errhint("Each claim of a job can be acknowledged once, with jobs.ack or jobs.nack.")));
}
