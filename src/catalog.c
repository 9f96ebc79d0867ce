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

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/int.h"
#include "executor/executor.h"
#include "executor/instrument.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "parser/parse_relation.h"
#include "rewrite/rewriteHandler.h"
#include "storage/bufmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/varlena.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "compat.h"
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
 * error.  $1 is always the current time.  Each row is (job_id, task,
 * event, priority, scheduled_at), the last two the claim key of a retried
 * job, for the claim cursor (NULL for a failed one).
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
	"  RETURNING q.job_id, q.task, q.priority, q.scheduled_at" \
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
	" SELECT job_id, task, 'retried', priority, scheduled_at FROM retried" \
	" UNION ALL" \
	" SELECT job_id, task, 'failed', NULL::pg_catalog.int4," \
	"        NULL::pg_catalog.timestamptz FROM finished"

/*
 * The claim: lock up to $2 ready jobs in claim order (the partial index
 * job_queue_pending_idx) and mark them running.  It is written two ways,
 * how: UPDATE, the statement that marks them running and returns them, or
 * PICK, a SELECT of the same rows FOR UPDATE that returns only the ctid of
 * each row version it locked, for the direct claim (DirectClaimRows) to
 * mark running and return as the UPDATE would.  The pick reads the table
 * alone (ONLY): a table with inheritance children takes the UPDATE.
 * Either yields them in no set order: RunClaim sorts them into claim
 * order, which costs less than a CTE and a Sort node set up in the
 * executor at every claim.  The selection that locks the jobs is the same
 * both ways but for its column: CLAIM_COLS_UPDATE or CLAIM_COLS_PICK.
 */
#define CLAIM_SET \
	"     SET status = 'running', attempts = q.attempts" PLUS "1," \
	"         started_at = $1," \
	"         expires_at = $1" PLUS \
	"             pg_catalog.make_interval(secs => q.timeout::pg_catalog.float8)"
#define CLAIM_RETURNING \
	"  RETURNING q.job_id, q.task, q.body, q.attempts, q.max_retries," \
	"            q.priority, q.timeout, q.created_at, q.scheduled_at," \
	"            q.expires_at"
#define CLAIM_OPEN_UPDATE \
	"  UPDATE jobs.job_queue q" CLAIM_SET \
	"   WHERE q.job_id" EQ "ANY (ARRAY("
#define CLAIM_CLOSE_UPDATE "))" CLAIM_RETURNING
#define CLAIM_COLS_UPDATE "job_id"
#define CLAIM_TABLE_UPDATE "jobs.job_queue"
#define CLAIM_OPEN_PICK ""
#define CLAIM_CLOSE_PICK ""
#define CLAIM_COLS_PICK "ctid AS tid"
#define CLAIM_TABLE_PICK "ONLY jobs.job_queue"
#define CLAIM(how, extra_qual) \
	CLAIM_OPEN_##how \
	"           SELECT " CLAIM_COLS_##how " FROM " CLAIM_TABLE_##how \
	"            WHERE status" EQ "'pending' AND scheduled_at" LE "$1" extra_qual \
	"            ORDER BY priority DESC, scheduled_at, job_id" \
	"            LIMIT $2" \
	"            FOR UPDATE SKIP LOCKED" \
	CLAIM_CLOSE_##how

/*
 * The claim from the claim cursors (cursor.c): the same, reading the claim
 * index in ranges, in claim order, one per row of the arrays lo, hi, sched
 * and id.  A range with a cursor is a priority lo (= hi) from the cursor's
 * (sched, id) on; one without (sched NULL) is the priorities from hi down
 * to lo, each from its head.  The ranges are read in turn (a nested loop
 * over them) and the LIMIT stops the loop, so a later range is read only
 * when the earlier ones run short.  The two kinds of range are two
 * branches, each gated by a one-time test of the range, so that the
 * cursor's priority is an equality and scheduled_at <= $1 ends its scan.
 */
#define CLAIM_RANGE(how, alias, gate, extra_qual, range_qual) \
	"SELECT " alias ".* FROM (SELECT " CLAIM_COLS_##how " FROM " CLAIM_TABLE_##how \
	"  WHERE " gate " AND status" EQ "'pending' AND scheduled_at" LE "$1" \
	extra_qual range_qual \
	"  ORDER BY priority DESC, scheduled_at, job_id" \
	"  LIMIT $2 FOR UPDATE SKIP LOCKED) " alias
#define CLAIM_FROM(how, extra_qual, lo, hi, sched, id) \
	CLAIM_OPEN_##how \
	"           SELECT s.*" \
	"             FROM ROWS FROM (pg_catalog.unnest(" lo "::pg_catalog.int4[])," \
	"                             pg_catalog.unnest(" hi "::pg_catalog.int4[])," \
	"                             pg_catalog.unnest(" sched "::pg_catalog.timestamptz[])," \
	"                             pg_catalog.unnest(" id "::pg_catalog.int8[]))" \
	"                  AS r(lo, hi, sched, id)" \
	"            CROSS JOIN LATERAL (" \
	CLAIM_RANGE(how, "c", "r.sched IS NOT NULL", extra_qual, \
				" AND priority" EQ "r.lo" \
				" AND (scheduled_at, job_id)" GE "(r.sched, r.id)") \
	"            UNION ALL " \
	CLAIM_RANGE(how, "h", "r.sched IS NULL", extra_qual, \
				" AND priority" GE "r.lo AND priority" LE "r.hi") \
	"           ) s LIMIT $2" \
	CLAIM_CLOSE_##how

/*
 * The claim from one range (cursor.c: "Priority bounds"): priority prio
 * from (sched, id) on, which from its head is (-infinity, the lowest id).
 * A plan of a third of CLAIM_FROM's nodes, and one index scan.
 */
#define CLAIM_AT(how, extra_qual, prio, sched, id) \
	CLAIM_OPEN_##how \
	"           SELECT " CLAIM_COLS_##how " FROM " CLAIM_TABLE_##how \
	"            WHERE status" EQ "'pending' AND scheduled_at" LE "$1" extra_qual \
	"              AND priority" EQ prio \
	"              AND (scheduled_at, job_id)" GE "(" sched ", " id ")" \
	"            ORDER BY priority DESC, scheduled_at, job_id" \
	"            LIMIT $2" \
	"            FOR UPDATE SKIP LOCKED" \
	CLAIM_CLOSE_##how

/* The types of CLAIM_AT's range: prio, sched and id. */
#define CLAIM_AT_TYPES	INT4OID, TIMESTAMPTZOID, INT8OID

/*
 * The claim from two ranges, the most common shapes after one: the
 * priorities lo to hi from their head, then priority prio from (sched, id)
 * on (the lowest cursor's, below them: a backlog with jobs arriving
 * above); or the other way round (a cursor with jobs pending below it: a
 * drain of mixed priorities).  The same branches as CLAIM_FROM's without
 * the function scan of the arrays, the nested loop over them and the
 * one-time gates: 12 nodes instead of 16.
 */
#define CLAIM_HEAD_BRANCH(how, extra_qual, lo, hi) \
	CLAIM_RANGE(how, "h", "true", extra_qual, \
				" AND priority" GE lo " AND priority" LE hi)
#define CLAIM_CURSOR_BRANCH(how, extra_qual, prio, sched, id) \
	CLAIM_RANGE(how, "c", "true", extra_qual, \
				" AND priority" EQ prio \
				" AND (scheduled_at, job_id)" GE "(" sched ", " id ")")
#define CLAIM_TWO(how, extra_qual, lo, hi, prio, sched, id) \
	CLAIM_OPEN_##how \
	"           SELECT s.* FROM (" \
	CLAIM_HEAD_BRANCH(how, extra_qual, lo, hi) \
	"            UNION ALL " \
	CLAIM_CURSOR_BRANCH(how, extra_qual, prio, sched, id) \
	"           ) s LIMIT $2" \
	CLAIM_CLOSE_##how
#define CLAIM_TWO_BELOW(how, extra_qual, lo, hi, prio, sched, id) \
	CLAIM_OPEN_##how \
	"           SELECT s.* FROM (" \
	CLAIM_CURSOR_BRANCH(how, extra_qual, prio, sched, id) \
	"            UNION ALL " \
	CLAIM_HEAD_BRANCH(how, extra_qual, lo, hi) \
	"           ) s LIMIT $2" \
	CLAIM_CLOSE_##how

/* The types of CLAIM_TWO's ranges: lo, hi, prio, sched and id. */
#define CLAIM_TWO_TYPES	INT4OID, INT4OID, INT4OID, TIMESTAMPTZOID, INT8OID

/* The types of CLAIM_FROM's range arrays lo, hi, sched and id. */
#define CLAIM_RANGE_TYPES	INT4ARRAYOID, INT4ARRAYOID, TIMESTAMPTZARRAYOID, INT8ARRAYOID

/*
 * The four plans of a claim of one shape, written how: plain, topic
 * (like_pattern $3), blocked (blocked and allowed patterns) and topic and
 * blocked, each with the shape's own parameters after those: none for
 * CLAIM, CLAIM_AT's three, CLAIM_FROM's four, and five for CLAIM_TWO and
 * CLAIM_TWO_BELOW (two).
 */
#define CLAIM_HEAD_DEFS(how, plain, topic, blocked, topic_blocked) \
	[plain] = { \
		CLAIM(how, ""), \
		2, {TIMESTAMPTZOID, INT4OID} \
	}, \
	[topic] = { \
		CLAIM(how, " AND task" LIKE "$3"), \
		3, {TIMESTAMPTZOID, INT4OID, TEXTOID} \
	}, \
	[blocked] = { \
		CLAIM(how, NOT_BLOCKED("$3") ALLOWED("$4")), \
		4, {TIMESTAMPTZOID, INT4OID, TEXTARRAYOID, TEXTARRAYOID} \
	}, \
	[topic_blocked] = { \
		CLAIM(how, " AND task" LIKE "$3" NOT_BLOCKED("$4") ALLOWED("$5")), \
		5, {TIMESTAMPTZOID, INT4OID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID} \
	}
#define CLAIM_AT_DEFS(how, plain, topic, blocked, topic_blocked) \
	[plain] = { \
		CLAIM_AT(how, "", "$3", "$4", "$5"), \
		5, {TIMESTAMPTZOID, INT4OID, CLAIM_AT_TYPES} \
	}, \
	[topic] = { \
		CLAIM_AT(how, " AND task" LIKE "$3", "$4", "$5", "$6"), \
		6, {TIMESTAMPTZOID, INT4OID, TEXTOID, CLAIM_AT_TYPES} \
	}, \
	[blocked] = { \
		CLAIM_AT(how, NOT_BLOCKED("$3") ALLOWED("$4"), "$5", "$6", "$7"), \
		7, {TIMESTAMPTZOID, INT4OID, TEXTARRAYOID, TEXTARRAYOID, CLAIM_AT_TYPES} \
	}, \
	[topic_blocked] = { \
		CLAIM_AT(how, " AND task" LIKE "$3" NOT_BLOCKED("$4") ALLOWED("$5"), \
				 "$6", "$7", "$8"), \
		8, {TIMESTAMPTZOID, INT4OID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID, \
			CLAIM_AT_TYPES} \
	}
#define CLAIM_FROM_DEFS(how, plain, topic, blocked, topic_blocked) \
	[plain] = { \
		CLAIM_FROM(how, "", "$3", "$4", "$5", "$6"), \
		6, {TIMESTAMPTZOID, INT4OID, CLAIM_RANGE_TYPES} \
	}, \
	[topic] = { \
		CLAIM_FROM(how, " AND task" LIKE "$3", "$4", "$5", "$6", "$7"), \
		7, {TIMESTAMPTZOID, INT4OID, TEXTOID, CLAIM_RANGE_TYPES} \
	}, \
	[blocked] = { \
		CLAIM_FROM(how, NOT_BLOCKED("$3") ALLOWED("$4"), "$5", "$6", "$7", "$8"), \
		8, {TIMESTAMPTZOID, INT4OID, TEXTARRAYOID, TEXTARRAYOID, CLAIM_RANGE_TYPES} \
	}, \
	[topic_blocked] = { \
		CLAIM_FROM(how, " AND task" LIKE "$3" NOT_BLOCKED("$4") ALLOWED("$5"), \
				   "$6", "$7", "$8", "$9"), \
		9, {TIMESTAMPTZOID, INT4OID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID, \
			CLAIM_RANGE_TYPES} \
	}
#define CLAIM_TWO_DEFS(two, how, plain, topic, blocked, topic_blocked) \
	[plain] = { \
		two(how, "", "$3", "$4", "$5", "$6", "$7"), \
		7, {TIMESTAMPTZOID, INT4OID, CLAIM_TWO_TYPES} \
	}, \
	[topic] = { \
		two(how, " AND task" LIKE "$3", "$4", "$5", "$6", "$7", "$8"), \
		8, {TIMESTAMPTZOID, INT4OID, TEXTOID, CLAIM_TWO_TYPES} \
	}, \
	[blocked] = { \
		two(how, NOT_BLOCKED("$3") ALLOWED("$4"), "$5", "$6", "$7", "$8", "$9"), \
		9, {TIMESTAMPTZOID, INT4OID, TEXTARRAYOID, TEXTARRAYOID, CLAIM_TWO_TYPES} \
	}, \
	[topic_blocked] = { \
		two(how, " AND task" LIKE "$3" NOT_BLOCKED("$4") ALLOWED("$5"), \
			"$6", "$7", "$8", "$9", "$10"), \
		10, {TIMESTAMPTZOID, INT4OID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID, \
			 CLAIM_TWO_TYPES} \
	}

/*
 * The twenty plans of a claim written how, named after p: p (the head),
 * p_FROM, p_AT, p_TWO and p_TWO_BELOW, each with _TOPIC, _BLOCKED and
 * _TOPIC_BLOCKED.
 */
#define CLAIM_ALL_DEFS(how, p) \
	CLAIM_HEAD_DEFS(how, p, p##_TOPIC, p##_BLOCKED, p##_TOPIC_BLOCKED), \
	CLAIM_FROM_DEFS(how, p##_FROM, p##_TOPIC_FROM, p##_BLOCKED_FROM, p##_TOPIC_BLOCKED_FROM), \
	CLAIM_AT_DEFS(how, p##_AT, p##_TOPIC_AT, p##_BLOCKED_AT, p##_TOPIC_BLOCKED_AT), \
	CLAIM_TWO_DEFS(CLAIM_TWO, how, p##_TWO, p##_TOPIC_TWO, p##_BLOCKED_TWO, \
				   p##_TOPIC_BLOCKED_TWO), \
	CLAIM_TWO_DEFS(CLAIM_TWO_BELOW, how, p##_TWO_BELOW, p##_TOPIC_TWO_BELOW, \
				   p##_BLOCKED_TWO_BELOW, p##_TOPIC_BLOCKED_TWO_BELOW)

/*
 * "priority = param" for the cursor's checks, which read one priority
 * between two keys and stop at "scheduled_at = x AND job_id < y".  Written
 * as an ANY of one element, which nbtree reads as the equality it is, so
 * that the planner does not take priority (nor, with it, scheduled_at) as
 * a constant of the sort order: then job_queue_pkey would yield that order
 * too, and a generic plan, told by the statistics that all jobs share a
 * few scheduled_at (publish_bulk), would walk the primary key up from the
 * lowest job_id through every finished job's dead row, filtering, instead
 * of reading the few claim-index entries between the two keys (545 buffers
 * a topic claim's check, against 4).
 */
#define AT_PRIORITY(param) \
	" AND priority" EQ "ANY (ARRAY[" param "::pg_catalog.int4])"

/*
 * The columns of a claim's rows (CLAIM_CLOSE_UPDATE's RETURNING, and the
 * rows of the direct claim, DirectClaimRows): the claim key, the attempt,
 * the timeout and the lease.
 */
#define CLAIM_COL_JOB_ID		1
#define CLAIM_COL_ATTEMPTS		4
#define CLAIM_COL_PRIORITY		6
#define CLAIM_COL_TIMEOUT		7
#define CLAIM_COL_SCHEDULED_AT	9
#define CLAIM_COL_EXPIRES_AT	10
#define CLAIM_NCOLS				10

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

/*
 * The same for schema 1.1, where a claim whose cancellation was requested
 * no longer counts either: touch, progress and ack then fail (PJ004).
 */
#define LEASE_HOLDS_1_1(attempt) \
	" AND (status" EQ "'running' AND expires_at" GE "$1" \
	"      AND cancel_requested_at IS NULL" \
	"      AND (" attempt "::pg_catalog.int4 IS NULL OR attempts" EQ attempt ")) IS TRUE"

/*
 * The unique key a job of alias a keeps when it goes back to pending (a
 * retry, a release, a redrive): its own, unless another queued job has
 * taken the key meanwhile, which only a job published with
 * i_unique_running false leaves free while it runs.  The job then drops its
 * key rather than collide with the new holder (the unique index would
 * refuse it, and an expiry pass would fail over and over).
 */
#define KEY_IF_FREE(a, self) \
	"CASE WHEN " a ".unique_key IS NOT NULL AND EXISTS (" \
	"       SELECT FROM jobs.job_queue o" \
	"        WHERE o.task" EQ a ".task AND o.unique_key" EQ a ".unique_key" \
	"          AND o.unique_key IS NOT NULL" \
	"          AND (o.status" EQ "'pending' OR o.unique_while_running)" \
	"          " self ")" \
	"     THEN NULL ELSE " a ".unique_key END"

/*
 * FAIL_JOBS_TAIL for schema 1.1: a job whose cancellation was requested
 * finishes as cancelled instead of being retried, and jobs.job keeps the
 * unique key and the progress.  The event of each row is its new state.
 */
#define FAIL_JOBS_TAIL_1_1(error, retry_at) \
	", retried AS (" \
	"  UPDATE jobs.job_queue q" \
	"     SET status = 'pending', expires_at = NULL, last_error = " error "," \
	"         scheduled_at = COALESCE(" retry_at "," \
	"                                 $1" PLUS "jobs.retry_delay(q.attempts))," \
	"         unique_key = " KEY_IF_FREE("q", "AND o.job_id <> q.job_id") \
	"   WHERE q.job_id" EQ "ANY (ARRAY(SELECT job_id FROM target))" \
	"     AND q.attempts" LE "q.max_retries AND q.cancel_requested_at IS NULL" \
	"  RETURNING q.job_id, q.task, q.priority, q.scheduled_at" \
	"), failed AS (" \
	"  DELETE FROM jobs.job_queue q" \
	"   WHERE q.job_id" EQ "ANY (ARRAY(SELECT job_id FROM target))" \
	"     AND (q.attempts" GT "q.max_retries OR q.cancel_requested_at IS NOT NULL)" \
	"  RETURNING q.job_id, q.task, q.body, q.priority, q.attempts," \
	"            q.max_retries, q.timeout," \
	"            CASE WHEN q.cancel_requested_at IS NULL THEN " error \
	"                 ELSE q.last_error END AS error," \
	"            CASE WHEN q.cancel_requested_at IS NULL" \
	"                 THEN 'failed'::jobs.job_status" \
	"                 ELSE 'cancelled'::jobs.job_status END AS status," \
	"            q.created_at, q.scheduled_at, q.started_at, q.unique_key," \
	"            q.progress, q.progress_note, q.published_by" \
	"), finished AS (" \
	"  INSERT INTO jobs.job (job_id, task, body, status, priority, attempts," \
	"                        max_retries, timeout, last_error, created_at," \
	"                        scheduled_at, started_at, finished_at," \
	"                        unique_key, progress, progress_note, published_by)" \
	"  SELECT f.job_id, f.task, f.body, f.status, f.priority, f.attempts," \
	"         f.max_retries, f.timeout, f.error, f.created_at," \
	"         f.scheduled_at, f.started_at, $1, f.unique_key, f.progress," \
	"         f.progress_note, f.published_by" \
	"    FROM failed f" \
	"  RETURNING job_id, task, status" \
	")" \
	" SELECT job_id, task, 'retried', priority, scheduled_at FROM retried" \
	" UNION ALL" \
	" SELECT job_id, task, status::pg_catalog.text, NULL::pg_catalog.int4," \
	"        NULL::pg_catalog.timestamptz FROM finished"

/* Columns jobs.job takes from a finished job_queue row, before 1.1. */
#define FINISHED_COLUMNS_1_0 \
	"job_id, task, body, priority, attempts, max_retries, timeout," \
	" last_error, created_at, scheduled_at, started_at"

/* The same in schema 1.1. */
#define FINISHED_COLUMNS \
	"job_id, task, body, priority, attempts, max_retries, timeout," \
	" last_error, created_at, scheduled_at, started_at, unique_key," \
	" progress, progress_note, published_by"

/*
 * ack_batch's DELETE of the running jobs of the int8[] ids $2 whose claim
 * still counts at $1 (results $3 and attempts $4: parallel arrays, or
 * NULL), joined to those arrays as i(id, result, attempt).
 */
#define FINISH_BATCH_DELETE \
	"DELETE FROM jobs.job_queue q" \
	" USING ROWS FROM (pg_catalog.unnest($2::pg_catalog.int8[])," \
	"                  pg_catalog.unnest($3::jsonb[])," \
	"                  pg_catalog.unnest($4::pg_catalog.int4[]))" \
	"       AS i(id, result, attempt)" \
	" WHERE q.job_id" EQ "i.id" \
	"   AND (q.status" EQ "'running' AND q.expires_at" GE "$1" \
	"        AND q.cancel_requested_at IS NULL" \
	"        AND (i.attempt IS NULL OR q.attempts" EQ "i.attempt)) IS TRUE"

/* The unique-key index's predicate, for ON CONFLICT and lookups. */
#define UNIQUE_KEY_TAKEN \
	"unique_key IS NOT NULL" \
	" AND (status" EQ "'pending' OR unique_while_running)"

/*
 * A publish with a unique key; conflict is the ON CONFLICT action.  The
 * second column says whether the row is new: a new row has the id the
 * statement just drew from the sequence, the holder of the key an older one.
 * (Not "xmax = 0": a producer may lack the table-wide SELECT that reading a
 * system column takes.)
 */
#define INSERT_UNIQUE(conflict) \
	"INSERT INTO jobs.job_queue AS q" \
	"  (task, body, scheduled_at, timeout, priority, max_retries," \
	"   unique_key, unique_while_running, published_by)" \
	" VALUES ($1, $2, COALESCE($3, pg_catalog.now())," \
	"         COALESCE($4, " PGJOBS_DEFAULT_TIMEOUT "), $5, $6, $7, $8, $9)" \
	" ON CONFLICT (task, unique_key) WHERE " UNIQUE_KEY_TAKEN \
	" " conflict \
	" RETURNING job_id, job_id" EQ \
	"    pg_catalog.currval('jobs.job_id_seq'::pg_catalog.regclass) AS inserted," \
	"    priority, scheduled_at"

/* The claim, skipping jobs whose task matches a pattern in $3 (1.1). */
#define NOT_BLOCKED(param) \
	" AND NOT (task" LIKE "ANY (" param "::pg_catalog.text[]))"

/* ... and taking only tasks that match a pattern in param, unless NULL. */
#define ALLOWED(param) \
	" AND (" param "::pg_catalog.text[] IS NULL OR task" LIKE "ANY (" param "))"

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
	PLAN_LEASE_FLOOR,
	PLAN_PRUNE,
	PLAN_DEAD_ROWS,
	/* schema 1.1 */
	PLAN_FINISH_1_1,
	PLAN_FAIL_1_1,
	PLAN_EXPIRE_1_1,
	PLAN_DIAGNOSE_1_1,
	PLAN_INSERT_UNIQUE,
	PLAN_INSERT_REPLACE,
	PLAN_FIND_UNIQUE,
	PLAN_FINISH_BATCH,
	PLAN_FINISH_TAKE,
	PLAN_FINISH_TAKE_1_1,
	PLAN_FINISH_BATCH_TAKE,
	PLAN_FINISH_BATCH_TAKE_IDS,
	PLAN_FAIL_BATCH,
	PLAN_TOUCH,
	PLAN_PROGRESS,
	PLAN_RELEASE,
	PLAN_CANCEL,
	PLAN_RETRY,
	PLAN_RETRY_TOPIC,
	PLAN_CLAIM_BLOCKED,
	PLAN_CLAIM_TOPIC_BLOCKED,
	PLAN_CONTROLS,
	PLAN_LOCK_LIMITS,
	PLAN_READ_LIMITS,
	PLAN_COUNT_RUNNING,
	PLAN_SPEND_TOKENS,
	PLAN_RUN_SCHEDULES,
	PLAN_INSERT_JOB_1_1,
	PLAN_INSERT_JOBS_1_1,
	PLAN_TOPIC_GRANTS,
	PLAN_JOB_TASK,
	/* the claim cursor */
	PLAN_CLAIM_FROM,
	PLAN_CLAIM_TOPIC_FROM,
	PLAN_CLAIM_BLOCKED_FROM,
	PLAN_CLAIM_TOPIC_BLOCKED_FROM,
	PLAN_CURSOR_CHECK,
	PLAN_CURSOR_FILTERED,
	/* the priority bounds */
	PLAN_CLAIM_AT,
	PLAN_CLAIM_TOPIC_AT,
	PLAN_CLAIM_BLOCKED_AT,
	PLAN_CLAIM_TOPIC_BLOCKED_AT,
	PLAN_CLAIM_BOUNDS,
	PLAN_CLAIM_TWO,
	PLAN_CLAIM_TOPIC_TWO,
	PLAN_CLAIM_BLOCKED_TWO,
	PLAN_CLAIM_TOPIC_BLOCKED_TWO,
	PLAN_CLAIM_TWO_BELOW,
	PLAN_CLAIM_TOPIC_TWO_BELOW,
	PLAN_CLAIM_BLOCKED_TWO_BELOW,
	PLAN_CLAIM_TOPIC_BLOCKED_TWO_BELOW,
	/* the claims as the direct claim runs them (CLAIM_OPEN_PICK) */
	PLAN_CLAIM_LOCKED,
	PLAN_PICK,
	PLAN_PICK_TOPIC,
	PLAN_PICK_BLOCKED,
	PLAN_PICK_TOPIC_BLOCKED,
	PLAN_PICK_FROM,
	PLAN_PICK_TOPIC_FROM,
	PLAN_PICK_BLOCKED_FROM,
	PLAN_PICK_TOPIC_BLOCKED_FROM,
	PLAN_PICK_AT,
	PLAN_PICK_TOPIC_AT,
	PLAN_PICK_BLOCKED_AT,
	PLAN_PICK_TOPIC_BLOCKED_AT,
	PLAN_PICK_TWO,
	PLAN_PICK_TOPIC_TWO,
	PLAN_PICK_BLOCKED_TWO,
	PLAN_PICK_TOPIC_BLOCKED_TWO,
	PLAN_PICK_TWO_BELOW,
	PLAN_PICK_TOPIC_TWO_BELOW,
	PLAN_PICK_BLOCKED_TWO_BELOW,
	PLAN_PICK_TOPIC_BLOCKED_TWO_BELOW,
	NUM_PLANS
} CatalogPlanId;

typedef struct CatalogPlanDef
{
	const char *sql;
	int			nargs;
	Oid			argtypes[10];
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
		" RETURNING job_id, priority, scheduled_at",
		6, {VARCHAROID, JSONBOID, TIMESTAMPTZOID, NUMERICOID, INT4OID, INT4OID}
	},
	/*
	 * The insert reads the array straight from unnest: the function scan
	 * yields the elements in array order, each row takes its id (nextval)
	 * as it is inserted and RETURNING comes back in that order, which is
	 * what maps ids (and the tasks of "queued" events) to elements.  An
	 * ORDER BY on an ordinality column would say so too, at the cost of a
	 * sort of every row: publish_bulk of 1000 ran about 3% faster without.
	 */
	[PLAN_INSERT_JOBS] = {
		"INSERT INTO jobs.job_queue"
		"  (task, body, scheduled_at, timeout, priority, max_retries)"
		" SELECT j.task, j.body,"
		"        COALESCE(j.scheduled_at::pg_catalog.timestamptz, pg_catalog.now()),"
		"        COALESCE(j.timeout, " PGJOBS_DEFAULT_TIMEOUT "),"
		"        COALESCE(j.priority, 0), COALESCE(j.max_retries, 3)"
		"   FROM pg_catalog.unnest($1)"
		"        AS j(task, body, scheduled_at, timeout, priority, max_retries)"
		" RETURNING job_id, priority, scheduled_at",
		1, {InvalidOid}
	},
	[PLAN_EXPIRE] = {
		"WITH target AS MATERIALIZED ("
		"  SELECT job_id FROM jobs.job_queue"
		"   WHERE status" EQ "'running' AND expires_at" LT "$1"
		"     AND expires_at" GE "$3"
		"   ORDER BY expires_at"
		"   LIMIT $2"
		"   FOR UPDATE SKIP LOCKED"
		")" FAIL_JOBS_TAIL("pg_catalog.format('job timed out after %s seconds', q.timeout)",
						   "NULL"),
		3, {TIMESTAMPTZOID, INT4OID, TIMESTAMPTZOID}
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
	 * found by walking the distinct priorities that hold a future job (a
	 * loose index scan), whose first future job in index order is their
	 * earliest.  scheduled_at > $1 is checked on the index entries, so the
	 * dead entries of claimed jobs (due when claimed) are skipped without
	 * a heap visit, even while a held snapshot keeps them from being
	 * marked dead.  The earliest lease end is looked up only when $2 says
	 * so: with a valid expiry floor in the future the floor stands for it
	 * (cursor.c), and a CASE branch not taken never runs its InitPlan.
	 */
	[PLAN_NEXT_WAKEUP] = {
		"WITH RECURSIVE due(p, at) AS ("
		"    (SELECT priority, scheduled_at FROM jobs.job_queue"
		"      WHERE status" EQ "'pending' AND scheduled_at" GT "$1"
		"      ORDER BY priority DESC, scheduled_at LIMIT 1)"
		"  UNION ALL"
		"    SELECT n.priority, n.scheduled_at"
		"      FROM due, LATERAL ("
		"        SELECT q.priority, q.scheduled_at FROM jobs.job_queue q"
		"         WHERE q.status" EQ "'pending' AND q.scheduled_at" GT "$1"
		"           AND q.priority" LT "due.p"
		"         ORDER BY q.priority DESC, q.scheduled_at LIMIT 1) n"
		")"
		" SELECT LEAST("
		"   (SELECT pg_catalog.min(at) FROM due),"
		"   CASE WHEN $2 THEN"
		"   (SELECT q.expires_at FROM jobs.job_queue q"
		"     WHERE q.status" EQ "'running' AND q.expires_at" GT "$1"
		"     ORDER BY q.expires_at LIMIT 1) END)",
		2, {TIMESTAMPTZOID, BOOLOID}
	},
	/*
	 * The earliest lease end at or after $1 among running jobs: what the
	 * expiry floor moves up to after a pass, or down to in its periodic
	 * check ($1 = -infinity).  NULL when there is none.
	 */
	[PLAN_LEASE_FLOOR] = {
		"SELECT expires_at FROM jobs.job_queue"
		" WHERE status" EQ "'running' AND expires_at" GE "$1"
		" ORDER BY expires_at LIMIT 1",
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
	/*
	 * Schema 1.1 (pgjobs 1.1).  The statements above stay as they were, for
	 * the 1.0 functions this library still serves until ALTER EXTENSION
	 * pgjobs UPDATE; catalog functions pick by CatalogHasJobControl().
	 */
	[PLAN_FINISH_1_1] = {
		"WITH done AS ("
		"  DELETE FROM jobs.job_queue"
		"   WHERE job_id" EQ "$2" LEASE_HOLDS_1_1("$4")
		"  RETURNING " FINISHED_COLUMNS
		")"
		" INSERT INTO jobs.job (status, result, finished_at, " FINISHED_COLUMNS ")"
		" SELECT 'succeeded', $3, $1, " FINISHED_COLUMNS
		"   FROM done"
		" RETURNING job_id, task",
		4, {TIMESTAMPTZOID, INT8OID, JSONBOID, INT4OID}
	},
	[PLAN_FAIL_1_1] = {
		"WITH target AS MATERIALIZED ("
		"  SELECT job_id FROM jobs.job_queue"
		"   WHERE job_id" EQ "$2"
		"     AND (status" EQ "'running' AND expires_at" GE "$1"
		"          AND ($5::pg_catalog.int4 IS NULL OR attempts" EQ "$5)) IS TRUE"
		"   FOR UPDATE"
		")" FAIL_JOBS_TAIL_1_1("$3::pg_catalog.text", "$4::pg_catalog.timestamptz"),
		5, {TIMESTAMPTZOID, INT8OID, TEXTOID, TIMESTAMPTZOID, INT4OID}
	},
	[PLAN_EXPIRE_1_1] = {
		"WITH target AS MATERIALIZED ("
		"  SELECT job_id FROM jobs.job_queue"
		"   WHERE status" EQ "'running' AND expires_at" LT "$1"
		"     AND expires_at" GE "$3"
		"   ORDER BY expires_at"
		"   LIMIT $2"
		"   FOR UPDATE SKIP LOCKED"
		")" FAIL_JOBS_TAIL_1_1("pg_catalog.format('job timed out after %s seconds', q.timeout)",
							   "NULL"),
		3, {TIMESTAMPTZOID, INT4OID, TIMESTAMPTZOID}
	},
	[PLAN_DIAGNOSE_1_1] = {
		"SELECT status, expires_at" LT "$1, timeout::pg_catalog.text, attempts,"
		"       cancel_requested_at IS NOT NULL, task"
		"  FROM jobs.job_queue WHERE job_id" EQ "$2"
		" UNION ALL "
		"SELECT status, false, timeout::pg_catalog.text, attempts, false, task"
		"  FROM jobs.job WHERE job_id" EQ "$2"
		" LIMIT 1",
		2, {TIMESTAMPTZOID, INT8OID}
	},
	[PLAN_INSERT_UNIQUE] = {
		INSERT_UNIQUE("DO NOTHING"),
		9, {VARCHAROID, JSONBOID, TIMESTAMPTZOID, NUMERICOID, INT4OID, INT4OID,
			TEXTOID, BOOLOID, TEXTOID}
	},
	[PLAN_INSERT_REPLACE] = {
		INSERT_UNIQUE("DO UPDATE SET body = EXCLUDED.body,"
					  " scheduled_at = EXCLUDED.scheduled_at,"
					  " timeout = EXCLUDED.timeout, priority = EXCLUDED.priority,"
					  " max_retries = EXCLUDED.max_retries,"
					  " unique_while_running = EXCLUDED.unique_while_running"
					  " WHERE q.status" EQ "'pending'"),
		9, {VARCHAROID, JSONBOID, TIMESTAMPTZOID, NUMERICOID, INT4OID, INT4OID,
			TEXTOID, BOOLOID, TEXTOID}
	},
	[PLAN_FIND_UNIQUE] = {
		"SELECT job_id FROM jobs.job_queue"
		" WHERE task" EQ "$1 AND unique_key" EQ "$2 AND " UNIQUE_KEY_TAKEN,
		2, {VARCHAROID, TEXTOID}
	},
	[PLAN_FINISH_BATCH] = {
		"WITH done AS (" FINISH_BATCH_DELETE
		"  RETURNING i.result, q.job_id, q.task, q.body, q.priority, q.attempts,"
		"            q.max_retries, q.timeout, q.last_error, q.created_at,"
		"            q.scheduled_at, q.started_at, q.unique_key, q.progress,"
		"            q.progress_note, q.published_by"
		")"
		" INSERT INTO jobs.job (status, result, finished_at, " FINISHED_COLUMNS ")"
		" SELECT 'succeeded', result, $1, " FINISHED_COLUMNS
		"   FROM done"
		" RETURNING job_id, task",
		4, {TIMESTAMPTZOID, INT8ARRAYOID, InvalidOid, INT4ARRAYOID}
	},
	/*
	 * The finishing DELETEs alone, when the job goes into jobs.job directly
	 * (CatalogFinishJob, CatalogFinishJobs): each returns the finished
	 * columns, job_id and task first, and the batch one each job's result
	 * last.
	 */
	[PLAN_FINISH_TAKE] = {
		"DELETE FROM jobs.job_queue"
		" WHERE job_id" EQ "$2" LEASE_HOLDS("$3")
		" RETURNING " FINISHED_COLUMNS_1_0,
		3, {TIMESTAMPTZOID, INT8OID, INT4OID}
	},
	[PLAN_FINISH_TAKE_1_1] = {
		"DELETE FROM jobs.job_queue"
		" WHERE job_id" EQ "$2" LEASE_HOLDS_1_1("$3")
		" RETURNING " FINISHED_COLUMNS,
		3, {TIMESTAMPTZOID, INT8OID, INT4OID}
	},
	[PLAN_FINISH_BATCH_TAKE] = {
		FINISH_BATCH_DELETE
		" RETURNING " FINISHED_COLUMNS ", i.result",
		4, {TIMESTAMPTZOID, INT8ARRAYOID, InvalidOid, INT4ARRAYOID}
	},
	/*
	 * The same without results or attempts, the common batch: one scan of
	 * the primary key for all the ids, not one per id.
	 */
	[PLAN_FINISH_BATCH_TAKE_IDS] = {
		"DELETE FROM jobs.job_queue q"
		" WHERE q.job_id" EQ "ANY ($2::pg_catalog.int8[])"
		"   AND (q.status" EQ "'running' AND q.expires_at" GE "$1"
		"        AND q.cancel_requested_at IS NULL) IS TRUE"
		" RETURNING " FINISHED_COLUMNS ", NULL::pg_catalog.jsonb",
		2, {TIMESTAMPTZOID, INT8ARRAYOID}
	},
	[PLAN_FAIL_BATCH] = {
		"WITH target AS MATERIALIZED ("
		"  SELECT q.job_id FROM jobs.job_queue q"
		"    JOIN ROWS FROM (pg_catalog.unnest($2::pg_catalog.int8[]),"
		"                    pg_catalog.unnest($5::pg_catalog.int4[]))"
		"         AS i(id, attempt) ON q.job_id" EQ "i.id"
		"   WHERE (q.status" EQ "'running' AND q.expires_at" GE "$1"
		"          AND (i.attempt IS NULL OR q.attempts" EQ "i.attempt)) IS TRUE"
		"   FOR UPDATE OF q"
		")" FAIL_JOBS_TAIL_1_1("$3::pg_catalog.text", "$4::pg_catalog.timestamptz"),
		5, {TIMESTAMPTZOID, INT8ARRAYOID, TEXTOID, TIMESTAMPTZOID, INT4ARRAYOID}
	},
	[PLAN_TOUCH] = {
		"UPDATE jobs.job_queue"
		"   SET expires_at = $1" PLUS "pg_catalog.make_interval(secs =>"
		"           COALESCE($3, timeout::pg_catalog.float8))"
		" WHERE job_id" EQ "$2" LEASE_HOLDS_1_1("$4")
		" RETURNING expires_at, task",
		4, {TIMESTAMPTZOID, INT8OID, FLOAT8OID, INT4OID}
	},
	[PLAN_PROGRESS] = {
		"UPDATE jobs.job_queue"
		"   SET progress = $3, progress_note = $4"
		" WHERE job_id" EQ "$2" LEASE_HOLDS_1_1("$5")
		" RETURNING job_id, task",
		5, {TIMESTAMPTZOID, INT8OID, FLOAT8OID, TEXTOID, INT4OID}
	},
	[PLAN_RELEASE] = {
		"UPDATE jobs.job_queue"
		"   SET status = 'pending', attempts = attempts" " OPERATOR(pg_catalog.-) " "1,"
		"       expires_at = NULL, scheduled_at = COALESCE($3, $1),"
		"       unique_key = " KEY_IF_FREE("jobs.job_queue", "AND o.job_id <> jobs.job_queue.job_id")
		" WHERE job_id" EQ "$2" LEASE_HOLDS_1_1("$4")
		" RETURNING job_id, task, priority, scheduled_at",
		4, {TIMESTAMPTZOID, INT8OID, TIMESTAMPTZOID, INT4OID}
	},
	/*
	 * Cancel: lock the job; a pending one moves to jobs.job as cancelled, a
	 * running one is marked.  Under READ COMMITTED the lock returns the
	 * job's latest state, which is what the two branches act on.
	 */
	[PLAN_CANCEL] = {
		"WITH target AS MATERIALIZED ("
		"  SELECT job_id, status FROM jobs.job_queue"
		"   WHERE job_id" EQ "$2 FOR UPDATE"
		"), gone AS ("
		"  DELETE FROM jobs.job_queue q"
		"   WHERE q.job_id" EQ "ANY (ARRAY(SELECT job_id FROM target"
		"                                  WHERE status" EQ "'pending'))"
		"  RETURNING " FINISHED_COLUMNS
		"), moved AS ("
		"  INSERT INTO jobs.job (job_id, task, body, status, priority, attempts,"
		"                        max_retries, timeout, last_error, created_at,"
		"                        scheduled_at, started_at, finished_at,"
		"                        unique_key, progress, progress_note, published_by)"
		"  SELECT job_id, task, body, 'cancelled', priority, attempts,"
		"         max_retries, timeout, $3, created_at, scheduled_at,"
		"         started_at, $1, unique_key, progress, progress_note, published_by"
		"    FROM gone"
		"  RETURNING job_id, task"
		"), requested AS ("
		"  UPDATE jobs.job_queue q"
		"     SET cancel_requested_at = $1, last_error = $3"
		"   WHERE q.job_id" EQ "ANY (ARRAY(SELECT job_id FROM target"
		"                                  WHERE status" EQ "'running'))"
		"     AND q.cancel_requested_at IS NULL"
		"  RETURNING q.job_id, q.task"
		")"
		" SELECT job_id, task, 'cancelled' FROM moved"
		" UNION ALL"
		" SELECT job_id, task, 'cancelling' FROM requested",
		3, {TIMESTAMPTZOID, INT8OID, TEXTOID}
	},
	/*
	 * Redrive: failed (or cancelled) jobs go back to the queue, pending at
	 * $1, with their ids and a fresh count of attempts.
	 */
	[PLAN_RETRY] = {
		"WITH gone AS ("
		"  DELETE FROM jobs.job"
		"   WHERE job_id" EQ "$2"
		"     AND status" EQ "ANY ('{failed,cancelled}'::jobs.job_status[])"
		"  RETURNING *"
		")"
		" INSERT INTO jobs.job_queue (job_id, task, body, priority, attempts,"
		"       max_retries, timeout, last_error, created_at, scheduled_at,"
		"       unique_key, published_by)"
		" SELECT g.job_id, g.task, g.body, g.priority, 0, g.max_retries, g.timeout,"
		"        g.last_error, g.created_at, $1, " KEY_IF_FREE("g", "") ", g.published_by"
		"   FROM gone g"
		" RETURNING job_id, task, priority, scheduled_at",
		2, {TIMESTAMPTZOID, INT8OID}
	},
	[PLAN_RETRY_TOPIC] = {
		"WITH gone AS ("
		"  DELETE FROM jobs.job"
		"   WHERE job_id" EQ "ANY (ARRAY("
		"           SELECT job_id FROM jobs.job"
		"            WHERE status" EQ "'failed' AND task" LIKE "$2"
		"           UNION ALL"
		"           SELECT job_id FROM jobs.job"
		"            WHERE $3 AND status" EQ "'cancelled' AND task" LIKE "$2))"
		"  RETURNING *"
		")"
		" INSERT INTO jobs.job_queue (job_id, task, body, priority, attempts,"
		"       max_retries, timeout, last_error, created_at, scheduled_at,"
		"       unique_key, published_by)"
		" SELECT g.job_id, g.task, g.body, g.priority, 0, g.max_retries, g.timeout,"
		"        g.last_error, g.created_at, $1, " KEY_IF_FREE("g", "") ", g.published_by"
		"   FROM gone g"
		" RETURNING job_id, task, priority, scheduled_at",
		3, {TIMESTAMPTZOID, TEXTOID, BOOLOID}
	},
	[PLAN_CONTROLS] = {
		"SELECT pattern, paused, max_running IS NOT NULL OR rate IS NOT NULL,"
		"       rate IS NOT NULL, max_running"
		"  FROM jobs.topic_control ORDER BY pattern",
		0, {InvalidOid}
	},
	[PLAN_LOCK_LIMITS] = {
		"SELECT pattern FROM jobs.topic_control"
		" WHERE pattern" EQ "ANY ($1) ORDER BY pattern FOR UPDATE",
		1, {TEXTARRAYOID}
	},
	/*
	 * For each limited pattern ($2, with its LIKE form in $3): the free
	 * running slots (NULL: no limit) and the tokens in its bucket now (NULL:
	 * no rate limit), and the rate.  Run after PLAN_LOCK_LIMITS, in a new
	 * snapshot, so that it counts every claim committed before the lock.
	 */
	[PLAN_READ_LIMITS] = {
		"SELECT c.pattern,"
		"       CASE WHEN c.max_running IS NOT NULL THEN"
		"            c.max_running" " OPERATOR(pg_catalog.-) "
		"            (SELECT pg_catalog.count(*) FROM jobs.job_queue q"
		"              WHERE q.status" EQ "'running'"
		"                AND q.task" LIKE "p.like_pattern)::pg_catalog.int4"
		"       END,"
		"       CASE WHEN c.rate IS NOT NULL THEN"
		"            LEAST(c.burst::pg_catalog.float8,"
		"                  COALESCE(c.tokens, c.burst::pg_catalog.float8)" PLUS
		"                  (c.rate" " OPERATOR(pg_catalog.*) "
		"                   GREATEST(0::pg_catalog.float8, EXTRACT(EPOCH FROM"
		"                       $1" " OPERATOR(pg_catalog.-) " "COALESCE(c.refilled_at, $1))"
		"                       ::pg_catalog.float8)))"
		"       END,"
		"       c.rate"
		"  FROM jobs.topic_control c"
		"  JOIN ROWS FROM (pg_catalog.unnest($2::pg_catalog.text[]),"
		"                  pg_catalog.unnest($3::pg_catalog.text[]))"
		"       AS p(pattern, like_pattern) ON c.pattern" EQ "p.pattern",
		3, {TIMESTAMPTZOID, TEXTARRAYOID, TEXTARRAYOID}
	},
	/* The running jobs of a limited pattern ($1: its LIKE form). */
	[PLAN_COUNT_RUNNING] = {
		"SELECT pg_catalog.count(*) FROM jobs.job_queue"
		" WHERE status" EQ "'running' AND task" LIKE "$1",
		1, {TEXTOID}
	},
	[PLAN_SPEND_TOKENS] = {
		"UPDATE jobs.topic_control SET tokens = $2, refilled_at = $1"
		" WHERE pattern" EQ "$3",
		3, {TIMESTAMPTZOID, FLOAT8OID, TEXTOID}
	},
	[PLAN_RUN_SCHEDULES] = {
		"SELECT jobs.run_schedules()",
		0, {InvalidOid}
	},
	/* publish in 1.1: the job remembers who published it */
	[PLAN_INSERT_JOB_1_1] = {
		"INSERT INTO jobs.job_queue"
		"  (task, body, scheduled_at, timeout, priority, max_retries, published_by)"
		" VALUES ($1, $2, COALESCE($3, pg_catalog.now()),"
		"         COALESCE($4, " PGJOBS_DEFAULT_TIMEOUT "), $5, $6, $7)"
		" RETURNING job_id, priority, scheduled_at",
		7, {VARCHAROID, JSONBOID, TIMESTAMPTZOID, NUMERICOID, INT4OID, INT4OID, TEXTOID}
	},
	/* As PLAN_INSERT_JOBS: no ORDER BY, the array's order is kept. */
	[PLAN_INSERT_JOBS_1_1] = {
		"INSERT INTO jobs.job_queue"
		"  (task, body, scheduled_at, timeout, priority, max_retries, published_by)"
		" SELECT j.task, j.body,"
		"        COALESCE(j.scheduled_at::pg_catalog.timestamptz, pg_catalog.now()),"
		"        COALESCE(j.timeout, " PGJOBS_DEFAULT_TIMEOUT "),"
		"        COALESCE(j.priority, 0), COALESCE(j.max_retries, 3), $2"
		"   FROM pg_catalog.unnest($1)"
		"        AS j(task, body, scheduled_at, timeout, priority, max_retries)"
		" RETURNING job_id, priority, scheduled_at",
		2, {InvalidOid, TEXTOID}
	},
	[PLAN_JOB_TASK] = {
		"SELECT task FROM jobs.job_queue WHERE job_id" EQ "$1"
		" UNION ALL "
		"SELECT task FROM jobs.job WHERE job_id" EQ "$1"
		" LIMIT 1",
		1, {INT8OID}
	},
	/*
	 * The periodic check of the claim cursor: the first pending job below
	 * the cursor ($2, $3) at its priority ($1), locked or not.  nbtree stops
	 * a forward scan at a row-comparison upper bound only on its first
	 * column, so "(scheduled_at, job_id) < ($2, $3)" would read on through
	 * every entry with scheduled_at $2 (all of a publish_bulk's jobs): the
	 * range is read in two parts whose bounds each stop the scan, earlier
	 * scheduled_at first, then scheduled_at $2 below job_id $3 (see
	 * AT_PRIORITY for why the priority is an ANY).
	 */
	[PLAN_CURSOR_CHECK] = {
		"SELECT scheduled_at, job_id FROM ("
		"  (SELECT scheduled_at, job_id FROM jobs.job_queue"
		"    WHERE status" EQ "'pending'" AT_PRIORITY("$1")
		"      AND scheduled_at" LT "$2"
		"    ORDER BY priority DESC, scheduled_at, job_id LIMIT 1)"
		"  UNION ALL"
		"  (SELECT scheduled_at, job_id FROM jobs.job_queue"
		"    WHERE status" EQ "'pending'" AT_PRIORITY("$1")
		"      AND scheduled_at" EQ "$2 AND job_id" LT "$3"
		"    ORDER BY priority DESC, scheduled_at, job_id LIMIT 1)"
		") b LIMIT 1",
		3, {INT4OID, TIMESTAMPTZOID, INT8OID}
	},
	/*
	 * What a filtered claim passed over: the first pending job at priority
	 * $1 from ($2, $3) up to its last claimed key ($4, $5) that the claim's
	 * filter (topic $6, blocked $7, allowed $8, each NULL when absent) kept
	 * it from taking, locked or not.  In two parts, for the same reason as
	 * PLAN_CURSOR_CHECK; the second, at scheduled_at $4, from job_id $9 ($3
	 * when $2 is $4): with the equality on scheduled_at, nbtree would start
	 * it at the first entry of $4 rather than at the row comparison, and
	 * walk every claimed job of a publish_bulk up to the cursor.
	 */
#define PASSED_OVER(range_qual) \
	"  (SELECT scheduled_at, job_id FROM jobs.job_queue" \
	"    WHERE status" EQ "'pending'" AT_PRIORITY("$1") \
	"      AND (scheduled_at, job_id)" GE "($2, $3)" range_qual \
	"      AND (($6::pg_catalog.text IS NULL OR task" LIKE "$6)" \
	"           AND NOT (task" LIKE "ANY (COALESCE($7::pg_catalog.text[]," \
	"                                        '{}'::pg_catalog.text[])))" \
	"           AND ($8::pg_catalog.text[] IS NULL OR task" LIKE "ANY ($8)))" \
	"          IS NOT TRUE" \
	"    ORDER BY priority DESC, scheduled_at, job_id LIMIT 1)"
	[PLAN_CURSOR_FILTERED] = {
		"SELECT scheduled_at, job_id FROM ("
		PASSED_OVER(" AND scheduled_at" LT "$4")
		"  UNION ALL"
		PASSED_OVER(" AND scheduled_at" EQ "$4 AND job_id" GE "$9"
					" AND job_id" LT "$5")
		") b LIMIT 1",
		9, {INT4OID, TIMESTAMPTZOID, INT8OID, TIMESTAMPTZOID, INT8OID,
			TEXTOID, TEXTARRAYOID, TEXTARRAYOID, INT8OID}
	},
	[PLAN_TOPIC_GRANTS] = {
		"SELECT role::pg_catalog.oid, pattern, can_publish, can_consume"
		"  FROM jobs.topic_grant ORDER BY role, pattern",
		0, {InvalidOid}
	},
	/*
	 * The priority bounds' probe (cursor.c): the highest priority of a
	 * pending job above $1 and the lowest below it, due or not, locked or
	 * not; each NULL if there is none.  The first reads the claim index
	 * from its head down to $1, as claims read the priorities above the
	 * lowest cursor; the second from its end up to $1, where the latest
	 * jobs of the lowest priority are.
	 */
	[PLAN_CLAIM_BOUNDS] = {
		"SELECT (SELECT priority FROM jobs.job_queue"
		"         WHERE status" EQ "'pending' AND priority" GT "$1"
		"         ORDER BY priority DESC, scheduled_at, job_id LIMIT 1),"
		"       (SELECT priority FROM jobs.job_queue"
		"         WHERE status" EQ "'pending' AND priority" LT "$1"
		"         ORDER BY priority, scheduled_at DESC, job_id DESC LIMIT 1)",
		1, {INT4OID}
	},
	/* the claims, both ways */
	CLAIM_ALL_DEFS(UPDATE, PLAN_CLAIM),
	CLAIM_ALL_DEFS(PICK, PLAN_PICK),
	/*
	 * The claim of the jobs a pick locked (the versions of the ctids $2),
	 * when the table changed during the pick so that the claim may no
	 * longer write them directly (DirectClaimRows).  The versions are the
	 * latest, locked: any snapshot taken since sees them.
	 */
	[PLAN_CLAIM_LOCKED] = {
		"UPDATE ONLY jobs.job_queue q" CLAIM_SET
		" WHERE q.ctid" EQ "ANY ($2::pg_catalog.tid[])"
		CLAIM_RETURNING,
		2, {TIMESTAMPTZOID, TIDARRAYOID}
	},
};

static SPIPlanPtr plans[NUM_PLANS];

/* The array type PLAN_INSERT_JOBS (0) and PLAN_INSERT_JOBS_1_1 (1) were prepared for. */
static Oid	insert_jobs_array_type[2] = {InvalidOid, InvalidOid};

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
 * ExecutePlanInto runs kept plan id as ExecutePlan does, handing the rows
 * of its result to dest as the executor yields them rather than gathering
 * them in SPI_tuptable, and returns how many rows it processed.
 */
static uint64
ExecutePlanInto(CatalogPlanId id, Datum *values, const char *nulls,
				DestReceiver *dest, int expected_rc)
{
	int			rc = PgjobsExecutePlanInto(GetPlan(id), values, nulls, dest);

	if (rc != expected_rc)
		elog(ERROR, "pgjobs: statement %d failed: %s",
			 (int) id, SPI_result_code_string(rc));
	return SPI_processed;
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
 * Rows of a result: the last SPI result's (SpiRows), or those a direct
 * take made (DirectTake).  desc, their columns, is NULL if there is no
 * result set.  A take's rows are kept as the queue's row versions were,
 * not formed again: then vals are tuples of vals_desc, column c (from 1)
 * of a row is attribute from[c - 1] of its tuple for c up to ncols, and
 * column ncols + 1 is extra[row] (extra_nulls[row]).  Read them with
 * JobRowsAttr and JobRowsDeform.
 */
typedef struct JobRows
{
	TupleDesc	desc;
	HeapTuple  *vals;
	uint64		n;
	TupleDesc	vals_desc;		/* NULL: vals are rows of desc */
	const AttrNumber *from;
	int			ncols;
	Datum	   *extra;
	bool	   *extra_nulls;
} JobRows;

/* SpiRows returns the rows of the last SPI result. */
static JobRows
SpiRows(void)
{
	JobRows		rows;

	memset(&rows, 0, sizeof(rows));
	rows.desc = SPI_tuptable != NULL ? SPI_tuptable->tupdesc : NULL;
	rows.vals = SPI_tuptable != NULL ? SPI_tuptable->vals : NULL;
	rows.n = SPI_processed;
	return rows;
}

/* JobRowsAttr returns column col (from 1, at most desc's) of row row of rows. */
static Datum
JobRowsAttr(const JobRows *rows, uint64 row, int col, bool *isnull)
{
	if (rows->vals_desc == NULL)
		return heap_getattr(rows->vals[row], col, rows->desc, isnull);
	if (col <= rows->ncols)
		return heap_getattr(rows->vals[row], rows->from[col - 1], rows->vals_desc, isnull);
	*isnull = rows->extra_nulls[row];
	return rows->extra[row];
}

/*
 * JobRowsText returns column col of row row of rows as text, through its
 * type's output function, or NULL, as SPI_getvalue does.
 */
static char *
JobRowsText(const JobRows *rows, uint64 row, int col)
{
	bool		isnull;
	Datum		value = JobRowsAttr(rows, row, col, &isnull);
	Oid			output;
	bool		varlena;

	if (isnull)
		return NULL;
	getTypeOutputInfo(TupleDescAttr(rows->desc, col - 1)->atttypid, &output, &varlena);
	return OidOutputFunctionCall(output, value);
}

/*
 * JobRowsDeform puts every column of row row of rows into values and
 * nulls (desc's length), with scratch values and nulls of vals_desc's
 * length for a take's rows.
 */
static void
JobRowsDeform(const JobRows *rows, uint64 row, Datum *values, bool *nulls,
			  Datum *scratch_values, bool *scratch_nulls)
{
	int			c;

	if (rows->vals_desc == NULL)
	{
		heap_deform_tuple(rows->vals[row], rows->desc, values, nulls);
		return;
	}
	heap_deform_tuple(rows->vals[row], rows->vals_desc, scratch_values, scratch_nulls);
	for (c = 0; c < rows->ncols; c++)
	{
		values[c] = scratch_values[rows->from[c] - 1];
		nulls[c] = scratch_nulls[rows->from[c] - 1];
	}
	/* the one column after them (desc has ncols + 1): the job's result */
	values[c] = rows->extra[row];
	nulls[c] = rows->extra_nulls[row];
}

/*
 * NotifyRows sends a job event for each of rows, whose first two columns
 * are job_id and task: event if it is not NULL, else the text in the third
 * column.  Nothing is done unless pgjobs.notify asks for some events at
 * all.
 */
static void
NotifyRows(const JobRows *rows, const char *event)
{
	uint64		row;

	if (rows->n == 0 ||
		!NotifyWanted(event ? NotifyEventLevel(event) : PGJOBS_NOTIFY_FINISHED))
		return;
	if (rows->desc == NULL || rows->desc->natts < (event ? 2 : 3))
		elog(ERROR, "pgjobs: statement returned no job events");
	for (row = 0; row < rows->n; row++)
	{
		bool		isnull;
		Datum		job_id = JobRowsAttr(rows, row, 1, &isnull);
		char	   *task;
		char	   *row_event;

		if (isnull)
			elog(ERROR, "pgjobs: unexpected NULL job_id");
		task = JobRowsText(rows, row, 2);
		row_event = event ? (char *) event : JobRowsText(rows, row, 3);
		if (row_event == NULL)
			elog(ERROR, "pgjobs: unexpected NULL job event");
		NotifyJobEvent(row_event, DatumGetInt64(job_id), task);
	}
}

/* NotifyResultRows is NotifyRows of the last SPI result. */
static void
NotifyResultRows(const char *event)
{
	JobRows		rows = SpiRows();

	NotifyRows(&rows, event);
}

/*
 * NoteEnded tells the concurrency-limit counts that the jobs of rows (task
 * in their second column) stopped running.  The caller asked EndsCounted()
 * before it connected to SPI, since the cache of topic controls is read
 * with SPI.
 */
static void
NoteEnded(const JobRows *rows)
{
	uint64		row;

	if (rows->n == 0)
		return;
	if (rows->desc == NULL || rows->desc->natts < 2)
		elog(ERROR, "pgjobs: statement returned no tasks");
	for (row = 0; row < rows->n; row++)
	{
		bool		isnull;
		Datum		task = JobRowsAttr(rows, row, 2, &isnull);

		if (!isnull)
			NoteJobEnded(DatumGetTextPP(task));
	}
}

/* NoteEndedRows is NoteEnded of the last SPI result. */
static void
NoteEndedRows(void)
{
	JobRows		rows = SpiRows();

	NoteEnded(&rows);
}

/*
 * CopyRows appends every one of rows to out, as rows of out_desc: their
 * first columns must have out_desc's types, in order; any further columns
 * are left out.  The store copies each row into its own memory: as it is,
 * when it has out_desc's columns exactly (a claim's rows), else from its
 * values.
 */
static void
CopyRows(const JobRows *rows, Tuplestorestate *out, TupleDesc out_desc)
{
	TupleDesc	desc = rows->desc;
	Datum	   *values;
	bool	   *isnull;
	uint64		row;
	int			col;

	if (desc == NULL)
		elog(ERROR, "pgjobs: statement returned no result set");
	if (desc->natts < out_desc->natts)
		elog(ERROR, "pgjobs: statement returned %d columns, expected %d",
			 desc->natts, out_desc->natts);
	for (col = 0; col < out_desc->natts; col++)
	{
		if (TupleDescAttr(desc, col)->atttypid !=
			TupleDescAttr(out_desc, col)->atttypid)
			elog(ERROR, "pgjobs: column %d has type %u, expected %u", col + 1,
				 TupleDescAttr(desc, col)->atttypid,
				 TupleDescAttr(out_desc, col)->atttypid);
	}

	if (desc->natts == out_desc->natts && rows->vals_desc == NULL)
	{
		/* the same types in the same order: the same bytes */
		for (row = 0; row < rows->n; row++)
			tuplestore_puttuple(out, rows->vals[row]);
		return;
	}
	/* only the columns out takes: ack_batch's job_id of a whole finished row */
	values = palloc(sizeof(Datum) * out_desc->natts);
	isnull = palloc(sizeof(bool) * out_desc->natts);
	for (row = 0; row < rows->n; row++)
	{
		for (col = 0; col < out_desc->natts; col++)
			values[col] = JobRowsAttr(rows, row, col + 1, &isnull[col]);
		tuplestore_putvalues(out, out_desc, values, isnull);
	}
}

/* CopyResultRows is CopyRows of the last SPI result. */
static void
CopyResultRows(Tuplestorestate *out, TupleDesc out_desc)
{
	JobRows		rows = SpiRows();

	CopyRows(&rows, out, out_desc);
}

/*
 * NoteReadiedRows tells the claim cursor the claim keys of the jobs the last
 * SPI result made pending: job_id in its first column, priority and
 * scheduled_at in columns prio_col and sched_col (NULL for a row that is
 * not pending, a job that failed for good).  The cursor is lowered to them
 * when the transaction commits.
 */
static void
NoteReadiedRows(int prio_col, int sched_col)
{
	TupleDesc	desc;
	uint64		row;

	if (SPI_processed == 0)
		return;
	if (SPI_tuptable == NULL || SPI_tuptable->tupdesc->natts < Max(prio_col, sched_col) ||
		TupleDescAttr(SPI_tuptable->tupdesc, prio_col - 1)->atttypid != INT4OID ||
		TupleDescAttr(SPI_tuptable->tupdesc, sched_col - 1)->atttypid != TIMESTAMPTZOID)
		elog(ERROR, "pgjobs: statement returned no claim keys");
	desc = SPI_tuptable->tupdesc;
	for (row = 0; row < SPI_processed; row++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[row];
		bool		isnull[3];
		Datum		id = SPI_getbinval(tuple, desc, 1, &isnull[0]);
		Datum		prio = SPI_getbinval(tuple, desc, prio_col, &isnull[1]);
		Datum		sched = SPI_getbinval(tuple, desc, sched_col, &isnull[2]);

		if (!isnull[0] && !isnull[1] && !isnull[2])
			NoteClaimKeyReadied(DatumGetInt32(prio), DatumGetTimestampTz(sched),
								DatumGetInt64(id));
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
 * CallerName returns the name of the role that called pgjobs: the current
 * role outside any SECURITY DEFINER function (the role SET ROLE, or
 * PostgREST's role switch, chose), as jobs remember their publisher by.
 */
static Datum
CallerName(void)
{
	return CStringGetTextDatum(GetUserNameFromId(GetOuterUserId(), false));
}

static bool DirectInsertJobs(const JobSpec *specs, int n, bool timestamps,
							 int64 *ids, TimestampTz *keys);

/*
 * CatalogInsertJob queues one job and returns its id.  In a 1.1 schema
 * the job remembers who published it.
 */
int64
CatalogInsertJob(const JobSpec *spec)
{
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	int64		job_id;
	bool		job_control = CatalogHasJobControl();
	TimestampTz key;

	if (DirectInsertJobs(spec, 1, false, &job_id, &key))
	{
		NoteClaimKeyReadied(spec->priority_isnull ? PGJOBS_DEFAULT_PRIORITY : spec->priority,
							key, job_id);
		return job_id;
	}

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

	values[6] = job_control ? CallerName() : (Datum) 0;

	ConnectSPI();
	ExecutePlan(job_control ? PLAN_INSERT_JOB_1_1 : PLAN_INSERT_JOB, values, nulls,
				SPI_OK_INSERT_RETURNING);
	if (SPI_processed == 0)
		ReportSkippedInsert(1, 0);
	job_id = FirstInt64Result();
	NoteReadiedRows(2, 3);
	FinishSPI();

	return job_id;
}

/*
 * InsertedJobsReceiver takes the rows of PLAN_INSERT_JOBS's RETURNING
 * (job_id, priority, scheduled_at) one at a time, as the executor yields
 * them, instead of SPI gathering them into a result to copy afterwards: it
 * appends each id to the caller's result, notes each claim key for the
 * claim cursor and sends each "queued" event.  A publish_bulk of 1000 ran
 * about 3% faster so (4 clients: 475 calls a second against 460).
 */
typedef struct InsertedJobsReceiver
{
	DestReceiver pub;
	Tuplestorestate *out;		/* the ids, in the order inserted */
	TupleDesc	out_desc;		/* (bigint) */
	char	  **tasks;			/* the task of each element, or NULL */
	int			ntasks;			/* elements in the array */
	uint64		rows;			/* rows received */
} InsertedJobsReceiver;

static void
InsertedJobsStartup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	if (typeinfo->natts != 3 ||
		TupleDescAttr(typeinfo, 0)->atttypid != INT8OID ||
		TupleDescAttr(typeinfo, 1)->atttypid != INT4OID ||
		TupleDescAttr(typeinfo, 2)->atttypid != TIMESTAMPTZOID)
		elog(ERROR, "pgjobs: the insert of jobs returned unexpected columns");
}

static bool
InsertedJobsReceive(TupleTableSlot *slot, DestReceiver *self)
{
	InsertedJobsReceiver *r = (InsertedJobsReceiver *) self;
	int64		job_id;

	slot_getsomeattrs(slot, 3);
	if (slot->tts_isnull[0] || slot->tts_isnull[1] || slot->tts_isnull[2])
		elog(ERROR, "pgjobs: a queued job has no claim key");
	if (r->rows >= (uint64) r->ntasks)
		elog(ERROR, "pgjobs: the insert of %d jobs returned more rows", r->ntasks);
	job_id = DatumGetInt64(slot->tts_values[0]);
	tuplestore_putvalues(r->out, r->out_desc, &slot->tts_values[0], &slot->tts_isnull[0]);
	NoteClaimKeyReadied(DatumGetInt32(slot->tts_values[1]),
						DatumGetTimestampTz(slot->tts_values[2]), job_id);
	if (r->tasks != NULL)
		NotifyJobEvent("queued", job_id, r->tasks[r->rows]);
	r->rows++;
	return true;
}

static void
InsertedJobsShutdown(DestReceiver *self)
{
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
	Datum		values[2];
	CatalogPlanId id = CatalogHasJobControl() ? PLAN_INSERT_JOBS_1_1 : PLAN_INSERT_JOBS;
	InsertedJobsReceiver receiver;
	uint64		processed;

	if (out_desc->natts != 1 || TupleDescAttr(out_desc, 0)->atttypid != INT8OID)
		elog(ERROR, "pgjobs: publish_bulk must return bigint");

	ConnectSPI();
	if (plans[id] == NULL || insert_jobs_array_type[id == PLAN_INSERT_JOBS_1_1] != array_type)
	{
		Oid			argtypes[2] = {array_type, TEXTOID};

		if (plans[id] != NULL)
		{
			SPI_freeplan(plans[id]);
			plans[id] = NULL;
		}
		plans[id] = PreparePlan(&plan_defs[id], argtypes);
		insert_jobs_array_type[id == PLAN_INSERT_JOBS_1_1] = array_type;
	}

	values[0] = jobs;
	values[1] = id == PLAN_INSERT_JOBS_1_1 ? CallerName() : (Datum) 0;
	memset(&receiver, 0, sizeof(receiver));
	receiver.pub.receiveSlot = InsertedJobsReceive;
	receiver.pub.rStartup = InsertedJobsStartup;
	receiver.pub.rShutdown = InsertedJobsShutdown;
	receiver.pub.rDestroy = InsertedJobsShutdown;
	receiver.pub.mydest = DestNone;
	receiver.out = out;
	receiver.out_desc = out_desc;
	receiver.tasks = tasks;
	receiver.ntasks = ntasks;
	processed = ExecutePlanInto(id, values, NULL, &receiver.pub,
								SPI_OK_INSERT_RETURNING);
	if (processed != (uint64) ntasks || receiver.rows != processed)
		ReportSkippedInsert(ntasks, processed);
	FinishSPI();
}

/*
 * Direct insertion.  jobs.publish and jobs.publish_bulk write their jobs
 * into jobs.job_queue themselves, the way COPY does, rather than through an
 * INSERT statement (and jobs.ack and jobs.ack_batch, after their DELETE,
 * write the finished jobs into jobs.job the same way): a single publish
 * skips the executor's start-up of a 23-column insert and the compilation
 * of three partial-index predicates that every INSERT statement repeats, and a bulk one puts all the jobs
 * that fit on a heap page in one WAL record (heap_multi_insert) instead of
 * a record, a buffer lock and a pass through the projection and
 * ModifyTable for each row.  Each job then goes into each index as the
 * INSERT would add it.
 *
 * What an INSERT needs that does not change from one statement to the next
 * (the columns, their defaults, the indexes and their predicates) is
 * prepared once per backend and table in a DirectInsert and rebuilt after
 * any change to the table or its indexes (a relcache invalidation),
 * checked each time the table has been locked.
 *
 * It applies only when an INSERT would do nothing more: a plain table with
 * no trigger (foreign keys included), no rule, no row security, no CHECK
 * constraint and no generated column; btree indexes on columns only, with
 * immediate unique checks; column defaults of built-in functions that are
 * constant, stable or nextval; the columns publish writes with the types it
 * writes; and a role that may insert, outside a read-only transaction.
 * Otherwise the INSERT statement runs, and does whatever it does.
 */
#define DIRECT_INSERT_CHUNK	256
#define DIRECT_FINISH_MAX	10000	/* jobs an ack_batch writes directly */

/* The columns publish writes, as attribute numbers of jobs.job_queue. */
typedef struct DirectColumns
{
	AttrNumber	job_id;
	AttrNumber	task;
	AttrNumber	body;
	AttrNumber	scheduled_at;
	AttrNumber	timeout;
	AttrNumber	priority;
	AttrNumber	max_retries;
	AttrNumber	published_by;	/* InvalidAttrNumber before 1.1 */
} DirectColumns;

/* Where the value of a column comes from. */
typedef enum DirectSource
{
	DIRECT_GIVEN,				/* publish's argument */
	DIRECT_NULL,				/* no default, or a dropped column */
	DIRECT_CONST,				/* a constant default */
	DIRECT_STATEMENT,			/* a stable default, evaluated once a call */
	DIRECT_ROW					/* a default calling nextval, evaluated per job */
} DirectSource;

/* An index of a table written directly, as the rows go into it. */
typedef struct DirectIndex
{
	Oid			oid;
	IndexInfo  *info;
	ExprState  *predicate;		/* NULL if it is not partial */
	bool		unique;
	bool		claim_unchanged;	/* a claim changes none of its columns */
	bool		claim_checked;	/* the claim's new version needs a unique check */
} DirectIndex;

/*
 * How a table is written directly: jobs.job_queue by publish and by the
 * claim, or jobs.job by ack (the fields after the common ones say which).
 */
typedef struct DirectInsert
{
	Oid			relid;
	bool		usable;			/* false: run the INSERT */
	bool		claim_usable;	/* jobs.job_queue; false: run the claim's UPDATE */
	bool		job_control;	/* the 1.1 schema: published_by */
	TupleDesc	desc;			/* a copy, not reference-counted, for slots */
	DirectSource *source;		/* per column */
	Datum	   *consts;			/* per column, for DIRECT_CONST */
	bool	   *const_nulls;
	ExprState **exprs;			/* per column, for DIRECT_STATEMENT and _ROW */
	bool		has_row_exprs;
	int			nindexes;
	DirectIndex *indexes;
	/* jobs.job_queue */
	DirectColumns cols;
	int32		timeout_typmod;
	Datum		default_timeout;	/* numeric, with timeout_typmod */
	AttrNumber	attempts;		/* what a claim sets, with status */
	AttrNumber	started_at;
	AttrNumber	expires_at;
	Datum		running;		/* the status */
	AttrNumber	claim_from[CLAIM_NCOLS];	/* the column of each column of a claim's rows */
	TupleDesc	claim_desc;		/* a claim's rows */
	bool		take_usable;	/* false: run ack's DELETE */
	AttrNumber	job_id;
	AttrNumber	cancel_requested_at;
	Oid			take_index;		/* the unique index on job_id alone */
	int			take_ncols;		/* FINISHED_COLUMNS */
	AttrNumber *take_from;		/* the column of each of them */
	TupleDesc	take_desc;		/* a take's rows: those columns, then result */
	/* jobs.job */
	Oid			queue_relid;	/* the table the finished rows come from */
	AttrNumber *from;			/* per column: its column in a finished row, or 0 */
	int			from_natts;		/* columns of a finished row */
	Oid		   *from_types;		/* their types */
	AttrNumber	result;
	AttrNumber	finished_at;
	Datum		succeeded;		/* the status */
	/* both */
	AttrNumber	status;
} DirectInsert;

/* A DirectInsert, the memory it lives in, and whether it is out of date. */
typedef struct DirectCache
{
	const char *name;			/* its memory context's identifier */
	MemoryContext cxt;
	DirectInsert *d;
	bool		stale;
} DirectCache;

static DirectCache direct_queue = {"jobs.job_queue", NULL, NULL, true};
static DirectCache direct_finished = {"jobs.job", NULL, NULL, true};
static bool direct_callback = false;
static bool direct_busy = false;	/* a call is using a DirectInsert */

/*
 * InvalidateDirect marks a DirectInsert out of date when its table (or the
 * table its rows come from, or everything) changes.  It frees nothing: a
 * call in progress may be using it; the next one rebuilds it.
 */
static void
InvalidateDirect(Datum arg, Oid relid)
{
	DirectInsert *q = direct_queue.d;
	DirectInsert *f = direct_finished.d;

	if (relid == InvalidOid || q == NULL || relid == q->relid)
		direct_queue.stale = true;
	if (relid == InvalidOid || f == NULL || relid == f->relid || relid == f->queue_relid)
		direct_finished.stale = true;
}

/*
 * DirectColumn returns the attribute number of rel's column name if its
 * type is typid (with no type modifier, unless any_typmod), or
 * InvalidAttrNumber.
 */
static AttrNumber
DirectColumn(Relation rel, const char *name, Oid typid, bool any_typmod)
{
	AttrNumber	attnum = attnameAttNum(rel, name, false);
	Form_pg_attribute att;

	if (attnum <= 0)
		return InvalidAttrNumber;
	att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
	if (att->atttypid != typid || (!any_typmod && att->atttypmod >= 0))
		return InvalidAttrNumber;
	return attnum;
}

/* IsUserFunction is true of functions that do not come with PostgreSQL. */
static bool
IsUserFunction(Oid func_id, void *context)
{
	return func_id >= FirstNormalObjectId;
}

/*
 * DirectFindColumns finds the columns publish writes, and says whether they
 * all have the types it writes.
 */
static bool
DirectFindColumns(Relation rel, bool job_control, DirectColumns *cols)
{
	cols->job_id = DirectColumn(rel, "job_id", INT8OID, false);
	cols->task = DirectColumn(rel, "task", VARCHAROID, false);
	cols->body = DirectColumn(rel, "body", JSONBOID, false);
	cols->scheduled_at = DirectColumn(rel, "scheduled_at", TIMESTAMPTZOID, false);
	cols->timeout = DirectColumn(rel, "timeout", NUMERICOID, true);
	cols->priority = DirectColumn(rel, "priority", INT4OID, false);
	cols->max_retries = DirectColumn(rel, "max_retries", INT4OID, false);
	cols->published_by = job_control ?
		DirectColumn(rel, "published_by", TEXTOID, false) : InvalidAttrNumber;
	return cols->job_id != InvalidAttrNumber && cols->task != InvalidAttrNumber &&
		cols->body != InvalidAttrNumber && cols->scheduled_at != InvalidAttrNumber &&
		cols->timeout != InvalidAttrNumber && cols->priority != InvalidAttrNumber &&
		cols->max_retries != InvalidAttrNumber &&
		(!job_control || cols->published_by != InvalidAttrNumber);
}

/*
 * DirectPrepareDefaults prepares the value of every column of rel that is
 * not given (see DirectSource).  Returns false if a default calls a
 * function that is not built in, or a volatile one other than nextval,
 * which the INSERT would run for each row in its own order.
 */
static bool
DirectPrepareDefaults(Relation rel, DirectInsert *d, const bool *given)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		AttrNumber	attnum = att->attnum;
		Node	   *def;
		Expr	   *expr;

		d->source[i] = DIRECT_NULL;
		if (att->attisdropped)
			continue;
		/* an INSERT checks a domain's constraints even on a NULL it fills in */
		if (get_typtype(att->atttypid) == TYPTYPE_DOMAIN)
			return false;
		if (given[i])
		{
			/* an INSERT refuses a value for it */
			if (att->attidentity == ATTRIBUTE_IDENTITY_ALWAYS)
				return false;
			d->source[i] = DIRECT_GIVEN;
			continue;
		}
		def = build_column_default(rel, attnum);
		if (def == NULL)
			continue;
		expr = expression_planner((Expr *) def);
		if (check_functions_in_node((Node *) expr, IsUserFunction, NULL) ||
			contain_volatile_functions_not_nextval((Node *) expr))
			return false;
		if (IsA(expr, Const))
		{
			Const	   *c = (Const *) expr;

			d->source[i] = DIRECT_CONST;
			d->const_nulls[i] = c->constisnull;
			d->consts[i] = c->constisnull ? (Datum) 0 :
				datumCopy(c->constvalue, att->attbyval, att->attlen);
		}
		else if (contain_volatile_functions((Node *) expr))
		{
			d->source[i] = DIRECT_ROW;
			d->exprs[i] = ExecInitExpr(expr, NULL);
			d->has_row_exprs = true;
		}
		else
		{
			d->source[i] = DIRECT_STATEMENT;
			d->exprs[i] = ExecInitExpr(expr, NULL);
		}
	}
	return true;
}

/*
 * DirectPrepareIndexes notes every index of rel, with its predicate
 * compiled.  Returns false unless each is a btree on plain columns whose
 * unique check, if any, is immediate and not an exclusion constraint.
 */
static bool
DirectPrepareIndexes(Relation rel, DirectInsert *d)
{
	List	   *oids = RelationGetIndexList(rel);
	ListCell   *lc;
	int			n = 0;

	d->indexes = palloc0(sizeof(DirectIndex) * Max(list_length(oids), 1));
	foreach(lc, oids)
	{
		Oid			oid = lfirst_oid(lc);
		Relation	irel = index_open(oid, RowExclusiveLock);
		DirectIndex *di = &d->indexes[n++];
		bool		ok;

		di->oid = oid;
		di->info = BuildIndexInfo(irel);
		di->unique = irel->rd_index->indisunique;
		ok = irel->rd_rel->relam == BTREE_AM_OID &&
			di->info->ii_Expressions == NIL &&
			di->info->ii_ExclusionOps == NULL &&
			(!di->unique || irel->rd_index->indimmediate);
		index_close(irel, NoLock);
		if (!ok)
			return false;
		if (di->info->ii_Predicate != NIL)
			di->predicate = ExecInitQual((List *) expression_planner((Expr *) di->info->ii_Predicate),
										 NULL);
	}
	d->nindexes = n;
	return true;
}

/*
 * DirectBegin starts a new DirectInsert for rel (locked) in cache's memory,
 * and leaves that memory current.  The table's shape is checked by
 * DirectPrepare.
 */
static DirectInsert *
DirectBegin(DirectCache *cache, Relation rel, bool job_control)
{
	TupleDesc	desc = RelationGetDescr(rel);
	DirectInsert *d;

	if (cache->cxt == NULL)
	{
		cache->cxt = AllocSetContextCreate(CacheMemoryContext, "pgjobs direct insert",
										   ALLOCSET_SMALL_SIZES);
		MemoryContextSetIdentifier(cache->cxt, cache->name);
	}
	if (!direct_callback)
	{
		CacheRegisterRelcacheCallback(InvalidateDirect, (Datum) 0);
		direct_callback = true;
	}
	/* an invalidation from here on is for the next call */
	cache->d = NULL;
	cache->stale = false;
	MemoryContextReset(cache->cxt);
	MemoryContextSwitchTo(cache->cxt);

	d = palloc0(sizeof(DirectInsert));
	d->relid = RelationGetRelid(rel);
	d->job_control = job_control;
	d->source = palloc0(sizeof(DirectSource) * desc->natts);
	d->consts = palloc0(sizeof(Datum) * desc->natts);
	d->const_nulls = palloc0(sizeof(bool) * desc->natts);
	d->exprs = palloc0(sizeof(ExprState *) * desc->natts);
	return d;
}

/*
 * DirectPrepareTable says whether rel is a table that rows may be written
 * into directly (see DirectInsert), and prepares its indexes in d.
 */
static bool
DirectPrepareTable(Relation rel, DirectInsert *d)
{
	TupleConstr *constr = RelationGetDescr(rel)->constr;

	if (rel->rd_rel->relkind != RELKIND_RELATION ||
		rel->rd_rel->relam != HEAP_TABLE_AM_OID || rel->rd_rel->relispartition ||
		rel->trigdesc != NULL || rel->rd_rules != NULL || rel->rd_rel->relrowsecurity ||
		(constr != NULL && (constr->num_check > 0 || constr->has_generated_stored)))
		return false;
	if (!DirectPrepareIndexes(rel, d))
		return false;
	d->desc = CreateTupleDescCopy(RelationGetDescr(rel));
	return true;
}

/*
 * DirectPrepare says whether rows may go into rel directly, the columns
 * marked in given being written by the caller, and prepares the others'
 * defaults and the indexes in d.
 */
static bool
DirectPrepare(Relation rel, DirectInsert *d, const bool *given)
{
	return DirectPrepareTable(rel, d) && DirectPrepareDefaults(rel, d, given);
}

/*
 * DirectPrepareClaim says whether a claim may mark jobs of jobs.job_queue
 * (rel, prepared by DirectPrepareTable) running directly: the columns it
 * sets have the types it sets, and the status 'running' exists.  It notes
 * which indexes a claim leaves unchanged: the new row version's entry in
 * such an index has the old one's key, which tells the btree it may
 * remove the old entry (bottom-up deletion) rather than split the page.
 */
static bool
DirectPrepareClaim(Relation rel, DirectInsert *d)
{
	Oid			status_type;
	int			i;
	int			k;

	/* the columns of CLAIM_CLOSE_UPDATE's RETURNING, with their types */
	static const struct
	{
		const char *name;
		Oid			type;
		bool		any_typmod;
	}			returned[CLAIM_NCOLS] = {
		{"job_id", INT8OID, false}, {"task", VARCHAROID, true},
		{"body", JSONBOID, false}, {"attempts", INT4OID, false},
		{"max_retries", INT4OID, false}, {"priority", INT4OID, false},
		{"timeout", NUMERICOID, true}, {"created_at", TIMESTAMPTZOID, false},
		{"scheduled_at", TIMESTAMPTZOID, false}, {"expires_at", TIMESTAMPTZOID, false}
	};

	/* the pick reads the table alone: an UPDATE would update its children too */
	if (rel->rd_rel->relhassubclass)
		return false;
	d->status = attnameAttNum(rel, "status", false);
	d->started_at = DirectColumn(rel, "started_at", TIMESTAMPTZOID, false);
	if (d->status <= 0 || d->started_at == InvalidAttrNumber)
		return false;
	d->claim_desc = CreateTemplateTupleDesc(CLAIM_NCOLS);
	for (i = 0; i < CLAIM_NCOLS; i++)
	{
		d->claim_from[i] = DirectColumn(rel, returned[i].name, returned[i].type,
										returned[i].any_typmod);
		if (d->claim_from[i] == InvalidAttrNumber)
			return false;
		TupleDescCopyEntry(d->claim_desc, i + 1, d->desc, d->claim_from[i]);
	}
	d->attempts = d->claim_from[CLAIM_COL_ATTEMPTS - 1];
	d->expires_at = d->claim_from[CLAIM_COL_EXPIRES_AT - 1];
	status_type = TupleDescAttr(d->desc, d->status - 1)->atttypid;
	if (get_typtype(status_type) != TYPTYPE_ENUM)
		return false;
	d->running = ObjectIdGetDatum(GetSysCacheOid2(ENUMTYPOIDNAME, Anum_pg_enum_oid,
												  ObjectIdGetDatum(status_type),
												  CStringGetDatum("running")));
	if (!OidIsValid(DatumGetObjectId(d->running)))
		return false;
	for (i = 0; i < d->nindexes; i++)
	{
		IndexInfo  *info = d->indexes[i].info;

		d->indexes[i].claim_unchanged = true;
		for (k = 0; k < info->ii_NumIndexAttrs; k++)
		{
			AttrNumber	att = info->ii_IndexAttrNumbers[k];

			if (att == d->status || att == d->attempts ||
				att == d->started_at || att == d->expires_at)
				d->indexes[i].claim_unchanged = false;
		}

		/*
		 * A unique index on all rows whose key the claim leaves alone (the
		 * primary key) holds the old version under the same key: no other
		 * row can have it, and one inserted meanwhile finds the old version
		 * and waits for the claim's transaction, then for the new version.
		 * A partial one may take the new version where it did not take the
		 * old: the new entry is checked.
		 */
		d->indexes[i].claim_checked = d->indexes[i].unique &&
			!(d->indexes[i].claim_unchanged && info->ii_Predicate == NIL);
	}
	return true;
}

/*
 * DirectPrepareTake says whether ack may take finished jobs out of
 * jobs.job_queue (rel, prepared by DirectPrepareClaim) directly: the schema
 * is 1.1's, the columns the lease is checked on have the claim's types,
 * each finished column exists, and a valid unique btree index on job_id
 * alone, with the integer operators, finds a job by its id.
 */
static bool
DirectPrepareTake(Relation rel, DirectInsert *d)
{
	char	   *list = pstrdup(FINISHED_COLUMNS);
	List	   *names = NIL;
	ListCell   *lc;
	int			i;

	if (!d->job_control || !SplitIdentifierString(list, ',', &names))
		return false;
	d->job_id = DirectColumn(rel, "job_id", INT8OID, false);
	d->cancel_requested_at = DirectColumn(rel, "cancel_requested_at", TIMESTAMPTZOID, false);
	if (d->job_id == InvalidAttrNumber || d->cancel_requested_at == InvalidAttrNumber)
		return false;
	d->take_ncols = list_length(names);
	d->take_from = palloc(sizeof(AttrNumber) * d->take_ncols);
	d->take_desc = CreateTemplateTupleDesc(d->take_ncols + 1);
	foreach(lc, names)
	{
		int			col = foreach_current_index(lc);

		d->take_from[col] = attnameAttNum(rel, lfirst(lc), false);
		if (d->take_from[col] <= 0)
			return false;
		TupleDescCopyEntry(d->take_desc, col + 1, d->desc, d->take_from[col]);
	}
	TupleDescInitEntry(d->take_desc, d->take_ncols + 1, "result", JSONBOID, -1, 0);

	for (i = 0; i < d->nindexes; i++)
	{
		const DirectIndex *di = &d->indexes[i];
		Relation	irel;
		bool		ok;

		if (!di->unique || di->info->ii_NumIndexAttrs != 1 ||
			di->info->ii_IndexAttrNumbers[0] != d->job_id || di->info->ii_Predicate != NIL)
			continue;
		irel = index_open(di->oid, RowExclusiveLock);
		ok = irel->rd_index->indisvalid && irel->rd_opfamily[0] == INTEGER_BTREE_FAM_OID &&
			irel->rd_opcintype[0] == INT8OID;
		index_close(irel, NoLock);
		if (ok)
		{
			d->take_index = di->oid;
			return true;
		}
	}
	return false;
}

/*
 * DirectBuildQueue prepares the DirectInsert for jobs.job_queue (rel,
 * locked) of publish and of the claim.  When the jobs cannot go in
 * directly, or be claimed directly, it records only that.
 */
static void
DirectBuildQueue(Relation rel, bool job_control)
{
	MemoryContext old = CurrentMemoryContext;
	DirectInsert *d = DirectBegin(&direct_queue, rel, job_control);
	bool	   *given = palloc0(sizeof(bool) * RelationGetDescr(rel)->natts);

	if (DirectPrepareTable(rel, d))
	{
		d->claim_usable = DirectPrepareClaim(rel, d);
		d->take_usable = d->claim_usable && DirectPrepareTake(rel, d);
		if (DirectFindColumns(rel, job_control, &d->cols))
		{
			/* job_id is not given: its default draws it */
			given[d->cols.task - 1] = true;
			given[d->cols.body - 1] = true;
			given[d->cols.scheduled_at - 1] = true;
			given[d->cols.timeout - 1] = true;
			given[d->cols.priority - 1] = true;
			given[d->cols.max_retries - 1] = true;
			if (job_control)
				given[d->cols.published_by - 1] = true;
			d->usable = DirectPrepareDefaults(rel, d, given);
		}
	}
	if (d->usable)
	{
		d->timeout_typmod = TupleDescAttr(d->desc, d->cols.timeout - 1)->atttypmod;
		d->default_timeout = DirectFunctionCall3(numeric_in,
												 CStringGetDatum(PGJOBS_DEFAULT_TIMEOUT),
												 ObjectIdGetDatum(InvalidOid),
												 Int32GetDatum(d->timeout_typmod));
	}
	MemoryContextSwitchTo(old);
	direct_queue.d = d;
}

/* What DirectFillJob needs besides the row number. */
typedef struct DirectJobs
{
	const JobSpec *specs;
	bool		timestamps;		/* the specs' scheduled_at is a timestamp */
	Datum		caller;			/* published_by */
	TimestampTz now;
	int64	   *ids;			/* out: each job's id */
	TimestampTz *keys;			/* out: and scheduled_at */
} DirectJobs;

/*
 * DirectFillJob puts the values of job spec row of a DirectJobs into
 * values and nulls, and notes its id and claim key.  A spec's scheduled_at
 * is a timestamp when timestamps (publish_bulk's), a timestamptz otherwise.
 */
static void
DirectFillJob(const DirectInsert *d, Datum *values, bool *nulls, int row, void *arg)
{
	DirectJobs *jobs = (DirectJobs *) arg;
	const JobSpec *spec = &jobs->specs[row];
	const DirectColumns *cols = &d->cols;

	values[cols->task - 1] = PointerGetDatum(spec->task);
	nulls[cols->task - 1] = spec->task == NULL;
	values[cols->body - 1] = spec->body;
	nulls[cols->body - 1] = spec->body_isnull;
	nulls[cols->scheduled_at - 1] = false;
	if (spec->scheduled_at_isnull)
		values[cols->scheduled_at - 1] = TimestampTzGetDatum(jobs->now);
	else if (jobs->timestamps)
		values[cols->scheduled_at - 1] =
			DirectFunctionCall1(timestamp_timestamptz, spec->scheduled_at);
	else
		values[cols->scheduled_at - 1] = spec->scheduled_at;
	nulls[cols->timeout - 1] = false;
	if (spec->timeout_isnull)
		values[cols->timeout - 1] = d->default_timeout;
	else if (d->timeout_typmod >= 0)
		values[cols->timeout - 1] = DirectFunctionCall2(numeric, spec->timeout,
														Int32GetDatum(d->timeout_typmod));
	else
		values[cols->timeout - 1] = spec->timeout;
	nulls[cols->priority - 1] = false;
	values[cols->priority - 1] =
		Int32GetDatum(spec->priority_isnull ? PGJOBS_DEFAULT_PRIORITY : spec->priority);
	nulls[cols->max_retries - 1] = false;
	values[cols->max_retries - 1] =
		Int32GetDatum(spec->max_retries_isnull ? PGJOBS_DEFAULT_MAX_RETRIES : spec->max_retries);
	if (d->job_control)
	{
		values[cols->published_by - 1] = jobs->caller;
		nulls[cols->published_by - 1] = false;
	}

	if (nulls[cols->job_id - 1])
		elog(ERROR, "pgjobs: a queued job has no claim key");
	jobs->ids[row] = DatumGetInt64(values[cols->job_id - 1]);
	jobs->keys[row] = DatumGetTimestampTz(values[cols->scheduled_at - 1]);
}

/* What DirectFillFinished needs besides the row number. */
typedef struct DirectFinishedRows
{
	const JobRows *rows;		/* the finishing DELETE's RETURNING */
	int			result_col;		/* its column of each job's result, or 0 */
	Datum		result;			/* if 0: every job's result */
	bool		result_isnull;
	TimestampTz now;
	Datum	   *row_values;		/* scratch: one returned row, deformed */
	bool	   *row_nulls;
	Datum	   *tuple_values;	/* and its tuple, for a take's rows */
	bool	   *tuple_nulls;
} DirectFinishedRows;

/*
 * DirectFillFinished puts into values and nulls the row of jobs.job that
 * finished row row of a DirectFinishedRows becomes: the job as it was,
 * succeeded, with its result, finished now.
 */
static void
DirectFillFinished(const DirectInsert *d, Datum *values, bool *nulls, int row, void *arg)
{
	DirectFinishedRows *rows = (DirectFinishedRows *) arg;
	int			a;

	JobRowsDeform(rows->rows, row, rows->row_values, rows->row_nulls,
				  rows->tuple_values, rows->tuple_nulls);
	for (a = 0; a < d->desc->natts; a++)
	{
		if (d->from[a] > 0)
		{
			values[a] = rows->row_values[d->from[a] - 1];
			nulls[a] = rows->row_nulls[d->from[a] - 1];
		}
	}
	values[d->status - 1] = d->succeeded;
	nulls[d->status - 1] = false;
	if (rows->result_col > 0)
	{
		values[d->result - 1] = rows->row_values[rows->result_col - 1];
		nulls[d->result - 1] = rows->row_nulls[rows->result_col - 1];
	}
	else
	{
		values[d->result - 1] = rows->result;
		nulls[d->result - 1] = rows->result_isnull;
	}
	values[d->finished_at - 1] = TimestampTzGetDatum(rows->now);
	nulls[d->finished_at - 1] = false;
}

/* How the caller of DirectWrite fills in the columns it gives. */
typedef void (*DirectFillRow) (const DirectInsert *d, Datum *values, bool *nulls,
							   int row, void *arg);

/*
 * What a direct write works with: memory of its own (current while it
 * writes), the table's indexes, open, and an expression context for their
 * predicates.
 */
typedef struct DirectWork
{
	MemoryContext cxt;
	MemoryContext old;
	Relation   *irels;
	ExprContext *econtext;
} DirectWork;

/* DirectWorkStart sets up *w for a write as d prepares it. */
static void
DirectWorkStart(DirectWork *w, const DirectInsert *d)
{
	int			i;

	w->cxt = AllocSetContextCreate(CurrentMemoryContext, "pgjobs direct write",
								   ALLOCSET_DEFAULT_SIZES);
	w->old = MemoryContextSwitchTo(w->cxt);
	w->irels = palloc(sizeof(Relation) * Max(d->nindexes, 1));
	for (i = 0; i < d->nindexes; i++)
		w->irels[i] = index_open(d->indexes[i].oid, RowExclusiveLock);
	w->econtext = CreateStandaloneExprContext();
}

/* DirectWorkEnd ends the write *w was set up for, keeping the index locks. */
static void
DirectWorkEnd(DirectWork *w, const DirectInsert *d)
{
	int			i;

	FreeExprContext(w->econtext, true);
	for (i = 0; i < d->nindexes; i++)
		index_close(w->irels[i], NoLock);
	MemoryContextSwitchTo(w->old);
	MemoryContextDelete(w->cxt);
}

/*
 * DirectIndexRow adds the row version just written from slot to every index
 * that takes it, as ExecInsertIndexTuples would: claimed, a new version of
 * a claimed job, else a new row.
 */
static void
DirectIndexRow(const DirectInsert *d, Relation rel, Relation *irels,
			   TupleTableSlot *slot, ExprContext *econtext, bool claimed)
{
	int			i;

	econtext->ecxt_scantuple = slot;
	for (i = 0; i < d->nindexes; i++)
	{
		const DirectIndex *di = &d->indexes[i];
		Datum		values[INDEX_MAX_KEYS];
		bool		isnull[INDEX_MAX_KEYS];

		if (!irels[i]->rd_index->indisready)
			continue;
		if (di->predicate != NULL && !ExecQual(di->predicate, econtext))
			continue;
		FormIndexDatum(di->info, slot, NULL, values, isnull);
		/*
		 * The new version of a claimed job skips the unique check of a
		 * valid index that holds the old version under the same key (see
		 * DirectPrepareClaim); one being built concurrently may lack it.
		 */
		PgjobsIndexInsert(irels[i], values, isnull, &slot->tts_tid, rel,
						  di->unique && (!claimed || di->claim_checked ||
										 !irels[i]->rd_index->indisvalid) ?
						  UNIQUE_CHECK_YES : UNIQUE_CHECK_NO,
						  claimed && di->claim_unchanged, di->info);
	}
}

/*
 * DirectWrite writes n rows into rel (locked) as d prepares it: fill puts
 * the columns given into each (with arg and the row's number), the others
 * take their defaults.
 */
static void
DirectWrite(const DirectInsert *d, Relation rel, int n, DirectFillRow fill, void *arg)
{
	TupleDesc	rel_desc = RelationGetDescr(rel);
	DirectWork	w;
	ExprContext *econtext;
	Datum	   *stmt_values;
	bool	   *stmt_nulls;
	TupleTableSlot **slots;
	CommandId	cid;
	int			nslots;
	int			natts = d->desc->natts;
	int			base;
	int			i;

	DirectWorkStart(&w, d);
	econtext = w.econtext;

	/* the values that are the same for every row of the call */
	stmt_values = palloc(sizeof(Datum) * natts);
	stmt_nulls = palloc(sizeof(bool) * natts);
	for (i = 0; i < natts; i++)
	{
		stmt_values[i] = d->consts[i];
		stmt_nulls[i] = d->source[i] != DIRECT_CONST || d->const_nulls[i];
		if (d->source[i] == DIRECT_STATEMENT)
			stmt_values[i] = ExecEvalExpr(d->exprs[i], econtext, &stmt_nulls[i]);
	}

	/*
	 * The slots share d's copy of the descriptor, which is not reference
	 * counted: slots of the relation's own would each be remembered by the
	 * resource owner, and forgetting 256 of them cost more than the inserts.
	 */
	nslots = Min(n, DIRECT_INSERT_CHUNK);
	slots = palloc(sizeof(TupleTableSlot *) * nslots);
	for (i = 0; i < nslots; i++)
		slots[i] = MakeSingleTupleTableSlot(d->desc, table_slot_callbacks(rel));
	cid = GetCurrentCommandId(true);

	for (base = 0; base < n; base += nslots)
	{
		int			m = Min(nslots, n - base);

		CHECK_FOR_INTERRUPTS();
		ResetExprContext(econtext);
		for (i = 0; i < m; i++)
		{
			TupleTableSlot *slot = slots[i];
			Datum	   *values = slot->tts_values;
			bool	   *nulls = slot->tts_isnull;
			int			a;

			ExecClearTuple(slot);
			memcpy(values, stmt_values, sizeof(Datum) * natts);
			memcpy(nulls, stmt_nulls, sizeof(bool) * natts);
			if (d->has_row_exprs)
			{
				for (a = 0; a < natts; a++)
				{
					if (d->source[a] == DIRECT_ROW)
						values[a] = ExecEvalExprSwitchContext(d->exprs[a], econtext, &nulls[a]);
				}
			}
			fill(d, values, nulls, base + i, arg);
			for (a = 0; a < natts; a++)
			{
				Form_pg_attribute att = TupleDescAttr(rel_desc, a);

				if (nulls[a] && att->attnotnull)
					ereport(ERROR,
							(errcode(ERRCODE_NOT_NULL_VIOLATION),
							 errmsg("null value in column \"%s\" of relation \"%s\" violates not-null constraint",
									NameStr(att->attname), RelationGetRelationName(rel)),
							 errtablecol(rel, a + 1)));
			}
			ExecStoreVirtualTuple(slot);
		}
		if (m == 1)
			table_tuple_insert(rel, slots[0], cid, 0, NULL);
		else
		{
			/* heap_multi_insert may leak into the current context */
			MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
			table_multi_insert(rel, slots, m, cid, 0, NULL);
			MemoryContextSwitchTo(w.cxt);
		}
		for (i = 0; i < m; i++)
			DirectIndexRow(d, rel, w.irels, slots[i], econtext, false);
	}

	for (i = 0; i < nslots; i++)
		ExecDropSingleTupleTableSlot(slots[i]);
	DirectWorkEnd(&w, d);
}

/*
 * DirectAllowed says whether the current role may do what the statement a
 * direct write replaces needs of relid: every privilege of mode on the
 * whole table (insert or update, and read the columns it returns).  With
 * an executor permission hook (sepgsql, pgaudit) the statement runs, so
 * that the hook sees it.
 */
static bool
DirectAllowed(Oid relid, AclMode mode)
{
	return ExecutorCheckPerms_hook == NULL &&
		pg_class_aclmask(relid, GetUserId(), mode, ACLMASK_ALL) == mode;
}

/*
 * DirectLockTable locks jobs.name as a write does and returns its OID, or
 * InvalidOid if there is none or nothing may be written directly now: in
 * a read-only transaction, in parallel mode, or while another call writes
 * (a function an index calls, say), whose DirectInsert must not be
 * rebuilt.  Locking takes in every invalidation before it.
 */
static Oid
DirectLockTable(const char *name)
{
	if (direct_busy || XactReadOnly || IsInParallelMode())
		return InvalidOid;
	return RangeVarGetRelid(makeRangeVar("jobs", (char *) name, -1), RowExclusiveLock, true);
}

/*
 * DirectBuildFinished prepares ack's DirectInsert for jobs.job (rel,
 * locked), whose rows come from those the finishing DELETE of
 * jobs.job_queue (queue_relid) returns: the finished columns of the schema
 * (FINISHED_COLUMNS, or FINISHED_COLUMNS_1_0 before 1.1, in order), which
 * must have the same types in both tables, and status, result and
 * finished_at.
 */
static void
DirectBuildFinished(Relation rel, Oid queue_relid, bool job_control)
{
	const char *columns = job_control ? FINISHED_COLUMNS : FINISHED_COLUMNS_1_0;
	MemoryContext old = CurrentMemoryContext;
	DirectInsert *d = DirectBegin(&direct_finished, rel, job_control);
	TupleDesc	desc = RelationGetDescr(rel);
	bool	   *given = palloc0(sizeof(bool) * desc->natts);
	char	   *list = pstrdup(columns);
	List	   *names = NIL;
	ListCell   *lc;
	bool		ok;

	d->queue_relid = queue_relid;
	d->from = palloc0(sizeof(AttrNumber) * desc->natts);
	ok = SplitIdentifierString(list, ',', &names);

	/*
	 * The DELETE runs as a statement of its own, before the write: a trigger
	 * or a rule on the queue (or a row security policy's function) would run
	 * in between and find the job in neither table, where the old statement
	 * ran it once the job was in jobs.job.
	 */
	{
		Relation	queue = table_open(queue_relid, NoLock);

		if (queue->trigdesc != NULL || queue->rd_rules != NULL ||
			queue->rd_rel->relrowsecurity)
			ok = false;
		table_close(queue, NoLock);
	}
	d->from_natts = list_length(names);
	d->from_types = palloc0(sizeof(Oid) * Max(d->from_natts, 1));
	foreach(lc, names)
	{
		const char *name = lfirst(lc);
		AttrNumber	queue_att = get_attnum(queue_relid, name);
		AttrNumber	att;
		Oid			type;
		int32		typmod;
		Oid			collation;

		if (!ok || queue_att == InvalidAttrNumber)
		{
			ok = false;
			break;
		}
		get_atttypetypmodcoll(queue_relid, queue_att, &type, &typmod, &collation);
		att = DirectColumn(rel, name, type, true);
		if (att == InvalidAttrNumber ||
			(TupleDescAttr(desc, att - 1)->atttypmod >= 0 &&
			 TupleDescAttr(desc, att - 1)->atttypmod != typmod))
		{
			ok = false;
			break;
		}
		d->from[att - 1] = foreach_current_index(lc) + 1;
		d->from_types[foreach_current_index(lc)] = type;
		given[att - 1] = true;
	}
	d->result = DirectColumn(rel, "result", JSONBOID, false);
	d->finished_at = DirectColumn(rel, "finished_at", TIMESTAMPTZOID, false);
	d->status = attnameAttNum(rel, "status", false);
	if (d->status > 0 && get_typtype(TupleDescAttr(desc, d->status - 1)->atttypid) != TYPTYPE_ENUM)
		d->status = InvalidAttrNumber;
	if (ok && d->status > 0)
		d->succeeded = DirectFunctionCall2(enum_in, CStringGetDatum("succeeded"),
										   ObjectIdGetDatum(TupleDescAttr(desc, d->status - 1)->atttypid));
	if (ok && d->status > 0 && d->result != InvalidAttrNumber &&
		d->finished_at != InvalidAttrNumber && !given[d->status - 1] &&
		!given[d->result - 1] && !given[d->finished_at - 1])
	{
		given[d->status - 1] = true;
		given[d->result - 1] = true;
		given[d->finished_at - 1] = true;
		d->usable = DirectPrepare(rel, d, given);
	}
	MemoryContextSwitchTo(old);
	direct_finished.d = d;
}

/*
 * DirectFinishedTable returns jobs.job, locked, if ack may write its rows
 * directly (see DirectInsert), or NULL if it must run the INSERT.
 */
static Relation
DirectFinishedTable(bool job_control)
{
	Oid			queue_relid = DirectLockTable("job_queue");
	Oid			relid = DirectLockTable("job");
	Relation	rel;

	if (!OidIsValid(queue_relid) || !OidIsValid(relid))
		return NULL;
	rel = table_open(relid, NoLock);
	if (direct_finished.stale || direct_finished.d == NULL ||
		direct_finished.d->relid != relid || direct_finished.d->queue_relid != queue_relid ||
		direct_finished.d->job_control != job_control)
		DirectBuildFinished(rel, queue_relid, job_control);
	if (!direct_finished.d->usable || !DirectAllowed(relid, ACL_INSERT | ACL_SELECT))
	{
		table_close(rel, RowExclusiveLock);
		return NULL;
	}
	return rel;
}

/*
 * DirectWriteFinished writes into jobs.job (rel, from DirectFinishedTable)
 * the jobs of finished, the rows a finishing DELETE returned (or a direct
 * take made): succeeded at now, each with the result in column result_col
 * of its row, or result if result_col is 0.  It closes rel, keeping the
 * lock.
 */
static void
DirectWriteFinished(Relation rel, const JobRows *finished, int result_col,
					Datum result, bool result_isnull, TimestampTz now)
{
	const DirectInsert *d;
	DirectFinishedRows rows;
	TupleDesc	desc = finished->desc;
	int			i;

	if (finished->n == 0)
	{
		table_close(rel, NoLock);
		return;
	}

	/*
	 * The DELETE runs no code of the caller's (DirectBuildFinished), but it
	 * may take in invalidations: if the tables changed, prepare again; the
	 * job is already gone from the queue, so the write cannot fall back to
	 * the INSERT.
	 */
	d = direct_finished.d;
	if (direct_finished.stale || d == NULL || d->relid != RelationGetRelid(rel))
	{
		Oid			queue_relid = RangeVarGetRelid(makeRangeVar("jobs", "job_queue", -1),
												   NoLock, false);

		DirectBuildFinished(rel, queue_relid, CatalogHasJobControl());
		d = direct_finished.d;
		if (!d->usable)
			elog(ERROR, "pgjobs: jobs.job changed while a job was being acked");
	}
	if (desc == NULL)
		elog(ERROR, "pgjobs: the finishing statement returned no rows");
	if (desc->natts < d->from_natts + (result_col > 0 ? 1 : 0) ||
		(result_col > 0 && result_col != d->from_natts + 1))
		elog(ERROR, "pgjobs: the finishing statement returned %d columns", desc->natts);
	for (i = 0; i < d->from_natts; i++)
	{
		if (TupleDescAttr(desc, i)->atttypid != d->from_types[i])
			elog(ERROR, "pgjobs: finished column %d has type %u, expected %u", i + 1,
				 TupleDescAttr(desc, i)->atttypid, d->from_types[i]);
	}
	if (result_col > 0 && TupleDescAttr(desc, result_col - 1)->atttypid != JSONBOID)
		elog(ERROR, "pgjobs: the finishing statement returned no results");

	rows.rows = finished;
	rows.row_values = palloc(sizeof(Datum) * desc->natts);
	rows.row_nulls = palloc(sizeof(bool) * desc->natts);
	rows.tuple_values = NULL;
	rows.tuple_nulls = NULL;
	if (finished->vals_desc != NULL)
	{
		rows.tuple_values = palloc(sizeof(Datum) * finished->vals_desc->natts);
		rows.tuple_nulls = palloc(sizeof(bool) * finished->vals_desc->natts);
	}
	rows.result_col = result_col;
	rows.result = result;
	rows.result_isnull = result_isnull;
	rows.now = now;
	direct_busy = true;
	PG_TRY();
	{
		DirectWrite(d, rel, (int) finished->n, DirectFillFinished, &rows);
	}
	PG_FINALLY();
	{
		direct_busy = false;
	}
	PG_END_TRY();
	table_close(rel, NoLock);
}

/* What a direct write does to jobs.job_queue. */
typedef enum DirectUse
{
	DIRECT_PUBLISH,				/* insert jobs (DirectInsertJobs) */
	DIRECT_CLAIM,				/* mark them running (DirectClaimRows) */
	DIRECT_TAKE					/* delete finished ones (DirectTake) */
} DirectUse;

/*
 * DirectQueueTable returns jobs.job_queue, locked, if it may be written
 * directly for use, or NULL if the statement must run.  Besides what a
 * direct write needs (see DirectInsert), the role must be allowed to
 * insert (update, delete) as well as read the whole table, as the
 * statement's columns and RETURNING need; with column privileges only, the
 * statement checks them.
 */
static Relation
DirectQueueTable(DirectUse use)
{
	static const AclMode modes[] = {ACL_INSERT, ACL_UPDATE, ACL_DELETE};
	bool		job_control = CatalogHasJobControl();
	Oid			relid = DirectLockTable("job_queue");
	Relation	rel;
	bool		usable;

	if (!OidIsValid(relid))
		return NULL;
	rel = table_open(relid, NoLock);
	if (direct_queue.stale || direct_queue.d == NULL || direct_queue.d->relid != relid ||
		direct_queue.d->job_control != job_control)
		DirectBuildQueue(rel, job_control);
	usable = use == DIRECT_PUBLISH ? direct_queue.d->usable :
		use == DIRECT_CLAIM ? direct_queue.d->claim_usable : direct_queue.d->take_usable;
	if (!usable || !DirectAllowed(relid, modes[use] | ACL_SELECT))
	{
		/* the statement takes the same lock */
		table_close(rel, NoLock);
		return NULL;
	}
	return rel;
}

/*
 * Take hints.  A backend that claims a job directly remembers where the
 * job's running version went, so that its ack, usually the same backend's,
 * fetches that version instead of looking the job up in the primary key
 * (whose entry for the job's id is the second or third, behind the dead
 * versions', until vacuum).  A hint is only a place to look: the take reads
 * the row version there under its snapshot and uses it only if it is
 * visible and has the job's id, which makes it the one visible version of
 * the job, as the unique index would have found it.  Otherwise (the job was
 * updated, acked elsewhere, the table vacuumed or rewritten) it looks the
 * job up in the index.  Each hint is used once; at most TAKE_HINTS_MAX are
 * kept, all dropped when they are full (a backend that claims and never
 * acks).
 */
#define TAKE_HINTS_MAX	8192

typedef struct TakeHint
{
	int64		job_id;			/* the key */
	ItemPointerData tid;
} TakeHint;

static HTAB *take_hints = NULL;

/* NoteTakeHint notes that job job_id's running version is at tid. */
static void
NoteTakeHint(int64 job_id, ItemPointer tid)
{
	TakeHint   *hint;

	if (take_hints == NULL || hash_get_num_entries(take_hints) >= TAKE_HINTS_MAX)
	{
		HASHCTL		ctl;

		if (take_hints != NULL)
			hash_destroy(take_hints);
		take_hints = NULL;
		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(TakeHint);
		take_hints = hash_create("pgjobs take hints", 256, &ctl, HASH_ELEM | HASH_BLOBS);
	}
	hint = hash_search(take_hints, &job_id, HASH_ENTER, NULL);
	ItemPointerCopy(tid, &hint->tid);
}

/*
 * TakeHintFor puts the hint for job job_id in tid and forgets it; false if
 * there is none.
 */
static bool
TakeHintFor(int64 job_id, ItemPointer tid)
{
	TakeHint   *hint;

	if (take_hints == NULL ||
		(hint = hash_search(take_hints, &job_id, HASH_FIND, NULL)) == NULL)
		return false;
	ItemPointerCopy(&hint->tid, tid);
	(void) hash_search(take_hints, &job_id, HASH_REMOVE, NULL);
	return true;
}

/*
 * ClaimRowsDesc makes the descriptor of the rows of a claim (d's), in the
 * memory of SPI_tuptable, that of the last SPI result, and returns it.
 */
static TupleDesc
ClaimRowsDesc(const DirectInsert *d)
{
	MemoryContext old = MemoryContextSwitchTo(SPI_tuptable->tuptabcxt);

	SPI_tuptable->tupdesc = CreateTupleDescCopy(d->claim_desc);
	MemoryContextSwitchTo(old);
	return SPI_tuptable->tupdesc;
}

/*
 * DirectClaimUpdate marks running the jobs whose row versions the pick in
 * SPI_tuptable locked (see DirectClaimRows) with d, as the claim's UPDATE
 * does: each version gets a new one with status running, attempts one
 * more, started_at now and expires_at now plus its timeout, computed by the
 * functions the UPDATE calls, and the new version goes into every index
 * that takes it.  Each row of SPI_tuptable becomes the row the UPDATE
 * returns for its job (d->claim_desc), made in SPI_tuptable's memory.  A
 * version the pick returned twice (it cannot, its ranges being disjoint,
 * but an UPDATE would update it once) is updated once, and its second row
 * dropped.
 */
static void
DirectClaimUpdate(const DirectInsert *d, Relation rel, TimestampTz now)
{
	TupleDesc	rel_desc = RelationGetDescr(rel);
	TupleDesc	pick_desc = SPI_tuptable->tupdesc;
	TupleDesc	claim_desc;
	DirectWork	w;
	TupleTableSlot *oldslot;
	TupleTableSlot *newslot;
	CommandId	cid = GetCurrentCommandId(true);
	int			natts = d->desc->natts;
	uint64		kept = 0;
	uint64		row;
	int			i;

	DirectWorkStart(&w, d);
	/* the table's own descriptor: a column added since has its default */
	oldslot = MakeSingleTupleTableSlot(rel_desc, table_slot_callbacks(rel));
	newslot = MakeSingleTupleTableSlot(d->desc, &TTSOpsVirtual);
	claim_desc = ClaimRowsDesc(d);

	for (row = 0; row < SPI_processed; row++)
	{
		bool		tid_isnull;
		Datum		tid_datum;
		ItemPointerData tid;
		TM_Result	result;
		TM_FailureData tmfd;
		LockTupleMode lockmode;
		bool		indexes;
		Datum	   *values = newslot->tts_values;
		bool	   *nulls = newslot->tts_isnull;
		int32		attempts;
		float8		timeout;
		Datum		lease;
		Datum		claim_values[CLAIM_NCOLS];
		bool		claim_nulls[CLAIM_NCOLS];

		CHECK_FOR_INTERRUPTS();
		ResetExprContext(w.econtext);
		tid_datum = heap_getattr(SPI_tuptable->vals[row], 1, pick_desc, &tid_isnull);
		if (tid_isnull)
			elog(ERROR, "pgjobs: a claimed job has no row version");
		ItemPointerCopy((ItemPointer) DatumGetPointer(tid_datum), &tid);
		if (!table_tuple_fetch_row_version(rel, &tid, SnapshotAny, oldslot))
			elog(ERROR, "pgjobs: a claimed job's row version is gone");
		slot_getallattrs(oldslot);
		ExecClearTuple(newslot);
		memcpy(values, oldslot->tts_values, sizeof(Datum) * natts);
		memcpy(nulls, oldslot->tts_isnull, sizeof(bool) * natts);

		/* the UPDATE's SET, as its operators and functions compute it */
		if (nulls[d->attempts - 1] || nulls[d->claim_from[CLAIM_COL_TIMEOUT - 1] - 1])
			elog(ERROR, "pgjobs: a claimed job has no attempts or timeout");
		if (pg_add_s32_overflow(DatumGetInt32(values[d->attempts - 1]), 1, &attempts))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("integer out of range")));
		timeout = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
													 values[d->claim_from[CLAIM_COL_TIMEOUT - 1] - 1]));
		lease = DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(now),
									DirectFunctionCall7(make_interval,
														Int32GetDatum(0), Int32GetDatum(0),
														Int32GetDatum(0), Int32GetDatum(0),
														Int32GetDatum(0), Int32GetDatum(0),
														Float8GetDatum(timeout)));
		values[d->status - 1] = d->running;
		nulls[d->status - 1] = false;
		values[d->attempts - 1] = Int32GetDatum(attempts);
		values[d->started_at - 1] = TimestampTzGetDatum(now);
		nulls[d->started_at - 1] = false;
		values[d->expires_at - 1] = lease;
		nulls[d->expires_at - 1] = false;
		for (i = 0; i < natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(rel_desc, i);

			/* as an UPDATE, the new version keeps nothing of a dropped column */
			if (att->attisdropped)
				nulls[i] = true;
			else if (nulls[i] && att->attnotnull)
				ereport(ERROR,
						(errcode(ERRCODE_NOT_NULL_VIOLATION),
						 errmsg("null value in column \"%s\" of relation \"%s\" violates not-null constraint",
								NameStr(att->attname), RelationGetRelationName(rel)),
						 errtablecol(rel, i + 1)));
		}
		ExecStoreVirtualTuple(newslot);
		/* its own copy: the old version's buffer is released before the indexes */
		ExecMaterializeSlot(newslot);
		ExecClearTuple(oldslot);

		result = PgjobsTupleUpdate(rel, &tid, newslot, cid, &tmfd, &lockmode, &indexes);
		if (result == TM_SelfModified && tmfd.cmax == cid)
			continue;			/* picked twice */
		if (result != TM_Ok)
			elog(ERROR, "pgjobs: a claimed job's row changed while it was locked (%d)",
				 (int) result);
		if (indexes)
			DirectIndexRow(d, rel, w.irels, newslot, w.econtext, true);
		NoteTakeHint(DatumGetInt64(values[d->claim_from[CLAIM_COL_JOB_ID - 1] - 1]),
					 &newslot->tts_tid);

		/* what the UPDATE returns */
		for (i = 0; i < CLAIM_NCOLS; i++)
		{
			claim_values[i] = values[d->claim_from[i] - 1];
			claim_nulls[i] = nulls[d->claim_from[i] - 1];
		}
		MemoryContextSwitchTo(SPI_tuptable->tuptabcxt);
		SPI_tuptable->vals[kept++] = heap_form_tuple(claim_desc, claim_values, claim_nulls);
		MemoryContextSwitchTo(w.cxt);
	}
	SPI_tuptable->numvals = kept;
	SPI_processed = kept;

	ExecDropSingleTupleTableSlot(oldslot);
	ExecDropSingleTupleTableSlot(newslot);
	DirectWorkEnd(&w, d);
}

/*
 * ClaimLocked claims, through PLAN_CLAIM_LOCKED's UPDATE, the jobs whose
 * row versions the last SPI result, a pick's, locked, claimed at now:
 * SPI_tuptable then holds the UPDATE's rows.
 */
static void
ClaimLocked(TimestampTz now)
{
	Datum	   *tids = palloc(sizeof(Datum) * SPI_processed);
	Datum		values[2];
	uint64		row;

	for (row = 0; row < SPI_processed; row++)
	{
		bool		isnull;

		tids[row] = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 1, &isnull);
		if (isnull)
			elog(ERROR, "pgjobs: a claimed job has no row version");
	}
	values[0] = TimestampTzGetDatum(now);
	values[1] = PointerGetDatum(construct_array(tids, (int) SPI_processed, TIDOID,
												sizeof(ItemPointerData), false,
												TYPALIGN_SHORT));
	ExecutePlan(PLAN_CLAIM_LOCKED, values, NULL, SPI_OK_UPDATE_RETURNING);
}

/*
 * DirectClaimRows marks running the jobs whose row versions the last SPI
 * result, a pick's (CLAIM_OPEN_PICK: the ctid of each version the claim
 * locked), names, claimed at now, in jobs.job_queue (rel, from
 * DirectQueueTable), and closes rel, keeping the lock.  SPI_tuptable then
 * holds the rows the claim's UPDATE would have returned.
 */
static void
DirectClaimRows(Relation rel, TimestampTz now)
{
	const DirectInsert *d;
	TupleDesc	desc;

	if (SPI_tuptable == NULL)
		elog(ERROR, "pgjobs: the claim returned no rows");
	desc = SPI_tuptable->tupdesc;
	if (desc->natts != 1 || TupleDescAttr(desc, 0)->atttypid != TIDOID)
		elog(ERROR, "pgjobs: the claim returned unexpected columns");
	/* as an UPDATE's executor start does, rows or not */
	CheckCmdReplicaIdentity(rel, CMD_UPDATE);

	/*
	 * Nothing that changes how the table is written can happen while the
	 * claim holds its lock, but the pick may have taken in invalidations
	 * (of an index built concurrently, say): prepare again.  The jobs are
	 * locked, not yet claimed: if the table may no longer be written
	 * directly, the UPDATE claims them.
	 */
	d = direct_queue.d;
	if (direct_queue.stale || d == NULL || d->relid != RelationGetRelid(rel))
	{
		DirectBuildQueue(rel, CatalogHasJobControl());
		d = direct_queue.d;
		if (!d->claim_usable)
		{
			table_close(rel, NoLock);
			ClaimLocked(now);
			return;
		}
	}
	if (SPI_processed == 0)
	{
		/* no job: the columns of the rows there would have been */
		(void) ClaimRowsDesc(d);
		table_close(rel, NoLock);
		return;
	}
	direct_busy = true;
	PG_TRY();
	{
		DirectClaimUpdate(d, rel, now);
	}
	PG_FINALLY();
	{
		direct_busy = false;
	}
	PG_END_TRY();
	table_close(rel, NoLock);
}

/*
 * One job an ack takes: its id, the claim attempt it ends (or ANY_ATTEMPT)
 * and its place in the call's arrays (its result's).
 */
typedef struct TakeItem
{
	int64		id;
	int32		attempt;
	int			pos;
} TakeItem;

/* TakeItemCmp orders TakeItems by id, then place. */
static int
TakeItemCmp(const void *a, const void *b)
{
	const TakeItem *x = (const TakeItem *) a;
	const TakeItem *y = (const TakeItem *) b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos ? 1 : 0;
}

/* TakeJobIs says whether the row version in slot is job id's. */
static bool
TakeJobIs(const DirectInsert *d, TupleTableSlot *slot, int64 id)
{
	bool		isnull;
	Datum		value = slot_getattr(slot, d->job_id, &isnull);

	return !isnull && DatumGetInt64(value) == id;
}

/*
 * TakeHolds says whether the row version in slot is running job id whose
 * claim holds at now, for attempt (or any): the finishing DELETE's WHERE
 * (LEASE_HOLDS_1_1), with the operators it uses (equality of enums and
 * integers, timestamptz >=) and NULL counting as false.
 */
static bool
TakeHolds(const DirectInsert *d, TupleTableSlot *slot, int64 id, int32 attempt,
		  TimestampTz now)
{
	bool		isnull;
	Datum		value;

	if (!TakeJobIs(d, slot, id))
		return false;
	value = slot_getattr(slot, d->status, &isnull);
	if (isnull || DatumGetObjectId(value) != DatumGetObjectId(d->running))
		return false;
	value = slot_getattr(slot, d->expires_at, &isnull);
	if (isnull || DatumGetTimestampTz(value) < now)
		return false;
	(void) slot_getattr(slot, d->cancel_requested_at, &isnull);
	if (!isnull)
		return false;
	if (attempt == ANY_ATTEMPT)
		return true;
	value = slot_getattr(slot, d->attempts, &isnull);
	return !isnull && DatumGetInt32(value) == attempt;
}

/*
 * TakeFollow handles the failed delete (result, tmfd) of the row version in
 * slot, as the DELETE's executor does: if another transaction updated it
 * since the snapshot, under READ COMMITTED it locks the latest version into
 * slot and returns true, for the caller to check it again and delete it;
 * under REPEATABLE READ or SERIALIZABLE that is a serialization failure.
 * Returns false if the job is gone (deleted, by this statement or another
 * transaction).
 */
static bool
TakeFollow(Relation rel, TM_Result result, TM_FailureData *tmfd, TupleTableSlot *slot,
		   Snapshot snapshot, CommandId cid)
{
	ItemPointerData tid;

	switch (result)
	{
		case TM_SelfModified:
			break;
		case TM_Updated:
			if (IsolationUsesXactSnapshot())
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent update")));
			ItemPointerCopy(&slot->tts_tid, &tid);
			result = table_tuple_lock(rel, &tid, snapshot, slot, cid, LockTupleExclusive,
									  LockWaitBlock, TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
									  tmfd);
			if (result == TM_Ok)
				return true;
			if (result == TM_SelfModified)
				break;
			if (result != TM_Deleted)
				elog(ERROR, "pgjobs: unexpected result %d locking a job to ack", (int) result);
			return false;
		case TM_Deleted:
			if (IsolationUsesXactSnapshot())
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent delete")));
			return false;
		default:
			elog(ERROR, "pgjobs: unexpected result %d deleting a job", (int) result);
	}

	/*
	 * Changed by this transaction since the snapshot: by this call (a job
	 * twice in the ids is taken once), or else by something the statement
	 * ran, which the DELETE refuses too.
	 */
	if (tmfd->cmax != cid)
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_DATA_CHANGE_VIOLATION),
				 errmsg("tuple to be deleted was already modified by an operation triggered by the current command")));
	return false;
}

/*
 * DirectTake deletes from jobs.job_queue (rel, from DirectQueueTable) the
 * running jobs of the n items whose claim holds at now, as ack's DELETE
 * does (PLAN_FINISH_TAKE_1_1, PLAN_FINISH_BATCH_TAKE), and returns the rows
 * it returns: the finished columns, then each job's result, results[pos]
 * of the item that took it (NULL without results), kept as the deleted
 * versions themselves (see JobRows).  Items of the same id take the job
 * once, with the first, by place, whose attempt matches.  The rows come
 * in id order, in the current memory.  It closes rel, keeping the lock.
 *
 * As a statement of its own through SPI would, it sees the transaction's
 * earlier commands and, under READ COMMITTED, every transaction committed
 * before it started.  A job another transaction changed since is handled by
 * TakeFollow as the DELETE handles it.  It runs no code but PostgreSQL's
 * own (the int8 btree, the heap), so no other direct write can start
 * during it (see direct_busy).
 */
static JobRows
DirectTake(Relation rel, TakeItem *items, int n, const Datum *results,
		   const bool *result_nulls, TimestampTz now)
{
	const DirectInsert *d = direct_queue.d;
	MemoryContext out = CurrentMemoryContext;
	MemoryContext cxt;
	JobRows		rows;
	Relation	irel;
	IndexScanDesc scan = NULL;
	ScanKeyData key;
	TupleTableSlot *slot;
	Snapshot	snapshot;
	CommandId	cid;
	BlockNumber nblocks = InvalidBlockNumber;
	AttrNumber *from;
	int			i;
	int			j;

	if (d == NULL || d->relid != RelationGetRelid(rel) || !d->take_usable)
		elog(ERROR, "pgjobs: jobs.job_queue changed before its jobs were taken");
	/* as a DELETE's executor start does, rows or not */
	CheckCmdReplicaIdentity(rel, CMD_DELETE);
	/* the rows: each deleted version as it is, and its job's result */
	rows.desc = CreateTupleDescCopy(d->take_desc);
	rows.vals = palloc(sizeof(HeapTuple) * Max(n, 1));
	rows.n = 0;
	rows.vals_desc = CreateTupleDescCopy(RelationGetDescr(rel));
	from = palloc(sizeof(AttrNumber) * d->take_ncols);
	memcpy(from, d->take_from, sizeof(AttrNumber) * d->take_ncols);
	rows.from = from;
	rows.ncols = d->take_ncols;
	rows.extra = palloc(sizeof(Datum) * Max(n, 1));
	rows.extra_nulls = palloc(sizeof(bool) * Max(n, 1));
	qsort(items, n, sizeof(TakeItem), TakeItemCmp);

	cxt = AllocSetContextCreate(out, "pgjobs direct take", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);
	PushActiveSnapshot(GetTransactionSnapshot());
	CommandCounterIncrement();
	UpdateActiveSnapshotCommandId();
	snapshot = GetActiveSnapshot();
	cid = GetCurrentCommandId(true);
	slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), table_slot_callbacks(rel));
	irel = index_open(d->take_index, RowExclusiveLock);

	for (i = 0; i < n; i = j)
	{
		int64		id = items[i].id;
		ItemPointerData tid;
		bool		found = false;
		bool		followed = false;
		int32		seen_attempts = 0;
		bool		isnull;

		for (j = i + 1; j < n && items[j].id == id; j++)
			;
		CHECK_FOR_INTERRUPTS();
		ExecClearTuple(slot);

		/* the job's visible version: where this backend claimed it, or the index's */
		if (TakeHintFor(id, &tid))
		{
			if (nblocks == InvalidBlockNumber)
				nblocks = RelationGetNumberOfBlocks(rel);
			found = ItemPointerGetBlockNumber(&tid) < nblocks &&
				table_tuple_fetch_row_version(rel, &tid, snapshot, slot) &&
				TakeJobIs(d, slot, id);
		}
		if (!found)
		{
			ExecClearTuple(slot);
			ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(id));
			if (scan == NULL)
				scan = index_beginscan(rel, irel, snapshot, 1, 0);
			index_rescan(scan, &key, 1, NULL, 0);
			found = index_getnext_slot(scan, ForwardScanDirection, slot);
		}

		while (found)
		{
			TM_Result	result;
			TM_FailureData tmfd;
			HeapTuple	version;
			int			k;

			/*
			 * The first item for which the claim holds.  After a concurrent
			 * change, the DELETE checks the latest version again only for
			 * the items the snapshot's version passed: those of any attempt
			 * or of that version's.
			 */
			for (k = i; k < j; k++)
			{
				if (followed && items[k].attempt != ANY_ATTEMPT &&
					items[k].attempt != seen_attempts)
					continue;
				if (TakeHolds(d, slot, id, items[k].attempt, now))
					break;
			}
			if (k == j)
				break;			/* its claim no longer holds */
			if (!followed)
			{
				Datum		attempts = slot_getattr(slot, d->attempts, &isnull);

				/* no attempt of 1 or more is ANY_ATTEMPT */
				seen_attempts = isnull ? ANY_ATTEMPT : DatumGetInt32(attempts);
			}
			ItemPointerCopy(&slot->tts_tid, &tid);
			result = table_tuple_delete(rel, &tid, cid, snapshot, InvalidSnapshot, true,
										&tmfd, false);
			if (result != TM_Ok)
			{
				found = followed = TakeFollow(rel, result, &tmfd, slot, snapshot, cid);
				continue;
			}

			/*
			 * What the DELETE returns: the version as it is, unless it lacks
			 * columns added since it was written (whose defaults the slot
			 * fills in, and a copy of the descriptor would not).
			 */
			rows.extra[rows.n] = results != NULL ? results[items[k].pos] : (Datum) 0;
			rows.extra_nulls[rows.n] = results == NULL || result_nulls[items[k].pos];
			MemoryContextSwitchTo(out);
			version = ExecCopySlotHeapTuple(slot);
			if (HeapTupleHeaderGetNatts(version->t_data) < rows.vals_desc->natts)
			{
				heap_freetuple(version);
				slot_getallattrs(slot);
				version = heap_form_tuple(rows.vals_desc, slot->tts_values, slot->tts_isnull);
			}
			rows.vals[rows.n++] = version;
			MemoryContextSwitchTo(cxt);
			break;
		}
	}

	if (scan != NULL)
		index_endscan(scan);
	index_close(irel, NoLock);
	ExecDropSingleTupleTableSlot(slot);
	/* as SPI does after a statement, so that what comes next sees it */
	CommandCounterIncrement();
	PopActiveSnapshot();
	MemoryContextSwitchTo(out);
	MemoryContextDelete(cxt);
	table_close(rel, NoLock);
	return rows;
}

/*
 * DirectInsertJobs queues the n jobs of specs (checked; timestamps as for
 * DirectFill) directly, and puts each one's id and claim key in ids and
 * keys.  Returns false, having written nothing, if they must go through
 * the INSERT instead (see above).
 */
static bool
DirectInsertJobs(const JobSpec *specs, int n, bool timestamps,
				 int64 *ids, TimestampTz *keys)
{
	bool		job_control = CatalogHasJobControl();
	Relation	rel;
	DirectJobs	jobs;

	if (n <= 0)
		return false;
	rel = DirectQueueTable(DIRECT_PUBLISH);
	if (rel == NULL)
		return false;

	jobs.specs = specs;
	jobs.timestamps = timestamps;
	jobs.caller = job_control ? CallerName() : (Datum) 0;
	jobs.now = GetCurrentTransactionStartTimestamp();
	jobs.ids = ids;
	jobs.keys = keys;
	direct_busy = true;
	PG_TRY();
	{
		DirectWrite(direct_queue.d, rel, n, DirectFillJob, &jobs);
	}
	PG_FINALLY();
	{
		direct_busy = false;
	}
	PG_END_TRY();
	table_close(rel, NoLock);
	return true;
}

/*
 * CatalogInsertJobsDirect queues the ntasks jobs of specs (publish_bulk's
 * checked elements, whose scheduled_at is a timestamp) directly, and
 * appends the new ids, in input order, to out; if tasks is not NULL, it
 * sends a "queued" event for each job.  Returns false, having written
 * nothing, if they must go through CatalogInsertJobs's INSERT instead.
 */
bool
CatalogInsertJobsDirect(const JobSpec *specs, int ntasks, Tuplestorestate *out,
						TupleDesc out_desc, char **tasks)
{
	int64	   *ids;
	TimestampTz *keys;
	int			i;

	if (out_desc->natts != 1 || TupleDescAttr(out_desc, 0)->atttypid != INT8OID)
		elog(ERROR, "pgjobs: publish_bulk must return bigint");
	ids = palloc_extended(sizeof(int64) * Max(ntasks, 1), MCXT_ALLOC_HUGE);
	keys = palloc_extended(sizeof(TimestampTz) * Max(ntasks, 1), MCXT_ALLOC_HUGE);
	if (!DirectInsertJobs(specs, ntasks, true, ids, keys))
	{
		pfree(ids);
		pfree(keys);
		return false;
	}
	for (i = 0; i < ntasks; i++)
	{
		Datum		id = Int64GetDatum(ids[i]);
		bool		id_isnull = false;

		tuplestore_putvalues(out, out_desc, &id, &id_isnull);
		NoteClaimKeyReadied(specs[i].priority_isnull ? PGJOBS_DEFAULT_PRIORITY : specs[i].priority,
							keys[i], ids[i]);
		if (tasks != NULL)
			NotifyJobEvent("queued", ids[i], tasks[i]);
	}
	pfree(ids);
	pfree(keys);
	return true;
}

/*
 * ResultKey reads a (scheduled_at, job_id) row of the last SPI result, if
 * it has one, into key's last two fields.
 */
static void
ResultKey(ClaimKey *key)
{
	bool		isnull[2];
	Datum		sched;
	Datum		id;

	if (SPI_processed != 1 || SPI_tuptable == NULL)
		return;
	sched = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull[0]);
	id = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull[1]);
	if (!isnull[0] && !isnull[1])
	{
		key->scheduled_at = DatumGetTimestampTz(sched);
		key->job_id = DatumGetInt64(id);
	}
}

/*
 * CheckClaimCursor runs the periodic check of the claim cursors *cc read
 * (cursor.c): it lowers each to the first pending job below it at its
 * priority, in a fresh snapshot, or to the cursor it read when there is
 * none; then it stops the claims in flight from moving any cursor past a
 * job committed, or freed, before this check (ClaimCursorCheckDone).  Jobs
 * locked by others count too: lowering is always safe, and the claims skip
 * them again.
 */
static void
CheckClaimCursor(const ClaimCursor *cc)
{
	int			i;

	for (i = 0; i < cc->ncursors; i++)
	{
		Datum		values[3];
		ClaimKey	key = cc->keys[i];

		values[0] = Int32GetDatum(key.priority);
		values[1] = TimestampTzGetDatum(key.scheduled_at);
		values[2] = Int64GetDatum(key.job_id);
		ExecutePlan(PLAN_CURSOR_CHECK, values, NULL, SPI_OK_SELECT);
		ResultKey(&key);
		ClaimCursorLower(&key, false);
	}
	ClaimCursorCheckDone();
}

/*
 * ProbeClaimBounds finds the priority bounds for a probe that read *cc
 * (cursor.c): from the lowest cursor's priority, out to the highest and
 * lowest priorities of pending jobs.
 */
static void
ProbeClaimBounds(const ClaimCursor *cc)
{
	int32		at;
	int32		lo;
	int32		hi;
	Datum		values[1];
	Datum		d;
	bool		isnull;

	if (cc->ncursors <= 0)
		return;
	at = cc->keys[cc->ncursors - 1].priority;
	values[0] = Int32GetDatum(at);
	ExecutePlan(PLAN_CLAIM_BOUNDS, values, NULL, SPI_OK_SELECT);
	if (SPI_processed != 1 || SPI_tuptable == NULL || SPI_tuptable->tupdesc->natts != 2 ||
		TupleDescAttr(SPI_tuptable->tupdesc, 0)->atttypid != INT4OID ||
		TupleDescAttr(SPI_tuptable->tupdesc, 1)->atttypid != INT4OID)
		elog(ERROR, "pgjobs: the priority bounds' probe returned an unexpected result");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	hi = isnull ? at : Max(at, DatumGetInt32(d));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	lo = isnull ? at : Min(at, DatumGetInt32(d));
	ClaimBoundsProbed(cc, lo, hi);
}

/*
 * StartClaim reads the claim cursors into *cc for a claim about to run,
 * running the periodic check, and the probe of the priority bounds, first
 * when it is this claim's turn, and notes that the transaction locks
 * pending jobs.  It returns whether the claim starts from cursors.  Call
 * with SPI connected.
 */
static bool
StartClaim(ClaimCursor *cc, uint64 sig)
{
	if (ClaimCursorRead(cc, sig, true) && (cc->check || cc->probe))
	{
		if (cc->check)
			CheckClaimCursor(cc);
		if (cc->probe)
			ProbeClaimBounds(cc);
		(void) ClaimCursorRead(cc, sig, false);
	}
	NotePendingLocked();
	return cc->ncursors > 0 || cc->nfilters > 0;
}

/*
 * HashPatterns folds the elements of the text[] patterns (NULL elements
 * included) into sig.  It hashes the elements, not the array's bytes: the
 * same patterns may come in arrays laid out differently.
 */
static uint64
HashPatterns(uint64 sig, ArrayType *a)
{
	Datum	   *elems;
	bool	   *elem_nulls;
	int			n;
	int			i;

	if (ARR_ELEMTYPE(a) != TEXTOID)
		elog(ERROR, "pgjobs: topic patterns must be a text[], not of type %u",
			 ARR_ELEMTYPE(a));
	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &elem_nulls, &n);
	sig = hash_bytes_uint32_extended((uint32) n, sig);
	for (i = 0; i < n; i++)
	{
		if (elem_nulls[i])
			sig = hash_bytes_uint32_extended(0xffffffff, sig);
		else
		{
			text	   *t = DatumGetTextPP(elems[i]);

			sig = hash_bytes_uint32_extended((uint32) VARSIZE_ANY_EXHDR(t), sig);
			sig = hash_bytes_extended((const unsigned char *) VARDATA_ANY(t),
									  VARSIZE_ANY_EXHDR(t), sig);
		}
	}
	return sig;
}

/*
 * ClaimFilterSig returns the signature of a claim's filter: its topic
 * like_pattern and its blocked and allowed patterns (text[]), each NULL
 * when absent; 0 for a claim that filters nothing out.  Claims with the
 * same signature take the same jobs, so they share filter cursors
 * (cursor.c).  The same patterns in another order make another signature,
 * which is only less sharing.
 */
static uint64
ClaimFilterSig(text *like_pattern, Datum blocked, bool blocked_isnull,
			   Datum allowed, bool allowed_isnull)
{
	uint64		sig = 0x706a6f6273ULL;	/* "pjobs" */
	bool		filtered = false;

	if (like_pattern != NULL)
	{
		sig = hash_bytes_extended((const unsigned char *) VARDATA_ANY(like_pattern),
								  VARSIZE_ANY_EXHDR(like_pattern), sig ^ 1);
		filtered = true;
	}
	if (!blocked_isnull)
	{
		ArrayType  *a = DatumGetArrayTypeP(blocked);

		if (ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a)) > 0)
		{
			sig = HashPatterns(sig ^ 2, a);
			filtered = true;
		}
	}
	if (!allowed_isnull)
	{
		sig = HashPatterns(sig ^ 3, DatumGetArrayTypeP(allowed));
		filtered = true;
	}
	if (!filtered)
		return 0;
	return sig != 0 ? sig : 1;
}

/*
 * UsedCursors sets keys to where a claim that read *cc starts in each
 * priority it does not read from its head, highest priority first, and
 * returns how many: the cursors it reads from (all of them, or only the
 * lowest priority's: cursor.c) and its filter's cursors, the later of the
 * two where a priority has both (each is a lower bound of the jobs this
 * claim may take).  keys has room for 2 * CLAIM_CURSORS.
 */
static int
UsedCursors(const ClaimCursor *cc, ClaimKey *keys)
{
	const ClaimKey *c = cc->keys;
	int			nc = cc->ncursors;
	int			ci = 0;
	int			fi = 0;
	int			n = 0;

	if (!cc->all && nc > 1)
	{
		c = &cc->keys[nc - 1];
		nc = 1;
	}
	while (ci < nc || fi < cc->nfilters)
	{
		if (fi == cc->nfilters ||
			(ci < nc && c[ci].priority > cc->fkeys[fi].priority))
			keys[n++] = c[ci++];
		else if (ci == nc || cc->fkeys[fi].priority > c[ci].priority)
			keys[n++] = cc->fkeys[fi++];
		else
		{
			keys[n++] = ClaimKeyLess(&c[ci], &cc->fkeys[fi]) ? cc->fkeys[fi] : c[ci];
			ci++;
			fi++;
		}
	}
	return n;
}

/* A range of the claim index a claim reads: see CLAIM_FROM. */
typedef struct ClaimRange
{
	int32		lo;
	int32		hi;
	bool		head;			/* from the head; else from (sched, id) */
	TimestampTz sched;
	int64		id;
} ClaimRange;

/* Which plan reads a claim's ranges (ClaimRanges). */
typedef enum ClaimShape
{
	CLAIM_SHAPE_ONE,			/* CLAIM_AT */
	CLAIM_SHAPE_TWO,			/* CLAIM_TWO */
	CLAIM_SHAPE_TWO_BELOW,		/* CLAIM_TWO_BELOW */
	CLAIM_SHAPE_RANGES,			/* CLAIM_FROM */
	CLAIM_SHAPE_HEAD			/* CLAIM: no cursor */
} ClaimShape;

/*
 * The plans of one kind of claim, one per shape: the UPDATE, and the pick
 * of the direct claim.
 */
typedef struct ClaimPlans
{
	CatalogPlanId update[CLAIM_SHAPE_HEAD + 1];
	CatalogPlanId pick[CLAIM_SHAPE_HEAD + 1];
} ClaimPlans;

/* The plans of the five shapes of claim p, in ClaimShape's order. */
#define CLAIM_SHAPES(p)	{p##_AT, p##_TWO, p##_TWO_BELOW, p##_FROM, p}

static const ClaimPlans claim_plans = {
	CLAIM_SHAPES(PLAN_CLAIM), CLAIM_SHAPES(PLAN_PICK)
};
static const ClaimPlans claim_topic_plans = {
	CLAIM_SHAPES(PLAN_CLAIM_TOPIC), CLAIM_SHAPES(PLAN_PICK_TOPIC)
};
static const ClaimPlans claim_blocked_plans = {
	CLAIM_SHAPES(PLAN_CLAIM_BLOCKED), CLAIM_SHAPES(PLAN_PICK_BLOCKED)
};
static const ClaimPlans claim_topic_blocked_plans = {
	CLAIM_SHAPES(PLAN_CLAIM_TOPIC_BLOCKED), CLAIM_SHAPES(PLAN_PICK_TOPIC_BLOCKED)
};

/*
 * ClaimRanges sets values to the ranges a claim that read *cc reads, for
 * the cursors it reads from, and between and around their priorities the
 * other priorities, from their head; none outside the priority bounds.  It
 * returns the shape of the plan that reads them.  One range of one
 * priority goes to values[0..2] as CLAIM_AT's prio, sched and id;
 * priorities from their head, then a cursor below them, or a cursor, then
 * priorities below it from their head, to values[0..4] as CLAIM_TWO's (or
 * CLAIM_TWO_BELOW's) lo, hi, prio, sched and id; anything else to
 * values[0..3] as CLAIM_FROM's arrays lo, hi, sched and id (sched and id
 * NULL for a range from the head).
 */
static ClaimShape
ClaimRanges(const ClaimCursor *cc, Datum *values)
{
	ClaimKey	cursors[2 * CLAIM_CURSORS];
	int			ncursors = UsedCursors(cc, cursors);
	ClaimRange	ranges[4 * CLAIM_CURSORS + 1];
	int			nranges = 0;
	int64		top = PG_INT32_MAX;	/* the highest priority not yet covered */
	int64		lo_bound = cc->bounded ? cc->lo : PG_INT32_MIN;
	int64		hi_bound = cc->bounded ? cc->hi : PG_INT32_MAX;
	Datum	   *lo;
	Datum	   *hi;
	Datum	   *sched;
	Datum	   *id;
	bool	   *nulls;
	bool	   *notnull;
	int			dims[1];
	int			lbs[1] = {1};
	int			i;

	for (i = 0; i <= ncursors; i++)
	{
		int64		bottom = i < ncursors ? (int64) cursors[i].priority + 1 : PG_INT32_MIN;
		int64		from = Max(bottom, lo_bound);
		int64		to = Min(top, hi_bound);

		if (from <= to)
		{
			/* the priorities from top down to bottom, from their heads */
			ranges[nranges].lo = (int32) from;
			ranges[nranges].hi = (int32) to;
			ranges[nranges].head = true;
			ranges[nranges].sched = DT_NOBEGIN;
			ranges[nranges++].id = PG_INT64_MIN;
		}
		if (i < ncursors)
		{
			const ClaimKey *key = &cursors[i];

			if (key->priority >= lo_bound && key->priority <= hi_bound)
			{
				ranges[nranges].lo = ranges[nranges].hi = key->priority;
				ranges[nranges].head = false;
				ranges[nranges].sched = key->scheduled_at;
				ranges[nranges++].id = key->job_id;
			}
			top = (int64) key->priority - 1;
		}
	}
	/* the bounds always hold a priority: the lowest cursor's */
	if (nranges == 0)
		elog(ERROR, "pgjobs: the priority bounds left a claim nothing to read");
	if (nranges == 1 && ranges[0].lo == ranges[0].hi)
	{
		values[0] = Int32GetDatum(ranges[0].lo);
		values[1] = TimestampTzGetDatum(ranges[0].sched);
		values[2] = Int64GetDatum(ranges[0].id);
		return CLAIM_SHAPE_ONE;
	}
	if (nranges == 2 && ranges[0].head != ranges[1].head)
	{
		const ClaimRange *head = ranges[0].head ? &ranges[0] : &ranges[1];
		const ClaimRange *cursor = ranges[0].head ? &ranges[1] : &ranges[0];

		values[0] = Int32GetDatum(head->lo);
		values[1] = Int32GetDatum(head->hi);
		values[2] = Int32GetDatum(cursor->lo);
		values[3] = TimestampTzGetDatum(cursor->sched);
		values[4] = Int64GetDatum(cursor->id);
		return ranges[0].head ? CLAIM_SHAPE_TWO : CLAIM_SHAPE_TWO_BELOW;
	}
	lo = palloc(sizeof(Datum) * nranges);
	hi = palloc(sizeof(Datum) * nranges);
	sched = palloc(sizeof(Datum) * nranges);
	id = palloc(sizeof(Datum) * nranges);
	nulls = palloc(sizeof(bool) * nranges);
	notnull = palloc0(sizeof(bool) * nranges);
	for (i = 0; i < nranges; i++)
	{
		lo[i] = Int32GetDatum(ranges[i].lo);
		hi[i] = Int32GetDatum(ranges[i].hi);
		sched[i] = TimestampTzGetDatum(ranges[i].sched);
		id[i] = Int64GetDatum(ranges[i].id);
		nulls[i] = ranges[i].head;
	}
	dims[0] = nranges;
	values[0] = PointerGetDatum(construct_md_array(lo, notnull, 1, dims, lbs,
												   INT4OID, 4, true, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_md_array(hi, notnull, 1, dims, lbs,
												   INT4OID, 4, true, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_md_array(sched, nulls, 1, dims, lbs,
												   TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL,
												   TYPALIGN_DOUBLE));
	values[3] = PointerGetDatum(construct_md_array(id, nulls, 1, dims, lbs,
												   INT8OID, 8, FLOAT8PASSBYVAL,
												   TYPALIGN_DOUBLE));
	return CLAIM_SHAPE_RANGES;
}

/* A claimed row and its claim key, for OrderClaimedRows. */
typedef struct ClaimedRow
{
	ClaimKey	key;
	HeapTuple	tuple;
} ClaimedRow;

/* Claim order: priority descending, then scheduled_at and job_id. */
static int
ClaimedRowCmp(const void *a, const void *b)
{
	const ClaimKey *ka = &((const ClaimedRow *) a)->key;
	const ClaimKey *kb = &((const ClaimedRow *) b)->key;

	if (ka->priority != kb->priority)
		return ka->priority > kb->priority ? -1 : 1;
	if (ka->scheduled_at != kb->scheduled_at)
		return ka->scheduled_at < kb->scheduled_at ? -1 : 1;
	if (ka->job_id != kb->job_id)
		return ka->job_id < kb->job_id ? -1 : 1;
	return 0;
}

/*
 * OrderClaimedRows puts the rows of the last SPI result, a claim's, in
 * claim order: everything that reads them (the caller's result, the
 * events) takes them in that order.  It sets keys to the claim key of the
 * last job of each priority claimed, highest priority first, at most
 * CLAIM_CURSORS of them, and returns how many.  It notes the earliest
 * lease end among them: the claim's commit lowers the expiry floor to it.
 */
static int
OrderClaimedRows(ClaimKey *keys)
{
	ClaimedRow *rows;
	TupleDesc	desc;
	uint64		n = SPI_processed;
	uint64		i;
	int			nkeys = 0;
	Datum	   *values;
	bool	   *isnull;
	TimestampTz earliest = DT_NOEND;

	if (n == 0)
		return 0;
	if (SPI_tuptable == NULL || SPI_tuptable->tupdesc->natts < CLAIM_COL_EXPIRES_AT ||
		TupleDescAttr(SPI_tuptable->tupdesc, CLAIM_COL_JOB_ID - 1)->atttypid != INT8OID ||
		TupleDescAttr(SPI_tuptable->tupdesc, CLAIM_COL_PRIORITY - 1)->atttypid != INT4OID ||
		TupleDescAttr(SPI_tuptable->tupdesc, CLAIM_COL_SCHEDULED_AT - 1)->atttypid != TIMESTAMPTZOID ||
		TupleDescAttr(SPI_tuptable->tupdesc, CLAIM_COL_EXPIRES_AT - 1)->atttypid != TIMESTAMPTZOID)
		elog(ERROR, "pgjobs: a claim returned unexpected columns");
	desc = SPI_tuptable->tupdesc;
	rows = palloc(sizeof(ClaimedRow) * n);
	/* one pass over each row's columns, not one from its start per column */
	values = palloc(sizeof(Datum) * desc->natts);
	isnull = palloc(sizeof(bool) * desc->natts);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];

		heap_deform_tuple(tuple, desc, values, isnull);
		if (isnull[CLAIM_COL_JOB_ID - 1] || isnull[CLAIM_COL_PRIORITY - 1] ||
			isnull[CLAIM_COL_SCHEDULED_AT - 1])
			elog(ERROR, "pgjobs: a claimed job has no claim key");
		rows[i].key.job_id = DatumGetInt64(values[CLAIM_COL_JOB_ID - 1]);
		rows[i].key.priority = DatumGetInt32(values[CLAIM_COL_PRIORITY - 1]);
		rows[i].key.scheduled_at = DatumGetTimestampTz(values[CLAIM_COL_SCHEDULED_AT - 1]);
		if (!isnull[CLAIM_COL_EXPIRES_AT - 1])
			earliest = Min(earliest, DatumGetTimestampTz(values[CLAIM_COL_EXPIRES_AT - 1]));
		rows[i].tuple = tuple;
	}
	if (earliest != DT_NOEND)
		NoteLeaseSet(earliest);
	if (n > 1)
		qsort(rows, n, sizeof(ClaimedRow), ClaimedRowCmp);
	for (i = 0; i < n; i++)
	{
		SPI_tuptable->vals[i] = rows[i].tuple;
		/* past CLAIM_CURSORS priorities, the lower ones get no key */
		if (nkeys > 0 && keys[nkeys - 1].priority == rows[i].key.priority)
			keys[nkeys - 1] = rows[i].key;
		else if (nkeys < CLAIM_CURSORS)
			keys[nkeys++] = rows[i].key;
	}
	pfree(rows);
	pfree(values);
	pfree(isnull);
	return nkeys;
}

/*
 * RunClaim runs a claim of one kind (plans) whose first n parameters are in
 * values (and nulls), values[0] the current time: when there are claim
 * cursors, the plan of the shape ClaimRanges tells, with the ranges of the
 * cursors *cc read by StartClaim appended as its last parameters (three to
 * five); the head plan otherwise.  It is the pick, whose rows
 * DirectClaimRows then marks running, when jobs.job_queue allows
 * (DirectQueueTable), the UPDATE otherwise.  values and nulls must have
 * room for five more.  The buffers the claim touched go to
 * ClaimCursorCost, which decides from which cursors the next claims read.
 * The claimed rows are left in SPI_tuptable in claim order, and the claimed
 * keys in keys (OrderClaimedRows, which also notes their leases), whose
 * number it returns.  Call with SPI connected.
 */
static int
RunClaim(const ClaimPlans *plans, Datum *values, char *nulls, int n,
		 ClaimCursor *cc, uint64 sig, ClaimKey *keys)
{
	Relation	direct = DirectQueueTable(DIRECT_CLAIM);
	const CatalogPlanId *ids = direct ? plans->pick : plans->update;
	int			rc = direct ? SPI_OK_SELECT : SPI_OK_UPDATE_RETURNING;
	int64		pages;
	ClaimShape	shape;

	if (!StartClaim(cc, sig))
	{
		ExecutePlan(ids[CLAIM_SHAPE_HEAD], values, nulls, rc);
		if (direct)
			DirectClaimRows(direct, DatumGetTimestampTz(values[0]));
		return OrderClaimedRows(keys);
	}
	shape = ClaimRanges(cc, &values[n]);
	if (nulls != NULL)
		nulls[n] = nulls[n + 1] = nulls[n + 2] = nulls[n + 3] = nulls[n + 4] = ' ';
	pages = pgBufferUsage.shared_blks_hit + pgBufferUsage.shared_blks_read;
	ExecutePlan(ids[shape], values, nulls, rc);
	if (direct)
		DirectClaimRows(direct, DatumGetTimestampTz(values[0]));
	pages = pgBufferUsage.shared_blks_hit + pgBufferUsage.shared_blks_read - pages;
	ClaimCursorCost(cc, pages, SPI_processed);
	return OrderClaimedRows(keys);
}

/*
 * FindClaimCursor returns the cursor of priority that *cc read, or NULL if
 * there was none.  Whether the claim read that priority from it or from
 * its head, no job the claim could have passed over lies below it: the
 * cursor's invariant, with the lowerings since the read in the ring.
 */
static const ClaimKey *
FindClaimCursor(const ClaimCursor *cc, int32 priority)
{
	int			i;

	for (i = 0; i < cc->ncursors; i++)
		if (cc->keys[i].priority == priority)
			return &cc->keys[i];
	return NULL;
}

/*
 * AdvanceAfterClaim moves the claim cursors after a claim that read *cc
 * and claimed up to keys[i] in each of nkeys priorities (cursor.c).  Only
 * a claim whose snapshot was taken after it read the cursors can: under
 * REPEATABLE READ or SERIALIZABLE the snapshot may be older.  A claim that
 * filtered jobs out (a topic like_pattern, the blocked and allowed
 * patterns, each NULL when absent: cc->sig) may pass over jobs other claims
 * can take: it first looks, in a fresh snapshot, for the first job of each
 * priority between the cursor it read there (or the head, if none) and its
 * key that its filter kept out, and moves that priority's cursor no
 * further; its filter's cursors, which only the claims of the same filter
 * read, move up to its keys.  A job committed after the claim's snapshot
 * is the ring's business (ClaimCursorAdvance), not this look's.  Call with
 * SPI connected, after the claim's rows were used: it runs statements of
 * its own.
 */
static void
AdvanceAfterClaim(const ClaimCursor *cc, ClaimKey *keys, int nkeys,
				  text *like_pattern, Datum blocked, bool blocked_isnull,
				  Datum allowed, bool allowed_isnull)
{
	bool		filtered = cc->sig != 0;	/* ClaimFilterSig of the same filter */
	Datum		values[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	ClaimKey	claimed[CLAIM_CURSORS];
	int			i;

	if (!cc->tracked || IsolationUsesXactSnapshot())
		return;
	/* the filter's cursors move up to what it claimed */
	nkeys = Min(nkeys, CLAIM_CURSORS);
	memcpy(claimed, keys, sizeof(ClaimKey) * nkeys);
	for (i = 0; i < nkeys && filtered; i++)
	{
		/* from the cursor it read there, or from the head */
		const ClaimKey *from = FindClaimCursor(cc, keys[i].priority);

		values[0] = Int32GetDatum(keys[i].priority);
		values[1] = TimestampTzGetDatum(from ? from->scheduled_at : DT_NOBEGIN);
		values[2] = Int64GetDatum(from ? from->job_id : PG_INT64_MIN);
		values[3] = TimestampTzGetDatum(keys[i].scheduled_at);
		values[4] = Int64GetDatum(keys[i].job_id);
		values[5] = PointerGetDatum(like_pattern);
		nulls[5] = like_pattern ? ' ' : 'n';
		values[6] = blocked;
		nulls[6] = blocked_isnull ? 'n' : ' ';
		values[7] = allowed;
		nulls[7] = allowed_isnull ? 'n' : ' ';
		/* where the second part starts: the cursor, if at the same time */
		values[8] = Int64GetDatum(from && from->scheduled_at == keys[i].scheduled_at ?
								  from->job_id : PG_INT64_MIN);
		ExecutePlan(PLAN_CURSOR_FILTERED, values, nulls, SPI_OK_SELECT);
		ResultKey(&keys[i]);
		/*
		 * Nor past where it started when that was its filter's cursor: a
		 * job made claimable behind pgjobs' back between the claim cursor
		 * and that one was not walked (the periodic check's business).
		 */
		for (int j = 0; j < cc->nfilters; j++)
			if (cc->fkeys[j].priority == keys[i].priority &&
				ClaimKeyLess(&cc->fkeys[j], &keys[i]))
				keys[i] = cc->fkeys[j];
	}
	ClaimCursorAdvance(cc, keys, claimed, nkeys);
}

/*
 * CatalogClaimJobs claims up to num ready jobs, those whose task is LIKE
 * like_pattern when it is not NULL, appends them to out and returns how
 * many it claimed.  It starts from the claim cursors when there are any.
 */
uint64
CatalogClaimJobs(int32 num, text *like_pattern, TimestampTz now,
				 Tuplestorestate *out, TupleDesc out_desc)
{
	Datum		values[8];		/* now, num, like_pattern, and RunClaim's five */
	int			n = 2;
	uint64		claimed;
	ClaimCursor cc;
	ClaimKey	keys[CLAIM_CURSORS];
	int			nkeys;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int32GetDatum(num);
	if (like_pattern)
		values[n++] = PointerGetDatum(like_pattern);

	ConnectSPI();
	nkeys = RunClaim(like_pattern ? &claim_topic_plans : &claim_plans,
					 values, NULL, n, &cc,
					 ClaimFilterSig(like_pattern, (Datum) 0, true, (Datum) 0, true),
					 keys);
	claimed = SPI_processed;
	CopyResultRows(out, out_desc);
	NotifyResultRows("picked");
	AdvanceAfterClaim(&cc, keys, nkeys, like_pattern, (Datum) 0, true, (Datum) 0, true);
	FinishSPI();

	return claimed;
}

/*
 * CatalogExpireJobs reclaims up to limit running jobs whose lease ended
 * before now, and not before from (DT_NOBEGIN: all), skipping rows other
 * sessions hold, and returns how many it reclaimed.  Each counts as a
 * failed attempt.
 */
int64
CatalogExpireJobs(TimestampTz now, int32 limit, TimestampTz from)
{
	Datum		values[3];
	int64		count;
	bool		count_ends;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int32GetDatum(limit);
	values[2] = TimestampTzGetDatum(from);

	count_ends = EndsCounted();
	ConnectSPI();
	ExecutePlan(CatalogHasJobControl() ? PLAN_EXPIRE_1_1 : PLAN_EXPIRE,
				values, NULL, SPI_OK_SELECT);
	count = (int64) SPI_processed;
	if (count_ends)
		NoteEndedRows();
	NoteReadiedRows(4, 5);
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
	Datum		values[2];
	Datum		d;
	bool		isnull;
	TimestampTz result = DT_NOEND;
	TimestampTz floor = ExpiryFloorPeek();

	/* a floor in the future is early enough for the next lease end */
	values[0] = TimestampTzGetDatum(now);
	values[1] = BoolGetDatum(floor <= now);
	if (floor > now)
		result = floor;

	ConnectSPI();
	ExecutePlan(PLAN_NEXT_WAKEUP, values, NULL, SPI_OK_SELECT);
	if (SPI_processed != 1 || SPI_tuptable == NULL)
		elog(ERROR, "pgjobs: next wake-up query returned " UINT64_FORMAT " rows",
			 (uint64) SPI_processed);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		result = Min(result, DatumGetTimestampTz(d));
	FinishSPI();

	return result;
}

/*
 * CatalogLeaseFloor returns the earliest lease end at or after from among
 * the running jobs the current snapshot sees, DT_NOEND if there is none.
 */
TimestampTz
CatalogLeaseFloor(TimestampTz from)
{
	Datum		values[1];
	Datum		d = (Datum) 0;
	bool		isnull = true;
	TimestampTz result = DT_NOEND;

	values[0] = TimestampTzGetDatum(from);

	ConnectSPI();
	ExecutePlan(PLAN_LEASE_FLOOR, values, NULL, SPI_OK_SELECT);
	if (SPI_processed > 1 || SPI_tuptable == NULL)
		elog(ERROR, "pgjobs: lease floor query returned " UINT64_FORMAT " rows",
			 (uint64) SPI_processed);
	if (SPI_processed == 1)
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
	bool		count_ends;
	bool		job_control = CatalogHasJobControl();
	Relation	finished;
	Relation	queue;
	JobRows		rows;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int64GetDatum(job_id);
	values[2] = result;
	if (result_isnull)
		nulls[2] = 'n';
	values[3] = Int32GetDatum(attempt);
	if (attempt == ANY_ATTEMPT)
		nulls[3] = 'n';

	count_ends = EndsCounted();
	ConnectSPI();
	finished = DirectFinishedTable(job_control);
	queue = finished != NULL ? DirectQueueTable(DIRECT_TAKE) : NULL;
	if (queue != NULL)
	{
		/* the job out of the queue, then into jobs.job, both directly */
		TakeItem	item = {job_id, attempt, 0};

		rows = DirectTake(queue, &item, 1, NULL, NULL, now);
		DirectWriteFinished(finished, &rows, 0, result, result_isnull, now);
	}
	else if (finished != NULL)
	{
		/* the DELETE, then the job into jobs.job directly */
		values[2] = values[3];
		nulls[2] = nulls[3];
		ExecutePlan(job_control ? PLAN_FINISH_TAKE_1_1 : PLAN_FINISH_TAKE,
					values, nulls, SPI_OK_DELETE_RETURNING);
		rows = SpiRows();
		DirectWriteFinished(finished, &rows, 0, result, result_isnull, now);
	}
	else
	{
		ExecutePlan(job_control ? PLAN_FINISH_1_1 : PLAN_FINISH,
					values, nulls, SPI_OK_INSERT_RETURNING);
		rows = SpiRows();
	}
	if (rows.n > 1)
		elog(ERROR, "pgjobs: ack finished " UINT64_FORMAT " jobs", rows.n);
	done = (rows.n == 1);
	if (count_ends)
		NoteEnded(&rows);
	NotifyRows(&rows, "succeeded");
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
	bool		count_ends;

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

	count_ends = EndsCounted();
	ConnectSPI();
	ExecutePlan(CatalogHasJobControl() ? PLAN_FAIL_1_1 : PLAN_FAIL,
				values, nulls, SPI_OK_SELECT);
	count = (int64) SPI_processed;
	if (count_ends)
		NoteEndedRows();
	NoteReadiedRows(4, 5);
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
	bool		cancelling = false;
	bool		job_control = CatalogHasJobControl();
	MemoryContext caller_cxt = CurrentMemoryContext;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int64GetDatum(job_id);

	ConnectSPI();
	ExecutePlan(job_control ? PLAN_DIAGNOSE_1_1 : PLAN_DIAGNOSE,
				values, NULL, SPI_OK_SELECT);
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
		if (job_control)
		{
			d = SPI_getbinval(tuple, desc, 5, &isnull);
			cancelling = !isnull && DatumGetBool(d);
		}
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

	if (strcmp(status, "running") == 0 && cancelling && !lapsed)
		ereport(ERROR,
				(errcode(ERRCODE_PGJOBS_CANCELLED),
				 errmsg("cannot %s job " INT64_FORMAT ": its cancellation was requested",
						action, job_id),
				 errdetail("jobs.cancel was called for the job while it ran."),
				 errhint("Stop working on the job and nack it: it then finishes as cancelled.")));

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

/* ------------------------------------------------------------------------
 * Schema 1.1: job control
 * ------------------------------------------------------------------------
 */

/*
 * The answer of CatalogHasJobControl, cached: -1 unknown, else 0 or 1, for
 * the jobs.job of OID job_control_relid.  A publish, a claim or an ack asks
 * several times; the relcache invalidation that ALTER EXTENSION UPDATE
 * (adding the column) or DROP EXTENSION sends for that table empties it.
 */
static int	job_control = -1;
static Oid	job_control_relid = InvalidOid;
static bool job_control_callback = false;

/*
 * InvalidateJobControl is the relcache callback of that cache.
 */
static void
InvalidateJobControl(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == job_control_relid)
		job_control = -1;
}

/*
 * CatalogHasJobControl reports whether the installed jobs schema is 1.1 or
 * later (it has jobs.job.unique_key), rather than 1.0, whose functions this
 * library also serves between an upgrade of the library and ALTER
 * EXTENSION pgjobs UPDATE.
 */
bool
CatalogHasJobControl(void)
{
	Oid			nsp;
	Oid			rel;

	if (job_control >= 0)
		return job_control == 1;
	if (!job_control_callback)
	{
		CacheRegisterRelcacheCallback(InvalidateJobControl, (Datum) 0);
		job_control_callback = true;
	}
	nsp = get_namespace_oid("jobs", true);
	if (!OidIsValid(nsp))
		return false;
	rel = get_relname_relid("job", nsp);
	if (!OidIsValid(rel))
		return false;
	job_control_relid = rel;
	job_control = get_attnum(rel, "unique_key") != InvalidAttrNumber ? 1 : 0;
	return job_control == 1;
}

/*
 * FirstTextResult returns the text in the first column of the first row of
 * the last SPI result, copied into cxt, or NULL if there is no row.
 */
static char *
FirstTextResult(MemoryContext cxt, int column)
{
	MemoryContext old;
	char	   *value;

	if (SPI_processed == 0 || SPI_tuptable == NULL)
		return NULL;
	old = MemoryContextSwitchTo(cxt);
	value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, column);
	MemoryContextSwitchTo(old);
	return value;
}

/*
 * CatalogInsertUniqueJob queues one job with a unique key, unless a job of
 * its task holding the key is already queued (pending, or running when
 * published so), and returns the id of the job that holds the key
 * afterwards.  With replace, a pending holder takes spec's body, schedule,
 * timeout, priority and retries.  *inserted says whether a job was added.
 *
 * ON CONFLICT waits for an uncommitted holder of the key; the holder may
 * then finish before the lookup that follows, so the pair is retried.
 */
int64
CatalogInsertUniqueJob(const JobSpec *spec, text *key, bool replace,
					   bool while_running, bool *inserted)
{
	Datum		values[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Datum		find[2];
	int64		job_id = 0;
	bool		found = false;
	int			tries;

	find[0] = PointerGetDatum(spec->task);
	find[1] = PointerGetDatum(key);
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
	values[6] = PointerGetDatum(key);
	values[7] = BoolGetDatum(while_running);
	values[8] = CallerName();

	*inserted = false;
	ConnectSPI();
	if (replace)
		NotePendingLocked();	/* the holder it updates, if that rolls back */
	for (tries = 0; tries < 10 && !found; tries++)
	{
		ExecutePlan(replace ? PLAN_INSERT_REPLACE : PLAN_INSERT_UNIQUE,
					values, nulls, SPI_OK_INSERT_RETURNING);
		if (SPI_processed == 1)
		{
			bool		isnull;

			job_id = FirstInt64Result();
			NoteReadiedRows(3, 4);
			*inserted = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 2,
												   &isnull)) && !isnull;
			if (!*inserted)
			{
				/*
				 * It moved a pending job's claim key in place.  A claim in
				 * flight that reaches the job's old index entry locks the
				 * new version and returns its new key, though it never
				 * walked the jobs up to it: its commit lowers the new
				 * priority's cursor to the head, which also stops such a
				 * claim from moving it.
				 */
				Datum		prio = SPI_getbinval(SPI_tuptable->vals[0],
												 SPI_tuptable->tupdesc, 3, &isnull);

				if (!isnull)
					NoteClaimKeyReadied(DatumGetInt32(prio), DT_NOBEGIN, PG_INT64_MIN);
			}
			found = true;
			break;
		}
		/* a holder of the key exists (a running one, for replace) */
		ExecutePlan(PLAN_FIND_UNIQUE, find, NULL, SPI_OK_SELECT);
		if (SPI_processed == 1)
		{
			job_id = FirstInt64Result();
			found = true;
		}
		/* else it finished since: the key is free again, try again */
	}
	FinishSPI();

	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not publish the unique job: its key keeps changing hands"),
				 errhint("Retry the transaction.")));
	return job_id;
}

/*
 * FinishJobsByStatement runs ack_batch's statement with its parameters
 * (values and nulls, as CatalogFinishJobs sets them): the DELETE, whose
 * jobs then go into jobs.job (finished, from DirectFinishedTable) directly,
 * or, if finished is NULL, the DELETE and the INSERT together.  Returns the
 * rows of the jobs it finished, at now.
 */
static JobRows
FinishJobsByStatement(Relation finished, Datum *values, const char *nulls, TimestampTz now)
{
	CatalogPlanId id;
	JobRows		rows;

	id = finished == NULL ? PLAN_FINISH_BATCH :
		nulls[2] == 'n' && nulls[3] == 'n' ? PLAN_FINISH_BATCH_TAKE_IDS : PLAN_FINISH_BATCH_TAKE;
	if (plans[id] == NULL && id != PLAN_FINISH_BATCH_TAKE_IDS)
	{
		Oid			argtypes[4];

		memcpy(argtypes, plan_defs[id].argtypes, sizeof(argtypes));
		argtypes[2] = JSONBARRAYOID;
		plans[id] = PreparePlan(&plan_defs[id], argtypes);
	}
	if (finished != NULL)
	{
		/* the DELETE, then the jobs into jobs.job directly */
		ExecutePlan(id, values, nulls, SPI_OK_DELETE_RETURNING);
		rows = SpiRows();
		DirectWriteFinished(finished, &rows, direct_finished.d->from_natts + 1, (Datum) 0,
							true, now);
	}
	else
	{
		ExecutePlan(id, values, nulls, SPI_OK_INSERT_RETURNING);
		rows = SpiRows();
	}
	return rows;
}

/*
 * TakeItems makes the items of a direct take (DirectTake) of ack_batch's
 * arrays: the ids (one dimension, no NULL: checked by the caller), and the
 * results and attempts, each NULL or as long as the ids.  It points
 * *items at them and *results and *result_nulls at each one's result (NULL
 * without results), and returns how many there are.
 */
static int
TakeItems(ArrayType *id_array, Datum results, bool results_isnull, Datum attempts,
		  bool attempts_isnull, TakeItem **items, Datum **result_values,
		  bool **result_nulls)
{
	Datum	   *ids;
	bool	   *id_nulls;
	Datum	   *tries = NULL;
	bool	   *try_nulls = NULL;
	int			nids;
	int			nresults = 0;
	int			ntries = 0;
	int			n = 0;
	int			i;

	deconstruct_array(id_array, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &ids, &id_nulls, &nids);
	*result_values = NULL;
	*result_nulls = NULL;
	if (!results_isnull)
		deconstruct_array(DatumGetArrayTypeP(results), JSONBOID, -1, false, TYPALIGN_INT,
						  result_values, result_nulls, &nresults);
	if (!attempts_isnull)
		deconstruct_array(DatumGetArrayTypeP(attempts), INT4OID, sizeof(int32), true,
						  TYPALIGN_INT, &tries, &try_nulls, &ntries);
	if (nresults != (results_isnull ? 0 : nids) || ntries != (attempts_isnull ? 0 : nids))
		elog(ERROR, "pgjobs: ack_batch's arrays differ in length");
	*items = palloc(sizeof(TakeItem) * Max(nids, 1));
	for (i = 0; i < nids; i++)
	{
		if (id_nulls[i])
			continue;
		(*items)[n].id = DatumGetInt64(ids[i]);
		(*items)[n].attempt = tries != NULL && !try_nulls[i] ?
			DatumGetInt32(tries[i]) : ANY_ATTEMPT;
		(*items)[n].pos = i;
		n++;
	}
	return n;
}

/*
 * CatalogFinishJobs completes every running job of the int8[] ids whose
 * claim still counts at now (results and attempts: parallel jsonb[] and
 * int4[] arrays, or NULL), appends the ids completed to out and returns
 * how many.
 */
uint64
CatalogFinishJobs(TimestampTz now, Datum ids, Datum results, bool results_isnull,
				  Datum attempts, bool attempts_isnull,
				  Tuplestorestate *out, TupleDesc out_desc)
{
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	bool		count_ends;
	Relation	finished;
	Relation	queue;
	ArrayType  *id_array;
	JobRows		rows;

	values[0] = TimestampTzGetDatum(now);
	values[1] = ids;
	values[2] = results;
	if (results_isnull)
		nulls[2] = 'n';
	values[3] = attempts;
	if (attempts_isnull)
		nulls[3] = 'n';

	count_ends = EndsCounted();
	ConnectSPI();

	/*
	 * The direct write holds every finished row in memory (the DELETE's
	 * result), where the INSERT streams them: only for batches of a size
	 * workers ack.
	 */
	id_array = DatumGetArrayTypeP(ids);
	finished = ArrayGetNItems(ARR_NDIM(id_array), ARR_DIMS(id_array)) <= DIRECT_FINISH_MAX ?
		DirectFinishedTable(true) : NULL;
	queue = finished != NULL ? DirectQueueTable(DIRECT_TAKE) : NULL;
	if (queue != NULL)
	{
		/* the jobs out of the queue, then into jobs.job, both directly */
		TakeItem   *items;
		Datum	   *result_values;
		bool	   *result_nulls;
		int			n = TakeItems(id_array, results, results_isnull, attempts, attempts_isnull,
								  &items, &result_values, &result_nulls);

		rows = DirectTake(queue, items, n, result_values, result_nulls, now);
		DirectWriteFinished(finished, &rows, direct_finished.d->from_natts + 1, (Datum) 0,
							true, now);
	}
	else
		rows = FinishJobsByStatement(finished, values, nulls, now);
	if (count_ends)
		NoteEnded(&rows);
	CopyRows(&rows, out, out_desc);
	NotifyRows(&rows, "succeeded");
	FinishSPI();

	return rows.n;
}

/*
 * CatalogFailJobs fails the current attempt of every running job of the
 * int8[] ids whose claim still counts, as CatalogFailJob does one, appends
 * the ids to out and returns how many.
 */
uint64
CatalogFailJobs(TimestampTz now, Datum ids, text *error, Datum retry_at,
				bool retry_at_isnull, Datum attempts, bool attempts_isnull,
				Tuplestorestate *out, TupleDesc out_desc)
{
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	uint64		count;
	bool		count_ends;

	values[0] = TimestampTzGetDatum(now);
	values[1] = ids;
	values[2] = PointerGetDatum(error);
	if (error == NULL)
		nulls[2] = 'n';
	values[3] = retry_at;
	if (retry_at_isnull)
		nulls[3] = 'n';
	values[4] = attempts;
	if (attempts_isnull)
		nulls[4] = 'n';

	count_ends = EndsCounted();
	ConnectSPI();
	ExecutePlan(PLAN_FAIL_BATCH, values, nulls, SPI_OK_SELECT);
	count = SPI_processed;
	if (count_ends)
		NoteEndedRows();
	NoteReadiedRows(4, 5);
	CopyResultRows(out, out_desc);
	NotifyResultRows(NULL);
	FinishSPI();

	return count;
}

/*
 * CatalogTouchJob extends the lease of running job job_id to now + extend
 * seconds (its timeout when extend_isnull), if its claim still counts, and
 * returns true with the new end in *expires_at; false, changing nothing,
 * otherwise.
 */
bool
CatalogTouchJob(int64 job_id, int32 attempt, TimestampTz now, double extend,
				bool extend_isnull, TimestampTz *expires_at)
{
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	bool		done;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int64GetDatum(job_id);
	values[2] = Float8GetDatum(extend);
	if (extend_isnull)
		nulls[2] = 'n';
	values[3] = Int32GetDatum(attempt);
	if (attempt == ANY_ATTEMPT)
		nulls[3] = 'n';

	ConnectSPI();
	ExecutePlan(PLAN_TOUCH, values, nulls, SPI_OK_UPDATE_RETURNING);
	done = (SPI_processed == 1);
	if (done)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &isnull);

		if (isnull)
			elog(ERROR, "pgjobs: touch returned a NULL lease");
		*expires_at = DatumGetTimestampTz(d);
		NoteLeaseSet(*expires_at);
	}
	FinishSPI();

	return done;
}

/*
 * CatalogProgressJob records progress and note on running job job_id, if
 * its claim still counts, sending a "progress" event; returns false,
 * changing nothing, otherwise.
 */
bool
CatalogProgressJob(int64 job_id, int32 attempt, TimestampTz now,
				   double progress, text *note)
{
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	bool		done;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int64GetDatum(job_id);
	values[2] = Float8GetDatum(progress);
	values[3] = PointerGetDatum(note);
	if (note == NULL)
		nulls[3] = 'n';
	values[4] = Int32GetDatum(attempt);
	if (attempt == ANY_ATTEMPT)
		nulls[4] = 'n';

	ConnectSPI();
	ExecutePlan(PLAN_PROGRESS, values, nulls, SPI_OK_UPDATE_RETURNING);
	done = (SPI_processed == 1);
	NotifyResultRows("progress");
	FinishSPI();

	return done;
}

/*
 * CatalogReleaseJob gives running job job_id back to the queue, pending at
 * retry_at (now when retry_at_isnull), without counting the claim as an
 * attempt, if the claim still counts; returns false otherwise.
 */
bool
CatalogReleaseJob(int64 job_id, int32 attempt, TimestampTz now,
				  Datum retry_at, bool retry_at_isnull)
{
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	bool		done;
	bool		count_ends;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int64GetDatum(job_id);
	values[2] = retry_at;
	if (retry_at_isnull)
		nulls[2] = 'n';
	values[3] = Int32GetDatum(attempt);
	if (attempt == ANY_ATTEMPT)
		nulls[3] = 'n';

	count_ends = EndsCounted();
	ConnectSPI();
	ExecutePlan(PLAN_RELEASE, values, nulls, SPI_OK_UPDATE_RETURNING);
	done = (SPI_processed == 1);
	if (count_ends)
		NoteEndedRows();
	NoteReadiedRows(3, 4);
	NotifyResultRows("released");
	FinishSPI();

	return done;
}

/*
 * CatalogCancelJob cancels job job_id: a pending job finishes as cancelled
 * with reason, a running one is marked for cancellation.  Returns
 * "cancelled" or "cancelling" (palloc'd in the caller's context), or NULL
 * if neither applied (no such queued job, or cancellation already asked).
 */
char *
CatalogCancelJob(int64 job_id, TimestampTz now, text *reason)
{
	Datum		values[3];
	MemoryContext caller_cxt = CurrentMemoryContext;
	char	   *outcome;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int64GetDatum(job_id);
	values[2] = PointerGetDatum(reason);

	ConnectSPI();
	NotePendingLocked();		/* a rollback leaves the job claimable again */
	ExecutePlan(PLAN_CANCEL, values, NULL, SPI_OK_SELECT);
	if (SPI_processed > 1)
		elog(ERROR, "pgjobs: cancel changed " UINT64_FORMAT " jobs", (uint64) SPI_processed);
	outcome = FirstTextResult(caller_cxt, 3);
	NotifyResultRows(NULL);
	FinishSPI();

	return outcome;
}

/*
 * CatalogJobState returns the state of job job_id ("pending", "running",
 * "succeeded", ... ; "cancelling" for a running job whose cancellation was
 * asked), or NULL if there is no such job.
 */
char *
CatalogJobState(int64 job_id, TimestampTz now)
{
	Datum		values[2];
	MemoryContext caller_cxt = CurrentMemoryContext;
	char	   *state = NULL;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int64GetDatum(job_id);

	ConnectSPI();
	ExecutePlan(PLAN_DIAGNOSE_1_1, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		cancelling = SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 5, &isnull);

		if (!isnull && DatumGetBool(cancelling))
			state = MemoryContextStrdup(caller_cxt, "cancelling");
		else
			state = FirstTextResult(caller_cxt, 1);
	}
	FinishSPI();

	return state;
}

/*
 * CatalogRetryJob puts failed or cancelled job job_id back in the queue,
 * pending at now with a fresh count of attempts; returns false if it is
 * not a failed or cancelled job.
 */
bool
CatalogRetryJob(int64 job_id, TimestampTz now)
{
	Datum		values[2];
	bool		done;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int64GetDatum(job_id);

	ConnectSPI();
	ExecutePlan(PLAN_RETRY, values, NULL, SPI_OK_INSERT_RETURNING);
	done = (SPI_processed == 1);
	NoteReadiedRows(3, 4);
	NotifyResultRows("queued");
	FinishSPI();

	return done;
}

/*
 * CatalogRetryJobs puts every failed job (and cancelled job, with
 * include_cancelled) whose task is LIKE like_pattern back in the queue,
 * as CatalogRetryJob does one, and returns how many.
 */
int64
CatalogRetryJobs(text *like_pattern, bool include_cancelled, TimestampTz now)
{
	Datum		values[3];
	int64		count;

	values[0] = TimestampTzGetDatum(now);
	values[1] = PointerGetDatum(like_pattern);
	values[2] = BoolGetDatum(include_cancelled);

	ConnectSPI();
	ExecutePlan(PLAN_RETRY_TOPIC, values, NULL, SPI_OK_INSERT_RETURNING);
	count = (int64) SPI_processed;
	NoteReadiedRows(3, 4);
	NotifyResultRows("queued");
	FinishSPI();

	return count;
}

/*
 * CatalogClaimJobsBlocked claims as CatalogClaimJobs does, skipping jobs
 * whose task is LIKE any pattern of the text[] blocked, and appends the
 * claimed jobs' tasks (as text, in the caller's memory) to *tasks.  It
 * starts from the claim cursor too, and moves it only as far as no job it
 * skipped lies below (AdvanceAfterClaim).
 */
uint64
CatalogClaimJobsBlocked(int32 num, text *like_pattern, Datum blocked,
						Datum allowed, bool allowed_isnull,
						TimestampTz now, Tuplestorestate *out,
						TupleDesc out_desc, List **tasks)
{
	Datum		values[10];		/* now, num, like_pattern, blocked, allowed, and RunClaim's five */
	char		nulls[10] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	MemoryContext caller_cxt = CurrentMemoryContext;
	uint64		claimed;
	uint64		row;
	int			n = 2;
	ClaimCursor cc;
	ClaimKey	keys[CLAIM_CURSORS];
	int			nkeys;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int32GetDatum(num);
	if (like_pattern)
		values[n++] = PointerGetDatum(like_pattern);
	values[n++] = blocked;
	values[n] = allowed;
	nulls[n++] = allowed_isnull ? 'n' : ' ';

	ConnectSPI();
	nkeys = RunClaim(like_pattern ? &claim_topic_blocked_plans : &claim_blocked_plans,
					 values, nulls, n, &cc,
					 ClaimFilterSig(like_pattern, blocked, false, allowed, allowed_isnull),
					 keys);
	claimed = SPI_processed;
	CopyResultRows(out, out_desc);
	for (row = 0; row < claimed; row++)
	{
		bool		isnull;
		Datum		task = SPI_getbinval(SPI_tuptable->vals[row],
										 SPI_tuptable->tupdesc, 2, &isnull);
		MemoryContext spi_cxt;

		if (isnull)
			elog(ERROR, "pgjobs: claimed a job without a task");
		spi_cxt = MemoryContextSwitchTo(caller_cxt);
		*tasks = lappend(*tasks, DatumGetTextPCopy(task));
		MemoryContextSwitchTo(spi_cxt);
	}
	NotifyResultRows("picked");
	/* with nothing blocked and no topic or grant, it is a plain claim (sig 0) */
	if (nkeys > 0)
		AdvanceAfterClaim(&cc, keys, nkeys, like_pattern, blocked, false,
						  allowed, allowed_isnull);
	FinishSPI();

	return claimed;
}

/*
 * CatalogLoadTopicControls returns the rows of jobs.topic_control
 * (pattern, paused, limited), allocated in cxt, and their count in *n.
 */
TopicControl *
CatalogLoadTopicControls(MemoryContext cxt, int *n)
{
	TopicControl *controls = NULL;
	uint64		row;

	ConnectSPI();
	ExecutePlan(PLAN_CONTROLS, NULL, NULL, SPI_OK_SELECT);
	*n = (int) SPI_processed;
	if (SPI_processed > 0)
		controls = MemoryContextAllocZero(cxt, sizeof(TopicControl) * SPI_processed);
	for (row = 0; row < SPI_processed; row++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[row];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *pattern = SPI_getvalue(tuple, desc, 1);

		if (pattern == NULL)
			elog(ERROR, "pgjobs: topic control without a pattern");
		controls[row].pattern = MemoryContextStrdup(cxt, pattern);
		controls[row].paused = DatumGetBool(SPI_getbinval(tuple, desc, 2, &isnull)) && !isnull;
		controls[row].limited = DatumGetBool(SPI_getbinval(tuple, desc, 3, &isnull)) && !isnull;
		controls[row].has_rate = DatumGetBool(SPI_getbinval(tuple, desc, 4, &isnull)) && !isnull;
		controls[row].max_running = DatumGetInt32(SPI_getbinval(tuple, desc, 5, &isnull));
		controls[row].has_max_running = !isnull;
	}
	FinishSPI();

	return controls;
}

/*
 * CatalogReadLimits locks, when lock_rows is set, the jobs.topic_control
 * rows of the text[] patterns (in pattern order, so that consumers never
 * deadlock), then, in a new snapshot that sees every claim committed before
 * the locks, reads for each its free running slots and tokens at now, into
 * the entry of limits (nlimits entries) with its pattern; like_patterns
 * holds their LIKE forms.
 */
void
CatalogReadLimits(TimestampTz now, Datum patterns, Datum like_patterns,
				  TopicLimit *limits, int nlimits, bool lock_rows)
{
	Datum		values[3];
	uint64		row;
	int			npatterns = nlimits;

	ConnectSPI();
	values[0] = patterns;
	if (lock_rows)
		ExecutePlan(PLAN_LOCK_LIMITS, values, NULL, SPI_OK_SELECT);

	values[0] = TimestampTzGetDatum(now);
	values[1] = patterns;
	values[2] = like_patterns;
	ExecutePlan(PLAN_READ_LIMITS, values, NULL, SPI_OK_SELECT);
	for (row = 0; row < SPI_processed; row++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[row];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *pattern = SPI_getvalue(tuple, desc, 1);
		bool		isnull;
		Datum		d;
		int			i;

		for (i = 0; i < npatterns; i++)
		{
			if (pattern != NULL && strcmp(limits[i].pattern, pattern) == 0)
				break;
		}
		if (i == npatterns)
			continue;
		limits[i].present = true;
		d = SPI_getbinval(tuple, desc, 2, &isnull);
		limits[i].has_slots = !isnull;
		limits[i].free_slots = isnull ? 0 : DatumGetInt32(d);
		d = SPI_getbinval(tuple, desc, 3, &isnull);
		limits[i].has_rate = !isnull;
		limits[i].tokens = isnull ? 0 : DatumGetFloat8(d);
		d = SPI_getbinval(tuple, desc, 4, &isnull);
		limits[i].rate = isnull ? 0 : DatumGetFloat8(d);
	}
	FinishSPI();
}

/*
 * CatalogCountRunning returns how many jobs whose task is LIKE like_pattern
 * are running, in a fresh snapshot (the transaction's own claims and ends
 * included).
 */
int64
CatalogCountRunning(text *like_pattern)
{
	Datum		values[1];
	int64		count;

	values[0] = PointerGetDatum(like_pattern);

	ConnectSPI();
	ExecutePlan(PLAN_COUNT_RUNNING, values, NULL, SPI_OK_SELECT);
	count = FirstInt64Result();
	FinishSPI();

	return count;
}

/*
 * CatalogSpendTokens stores the token bucket of pattern after claims at
 * now: tokens left.  The caller holds the row's lock (CatalogReadLimits).
 */
void
CatalogSpendTokens(TimestampTz now, const char *pattern, double tokens)
{
	Datum		values[3];

	values[0] = TimestampTzGetDatum(now);
	values[1] = Float8GetDatum(tokens);
	values[2] = CStringGetTextDatum(pattern);

	ConnectSPI();
	ExecutePlan(PLAN_SPEND_TOKENS, values, NULL, SPI_OK_UPDATE);
	FinishSPI();
}

/*
 * CatalogRunSchedules publishes the due occurrences of recurring jobs
 * (jobs.run_schedules) and returns how many jobs it published.
 */
int64
CatalogRunSchedules(void)
{
	int64		count;

	ConnectSPI();
	ExecutePlan(PLAN_RUN_SCHEDULES, NULL, NULL, SPI_OK_SELECT);
	count = FirstInt64Result();
	FinishSPI();

	return count;
}

/*
 * CatalogJobTask returns the task of job job_id, queued or finished, as
 * text in the caller's memory, or NULL if there is no such job.
 */
text *
CatalogJobTask(int64 job_id)
{
	Datum		values[1];
	MemoryContext caller_cxt = CurrentMemoryContext;
	text	   *task = NULL;

	values[0] = Int64GetDatum(job_id);

	ConnectSPI();
	ExecutePlan(PLAN_JOB_TASK, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
									  &isnull);

		if (!isnull)
		{
			MemoryContext spi_cxt = MemoryContextSwitchTo(caller_cxt);

			task = DatumGetTextPCopy(d);
			MemoryContextSwitchTo(spi_cxt);
		}
	}
	FinishSPI();

	return task;
}

/*
 * CatalogLoadTopicGrants returns the rows of jobs.topic_grant, allocated in
 * cxt, and their count in *n.
 */
TopicGrant *
CatalogLoadTopicGrants(MemoryContext cxt, int *n)
{
	TopicGrant *grants = NULL;
	uint64		row;
	int			kept = 0;

	ConnectSPI();
	ExecutePlan(PLAN_TOPIC_GRANTS, NULL, NULL, SPI_OK_SELECT);
	if (SPI_processed > 0)
		grants = MemoryContextAllocZero(cxt, sizeof(TopicGrant) * SPI_processed);
	for (row = 0; row < SPI_processed; row++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[row];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		role = SPI_getbinval(tuple, desc, 1, &isnull);
		char	   *pattern = SPI_getvalue(tuple, desc, 2);

		/* a dropped role's grants stay behind, matching nobody */
		if (isnull || pattern == NULL)
			continue;
		grants[kept].role = DatumGetObjectId(role);
		grants[kept].pattern = MemoryContextStrdup(cxt, pattern);
		grants[kept].can_publish = DatumGetBool(SPI_getbinval(tuple, desc, 3, &isnull)) && !isnull;
		grants[kept].can_consume = DatumGetBool(SPI_getbinval(tuple, desc, 4, &isnull)) && !isnull;
		kept++;
	}
	*n = kept;
	FinishSPI();

	return grants;
}
