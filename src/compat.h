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
#include "access/tableam.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "nodes/params.h"
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

/*
 * PgjobsExecutePlanInto runs plan with values and nulls (as for
 * SPI_execute_plan) and hands the rows of its result to dest rather than
 * to SPI_tuptable; it returns SPI_execute_plan's result code.  14 added
 * SPIExecuteOptions.dest; before it, the rows are gathered by SPI and
 * handed on afterwards.
 */
#if PG_VERSION_NUM >= 140000
static inline int
PgjobsExecutePlanInto(SPIPlanPtr plan, Datum *values, const char *nulls,
					  DestReceiver *dest)
{
	int			nargs = SPI_getargcount(plan);
	ParamListInfo params = makeParamList(nargs);
	SPIExecuteOptions options;
	int			i;

	for (i = 0; i < nargs; i++)
	{
		ParamExternData *prm = &params->params[i];

		prm->value = values[i];
		prm->isnull = nulls != NULL && nulls[i] == 'n';
		prm->pflags = PARAM_FLAG_CONST;
		prm->ptype = SPI_getargtypeid(plan, i);
	}
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.dest = dest;
	return SPI_execute_plan_extended(plan, &options);
}
#else
static inline int
PgjobsExecutePlanInto(SPIPlanPtr plan, Datum *values, const char *nulls,
					  DestReceiver *dest)
{
	int			rc = SPI_execute_plan(plan, values, nulls, false, 0);

	if (rc >= 0 && SPI_tuptable != NULL)
	{
		TupleDesc	desc = SPI_tuptable->tupdesc;
		TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
		uint64		row;

		dest->rStartup(dest, CMD_SELECT, desc);
		for (row = 0; row < SPI_processed; row++)
		{
			ExecStoreHeapTuple(SPI_tuptable->vals[row], slot, false);
			dest->receiveSlot(slot, dest);
		}
		dest->rShutdown(dest);
		ExecDropSingleTupleTableSlot(slot);
	}
	return rc;
}
#endif

/*
 * PgjobsIndexInsert adds an entry to an index, as index_insert does; 14
 * added unchanged (the entry is for a new version of a row whose columns
 * in the index did not change: a hint for bottom-up deletion), which 13
 * ignores.
 */
#if PG_VERSION_NUM >= 140000
#define PgjobsIndexInsert(index, values, isnull, tid, heap, unique, unchanged, info) \
	index_insert((index), (values), (isnull), (tid), (heap), (unique), (unchanged), (info))
#else
#define PgjobsIndexInsert(index, values, isnull, tid, heap, unique, unchanged, info) \
	index_insert((index), (values), (isnull), (tid), (heap), (unique), (info))
#endif

/*
 * PgjobsTupleUpdate replaces the row version otid of rel, which the caller
 * has locked, with the row in slot, as table_tuple_update does with no
 * snapshot to check against, and sets *indexes to whether the new version
 * needs index entries (it is not a HOT update).  16 made that flag an enum
 * whose third value asks for entries in summarizing indexes only (BRIN),
 * which a table with btree indexes alone never gets.
 */
static inline TM_Result
PgjobsTupleUpdate(Relation rel, ItemPointer otid, TupleTableSlot *slot,
				  CommandId cid, TM_FailureData *tmfd, LockTupleMode *lockmode,
				  bool *indexes)
{
#if PG_VERSION_NUM >= 160000
	TU_UpdateIndexes update_indexes = TU_None;
	TM_Result	result = table_tuple_update(rel, otid, slot, cid, InvalidSnapshot,
											InvalidSnapshot, true, tmfd, lockmode,
											&update_indexes);

	/* a table with btree indexes alone never needs summarizing entries only */
	if (update_indexes == TU_Summarizing)
		elog(ERROR, "pgjobs: an update asked for summarizing index entries only");
	*indexes = update_indexes == TU_All;
	return result;
#else
	return table_tuple_update(rel, otid, slot, cid, InvalidSnapshot, InvalidSnapshot,
							  true, tmfd, lockmode, indexes);
#endif
}

#endif							/* PGJOBS_COMPAT_H */
