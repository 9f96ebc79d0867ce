/*-------------------------------------------------------------------------
 *
 * expire.c
 *	  Reclaiming running jobs whose lease has lapsed.
 *
 * A running job past its expiry counts as a failed attempt ("timed out")
 * and is retried or failed exactly as a nack would.  No daemon is needed:
 * consume reclaims a batch itself, at most every
 * pgjobs.consume_expire_interval per backend, and jobs.expire() reclaims
 * them all on demand.  Rows other sessions hold are skipped, never waited
 * for; an ack racing the expiry of the same job locks the same row, so
 * exactly one of them takes effect.  With pgjobs preloaded, passes start
 * at the expiry floor (cursor.c), and while it is in the future consume's
 * and the maintenance worker's passes have nothing to read.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/resowner.h"

#include "access/htup_details.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/timestamp.h"

#include "pgjobs.h"

PG_FUNCTION_INFO_V1(pgjobs_expire);
PG_FUNCTION_INFO_V1(pgjobs_maintain);

/* When this backend's consume last reclaimed expired jobs. */
static TimestampTz last_consume_expire = 0;

/*
 * ExpireJobsIfDue reclaims one batch of expired jobs if this backend has
 * not done so within pgjobs.consume_expire_interval, or if force is set (a
 * waiting consume that woke up, possibly for a lease that just ended).
 */
void
ExpireJobsIfDue(TimestampTz now, bool force)
{
	if (!force &&
		pgjobs_consume_expire_interval > 0 && last_consume_expire != 0 &&
		!TimestampDifferenceExceeds(last_consume_expire, now,
									pgjobs_consume_expire_interval))
		return;
	if (ExpiryFloorAhead(now))
	{
		last_consume_expire = now;
		return;					/* no lease has ended yet */
	}

	/*
	 * The pass is a courtesy to the queue, not the consumer's business: it
	 * runs in a subtransaction, and if it fails (a lock timeout, say) the
	 * consumer gets a warning and its claim, not the error; the next pass is
	 * due an interval later, not at once.
	 */
	last_consume_expire = now;
	{
		MemoryContext cxt = CurrentMemoryContext;
		ResourceOwner owner = CurrentResourceOwner;

		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(cxt);
		PG_TRY();
		{
			if (ReclaimExpiredJobs(now, PGJOBS_CONSUME_EXPIRE_BATCH, false) > 0)
				NoteJobsReadied();
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(cxt);
			CurrentResourceOwner = owner;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(cxt);
			CurrentResourceOwner = owner;
			/* an interrupt is not ours to swallow */
			if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
				edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
				ReThrowError(edata);
			ereport(WARNING,
					(errcode(edata->sqlerrcode),
					 errmsg("pgjobs: reclaiming expired jobs failed: %s", edata->message),
					 errhint("The jobs are reclaimed by a later pass, jobs.expire() or the maintenance worker.")));
			FreeErrorData(edata);
		}
		PG_END_TRY();
	}
}

/*
 * ReclaimExpiredJobs reclaims up to limit running jobs whose lease ended
 * before now and returns how many.  Unless whole is set it reads from the
 * expiry floor, and not at all while the floor is later than now; a pass
 * that got through (fewer than limit) under READ COMMITTED then moves the
 * floor up to the earliest lease end left.  A whole pass reads from the
 * head, and sets the floor even when there was none.  When the periodic
 * check is due, it runs first.  Call it in a transaction it may write in.
 */
int64
ReclaimExpiredJobs(TimestampTz now, int32 limit, bool whole)
{
	ExpiryFloor ef;
	TimestampTz from = DT_NOBEGIN;
	int64		count;

	/* a whole pass reads from the head and lowers the floor itself */
	if (ExpiryFloorRead(&ef) && ef.check && !whole)
	{
		/* leases set behind pgjobs' back end below the floor too */
		TimestampTz lowest = Min(CatalogLeaseFloor(DT_NOBEGIN), ef.floor);

		ExpiryFloorLower(&lowest);
		(void) ExpiryFloorRead(&ef);
	}
	if (whole)
		ef.valid = false;
	if (ef.valid)
	{
		if (ef.floor > now)
			return 0;
		from = ef.floor;
	}
	NoteExpiryPass();
	count = CatalogExpireJobs(now, limit, from);
	if (count < limit && ef.tracked && !IsolationUsesXactSnapshot())
	{
		TimestampTz left = CatalogLeaseFloor(from);

		/* from the head, it may also find leases set behind pgjobs' back */
		if (whole)
			ExpiryFloorLower(&left);
		ExpiryFloorAdvance(&ef, left);
	}
	return count;
}

/*
 * pgjobs_expire reclaims every expired job, a batch per statement, and
 * returns how many it reclaimed.
 *
 * jobs.expire() -> bigint
 */
Datum
pgjobs_expire(PG_FUNCTION_ARGS)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		total = 0;
	int64		count;

	do
	{
		CHECK_FOR_INTERRUPTS();
		count = ReclaimExpiredJobs(now, PGJOBS_EXPIRE_BATCH, true);
		total += count;
	} while (count == PGJOBS_EXPIRE_BATCH);
	if (total > 0)
		NoteJobsReadied();

	PG_RETURN_INT64(total);
}

/*
 * pgjobs_maintain does one maintenance pass in the caller's transaction, as
 * the maintenance worker does without VACUUM: it reclaims every expired job,
 * publishes the due occurrences of recurring jobs and deletes finished jobs
 * older than pgjobs.retention (none when 0).  For
 * schedulers such as pg_cron when the worker does not run.
 *
 * jobs.maintain() -> (expired bigint, pruned bigint)
 */
Datum
pgjobs_maintain(PG_FUNCTION_ARGS)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		expired = 0;
	int64		pruned = 0;
	int64		count;
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "pgjobs: jobs.maintain must return a row");

	do
	{
		CHECK_FOR_INTERRUPTS();
		count = ReclaimExpiredJobs(now, PGJOBS_EXPIRE_BATCH, false);
		expired += count;
	} while (count == PGJOBS_EXPIRE_BATCH);
	if (expired > 0)
		NoteJobsReadied();

	/* recurring jobs (1.1): publishing readies jobs by itself */
	if (CatalogHasJobControl())
		(void) CatalogRunSchedules();

	if (pgjobs_retention > 0)
	{
		TimestampTz cutoff = now - (TimestampTz) pgjobs_retention * USECS_PER_SEC;

		do
		{
			CHECK_FOR_INTERRUPTS();
			count = CatalogPruneJobs(cutoff, PGJOBS_PRUNE_BATCH);
			pruned += count;
		} while (count == PGJOBS_PRUNE_BATCH);
	}

	values[0] = Int64GetDatum(expired);
	values[1] = Int64GetDatum(pruned);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
