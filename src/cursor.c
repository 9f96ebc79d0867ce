/*-------------------------------------------------------------------------
 *
 * cursor.c
 *	  The claim cursors: where in the claim index a claim starts reading.
 *
 * Every claim leaves a dead entry at the head of job_queue_pending_idx
 * (priority DESC, scheduled_at, job_id).  An index scan marks such entries
 * LP_DEAD, but only VACUUM removes them: no insertion ever lands on the
 * head pages, so neither simple nor bottom-up deletion runs there.  A claim
 * that starts at the head walks one leaf page per ~200 jobs claimed since
 * the last VACUUM, and while any snapshot older than those claims is held
 * (a long REPEATABLE READ transaction, a pg_dump) nothing can even be
 * marked, and every entry costs a heap visit: claims slow down without
 * bound.
 *
 * With pgjobs preloaded, shared memory keeps claim cursors per database, one
 * for each of up to CLAIM_CURSORS priorities: a key (priority, scheduled_at,
 * job_id) of the claim index, with this invariant:
 *
 *	  No pending job due now whose key has a cursor's priority and a smaller
 *	  (scheduled_at, job_id) exists, visible and unlocked, except a job
 *	  locked by a transaction that resets the cursors if it rolls back.
 *
 * A claim then reads the index in ranges, in claim order: priorities with
 * a cursor from their cursor on, the others from their head.  Which
 * cursors it reads from is its choice (reading from the head is always
 * right, only slower):
 *
 *	- normally only the lowest priority's, which is where a backlog waits;
 *	  the dead entries at the head of the priorities above are marked
 *	  LP_DEAD by the first claims that pass them and then skipped a page at
 *	  a time, which costs less than one more btree descent per priority;
 *	- every one of them, and the priorities between from their head, for
 *	  ALL_CURSORS_PERIOD after a backend's claims from the lowest cursor
 *	  were costly on average (pgjobs.claim_costly_pages, catalog.c).  That
 *	  is what a held snapshot does to queues of mixed priorities: no dead
 *	  entry can be marked, and each costs a heap visit.
 *
 * A claim that finds no cursor (none yet, reset, pgjobs.claim_cursor off,
 * not preloaded) reads from the head, as before.
 *
 * A cursor moves forward only after a claim (ClaimCursorAdvance):
 *
 *	- A claim under a READ COMMITTED snapshot taken after it read the
 *	  cursors moves the cursor of each priority it claimed from up to the
 *	  last key it claimed there (a priority without a cursor gets one):
 *	  every entry of that priority it walked before that key was invisible
 *	  to it, locked by another claim, or claimed by itself.  A claim that
 *	  filtered jobs out (a topic, paused or full topics, grants) first asks,
 *	  for each such priority, for the smallest key it filtered out between
 *	  where it started and its last key, and moves no further than that.
 *	- A claim's move is checked against the lowerings that happened since
 *	  it read the cursors (a ring of the last CLAIM_CURSOR_RING of them): it
 *	  moves each priority's cursor to the lowest of its key and the
 *	  lowerings of that priority, and nothing at all after a reset or when
 *	  the ring overflowed, so a claim whose snapshot missed a job committed
 *	  meanwhile cannot jump past it.
 *	- A database keeps at most CLAIM_CURSORS cursors; a new priority's takes
 *	  the place of the one that moved least recently, other than the lowest
 *	  priority's.  Dropping a cursor is always safe: its priority is read
 *	  from its head again.
 *
 * Everything that makes a job claimable lowers the cursor once it is
 * visible to others, which is after its commit (or abort):
 *
 *	- publish, publish_bulk, a unique publish, nack, nack_batch, release,
 *	  expiry, retry and retry_topic note the keys their statements return
 *	  (NoteClaimKeyReadied); the commit lowers the cursor of each priority
 *	  to the lowest of its keys;
 *	- a unique publish that replaces a pending job moves its key in place:
 *	  a claim in flight can lock the new version through the old entry and
 *	  return the new key without having walked up to it, so the commit
 *	  lowers the new priority's cursor to its head;
 *	- a transaction that locked pending jobs (any claim, a cancel, a unique
 *	  publish that replaces a pending job) resets them all when it, or any
 *	  of its subtransactions, rolls back: other claims skipped those jobs;
 *	- jobs.wake_consumers(), which is what to call after writing
 *	  jobs.job_queue directly, resets them at once and at commit.
 *
 * What pgjobs cannot see (a direct write without jobs.wake_consumers, COMMIT
 * or ROLLBACK PREPARED of a transaction that queued or claimed jobs, a row
 * lock taken by hand) is caught by the periodic check: every
 * pgjobs.claim_cursor_check_interval one claim (and only one) looks, for
 * each cursor, for a pending job below it at its priority, with a fresh
 * snapshot, and lowers the cursor to it, or to the cursor it read; then it
 * stops the claims already in flight from moving any cursor (they may have
 * skipped a job committed, or freed, before the check, at a priority it did
 * not look at).  Such a job is therefore passed over for at most one
 * interval while claims go on.  Only a READ COMMITTED claim runs the
 * check, since an older snapshot would miss what committed since.  The
 * check walks the dead entries from the head once, in one backend, instead
 * of every claim walking them.
 *
 * Filter cursors
 * --------------
 * A claim that filters jobs out moves the claim cursor no further than the
 * first job it passed over, so a topic paused with a backlog of due jobs
 * ahead of the others holds the cursor at its first job, and every later
 * claim would read the whole backlog again, one heap visit a job (task is
 * not in the claim index).  Claims with the same filter (the signature of
 * their topic pattern, blocked and allowed patterns: ClaimFilterSig in
 * catalog.c) therefore share filter cursors, up to FILTER_CURSORS per
 * database, each of one priority, with this invariant:
 *
 *	  No pending job due now that claims with the cursor's filter may take,
 *	  whose key has the cursor's priority and a smaller (scheduled_at,
 *	  job_id), exists, visible and unlocked, except a job locked by a
 *	  transaction that resets the cursors if it rolls back.
 *
 * A claim with a filter reads each priority from the later of the claim
 * cursor it reads there and its filter's cursor (both are lower bounds of
 * what it may take), and moves its filter's cursor of each priority it
 * claimed from up to the last key it claimed there, checked against the
 * ring as the claim cursor's moves are: what it walked past was invisible,
 * locked, claimed by itself or excluded by its filter.  Every lowering of a
 * priority lowers its filter cursors too; every reset, and the end of each
 * periodic check, drops them all (the check looks below the claim cursors
 * only).  When the filter changes (a pause, a resume, a limit that fills or
 * frees up) claims have another signature, and the cursors of the old one
 * are no longer read; the least recently moved one makes room for a new
 * one.
 *
 * Priority bounds
 * ---------------
 * A claim reads every priority, most of them from their head, though most
 * queues hold jobs of one priority only: each range costs the claim's plan
 * nodes to start and an index descent to read.  Each database's slot also
 * keeps bounds [lo, hi] of the priorities of its pending jobs, with this
 * invariant:
 *
 *	  No pending job whose priority lies outside [lo, hi] exists, visible,
 *	  but for one made pending by a transaction that has yet to widen them.
 *
 * A claim reads no priority outside them (widened by the jobs its own
 * transaction made pending, which it sees before the commit widens them),
 * and when only one range is left it runs a plan of that one range
 * (catalog.c).  Every lowering of a
 * cursor to a job made pending (not the periodic check's) widens the
 * bounds to its priority, after the commit, before waiting consumers are
 * woken; the bounds are never narrower than the priorities of the jobs
 * made pending since they were found.  Nothing else widens them: a claim,
 * or a cancel, that rolls back leaves pending jobs that were pending all
 * along, seen as such by any probe another transaction ran meanwhile; a
 * transaction that ran a probe after it locked pending jobs (it saw its
 * own claims as running) resets the bounds if it, or a subtransaction,
 * rolls back.  The bounds are unknown (every priority is read) in a new
 * slot and after jobs.wake_consumers(), or a transaction that readied jobs
 * in more priorities than it can note.
 *
 * They are found by a probe (ClaimBoundsProbed): the pending jobs' highest
 * priority above the lowest cursor's and lowest below it, read from the
 * claim index in a snapshot taken after the probe started, widened by
 * every widening since it started.  The first claim that finds them
 * unknown runs one (one claim at a time, a second later again if it
 * failed), and so does the periodic check, which narrows them to what is
 * pending then and catches what pgjobs cannot see (COMMIT PREPARED of a
 * publish).  A reset while a probe runs, or a later probe, keeps it from
 * storing what it found.
 *
 * The expiry floor
 * ----------------
 * Lease expiry has the same trouble with job_queue_running_idx
 * (expires_at), whose dead entries are those of every job acked since the
 * last VACUUM: a pass that looks for running jobs with expires_at < now
 * from the head of the index walks every such entry whose lease would have
 * ended by now, one heap visit each while a snapshot is held.  Shared
 * memory also keeps, per database, an expiry floor, with this invariant:
 *
 *	  No running job whose lease ends before the floor exists, visible,
 *	  except one expired by a transaction still in progress that resets
 *	  the floor if it rolls back.
 *
 * A pass (expire.c) reads from the floor on, and while the floor is in the
 * future it has nothing to do and reads nothing at all.  A READ COMMITTED
 * pass that got through (fewer jobs than its batch) then moves the floor,
 * in a snapshot taken after it read the floor, up to the earliest lease end
 * left at or after where it read from (a row it skipped because another
 * session held it counts too), lowered by the lowerings since its read, as
 * the claim cursor's claims do; lowerings that no pass has seen yet share
 * one entry of the ring.  The floor is lowered once visible to others,
 * after the commit, to the earliest lease end a transaction set (a claim, a
 * touch); a rollback or PREPARE that undoes, or may undo, a pass's
 * expiries resets it, and so does jobs.wake_consumers().  What pgjobs
 * cannot see (a direct write, COMMIT PREPARED of a claim or a touch) is
 * caught by the periodic check: while there is a floor, every
 * pgjobs.claim_cursor_check_interval one READ COMMITTED pass first looks
 * for the earliest lease end from the head and lowers the floor to it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "pgjobs.h"

/* Databases with a claim cursor at once. */
#define CLAIM_CURSOR_SLOTS	16

/* Lowerings a claim can account for between reading the cursor and moving it. */
#define CLAIM_CURSOR_RING	64

/* Filter cursors a database keeps (for filtered claims: topics, paused or full topics, grants). */
#define FILTER_CURSORS		16
StaticAssertDecl(FILTER_CURSORS <= CLAIM_CURSORS,
				 "a claim reads its filter's cursors into ClaimCursor.fkeys");

/* How long a slot no claim used is kept before another database takes it. */
#define SLOT_IDLE_LIFETIME	((TimestampTz) 600 * USECS_PER_SEC)

/* How long claims read from every cursor after costly claims from one. */
#define ALL_CURSORS_PERIOD	((TimestampTz) 10 * USECS_PER_SEC)

/* The average cost of claims from the lowest cursor (ClaimCursorCost). */
#define CLAIM_PAGES_PER_JOB	16
#define CLAIM_COST_SAMPLES	4
#define CLAIM_COST_WEIGHT	8

/* Claim keys of distinct priorities a transaction remembers for its commit. */
#define NOTED_PRIORITIES	16

/* How long a claim waits after a probe of unknown bounds before it probes again. */
#define BOUNDS_PROBE_RETRY	((TimestampTz) 1 * USECS_PER_SEC)

/* Lowerings of the expiry floor a pass can account for. */
#define EXPIRY_FLOOR_RING	64

/* A lowering of an expiry floor: to floor, or a reset. */
typedef struct FloorLowering
{
	TimestampTz floor;
	bool		reset;
} FloorLowering;

/*
 * A lowering of a claim cursor: to key, or a reset; or the end of a
 * periodic check, which lowers nothing but stops the claims in flight.
 */
typedef struct CursorLowering
{
	ClaimKey	key;
	bool		reset;
	bool		stop;
} CursorLowering;

/*
 * A filter cursor: a claim key of one priority below which no pending job
 * that claims with filter sig may take exists (see "Filter cursors" above).
 */
typedef struct FilterCursor
{
	uint64		sig;			/* the filter's signature (ClaimFilterSig) */
	ClaimKey	key;
	uint64		moved;			/* moves when it last moved forward */
} FilterCursor;

/* A database's claim cursors. */
typedef struct CursorSlot
{
	Oid			dbid;			/* InvalidOid: free */
	int			ncursors;		/* priorities with a cursor; the others from their head */
	ClaimKey	keys[CLAIM_CURSORS];	/* one per priority, highest first */
	uint64		moved[CLAIM_CURSORS];	/* moves when each last moved forward */
	uint64		moves;			/* forward moves so far */
	TimestampTz all_until;		/* claims read from every cursor until then */
	uint64		seq;			/* lowerings so far; never goes back */
	TimestampTz checked_at;		/* last periodic check or reset */
	TimestampTz used_at;		/* last read */
	CursorLowering ring[CLAIM_CURSOR_RING];
	int			nfilters;		/* filter cursors in use */
	FilterCursor filters[FILTER_CURSORS];
	/* the priority bounds */
	bool		bounded;		/* pending jobs' priorities lie in [lo, hi]; else unknown */
	int32		lo;
	int32		hi;
	int32		widened_lo;		/* the widenings since the last probe started */
	int32		widened_hi;
	uint64		bounds_seq;		/* resets so far; never goes back */
	uint64		probe_seq;		/* probes started so far; never goes back */
	TimestampTz probed_at;		/* when the last probe started */
	/* the expiry floor */
	bool		floor_valid;	/* floor is a floor; else passes read from the head */
	TimestampTz floor;
	uint64		floor_seq;		/* lowerings so far; never goes back */
	uint64		floor_read_seq; /* floor_seq at the last read */
	TimestampTz floor_checked_at;	/* last periodic check or reset */
	FloorLowering floor_ring[EXPIRY_FLOOR_RING];
} CursorSlot;

typedef struct CursorSharedState
{
	slock_t		mutex;			/* protects every slot */
	CursorSlot	slots[CLAIM_CURSOR_SLOTS];
} CursorSharedState;

static CursorSharedState *cursor_state = NULL;

/* What the current transaction does to the cursor when it ends. */
static ClaimKey xact_keys[NOTED_PRIORITIES];
static int	xact_nkeys = 0;
static bool xact_reset_at_commit = false;
static bool xact_pending_locked = false;
static bool xact_probed_locked = false;	/* ran a probe after locking pending jobs */
static TimestampTz xact_lease_floor = DT_NOEND;	/* earliest lease end set */
/* the deepest (sub)transaction level holding a pass's expiries; 0: none */
static int	xact_expiry_level = 0;

/* This backend's average cost of claims from the lowest cursor. */
static double claim_cost = 0;
static int	claim_cost_samples = 0;

/*
 * CursorShmemSize is the shared memory the cursor table needs (shmem.c).
 * Without it (pgjobs not preloaded) there is no cursor, and every claim
 * starts at the head of the claim index.
 */
Size
CursorShmemSize(void)
{
	return MAXALIGN(sizeof(CursorSharedState));
}

/*
 * CursorShmemInit creates or attaches to the cursor table; shmem.c calls
 * it with AddinShmemInitLock held.  After a crash it starts empty: every
 * database's claims start at the head.
 */
void
CursorShmemInit(void)
{
	bool		found;

	cursor_state = ShmemInitStruct("pgjobs claim cursor", sizeof(CursorSharedState),
								   &found);
	if (!found)
	{
		memset(cursor_state, 0, sizeof(CursorSharedState));
		SpinLockInit(&cursor_state->mutex);
	}
}

/*
 * ClaimKeyLess tells whether a comes before b in claim order (priority
 * DESC, scheduled_at, job_id).
 */
bool
ClaimKeyLess(const ClaimKey *a, const ClaimKey *b)
{
	if (a->priority != b->priority)
		return a->priority > b->priority;
	if (a->scheduled_at != b->scheduled_at)
		return a->scheduled_at < b->scheduled_at;
	return a->job_id < b->job_id;
}

/*
 * FindSlot returns this database's slot; with create, it takes a free slot
 * (or one idle for SLOT_IDLE_LIFETIME) if there is none.  NULL if there is
 * no slot.  Call with the mutex held.
 *
 * A slot taken over keeps counting its lowerings on, from one ring's worth
 * further, so that no claim or pass that read it before can move it.
 */
static CursorSlot *
FindSlot(bool create, TimestampTz now)
{
	CursorSlot *free_slot = NULL;
	int			i;

	for (i = 0; i < CLAIM_CURSOR_SLOTS; i++)
	{
		CursorSlot *slot = &cursor_state->slots[i];

		if (slot->dbid == MyDatabaseId)
			return slot;
		if (free_slot == NULL &&
			(slot->dbid == InvalidOid || now - slot->used_at > SLOT_IDLE_LIFETIME))
			free_slot = slot;
	}
	if (!create || free_slot == NULL)
		return NULL;
	free_slot->dbid = MyDatabaseId;
	free_slot->ncursors = 0;
	free_slot->nfilters = 0;
	free_slot->all_until = 0;
	free_slot->seq += CLAIM_CURSOR_RING;
	free_slot->checked_at = now;
	free_slot->used_at = now;
	free_slot->bounded = false;
	free_slot->bounds_seq++;
	free_slot->probed_at = 0;
	free_slot->floor_valid = false;
	free_slot->floor_seq += EXPIRY_FLOOR_RING;
	free_slot->floor_read_seq = free_slot->floor_seq;
	free_slot->floor_checked_at = now;
	return free_slot;
}

/*
 * FindCursor returns the index of the slot's cursor of priority, or -1 if
 * that priority has none.  Call with the mutex held.
 */
static int
FindCursor(const CursorSlot *slot, int32 priority)
{
	int			i;

	for (i = 0; i < slot->ncursors; i++)
		if (slot->keys[i].priority == priority)
			return i;
	return -1;
}

/*
 * NextRingEntry takes the slot's next ring entry, cleared, for what the
 * claims that read the cursors before it must account for.  Call with the
 * mutex held.
 */
static CursorLowering *
NextRingEntry(CursorSlot *slot)
{
	CursorLowering *l;

	slot->seq++;
	l = &slot->ring[slot->seq % CLAIM_CURSOR_RING];
	memset(l, 0, sizeof(*l));
	return l;
}

/*
 * RecordLowering notes a lowering (to key, or a reset when key is NULL) in
 * the slot's ring, for the claims that read the cursors before it, and
 * applies it.  A key lowers the cursor of its priority; a priority without
 * one is read from its head anyway.  A key of a job made pending (readied)
 * widens the priority bounds to its priority; a reset for jobs made
 * pending unseen (readied) makes them unknown too.  Call with the mutex
 * held.
 */
static void
RecordLowering(CursorSlot *slot, const ClaimKey *key, bool readied, TimestampTz now)
{
	CursorLowering *l = NextRingEntry(slot);

	l->reset = (key == NULL);
	if (key != NULL)
		l->key = *key;

	if (key == NULL)
	{
		slot->ncursors = 0;
		slot->nfilters = 0;
		slot->checked_at = now;
		if (readied)
		{
			slot->bounded = false;
			slot->bounds_seq++;
			slot->probed_at = 0;
		}
	}
	else
	{
		int			i = FindCursor(slot, key->priority);

		if (i >= 0 && ClaimKeyLess(key, &slot->keys[i]))
			slot->keys[i] = *key;
		if (readied)
		{
			slot->widened_lo = Min(slot->widened_lo, key->priority);
			slot->widened_hi = Max(slot->widened_hi, key->priority);
			if (slot->bounded)
			{
				slot->lo = Min(slot->lo, key->priority);
				slot->hi = Max(slot->hi, key->priority);
			}
		}
		/* every filter cursor of the priority: the job may be theirs too */
		for (i = 0; i < slot->nfilters; i++)
			if (slot->filters[i].key.priority == key->priority &&
				ClaimKeyLess(key, &slot->filters[i].key))
				slot->filters[i].key = *key;
	}
}

/*
 * MoveCursor moves the slot's cursor of key's priority up to key, or gives
 * that priority a cursor at key, in the place of the one that moved least
 * recently when there are CLAIM_CURSORS already, other than the lowest
 * priority's (dropping a cursor is always safe: its priority is read from
 * its head again).  Call with the mutex held.
 */
static void
MoveCursor(CursorSlot *slot, const ClaimKey *key)
{
	int			i = FindCursor(slot, key->priority);

	if (i >= 0)
	{
		if (!ClaimKeyLess(&slot->keys[i], key))
			return;
	}
	else
	{
		int			j;

		if (slot->ncursors == CLAIM_CURSORS)
		{
			/* not the lowest priority's, which claims read from alone */
			int			candidates = slot->ncursors -
				(key->priority > slot->keys[slot->ncursors - 1].priority ? 1 : 0);
			int			oldest = 0;

			for (j = 1; j < candidates; j++)
				if (slot->moved[j] < slot->moved[oldest])
					oldest = j;
			for (j = oldest; j < slot->ncursors - 1; j++)
			{
				slot->keys[j] = slot->keys[j + 1];
				slot->moved[j] = slot->moved[j + 1];
			}
			slot->ncursors--;
		}
		/* keep them by priority, highest first */
		for (i = slot->ncursors; i > 0 && slot->keys[i - 1].priority < key->priority; i--)
		{
			slot->keys[i] = slot->keys[i - 1];
			slot->moved[i] = slot->moved[i - 1];
		}
		slot->ncursors++;
	}
	slot->keys[i] = *key;
	slot->moved[i] = ++slot->moves;
}

/*
 * MoveFilterCursor moves the slot's filter cursor of sig at key's priority
 * up to key, or makes one at key, in the place of the one that moved least
 * recently when there are FILTER_CURSORS already (dropping one is always
 * safe).  Call with the mutex held.
 */
static void
MoveFilterCursor(CursorSlot *slot, uint64 sig, const ClaimKey *key)
{
	int			i;
	int			oldest = 0;

	for (i = 0; i < slot->nfilters; i++)
	{
		FilterCursor *f = &slot->filters[i];

		if (f->sig == sig && f->key.priority == key->priority)
		{
			if (ClaimKeyLess(&f->key, key))
			{
				f->key = *key;
				f->moved = ++slot->moves;
			}
			return;
		}
		if (f->moved < slot->filters[oldest].moved)
			oldest = i;
	}
	i = slot->nfilters < FILTER_CURSORS ? slot->nfilters++ : oldest;
	slot->filters[i].sig = sig;
	slot->filters[i].key = *key;
	slot->filters[i].moved = ++slot->moves;
}

/*
 * CheckDue tells whether a periodic check last run at checked_at is due
 * again at now (pgjobs.claim_cursor_check_interval; 0: never).
 */
static bool
CheckDue(TimestampTz checked_at, TimestampTz now)
{
	return pgjobs_claim_cursor_check_interval > 0 &&
		now - checked_at >= (TimestampTz) pgjobs_claim_cursor_check_interval * 1000;
}

/*
 * ClaimCursorRead reads this database's claim cursors into *cc and returns
 * whether there are any.  cc->all says whether the claim reads each of
 * cc->keys' priorities from its cursor, or only the lowest one's, and the
 * others from their head.  cc->tracked says whether the claim may move the
 * cursors afterwards (ClaimCursorAdvance); cc->check that this claim is the
 * one to run the periodic check of them all (CheckClaimCursor) first,
 * and cc->probe the probe of the priority bounds; neither when !may_check
 * (a read again after them).  cc->lo and cc->hi are the priority bounds,
 * widened to the jobs this transaction made pending (its own claims see
 * them before its commit widens the bounds).  Without shared memory, or
 * with pgjobs.claim_cursor off, there is no cursor.
 */
bool
ClaimCursorRead(ClaimCursor *cc, uint64 sig, bool may_check)
{
	CursorSlot *slot;
	TimestampTz now;

	memset(cc, 0, sizeof(*cc));
	if (cursor_state == NULL || !pgjobs_claim_cursor)
		return false;
	now = GetCurrentTimestamp();
	SpinLockAcquire(&cursor_state->mutex);
	slot = FindSlot(true, now);
	if (slot != NULL)
	{
		slot->used_at = now;
		/* a check must see what committed before it: not in an older snapshot */
		if (may_check && slot->ncursors > 0 && !IsolationUsesXactSnapshot() &&
			CheckDue(slot->checked_at, now))
		{
			slot->checked_at = now;
			cc->check = true;
		}
		cc->tracked = true;
		cc->all = pgjobs_claim_costly_pages == 0 || now < slot->all_until;
		cc->bounded = slot->bounded && !xact_reset_at_commit;
		cc->lo = slot->lo;
		cc->hi = slot->hi;
		for (int i = 0; i < xact_nkeys; i++)
		{
			cc->lo = Min(cc->lo, xact_keys[i].priority);
			cc->hi = Max(cc->hi, xact_keys[i].priority);
		}
		/* a probe, too, must see what committed before it */
		if (may_check && slot->ncursors > 0 && !IsolationUsesXactSnapshot() &&
			(cc->check ||
			 (!slot->bounded && now - slot->probed_at >= BOUNDS_PROBE_RETRY)))
		{
			slot->probed_at = now;
			slot->probe_seq++;
			slot->widened_lo = PG_INT32_MAX;
			slot->widened_hi = PG_INT32_MIN;
			cc->probe = true;
		}
		cc->bounds_seq = slot->bounds_seq;
		cc->probe_seq = slot->probe_seq;
		cc->ncursors = slot->ncursors;
		memcpy(cc->keys, slot->keys, sizeof(ClaimKey) * slot->ncursors);
		cc->slot = slot - cursor_state->slots;
		cc->seq = slot->seq;
		cc->sig = sig;
		if (sig != 0)
		{
			int			i;

			/* the filter's cursors, highest priority first */
			for (i = 0; i < slot->nfilters; i++)
			{
				int			j;

				if (slot->filters[i].sig != sig)
					continue;
				for (j = cc->nfilters;
					 j > 0 && cc->fkeys[j - 1].priority < slot->filters[i].key.priority; j--)
					cc->fkeys[j] = cc->fkeys[j - 1];
				cc->fkeys[j] = slot->filters[i].key;
				cc->nfilters++;
			}
		}
	}
	SpinLockRelease(&cursor_state->mutex);
	return cc->ncursors > 0 || cc->nfilters > 0;
}

/*
 * ClaimCursorAdvance moves the cursors after a claim that read *cc: the
 * cursor of each of keys' priorities (nkeys of them, distinct) up to its
 * key, the last key the claim may move it to, and, for a filtered claim
 * (cc->sig), the filter cursor of each of them up to filter_keys' key, the
 * last key it claimed there; each lowered by every lowering of that
 * priority since the read.  A priority without a cursor gets one.  Nothing
 * moves if the cursors were reset or checked since, or if too many
 * lowerings happened to tell.
 */
void
ClaimCursorAdvance(const ClaimCursor *cc, const ClaimKey *keys,
				   const ClaimKey *filter_keys, int nkeys)
{
	CursorSlot *slot;
	ClaimKey	k[CLAIM_CURSORS];
	ClaimKey	f[CLAIM_CURSORS];
	bool		filtered = cc->sig != 0 && filter_keys != NULL;
	int			i;

	if (cursor_state == NULL || !cc->tracked || nkeys <= 0)
		return;
	nkeys = Min(nkeys, CLAIM_CURSORS);
	memcpy(k, keys, sizeof(ClaimKey) * nkeys);
	if (filtered)
		memcpy(f, filter_keys, sizeof(ClaimKey) * nkeys);
	SpinLockAcquire(&cursor_state->mutex);
	slot = FindSlot(false, 0);
	/* the slot it read, not one this database took since */
	if (slot == &cursor_state->slots[cc->slot] && slot->seq - cc->seq < CLAIM_CURSOR_RING)
	{
		uint64		s;
		bool		reset = false;

		for (s = cc->seq + 1; s <= slot->seq && !reset; s++)
		{
			CursorLowering *l = &slot->ring[s % CLAIM_CURSOR_RING];

			if (l->reset || l->stop)
				reset = true;
			else
				for (i = 0; i < nkeys; i++)
				{
					if (l->key.priority != k[i].priority)
						continue;
					if (ClaimKeyLess(&l->key, &k[i]))
						k[i] = l->key;
					if (filtered && ClaimKeyLess(&l->key, &f[i]))
						f[i] = l->key;
				}
		}
		if (!reset)
			for (i = 0; i < nkeys; i++)
			{
				MoveCursor(slot, &k[i]);
				if (filtered)
					MoveFilterCursor(slot, cc->sig, &f[i]);
			}
	}
	SpinLockRelease(&cursor_state->mutex);
}

/*
 * ClaimCursorCost takes the buffers a claim that read *cc touched (pages)
 * and the jobs it claimed.  Claims from the lowest cursor alone that touch
 * more than pgjobs.claim_costly_pages on average (CLAIM_COST_SAMPLES of
 * them at least, weighing the last one 1/CLAIM_COST_WEIGHT), not counting
 * CLAIM_PAGES_PER_JOB a job claimed, walk dead entries at the head of other
 * priorities: the claims of the next ALL_CURSORS_PERIOD read from every
 * cursor.  A claim of one job from a clean index touches 15 to 20.  A
 * backend keeps its own average, started over by each claim from every
 * cursor, so that a stale one cannot keep them all in use once the dead
 * entries are gone.
 */
void
ClaimCursorCost(const ClaimCursor *cc, int64 pages, uint64 claimed)
{
	CursorSlot *slot;
	TimestampTz now;

	if (cursor_state == NULL || !cc->tracked || cc->all || cc->ncursors <= 1)
	{
		claim_cost_samples = 0;
		return;
	}
	pages -= CLAIM_PAGES_PER_JOB * (int64) claimed;
	if (claim_cost_samples == 0)
		claim_cost = pages;
	else
		claim_cost += (pages - claim_cost) / CLAIM_COST_WEIGHT;
	if (claim_cost_samples < CLAIM_COST_SAMPLES)
		claim_cost_samples++;
	if (claim_cost_samples < CLAIM_COST_SAMPLES || claim_cost <= pgjobs_claim_costly_pages)
		return;
	claim_cost_samples = 0;
	now = GetCurrentTimestamp();
	SpinLockAcquire(&cursor_state->mutex);
	slot = FindSlot(false, 0);
	if (slot == &cursor_state->slots[cc->slot])
		slot->all_until = now + ALL_CURSORS_PERIOD;
	SpinLockRelease(&cursor_state->mutex);
}

/*
 * ClaimCursorLower lowers this database's cursor to key at once, or resets
 * it when key is NULL; readied says that key is a job's made pending, which
 * widens the priority bounds to its priority (not a periodic check's, whose
 * probe finds what is pending), or, with no key, that jobs may have been
 * made pending where the bounds do not reach, which resets them too.  Call
 * it only once what made jobs claimable is visible to others.
 */
void
ClaimCursorLower(const ClaimKey *key, bool readied)
{
	CursorSlot *slot;
	TimestampTz now;

	if (cursor_state == NULL)
		return;
	now = key == NULL ? GetCurrentTimestamp() : 0;
	SpinLockAcquire(&cursor_state->mutex);
	slot = FindSlot(false, 0);
	if (slot != NULL)
		RecordLowering(slot, key, readied, now);
	SpinLockRelease(&cursor_state->mutex);
}

/*
 * ClaimCursorCheckDone ends a periodic check of this database's cursors
 * (CheckClaimCursor): the claims that read the cursors before it move none
 * of them.  The check looked below each cursor it read, in a fresh
 * snapshot, and lowered it there; but such a claim may have skipped a job
 * that was locked then and is free now (a ROLLBACK PREPARED), at a priority
 * that had no cursor for the check to look below, and give that priority a
 * cursor past it.
 */
void
ClaimCursorCheckDone(void)
{
	CursorSlot *slot;

	if (cursor_state == NULL)
		return;
	SpinLockAcquire(&cursor_state->mutex);
	slot = FindSlot(false, 0);
	if (slot != NULL)
	{
		NextRingEntry(slot)->stop = true;
		/* it looked below the cursors only: the filter cursors go */
		slot->nfilters = 0;
	}
	SpinLockRelease(&cursor_state->mutex);
}

/*
 * ClaimBoundsProbed stores the priority bounds a probe that read *cc found:
 * [lo, hi] (which holds the lowest cursor's priority), widened by every
 * widening since the probe started.  Nothing is stored after a reset of
 * the bounds, or when another probe started since.
 */
void
ClaimBoundsProbed(const ClaimCursor *cc, int32 lo, int32 hi)
{
	CursorSlot *slot;

	if (cursor_state == NULL || !cc->probe || lo > hi)
		return;
	/* it saw this transaction's claims as running: pending if it rolls back */
	if (xact_pending_locked)
		xact_probed_locked = true;
	SpinLockAcquire(&cursor_state->mutex);
	slot = FindSlot(false, 0);
	if (slot == &cursor_state->slots[cc->slot] && slot->bounds_seq == cc->bounds_seq &&
		slot->probe_seq == cc->probe_seq)
	{
		slot->lo = Min(lo, slot->widened_lo);
		slot->hi = Max(hi, slot->widened_hi);
		slot->bounded = true;
	}
	SpinLockRelease(&cursor_state->mutex);
}

/*
 * NoteClaimKeyReadied records that the current transaction made a job with
 * claim key (priority, scheduled_at, job_id) pending: its commit lowers the
 * cursor to the lowest such key of each priority and widens the priority
 * bounds to them (beyond NOTED_PRIORITIES priorities, it resets both).
 */
void
NoteClaimKeyReadied(int32 priority, TimestampTz scheduled_at, int64 job_id)
{
	ClaimKey	key;
	int			i;

	if (cursor_state == NULL)
		return;
	key.priority = priority;
	key.scheduled_at = scheduled_at;
	key.job_id = job_id;
	for (i = 0; i < xact_nkeys; i++)
	{
		if (xact_keys[i].priority == priority)
		{
			if (ClaimKeyLess(&key, &xact_keys[i]))
				xact_keys[i] = key;
			return;
		}
	}
	if (xact_nkeys < NOTED_PRIORITIES)
		xact_keys[xact_nkeys++] = key;
	else
		xact_reset_at_commit = true;
}

/*
 * NotePendingLocked records that the current transaction is about to lock
 * pending jobs (a claim, a cancel, a unique publish that replaces): other
 * claims skip them, and may move the cursor past them, so if the
 * transaction or a subtransaction rolls back the cursor is reset.  Call it
 * before the statement runs, so that an error in it counts too.
 */
void
NotePendingLocked(void)
{
	xact_pending_locked = true;
}

/*
 * ResetClaimCursor resets the cursor, the priority bounds and the expiry
 * floor at once and again when the current transaction commits, for
 * jobs.wake_consumers(): jobs written into jobs.job_queue directly are
 * claimable, and their leases seen, from the next claim or pass that
 * starts after the commit.
 */
void
ResetClaimCursor(void)
{
	ClaimCursorLower(NULL, true);
	ExpiryFloorLower(NULL);
	xact_reset_at_commit = true;
}

/*
 * ClaimCursorXactEnd applies what the ending transaction noted: after a
 * commit the lowerings to the keys it readied and of the expiry floor to
 * the leases it set (or resets), after an abort a reset if it locked
 * pending jobs (of the priority bounds too, if it probed them since), and
 * after an abort or PREPARE a reset of the floor if it expired jobs.  wakeup.c calls it once the commit or
 * abort is visible, before it wakes waiting consumers, so that a consumer
 * woken by it reads the lowered cursor.  A PREPARE only forgets the notes:
 * what COMMIT or ROLLBACK PREPARED later does, in whatever backend, is left
 * to the periodic check.
 */
void
ClaimCursorXactEnd(XactEvent event)
{
	int			i;

	if (event == XACT_EVENT_COMMIT)
	{
		if (xact_reset_at_commit)
		{
			ClaimCursorLower(NULL, true);
			ExpiryFloorLower(NULL);
		}
		else
		{
			for (i = 0; i < xact_nkeys; i++)
				ClaimCursorLower(&xact_keys[i], true);
			if (xact_lease_floor != DT_NOEND)
				ExpiryFloorLower(&xact_lease_floor);
		}
	}
	else
	{
		/* a probe since it locked them saw them running: the bounds go too */
		if (event == XACT_EVENT_ABORT && xact_pending_locked)
			ClaimCursorLower(NULL, xact_probed_locked);
		/* the jobs it expired may be running again, below the floor */
		if (xact_expiry_level > 0)
			ExpiryFloorLower(NULL);
	}
	xact_nkeys = 0;
	xact_reset_at_commit = false;
	xact_pending_locked = false;
	xact_probed_locked = false;
	xact_lease_floor = DT_NOEND;
	xact_expiry_level = 0;
}

/*
 * ClaimCursorSubXactAbort resets the cursor when a subtransaction of a
 * transaction that locked pending jobs rolls back: if they were its locks,
 * the jobs are claimable again (and the priority bounds, if the
 * transaction probed them since).  It resets the expiry floor when the
 * rollback undoes a pass's expiries: those jobs run again, below it.
 */
void
ClaimCursorSubXactAbort(void)
{
	int			level = GetCurrentTransactionNestLevel();

	if (xact_pending_locked)
		ClaimCursorLower(NULL, xact_probed_locked);
	if (xact_expiry_level >= level)
	{
		ExpiryFloorLower(NULL);
		xact_expiry_level = level - 1;
	}
}

/*
 * ClaimCursorSubXactCommit hands the expiries of a committing
 * subtransaction to its parent, which a later rollback may undo.
 */
void
ClaimCursorSubXactCommit(void)
{
	int			level = GetCurrentTransactionNestLevel();

	if (xact_expiry_level >= level)
		xact_expiry_level = level - 1;
}

/*
 * ExpiryFloorRead reads this database's expiry floor into *ef and returns
 * whether a pass can read from ef->floor.  ef->tracked says whether the pass
 * may move the floor afterwards (ExpiryFloorAdvance), ef->check that this
 * pass is the one to run the periodic check first: only a READ COMMITTED
 * one, whose statements see what committed before them.  Without shared
 * memory, or with pgjobs.expiry_floor off, there is no floor.
 */
bool
ExpiryFloorRead(ExpiryFloor *ef)
{
	CursorSlot *slot;
	TimestampTz now;

	memset(ef, 0, sizeof(*ef));
	if (cursor_state == NULL || !pgjobs_expiry_floor)
		return false;
	now = GetCurrentTimestamp();
	SpinLockAcquire(&cursor_state->mutex);
	slot = FindSlot(true, now);
	if (slot != NULL)
	{
		slot->used_at = now;
		if (slot->floor_valid && !IsolationUsesXactSnapshot() &&
			CheckDue(slot->floor_checked_at, now))
		{
			slot->floor_checked_at = now;
			ef->check = true;
		}
		ef->tracked = true;
		ef->valid = slot->floor_valid;
		ef->floor = slot->floor;
		ef->slot = slot - cursor_state->slots;
		ef->seq = slot->floor_seq;
		slot->floor_read_seq = slot->floor_seq;
	}
	SpinLockRelease(&cursor_state->mutex);
	return ef->valid;
}

/*
 * ExpiryFloorAhead tells whether this database's expiry floor is later than
 * now and no periodic check is due: a pass would find nothing to do.
 */
bool
ExpiryFloorAhead(TimestampTz now)
{
	CursorSlot *slot;
	bool		ahead = false;

	if (cursor_state == NULL || !pgjobs_expiry_floor)
		return false;
	SpinLockAcquire(&cursor_state->mutex);
	slot = FindSlot(false, 0);
	if (slot != NULL)
	{
		slot->used_at = now;
		ahead = slot->floor_valid && slot->floor > now &&
			!CheckDue(slot->floor_checked_at, now);
	}
	SpinLockRelease(&cursor_state->mutex);
	return ahead;
}

/*
 * ExpiryFloorPeek returns this database's expiry floor, DT_NOBEGIN if there
 * is none: no running job's lease ends before it, but for what the
 * periodic check has yet to find.
 */
TimestampTz
ExpiryFloorPeek(void)
{
	CursorSlot *slot;
	TimestampTz floor = DT_NOBEGIN;

	if (cursor_state == NULL || !pgjobs_expiry_floor)
		return DT_NOBEGIN;
	SpinLockAcquire(&cursor_state->mutex);
	slot = FindSlot(false, 0);
	if (slot != NULL && slot->floor_valid)
		floor = slot->floor;
	SpinLockRelease(&cursor_state->mutex);
	return floor;
}

/*
 * ExpiryFloorAdvance moves the floor up to floor, the earliest lease end a
 * pass that read *ef found at or after where it read from, lowered by
 * every lowering since the read; not at all after a reset, or when too
 * many lowerings happened to tell.  Two passes' floors are both lower
 * bounds, so the floor keeps the higher.
 */
void
ExpiryFloorAdvance(const ExpiryFloor *ef, TimestampTz floor)
{
	CursorSlot *slot;

	if (cursor_state == NULL || !ef->tracked)
		return;
	SpinLockAcquire(&cursor_state->mutex);
	slot = FindSlot(false, 0);
	/* the slot it read, not one this database took since */
	if (slot == &cursor_state->slots[ef->slot] &&
		slot->floor_seq - ef->seq < EXPIRY_FLOOR_RING)
	{
		uint64		s;
		bool		reset = false;

		for (s = ef->seq + 1; s <= slot->floor_seq; s++)
		{
			FloorLowering *l = &slot->floor_ring[s % EXPIRY_FLOOR_RING];

			if (l->reset)
			{
				reset = true;
				break;
			}
			floor = Min(floor, l->floor);
		}
		if (!reset)
		{
			if (slot->floor_valid)
				slot->floor = Max(slot->floor, floor);
			else if (!ef->valid)
			{
				/* a pass that read no floor read from the head */
				slot->floor = floor;
				slot->floor_valid = true;
			}
		}
	}
	SpinLockRelease(&cursor_state->mutex);
}

/*
 * ExpiryFloorLower lowers this database's expiry floor to *floor at once,
 * or resets it when floor is NULL.  Call it only once the leases that end
 * there are visible to others.
 */
void
ExpiryFloorLower(const TimestampTz *floor)
{
	CursorSlot *slot;
	TimestampTz now;

	if (cursor_state == NULL)
		return;
	now = floor == NULL ? GetCurrentTimestamp() : 0;
	SpinLockAcquire(&cursor_state->mutex);
	slot = FindSlot(false, 0);
	if (slot != NULL)
	{
		FloorLowering *l;

		if (slot->floor_seq > slot->floor_read_seq)
		{
			/*
			 * No pass read the floor since the newest lowering: every pass
			 * in flight will apply that one, so fold this one into it.  The
			 * ring then fills with passes, not with claims.
			 */
			l = &slot->floor_ring[slot->floor_seq % EXPIRY_FLOOR_RING];
			if (floor == NULL)
				l->reset = true;
			else
				l->floor = Min(l->floor, *floor);
		}
		else
		{
			slot->floor_seq++;
			l = &slot->floor_ring[slot->floor_seq % EXPIRY_FLOOR_RING];
			l->reset = (floor == NULL);
			l->floor = floor != NULL ? *floor : DT_NOEND;
		}
		if (floor == NULL)
		{
			slot->floor_valid = false;
			slot->floor_checked_at = now;
		}
		else if (slot->floor_valid && *floor < slot->floor)
			slot->floor = *floor;
	}
	SpinLockRelease(&cursor_state->mutex);
}

/*
 * NoteLeaseSet records that the current transaction made a job running
 * with a lease that ends at expires_at, or moved its end there: its commit
 * lowers the expiry floor to the earliest such end.
 */
void
NoteLeaseSet(TimestampTz expires_at)
{
	if (cursor_state != NULL)
		xact_lease_floor = Min(xact_lease_floor, expires_at);
}

/*
 * NoteExpiryPass records that the current (sub)transaction is about to
 * expire jobs: if it rolls back, or a subtransaction that holds them, or
 * the transaction is prepared, the floor is reset (the jobs it expired may
 * be running again).  Call it before the statement runs, so that an error
 * in it counts too.
 */
void
NoteExpiryPass(void)
{
	xact_expiry_level = Max(xact_expiry_level, GetCurrentTransactionNestLevel());
}
