/*-------------------------------------------------------------------------
 *
 * wakeup.c
 *	  Waking consumers that wait inside jobs.consume for work.
 *
 * With pgjobs in shared_preload_libraries, shared memory holds a condition
 * variable and a generation counter.  A transaction that made jobs ready
 * (publish, publish_bulk, a nack that puts a job back) notes it; when it
 * commits, the commit callback bumps the generation and broadcasts on the
 * condition variable.  The callback runs only after the commit is visible
 * to other sessions, and a transaction that rolls back wakes nobody (but
 * one that rolls back claims does, even to a savepoint: its jobs are
 * pending again).
 *
 * A waiting consumer reads the generation before it tries to claim, and
 * sleeps only while the generation is unchanged, so a commit between its
 * claim and its sleep is never missed.  Besides commits it wakes when the
 * next scheduled job becomes due, when the next lease expires, or when its
 * wait ends; query cancel, statement_timeout and termination interrupt the
 * sleep at once.
 *
 * Without the preload there is no shared memory: a waiting consumer then
 * polls every pgjobs.wait_poll_interval instead.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "pgjobs.h"

/* What pgjobs keeps in shared memory. */
typedef struct PgjobsSharedState
{
	pg_atomic_uint64 generation;	/* bumped by each commit that readied jobs */
	ConditionVariable jobs_ready;	/* broadcast after each such commit */
} PgjobsSharedState;

static PgjobsSharedState *shared_state = NULL;

/* Whether the current transaction made jobs ready, or claimed some. */
static bool xact_readied_jobs = false;
static bool xact_claimed_jobs = false;

/*
 * WakeupShmemSize is the shared memory the wake-up state needs (shmem.c).
 */
Size
WakeupShmemSize(void)
{
	return MAXALIGN(sizeof(PgjobsSharedState));
}

/*
 * WakeupShmemInit creates or attaches to the wake-up state; shmem.c calls
 * it with AddinShmemInitLock held.
 */
void
WakeupShmemInit(void)
{
	bool		found;

	shared_state = ShmemInitStruct("pgjobs", sizeof(PgjobsSharedState), &found);
	if (!found)
	{
		pg_atomic_init_u64(&shared_state->generation, 0);
		ConditionVariableInit(&shared_state->jobs_ready);
	}
}

/*
 * WakeConsumers wakes every waiting consumer.
 */
static void
WakeConsumers(void)
{
	if (shared_state == NULL)
		return;
	pg_atomic_fetch_add_u64(&shared_state->generation, 1);
	ConditionVariableBroadcast(&shared_state->jobs_ready);
}

/*
 * WakeupXactCallback wakes waiting consumers when a transaction that readied
 * jobs commits, or one that claimed jobs aborts (its jobs are pending
 * again), and forgets both notes when any transaction ends.  The claim
 * cursor is lowered first (cursor.c), so that a consumer this wakes starts
 * its claim low enough to find the jobs.
 */
static void
WakeupXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			ClaimCursorXactEnd(XACT_EVENT_COMMIT);
			if (xact_readied_jobs)
				WakeConsumers();
			break;
		case XACT_EVENT_ABORT:
			ClaimCursorXactEnd(XACT_EVENT_ABORT);
			if (xact_claimed_jobs)
				WakeConsumers();
			break;
		case XACT_EVENT_PREPARE:
			ClaimCursorXactEnd(XACT_EVENT_PREPARE);
			break;
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			break;
		default:
			return;
	}
	xact_readied_jobs = false;
	xact_claimed_jobs = false;
}

/*
 * WakeupSubXactCallback wakes waiting consumers when a subtransaction of a
 * transaction that claimed jobs aborts (ROLLBACK TO SAVEPOINT, an exception
 * block): the claims it made are undone and their jobs pending again.  The
 * note stays, for the claims of the outer levels.
 */
static void
WakeupSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		ClaimCursorSubXactAbort();
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		ClaimCursorSubXactCommit();
	if (event == SUBXACT_EVENT_ABORT_SUB && xact_claimed_jobs)
		WakeConsumers();
}

/*
 * InitWakeup installs the commit callbacks in every backend that loads
 * pgjobs.
 */
void
InitWakeup(void)
{
	RegisterXactCallback(WakeupXactCallback, NULL);
	RegisterSubXactCallback(WakeupSubXactCallback, NULL);
}

/*
 * NoteJobsReadied records that the current transaction made jobs ready, so
 * that its commit wakes waiting consumers.
 */
void
NoteJobsReadied(void)
{
	xact_readied_jobs = true;
}

/*
 * NoteJobsClaimed records that the current transaction claimed jobs, so
 * that its abort wakes waiting consumers.
 */
void
NoteJobsClaimed(void)
{
	xact_claimed_jobs = true;
}

/*
 * WakeupGeneration returns the current wake-up generation (0 without shared
 * memory).  Read it before looking for jobs; pass it to WaitForJobs.
 */
uint64
WakeupGeneration(void)
{
	if (shared_state == NULL)
		return 0;
	return pg_atomic_read_u64(&shared_state->generation);
}

/*
 * MillisecondsUntil returns the whole milliseconds from now until t, at
 * least 1 and at most INT_MAX.
 */
static long
MillisecondsUntil(TimestampTz t)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		ms;

	if (t <= now)
		return 0;
	ms = (t - now + 999) / 1000;
	return (long) Min(ms, (int64) INT_MAX);
}

/*
 * WaitForJobs sleeps until a commit readies jobs after generation was read,
 * or until wake_at, whichever comes first; interrupts are serviced while
 * it sleeps.  It returns at once if wake_at has passed.
 */
void
WaitForJobs(uint64 generation, TimestampTz wake_at)
{
	long		timeout;

	if (shared_state == NULL)
	{
		/* not preloaded: poll */
		timeout = Min(MillisecondsUntil(wake_at), (long) pgjobs_wait_poll_interval);
		if (timeout <= 0)
			return;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		return;
	}

	ConditionVariablePrepareToSleep(&shared_state->jobs_ready);
	while (pg_atomic_read_u64(&shared_state->generation) == generation)
	{
		timeout = MillisecondsUntil(wake_at);
		if (timeout <= 0)
			break;
		if (PgjobsConditionVariableTimedSleep(&shared_state->jobs_ready,
											  timeout, PG_WAIT_EXTENSION))
			break;				/* timed out */
	}
	ConditionVariableCancelSleep();
	CHECK_FOR_INTERRUPTS();
}
