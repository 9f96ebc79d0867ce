/*-------------------------------------------------------------------------
 *
 * pgjobs.c
 *	  Module magic, initialization and the pgjobs.* settings.
 *
 * Nothing here runs per job: the hot paths live in publish.c, consume.c,
 * ack.c and expire.c, and every statement they run lives in catalog.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "compat.h"
#include "pgjobs.h"

PG_MODULE_MAGIC;

/* Exponential backoff between attempts, in seconds (retry.c). */
double		pgjobs_retry_backoff_base = 2.0;
double		pgjobs_retry_backoff_max = 3600.0;

/* How often, in milliseconds, a backend's consume reclaims expired jobs. */
int			pgjobs_consume_expire_interval = 1000;

/* How often a waiting consume looks for jobs when not preloaded, in ms. */
int			pgjobs_wait_poll_interval = 100;

/* Which job events are sent with NOTIFY (notify.c). */
int			pgjobs_notify = PGJOBS_NOTIFY_OFF;

/* The maintenance worker (worker.c). */
char	   *pgjobs_database = NULL;
int			pgjobs_maintenance_interval = 1000;
int			pgjobs_retention = 0;
int			pgjobs_queue_vacuum_threshold = 10000;

/* The claim cursor (cursor.c). */
bool		pgjobs_claim_cursor = true;
int			pgjobs_claim_cursor_check_interval = 10000;
int			pgjobs_claim_costly_pages = 64;
bool		pgjobs_expiry_floor = true;

static const struct config_enum_entry notify_options[] = {
	{"off", PGJOBS_NOTIFY_OFF, false},
	{"finished", PGJOBS_NOTIFY_FINISHED, false},
	{"all", PGJOBS_NOTIFY_ALL, false},
	{NULL, 0, false}
};

void		_PG_init(void);

/*
 * _PG_init defines the pgjobs.* settings and sets up the wake-up of
 * waiting consumers.  Everything works when the library is loaded on first
 * use; preloaded (shared_preload_libraries), it also gets the shared memory
 * that lets a commit wake waiting consumers instead of their polling, counts
 * the running jobs of concurrency-limited topics (limits.c) and keeps the
 * claim cursor (cursor.c).
 * Under binary upgrade nothing is set up at all.
 */
void
_PG_init(void)
{
	if (IsBinaryUpgrade)
		return;

	DefineCustomRealVariable("pgjobs.retry_backoff_base",
							 "Backoff before the first retry of a failed job, in seconds.",
							 "Attempt n waits a random time between half and all of "
							 "base * 2^(n-1) seconds, capped at pgjobs.retry_backoff_max.",
							 &pgjobs_retry_backoff_base,
							 2.0, 0.0, 86400.0,
							 PGC_SUSET,
							 GUC_UNIT_S,
							 NULL, NULL, NULL);

	DefineCustomRealVariable("pgjobs.retry_backoff_max",
							 "Longest backoff between two attempts of a job, in seconds.",
							 NULL,
							 &pgjobs_retry_backoff_max,
							 3600.0, 0.0, 31536000.0,
							 PGC_SUSET,
							 GUC_UNIT_S,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("pgjobs.consume_expire_interval",
							"How often a backend's consume calls reclaim expired jobs.",
							"0 reclaims on every call.",
							&pgjobs_consume_expire_interval,
							1000, 0, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgjobs.wait_poll_interval",
							"How often a waiting consume looks for jobs when pgjobs is not preloaded.",
							"With pgjobs in shared_preload_libraries, commits wake waiting consumers instead.",
							&pgjobs_wait_poll_interval,
							100, 1, 60000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("pgjobs.notify",
							 "Which job events are sent with NOTIFY on the channel \"pgjobs\".",
							 "off: none; finished: succeeded and failed; all: also queued, picked and retried.",
							 &pgjobs_notify,
							 PGJOBS_NOTIFY_OFF,
							 notify_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	/*
	 * The maintenance workers are registered at server start, so the list
	 * of their databases exists only when pgjobs is preloaded (a
	 * PGC_POSTMASTER setting cannot be created later).
	 */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomStringVariable("pgjobs.database",
								   "Databases, comma-separated, in which a maintenance worker runs.",
								   "Empty: no worker.",
								   &pgjobs_database,
								   "",
								   PGC_POSTMASTER,
								   0,
								   NULL, NULL, NULL);

	DefineCustomIntVariable("pgjobs.maintenance_interval",
							"Time between two passes of the maintenance worker.",
							NULL,
							&pgjobs_maintenance_interval,
							1000, 10, 3600000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgjobs.retention",
							"How long finished jobs are kept before the maintenance worker deletes them.",
							"0 keeps them forever.",
							&pgjobs_retention,
							0, 0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgjobs.queue_vacuum_threshold",
							"Dead rows in jobs.job_queue at which the maintenance worker vacuums it.",
							"0 leaves the queue to autovacuum.",
							&pgjobs_queue_vacuum_threshold,
							10000, 0, INT_MAX,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("pgjobs.claim_cursor",
							 "Start claims at the shared claim cursor rather than at the head of the claim index.",
							 "Needs pgjobs in shared_preload_libraries; off, claims read the index from its head.",
							 &pgjobs_claim_cursor,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("pgjobs.claim_cursor_check_interval",
							"Time between two checks for claimable jobs below the claim cursor, and for leases ending below the expiry floor.",
							"Bounds how long a job made claimable, or a lease set, behind pgjobs' back (a direct write without jobs.wake_consumers, a prepared transaction) can be passed over; 0: never checked.",
							&pgjobs_claim_cursor_check_interval,
							10000, 0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pgjobs.claim_costly_pages",
							"Buffers a claim from the lowest priority's claim cursor may touch before claims read every priority from its own cursor for a while.",
							"Not counting 16 a job claimed; 0: claims always read every priority from its own cursor.",
							&pgjobs_claim_costly_pages,
							64, 0, INT_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("pgjobs.expiry_floor",
							 "Start lease expiry passes at the shared expiry floor rather than at the head of the expiry index.",
							 "Needs pgjobs in shared_preload_libraries; off, every pass reads the index from its head.",
							 &pgjobs_expiry_floor,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	MarkGUCPrefixReserved("pgjobs");

	InitSharedMemory();
	InitWakeup();
	InitLimits();
	if (process_shared_preload_libraries_in_progress)
		RegisterMaintenanceWorkers();
}
