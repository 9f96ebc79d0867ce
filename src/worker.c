/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The maintenance background worker.
 *
 * With pgjobs in shared_preload_libraries and pgjobs.database naming one or
 * more databases, a "pgjobs maintenance" worker runs in each.  Every
 * pgjobs.maintenance_interval it
 *
 *	- reclaims running jobs whose lease has lapsed (retried or failed, exactly
 *	  as jobs.expire() does), so expiry needs no consumer;
 *	- deletes finished jobs older than pgjobs.retention, a bounded batch per
 *	  transaction;
 *	- vacuums jobs.job_queue once it holds pgjobs.queue_vacuum_threshold dead
 *	  rows.  Every claimed and every finished job leaves a dead row version,
 *	  and the dead entries at the head of the claim index slow every claim
 *	  until VACUUM removes them; autovacuum looks at a table at most once a
 *	  minute (autovacuum_naptime), far too seldom for a busy queue.  While
 *	  an old snapshot keeps the last VACUUM from removing anything, it
 *	  waits for the snapshot to go instead of reading the table again.
 *
 * Without the worker everything still works: consume expires lazily,
 * jobs.maintain() does one pass on demand, and autovacuum vacuums.
 *
 * The loop follows worker_spi: signal handlers only set flags and the latch;
 * SIGHUP reloads the configuration, SIGTERM ends the worker, postmaster
 * death ends it; each unit of work is one transaction; an error ends the
 * worker, and the postmaster starts it again after bgw_restart_time.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "commands/vacuum.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "compat.h"
#include "pgjobs.h"

PGDLLEXPORT void pgjobs_maintenance_main(Datum main_arg);

/* Most batches of expired or old jobs one pass handles. */
#define MAX_BATCHES_PER_PASS	100

/* Dead rows in the queue that its last VACUUM here could not remove. */
static int64 dead_left_by_vacuum = 0;

/* The removal horizon of the queue when this worker last vacuumed it. */
static TransactionId horizon_at_vacuum = InvalidTransactionId;

/* Memory for one maintenance pass, outside its transactions; reset after. */
static MemoryContext MaintenanceContext = NULL;

/*
 * RegisterMaintenanceWorkers registers one maintenance worker for each
 * database in pgjobs.database.  Called from _PG_init while the library is
 * being preloaded.
 */
void
RegisterMaintenanceWorkers(void)
{
	char	   *rawlist;
	List	   *names;
	ListCell   *lc;

	if (pgjobs_database == NULL || pgjobs_database[0] == '\0')
		return;

	rawlist = pstrdup(pgjobs_database);
	if (!SplitIdentifierString(rawlist, ',', &names))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list syntax in parameter \"pgjobs.database\""),
				 errhint("List database names separated by commas.")));

	foreach(lc, names)
	{
		const char *dbname = (const char *) lfirst(lc);
		BackgroundWorker worker;

		if (strlen(dbname) >= BGW_EXTRALEN)
			ereport(ERROR,
					(errcode(ERRCODE_NAME_TOO_LONG),
					 errmsg("database name \"%s\" in pgjobs.database is too long", dbname)));

		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = 5;
		snprintf(worker.bgw_library_name, BGW_MAXLEN, "pgjobs");
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "pgjobs_maintenance_main");
		snprintf(worker.bgw_name, BGW_MAXLEN, "pgjobs maintenance %s", dbname);
		snprintf(worker.bgw_type, BGW_MAXLEN, "pgjobs maintenance");
		strlcpy(worker.bgw_extra, dbname, BGW_EXTRALEN);
		RegisterBackgroundWorker(&worker);
	}
}

/*
 * BeginWork starts a transaction with a snapshot and an SPI connection, as
 * a unit of maintenance work; activity names it in pg_stat_activity.
 */
static void
BeginWork(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pgjobs: SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

/*
 * EndWork commits the unit of work BeginWork started.
 */
static void
EndWork(void)
{
	PopActiveSnapshot();
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "pgjobs: SPI_finish failed");
	CommitTransactionCommand();
	MemoryContextSwitchTo(MaintenanceContext);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * ExtensionInstalled reports whether pgjobs is installed in this database;
 * the worker does nothing until it is.
 */
static bool
ExtensionInstalled(void)
{
	bool		installed;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	installed = OidIsValid(get_extension_oid("pgjobs", true));
	CommitTransactionCommand();
	MemoryContextSwitchTo(MaintenanceContext);
	return installed;
}

/*
 * ExpireLapsedJobs reclaims every running job whose lease has lapsed, a
 * batch per transaction; the commit wakes waiting consumers.
 */
static void
ExpireLapsedJobs(void)
{
	int			batch;

	if (ExpiryFloorAhead(GetCurrentTimestamp()))
		return;					/* no lease has ended yet */
	for (batch = 0; batch < MAX_BATCHES_PER_PASS; batch++)
	{
		int64		count;

		BeginWork("pgjobs maintenance: expiring lapsed leases");
		count = ReclaimExpiredJobs(GetCurrentTimestamp(), PGJOBS_EXPIRE_BATCH, false);
		if (count > 0)
			NoteJobsReadied();
		EndWork();
		if (count < PGJOBS_EXPIRE_BATCH)
			break;
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * RunSchedules publishes the due occurrences of recurring jobs (schema
 * 1.1), each in the transaction that moves its schedule on.
 */
static void
RunSchedules(void)
{
	bool		job_control;

	BeginWork("pgjobs maintenance: publishing recurring jobs");
	job_control = CatalogHasJobControl();
	if (job_control)
		(void) CatalogRunSchedules();
	EndWork();
}

/*
 * PruneFinishedJobs deletes finished jobs older than pgjobs.retention, a
 * batch per transaction.  A retention of 0 keeps them all.
 */
static void
PruneFinishedJobs(void)
{
	int			batch;
	TimestampTz cutoff;

	if (pgjobs_retention <= 0)
		return;
	cutoff = GetCurrentTimestamp() - (TimestampTz) pgjobs_retention * USECS_PER_SEC;

	for (batch = 0; batch < MAX_BATCHES_PER_PASS; batch++)
	{
		int64		count;

		BeginWork("pgjobs maintenance: pruning finished jobs");
		count = CatalogPruneJobs(cutoff, PGJOBS_PRUNE_BATCH);
		EndWork();
		if (count < PGJOBS_PRUNE_BATCH)
			break;
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * QueueRemovalHorizon returns the oldest transaction whose deletions a
 * VACUUM of jobs.job_queue could not remove now (held back by the oldest
 * snapshot, prepared transaction or replication slot), or
 * InvalidTransactionId if there is no queue.  Call in a transaction.
 */
static TransactionId
QueueRemovalHorizon(void)
{
	Oid			relid = get_relname_relid("job_queue", get_namespace_oid("jobs", true));
	Relation	rel;
	TransactionId horizon;

	if (!OidIsValid(relid))
		return InvalidTransactionId;
	rel = table_open(relid, AccessShareLock);
	horizon = GetOldestNonRemovableTransactionId(rel);
	table_close(rel, AccessShareLock);
	return horizon;
}

/*
 * VacuumQueueIfNeeded vacuums jobs.job_queue when it holds at least
 * pgjobs.queue_vacuum_threshold dead rows, skipping it if another VACUUM
 * (autovacuum, say) holds it.  VACUUM runs its own transactions: it is
 * called as a top-level statement would be, inside a transaction that is
 * not a transaction block.
 */
static void
VacuumQueueIfNeeded(void)
{
	int64		dead;
	TransactionId horizon;
	VacuumStmt *stmt;
	ParseState *pstate;

	if (pgjobs_queue_vacuum_threshold <= 0)
		return;

	BeginWork("pgjobs maintenance: checking the queue");
	dead = CatalogQueueDeadRows();
	horizon = QueueRemovalHorizon();
	EndWork();

	/*
	 * Dead rows that the last VACUUM could not remove (an old snapshot
	 * still sees them) are counted again: vacuum only for as many new ones.
	 */
	if (dead - dead_left_by_vacuum < pgjobs_queue_vacuum_threshold)
		return;

	/*
	 * While the snapshot that held the last VACUUM back is still held (the
	 * horizon has not moved), every row that died since is newer than it
	 * and this VACUUM would remove nothing, only read the whole table and
	 * its indexes again: wait for the horizon to move.
	 */
	if (TransactionIdIsValid(horizon_at_vacuum) && TransactionIdIsValid(horizon) &&
		!TransactionIdFollows(horizon, horizon_at_vacuum))
		return;

	/*
	 * VACUUM commits the transaction it is called in and starts its own, so
	 * nothing it is given may live in transaction memory: the statement and
	 * the parse state are made in the pass's context, which also serves as
	 * the "portal" memory VACUUM allocates under (as autovacuum does).
	 */
	MemoryContextSwitchTo(MaintenanceContext);
	stmt = makeNode(VacuumStmt);
	/* skip the queue if another VACUUM holds it; always clean its indexes */
	stmt->options = list_make2(makeDefElem("skip_locked", NULL, -1),
							   makeDefElem("index_cleanup", (Node *) makeString("on"), -1));
	stmt->rels = list_make1(makeVacuumRelation(makeRangeVar("jobs", "job_queue", -1),
											   InvalidOid, NIL));
	stmt->is_vacuumcmd = true;
	pstate = make_parsestate(NULL);
	PortalContext = MaintenanceContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	pgstat_report_activity(STATE_RUNNING,
						   "VACUUM (SKIP_LOCKED, INDEX_CLEANUP ON) jobs.job_queue");
	ExecVacuum(pstate, stmt, true);
	CommitTransactionCommand();

	PortalContext = NULL;
	MemoryContextSwitchTo(MaintenanceContext);
	pgstat_report_activity(STATE_IDLE, NULL);

	/* VACUUM reports what it left to the statistics at once */
	(void) pgstat_report_stat(true);
	BeginWork("pgjobs maintenance: checking the queue");
	dead_left_by_vacuum = CatalogQueueDeadRows();
	EndWork();
	horizon_at_vacuum = horizon;
}

/*
 * MaintenancePass does one round of maintenance in this database.
 */
static void
MaintenancePass(void)
{
	if (!ExtensionInstalled())
		return;
	ExpireLapsedJobs();
	RunSchedules();
	PruneFinishedJobs();
	VacuumQueueIfNeeded();
	(void) pgstat_report_stat(false);
}

/*
 * pgjobs_maintenance_main is the entry point of a maintenance worker; its
 * database is in bgw_extra.
 */
void
pgjobs_maintenance_main(Datum main_arg)
{
	char		dbname[BGW_EXTRALEN];

	strlcpy(dbname, MyBgworkerEntry->bgw_extra, BGW_EXTRALEN);

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(dbname, NULL, 0);
	/* plan the queue statements on their indexes, as the SQL functions do */
	SetConfigOption("enable_seqscan", "off", PGC_SUSET, PGC_S_OVERRIDE);
	pgstat_report_appname("pgjobs maintenance");
	ereport(LOG,
			(errmsg("pgjobs maintenance worker started in database \"%s\"", dbname)));

	MaintenanceContext = AllocSetContextCreate(TopMemoryContext,
											   "pgjobs maintenance pass",
											   ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 pgjobs_maintenance_interval, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		MemoryContextSwitchTo(MaintenanceContext);
		MaintenancePass();
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(MaintenanceContext);
	}
}
