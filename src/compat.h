/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Every PG_VERSION_NUM shim pgjobs needs, in one place.
 *
 * pgjobs targets PostgreSQL 15 and builds against 13 to 17.  Code outside
 * this file never tests PG_VERSION_NUM.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGJOBS_COMPAT_H
#define PGJOBS_COMPAT_H

#include "miscadmin.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "utils/guc.h"

#if PG_VERSION_NUM >= 150000
#include "common/pg_prng.h"
#endif

/* A uniformly distributed double in [0, 1). */
#if PG_VERSION_NUM >= 150000
#define PgjobsRandomDouble() pg_prng_double(&pg_global_prng_state)
#else
#define PgjobsRandomDouble() ((double) random() / ((double) MAX_RANDOM_VALUE + 1))
#endif

/* Reserving a GUC prefix got its current name in 15. */
#if PG_VERSION_NUM < 150000
#define MarkGUCPrefixReserved(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/*
 * ConditionVariableTimedSleep arrived in 14.  Before it, sleep on the latch
 * that ConditionVariableBroadcast sets, after ConditionVariablePrepareToSleep.
 * Returns true on timeout, like the real one.
 */
#if PG_VERSION_NUM >= 140000
#define PgjobsConditionVariableTimedSleep(cv, timeout, wait_event) \
	ConditionVariableTimedSleep((cv), (timeout), (wait_event))
#else
static inline bool
PgjobsConditionVariableTimedSleep(ConditionVariable *cv, long timeout,
								  uint32 wait_event)
{
	int			rc;

	rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
				   timeout, wait_event);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	return (rc & WL_TIMEOUT) != 0;
}
#endif

/*
 * The oldest transaction whose deletions VACUUM of a relation cannot remove
 * yet: GetOldestNonRemovableTransactionId since 14, GetOldestXmin before.
 */
#if PG_VERSION_NUM < 140000
#define GetOldestNonRemovableTransactionId(rel) \
	GetOldestXmin((rel), PROCARRAY_FLAGS_VACUUM)
#endif

#endif							/* PGJOBS_COMPAT_H */
