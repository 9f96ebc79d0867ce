/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  pgjobs' shared memory: one request and one startup hook for the
 *	  modules that keep state there.
 *
 * Only a preloaded pgjobs (shared_preload_libraries) gets shared memory.
 * It holds the wake-up generation and condition variable (wakeup.c), the
 * running counts of concurrency-limited topics (limits.c) and the claim
 * cursors (cursor.c); each module says how much it needs and creates or
 * attaches to its part, and works without it when pgjobs was loaded on
 * first use.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "pgjobs.h"

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*
 * RequestSharedMemory asks the postmaster for what every module needs.
 */
static void
RequestSharedMemory(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(add_size(add_size(WakeupShmemSize(), LimitsShmemSize()),
									CursorShmemSize()));
}

/*
 * StartupSharedMemory lets every module create or attach to its part.
 */
static void
StartupSharedMemory(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	WakeupShmemInit();
	LimitsShmemInit();
	CursorShmemInit();
	LWLockRelease(AddinShmemInitLock);
}

/*
 * InitSharedMemory installs the hooks when pgjobs is being preloaded.
 */
void
InitSharedMemory(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = RequestSharedMemory;
#else
	RequestSharedMemory();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = StartupSharedMemory;
}
