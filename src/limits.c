/*-------------------------------------------------------------------------
 *
 * limits.c
 *	  Counting the running jobs of concurrency-limited topics in shared
 *	  memory.
 *
 * With pgjobs preloaded, each concurrency-limited pattern of each database
 * has a slot in shared memory holding two numbers:
 *
 *	- running: the pattern's running jobs whose claims committed, as last
 *	  counted from jobs.job_queue and kept up to date since: a claim adds
 *	  its jobs when it commits, and ack, nack, release and expiry take
 *	  theirs off just before they commit;
 *	- reserved: the claims of transactions still in progress.
 *
 * A claim reserves its room under the slot table's spinlock, claims
 * outside it, gives back at once the room it did not use, and holds the
 * rest until its transaction ends: at commit it moves into running (after
 * the commit is visible), at abort (or the abort of the subtransaction that
 * claimed) it is given back.  So a claim costs no statement beyond the
 * claim itself, and claims of a limited pattern never wait for each other.
 *
 * The slot's count is read from the table (a count of its running jobs in
 * a fresh snapshot) when the slot is new, every second while it is used,
 * and whenever it says the pattern is full, so that what the count cannot
 * follow (jobs deleted by hand, TRUNCATE, a session that finished jobs
 * before it knew of a new limit) is corrected within a second, and never
 * keeps a consumer from room that exists.  Every race between a count and
 * the updates of concurrent transactions makes the slot over-count, which
 * holds a claim back, never let one through:
 *
 *	- a claim that commits before the count's snapshot is counted, and is
 *	  added again when its commit callback runs after the count;
 *	- a job that ends is taken off before its transaction commits, so a
 *	  count that still sees it running is set after or before that.
 *
 * The one way to over-claim: a transaction that took its ended jobs off
 * and then fails to commit puts them back, and a claim in between may have
 * used their room.  Nothing after the point where they are taken off
 * (pre-commit) fails in a normal commit.
 *
 * A transaction that claimed jobs of a limited pattern cannot be prepared:
 * its reservation would be left to another backend's COMMIT PREPARED.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "pgjobs.h"

/* How many limited patterns the cluster can count in shared memory. */
#define RUNNING_SLOTS 1024

/* How old a slot's count may be before it is read again (microseconds). */
#define RECOUNT_INTERVAL ((TimestampTz) USECS_PER_SEC)

/* How long a slot no claim used is kept before another pattern takes it. */
#define SLOT_IDLE_LIFETIME ((TimestampTz) 600 * USECS_PER_SEC)

/* A limited pattern's slot. */
typedef struct RunningSlot
{
	uint64		key;			/* RunningKey of database and pattern; 0: free */
	int64		running;		/* running jobs of committed claims */
	int64		reserved;		/* claims of transactions in progress */
	TimestampTz counted_at;		/* when running was last read; 0: never */
	TimestampTz counting_since; /* a recount under way since; 0: none */
	TimestampTz used_at;		/* last reservation */
} RunningSlot;

typedef struct LimitsSharedState
{
	slock_t		mutex;			/* protects every slot */
	RunningSlot slots[RUNNING_SLOTS];
} LimitsSharedState;

static LimitsSharedState *limits_state = NULL;

/*
 * What the current transaction did to a slot, by subtransaction: room it
 * holds (reserved, moved into running at commit) and jobs it ended (taken
 * off running at pre-commit, put back if the commit then fails).
 */
typedef struct XactRunning
{
	uint64		key;
	SubTransactionId subid;
	int64		held;
	int64		ended;
} XactRunning;

static List *xact_running = NIL;	/* of XactRunning, in TopTransactionContext */
static bool xact_ends_applied = false;

/*
 * LimitsShmemSize is the shared memory the slot table needs (shmem.c).
 */
Size
LimitsShmemSize(void)
{
	return MAXALIGN(sizeof(LimitsSharedState));
}

/*
 * LimitsShmemInit creates or attaches to the slot table; shmem.c calls it
 * with AddinShmemInitLock held.  After a crash it starts empty: every slot
 * is counted afresh.
 */
void
LimitsShmemInit(void)
{
	bool		found;

	limits_state = ShmemInitStruct("pgjobs limits", sizeof(LimitsSharedState), &found);
	if (!found)
	{
		memset(limits_state, 0, sizeof(LimitsSharedState));
		SpinLockInit(&limits_state->mutex);
	}
}

/*
 * RunningCountsAvailable reports whether running jobs are counted in shared
 * memory (pgjobs was preloaded).
 */
bool
RunningCountsAvailable(void)
{
	return limits_state != NULL;
}

/*
 * RunningKey returns the slot key of pattern in the current database.
 */
uint64
RunningKey(const char *pattern)
{
	uint64		key = hash_bytes_extended((const unsigned char *) pattern,
										  (int) strlen(pattern),
										  (uint64) MyDatabaseId);

	return key == 0 ? 1 : key;
}

/*
 * FindSlot returns the slot of key, or NULL.  With create, a missing key
 * takes a free slot, or one unused for SLOT_IDLE_LIFETIME, never counted;
 * NULL if there is none.  The caller holds the mutex.
 */
static RunningSlot *
FindSlot(uint64 key, bool create, TimestampTz now)
{
	uint32		start = (uint32) (key % RUNNING_SLOTS);
	RunningSlot *free_slot = NULL;
	uint32		i;

	for (i = 0; i < RUNNING_SLOTS; i++)
	{
		RunningSlot *slot = &limits_state->slots[(start + i) % RUNNING_SLOTS];

		if (slot->key == key)
			return slot;
		if (slot->key == 0)
		{
			if (free_slot == NULL)
				free_slot = slot;
			break;				/* keys are placed at their first free slot */
		}
		if (free_slot == NULL && slot->reserved == 0 &&
			now - slot->used_at > SLOT_IDLE_LIFETIME)
			free_slot = slot;
	}
	if (!create || free_slot == NULL)
		return NULL;

	/*
	 * Slots never become free again, only reused, so a key's probe never
	 * stops short of where it was placed: the scan above saw every slot
	 * up to the first free one, and key is not among them.
	 */
	free_slot->key = key;
	free_slot->running = 0;
	free_slot->reserved = 0;
	free_slot->counted_at = 0;
	free_slot->counting_since = 0;
	free_slot->used_at = now;
	return free_slot;
}

/*
 * XactEntry returns the current subtransaction's entry for key, creating
 * it (in TopTransactionContext) when create is set; NULL otherwise.
 */
static XactRunning *
XactEntry(uint64 key, bool create)
{
	SubTransactionId subid = GetCurrentSubTransactionId();
	ListCell   *lc;
	XactRunning *entry;
	MemoryContext old;

	foreach(lc, xact_running)
	{
		entry = (XactRunning *) lfirst(lc);
		if (entry->key == key && entry->subid == subid)
			return entry;
	}
	if (!create)
		return NULL;
	old = MemoryContextSwitchTo(TopTransactionContext);
	entry = palloc0(sizeof(XactRunning));
	entry->key = key;
	entry->subid = subid;
	xact_running = lappend(xact_running, entry);
	MemoryContextSwitchTo(old);
	return entry;
}

/*
 * XactTotals adds up the current transaction's held room and ended jobs
 * for key, over all its subtransactions.
 */
static void
XactTotals(uint64 key, int64 *held, int64 *ended)
{
	ListCell   *lc;

	*held = 0;
	*ended = 0;
	foreach(lc, xact_running)
	{
		XactRunning *entry = (XactRunning *) lfirst(lc);

		if (entry->key == key)
		{
			*held += entry->held;
			*ended += entry->ended;
		}
	}
}

/*
 * ReserveRunning reserves room for up to want claims of the pattern with
 * slot key and concurrency limit max_running, and returns how many it
 * reserved; they are the transaction's until it ends or SettleRunning
 * gives part back.
 *
 * Without have_count it returns -1 when the slot's count must be read
 * first (new, a second old, or full): the caller counts the pattern's
 * running jobs in a fresh snapshot and calls again with the count.  It
 * returns -2 when the slot table is full: the caller must count some
 * other way.
 *
 * The transaction's own jobs: its uncommitted claims are in reserved, not
 * in the count it passes (which sees them) nor in running; the jobs it
 * ended are still in running, but not in its count, and no longer take
 * room from it.
 */
int32
ReserveRunning(uint64 key, int32 max_running, int32 want,
			   bool have_count, int64 count)
{
	TimestampTz now = GetCurrentTimestamp();
	RunningSlot *slot;
	int64		own_held;
	int64		own_ended;
	int64		room;
	bool		stale;
	XactRunning *entry;

	if (limits_state == NULL)
		return -2;
	XactTotals(key, &own_held, &own_ended);
	entry = XactEntry(key, true);	/* allocated before anything is reserved */

	SpinLockAcquire(&limits_state->mutex);
	slot = FindSlot(key, true, now);
	if (slot == NULL)
	{
		SpinLockRelease(&limits_state->mutex);
		return -2;
	}
	if (have_count)
	{
		slot->running = count - own_held + own_ended;
		slot->counted_at = now;
		slot->counting_since = 0;
	}
	room = (int64) max_running - (slot->running - own_ended) - slot->reserved;
	if (!have_count)
	{
		stale = (slot->counted_at == 0 ||
				 now - slot->counted_at > RECOUNT_INTERVAL);
		/* one recount of a stale slot at a time; a full one, every claimer */
		if (stale && slot->counted_at != 0 && slot->counting_since != 0 &&
			now - slot->counting_since <= RECOUNT_INTERVAL)
			stale = false;
		if (stale || room <= 0)
		{
			if (stale)
				slot->counting_since = now;
			SpinLockRelease(&limits_state->mutex);
			return -1;
		}
	}
	room = Max(0, Min(room, (int64) want));
	slot->reserved += room;
	slot->used_at = now;
	SpinLockRelease(&limits_state->mutex);

	entry->held += room;
	return (int32) room;
}

/*
 * SettleRunning gives back, of the reserved room ReserveRunning returned,
 * what the claim did not use (claimed of it were used).
 */
void
SettleRunning(uint64 key, int32 reserved, int32 claimed)
{
	XactRunning *entry;
	RunningSlot *slot;
	int64		unused = (int64) reserved - (int64) claimed;

	if (limits_state == NULL || unused <= 0)
		return;
	entry = XactEntry(key, false);
	if (entry == NULL)
		return;
	unused = Min(unused, entry->held);
	entry->held -= unused;

	SpinLockAcquire(&limits_state->mutex);
	slot = FindSlot(key, false, 0);
	if (slot != NULL)
		slot->reserved -= Min(unused, slot->reserved);
	SpinLockRelease(&limits_state->mutex);
}

/*
 * NoteRunningEnded records that the current transaction ended a running
 * job of the pattern with slot key (ack, nack, release, expiry): the slot
 * loses it when the transaction commits.
 */
void
NoteRunningEnded(uint64 key)
{
	if (limits_state == NULL)
		return;
	XactEntry(key, true)->ended++;
}

/*
 * ApplyXactRunning updates the slots at the end of the transaction: at
 * pre-commit the ended jobs leave running; at commit the held room moves
 * into running; at abort the held room is given back, and the ended jobs
 * return if they had left.
 */
static void
ApplyXactRunning(XactEvent event)
{
	ListCell   *lc;

	SpinLockAcquire(&limits_state->mutex);
	foreach(lc, xact_running)
	{
		XactRunning *entry = (XactRunning *) lfirst(lc);
		RunningSlot *slot = FindSlot(entry->key, false, 0);

		if (slot == NULL)
			continue;
		switch (event)
		{
			case XACT_EVENT_PRE_COMMIT:
				slot->running -= entry->ended;
				break;
			case XACT_EVENT_COMMIT:
				slot->reserved -= Min(entry->held, slot->reserved);
				slot->running += entry->held;
				break;
			default:			/* abort */
				slot->reserved -= Min(entry->held, slot->reserved);
				if (xact_ends_applied)
					slot->running += entry->ended;
				break;
		}
	}
	SpinLockRelease(&limits_state->mutex);
}

/*
 * LimitsXactCallback applies the transaction's part at its end (see
 * ApplyXactRunning) and refuses to prepare a transaction holding room.
 */
static void
LimitsXactCallback(XactEvent event, void *arg)
{
	if (xact_running == NIL)
		return;
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			{
				int64		held = 0;
				ListCell   *lc;

				foreach(lc, xact_running)
					held += ((XactRunning *) lfirst(lc))->held;
				if (held > 0)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot prepare a transaction that claimed jobs of a concurrency-limited topic")));
			}
			return;
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			ApplyXactRunning(XACT_EVENT_PRE_COMMIT);
			xact_ends_applied = true;
			return;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			ApplyXactRunning(XACT_EVENT_COMMIT);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			ApplyXactRunning(XACT_EVENT_ABORT);
			break;
		case XACT_EVENT_PREPARE:
			/*
			 * Only ended jobs can be left (nothing is held): the slot keeps
			 * them until COMMIT PREPARED, after which a count corrects it.
			 */
			break;
		default:
			return;
	}
	xact_running = NIL;			/* its memory goes with the transaction */
	xact_ends_applied = false;
}

/*
 * LimitsSubXactCallback: when a subtransaction aborts, the room it held is
 * given back and its ended jobs forgotten (they run again); when it
 * commits, its part becomes its parent's.
 */
static void
LimitsSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (xact_running == NIL)
		return;
	if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		foreach(lc, xact_running)
		{
			XactRunning *entry = (XactRunning *) lfirst(lc);

			if (entry->subid == mySubid)
				entry->subid = parentSubid;
		}
	}
	else if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		foreach(lc, xact_running)
		{
			XactRunning *entry = (XactRunning *) lfirst(lc);
			RunningSlot *slot;

			if (entry->subid != mySubid)
				continue;
			if (entry->held > 0)
			{
				SpinLockAcquire(&limits_state->mutex);
				slot = FindSlot(entry->key, false, 0);
				if (slot != NULL)
					slot->reserved -= Min(entry->held, slot->reserved);
				SpinLockRelease(&limits_state->mutex);
			}
			entry->held = 0;
			entry->ended = 0;
		}
	}
}

/*
 * InitLimits installs the transaction callbacks in every backend that
 * loads pgjobs.
 */
void
InitLimits(void)
{
	RegisterXactCallback(LimitsXactCallback, NULL);
	RegisterSubXactCallback(LimitsSubXactCallback, NULL);
}
