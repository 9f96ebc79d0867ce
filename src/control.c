/*-------------------------------------------------------------------------
 *
 * control.c
 *	  Job control: topic controls at claim time (pause, concurrency and
 *	  rate limits), cancel and redrive.
 *
 * Topic controls live in jobs.topic_control.  Each backend caches its rows;
 * the table's statement trigger sends a relcache invalidation of the table
 * when they change, which empties the cache at the next transaction.  With
 * no rows, a claim is the plain claim of 1.0: the controls cost one cache
 * check.
 *
 * Preloaded, a pure concurrency limit is counted in shared memory
 * (limits.c): a claim reserves its room there without a statement or a
 * lock held beyond a spinlock, and the sessions that end running jobs of
 * the pattern (ack, nack, release, expiry) report them with NoteJobEnded.
 * Otherwise, and for a rate limit (whose token bucket is a row), the claim
 * locks the pattern's row (FOR UPDATE, in pattern order) until the claimer
 * commits, and counts its running jobs in a new snapshot.  Consumers whose
 * topic cannot overlap a limited pattern do neither.
 *
 * Topic grants (jobs.topic_grant) are cached the same way.  A role with
 * grants (its own or those of a role whose privileges it has) may publish
 * and consume only the tasks its grants' patterns match; superusers and
 * pgjobs_admin are never restricted.  The caller is the role outside the
 * SECURITY DEFINER functions (GetOuterUserId): the one SET ROLE chose.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "pgjobs.h"

PG_FUNCTION_INFO_V1(pgjobs_topic_control_changed);
PG_FUNCTION_INFO_V1(pgjobs_check_topic_pattern);
PG_FUNCTION_INFO_V1(pgjobs_wake_consumers);
PG_FUNCTION_INFO_V1(pgjobs_cancel);
PG_FUNCTION_INFO_V1(pgjobs_retry);
PG_FUNCTION_INFO_V1(pgjobs_retry_topic);
PG_FUNCTION_INFO_V1(pgjobs_sees_all_jobs);

/* The cached rows of jobs.topic_control, valid while controls_valid. */
static MemoryContext ControlsContext = NULL;
static TopicControl *controls = NULL;
static int	ncontrols = 0;
static bool controls_valid = false;
static bool any_limited = false;
static bool any_counted = false;	/* some control is counted in shared memory */
static bool callback_registered = false;
static Oid	controls_relid = InvalidOid;

/*
 * Invalidations counted, so that a load during which one arrives leaves its
 * cache invalid (read again at the next use).
 */
static uint64 controls_invalidations = 0;
static uint64 grants_invalidations = 0;

/* The cached rows of jobs.topic_grant, valid while grants_valid. */
static MemoryContext GrantsContext = NULL;
static TopicGrant *grants = NULL;
static int	ngrants = 0;
static bool grants_valid = false;
static Oid	grants_relid = InvalidOid;

static bool TaskMatches(text *task, text *like_pattern);
static bool MayOverlap(text *a, text *b);
static Datum TextArray(text **items, int n);
static uint64 ClaimLimited(int32 num, text *like_pattern, TimestampTz now,
						   Tuplestorestate *out, TupleDesc out_desc,
						   TimestampTz *retry_at, TopicLimit *limits, int nlimits,
						   text **blocked, int nblocked_fixed,
						   Datum allowed_array, bool restricted);

/*
 * InvalidateControls is the relcache callback: an invalidation of
 * jobs.topic_control or jobs.topic_grant (as their trigger sends), or of
 * every relation, empties the matching cache.
 */
static void
InvalidateControls(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == controls_relid)
	{
		controls_valid = false;
		controls_invalidations++;
	}
	if (relid == InvalidOid || relid == grants_relid)
	{
		grants_valid = false;
		grants_invalidations++;
	}
}

/*
 * BeginCacheLoad prepares to fill a cache of the rows of jobs.table: it
 * registers the relcache callback (once per backend), empties the cache's
 * memory context cxt, and notes the table's OID in *relid.
 */
static MemoryContext
BeginCacheLoad(MemoryContext cxt, const char *table, Oid *relid)
{
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(InvalidateControls, (Datum) 0);
		callback_registered = true;
	}
	MemoryContextReset(cxt);
	*relid = get_relname_relid(table, get_namespace_oid("jobs", false));
	return cxt;
}

/*
 * LoadControls fills the cache of topic controls if it is not valid.  It
 * is valid only if no invalidation arrived while it was read (and not at
 * all if the read failed).
 */
static void
LoadControls(void)
{
	uint64		seen = controls_invalidations;
	MemoryContext cxt;
	MemoryContext old;
	int			n = 0;
	int			i;

	if (controls_valid)
		return;
	if (ControlsContext == NULL)
		ControlsContext = AllocSetContextCreate(TopMemoryContext, "pgjobs topic controls",
												ALLOCSET_SMALL_SIZES);
	cxt = BeginCacheLoad(ControlsContext, "topic_control", &controls_relid);
	controls = NULL;
	ncontrols = 0;
	any_limited = false;
	any_counted = false;

	controls = CatalogLoadTopicControls(cxt, &n);
	old = MemoryContextSwitchTo(cxt);
	for (i = 0; i < n; i++)
	{
		controls[i].like_pattern = TopicToLikePattern(cstring_to_text(controls[i].pattern));
		if (controls[i].limited)
			any_limited = true;
		/* a pure concurrency limit is counted in shared memory, if any */
		controls[i].counted = controls[i].has_max_running && !controls[i].has_rate &&
			RunningCountsAvailable();
		if (controls[i].counted)
		{
			controls[i].running_key = RunningKey(controls[i].pattern);
			any_counted = true;
		}
	}
	MemoryContextSwitchTo(old);
	ncontrols = n;
	controls_valid = (controls_invalidations == seen);
}

/*
 * LoadGrants fills the cache of topic grants if it is not valid, as
 * LoadControls does for the controls.
 */
static void
LoadGrants(void)
{
	uint64		seen = grants_invalidations;
	MemoryContext cxt;
	MemoryContext old;
	int			n = 0;
	int			i;

	if (grants_valid)
		return;
	if (GrantsContext == NULL)
		GrantsContext = AllocSetContextCreate(TopMemoryContext, "pgjobs topic grants",
											  ALLOCSET_SMALL_SIZES);
	cxt = BeginCacheLoad(GrantsContext, "topic_grant", &grants_relid);
	grants = NULL;
	ngrants = 0;

	grants = CatalogLoadTopicGrants(cxt, &n);
	old = MemoryContextSwitchTo(cxt);
	for (i = 0; i < n; i++)
		grants[i].like_pattern = TopicToLikePattern(cstring_to_text(grants[i].pattern));
	MemoryContextSwitchTo(old);
	ngrants = n;
	grants_valid = (grants_invalidations == seen);
}

/*
 * IsPgjobsAdmin reports whether role has the privileges of a superuser or
 * of pgjobs_admin.
 */
static bool
IsPgjobsAdmin(Oid role)
{
	Oid			admin;

	if (superuser_arg(role))
		return true;
	admin = get_role_oid("pgjobs_admin", true);
	return OidIsValid(admin) && has_privs_of_role(role, admin);
}

/*
 * AllowedPatterns returns the LIKE patterns the calling role may publish
 * (consume false) or consume (consume true) as a List of text, and sets
 * *restricted: a role is restricted when any topic grant applies to it,
 * and may then use only what its grants allow (possibly nothing).
 */
static List *
AllowedPatterns(bool consume, bool *restricted)
{
	Oid			caller;
	List	   *allowed = NIL;
	int			i;

	*restricted = false;
	if (!CatalogHasJobControl())
		return NIL;
	LoadGrants();
	if (ngrants == 0)
		return NIL;
	caller = GetOuterUserId();
	if (IsPgjobsAdmin(caller))
		return NIL;
	for (i = 0; i < ngrants; i++)
	{
		if (!has_privs_of_role(caller, grants[i].role))
			continue;
		*restricted = true;
		if (consume ? grants[i].can_consume : grants[i].can_publish)
			allowed = lappend(allowed, grants[i].like_pattern);
	}
	return allowed;
}

/*
 * TaskMatchesAny reports whether task is LIKE one of the patterns.
 */
static bool
TaskMatchesAny(text *task, List *patterns)
{
	ListCell   *lc;

	foreach(lc, patterns)
	{
		if (TaskMatches(task, (text *) lfirst(lc)))
			return true;
	}
	return false;
}

/*
 * CheckPublishAllowed raises 42501 if the calling role may not publish
 * task.  element is the 1-based position in publish_bulk's array, or 0.
 */
void
CheckPublishAllowed(text *task, int element)
{
	bool		restricted;
	List	   *allowed = AllowedPatterns(false, &restricted);

	if (!restricted || task == NULL || TaskMatchesAny(task, allowed))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to publish task \"%s\"%s",
					text_to_cstring(task),
					element > 0 ? psprintf(" (element %d of the array)", element) : ""),
			 errdetail("Role \"%s\" may publish only tasks matching the topic patterns granted to it.",
					   GetUserNameFromId(GetOuterUserId(), false)),
			 errhint("An administrator grants topic patterns with jobs.grant_topic.")));
}

/*
 * ConsumeRestricted reports whether topic grants restrict what the calling
 * role may consume.
 */
bool
ConsumeRestricted(void)
{
	bool		restricted;

	(void) AllowedPatterns(true, &restricted);
	return restricted;
}

/*
 * JobAllowed reports whether the calling role may consume the task of job
 * job_id; a job that does not exist is allowed (the caller's own checks
 * then report it).
 */
bool
JobAllowed(int64 job_id)
{
	bool		restricted;
	List	   *allowed = AllowedPatterns(true, &restricted);
	text	   *task;

	if (!restricted)
		return true;
	task = CatalogJobTask(job_id);
	return task == NULL || TaskMatchesAny(task, allowed);
}

/*
 * CheckJobAllowed raises an error if the calling role may not consume the
 * task of job job_id: it is then told the job does not exist (PJ001), as
 * for an unknown id, so that nothing about other roles' jobs leaks.  A job
 * that does not exist is left to the caller's own error.
 */
void
CheckJobAllowed(int64 job_id)
{
	if (JobAllowed(job_id))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_PGJOBS_JOB_NOT_FOUND),
			 errmsg("job " INT64_FORMAT " does not exist", job_id),
			 errhint("Pass a job_id returned by jobs.consume or jobs.consume_topic.")));
}

/*
 * LiteralPrefix copies into out, and returns the length of, the leading
 * characters of a LIKE pattern (in the escaped form TopicToLikePattern
 * makes) that match only themselves: those before the first %.  out must
 * have room for the whole pattern.
 */
static int
LiteralPrefix(const char *like, char *out)
{
	int			len = 0;

	for (; *like != '\0'; like++)
	{
		if (*like == '%')
			break;
		if (*like == '\\' && like[1] != '\0')
			like++;
		out[len++] = *like;
	}
	out[len] = '\0';
	return len;
}

/*
 * MayOverlap reports whether some task could match both LIKE patterns a
 * and b (NULL matches everything).  Conservative: true unless their literal
 * prefixes differ within the shorter one.
 */
static bool
MayOverlap(text *a, text *b)
{
	char	   *sa;
	char	   *sb;
	char	   *pa;
	char	   *pb;
	int			la;
	int			lb;

	if (a == NULL || b == NULL)
		return true;
	sa = text_to_cstring(a);
	sb = text_to_cstring(b);
	pa = palloc(strlen(sa) + 1);
	pb = palloc(strlen(sb) + 1);
	la = LiteralPrefix(sa, pa);
	lb = LiteralPrefix(sb, pb);
	return strncmp(pa, pb, Min(la, lb)) == 0;
}

/*
 * TaskMatches reports whether task is LIKE like_pattern.
 */
static bool
TaskMatches(text *task, text *like_pattern)
{
	return DatumGetBool(DirectFunctionCall2Coll(textlike, DEFAULT_COLLATION_OID,
												PointerGetDatum(task),
												PointerGetDatum(like_pattern)));
}

/*
 * TextArray builds a text[] of n texts.
 */
static Datum
TextArray(text **items, int n)
{
	return PointerGetDatum(construct_array((Datum *) items, n, TEXTOID,
										   -1, false, TYPALIGN_INT));
}

/*
 * ReserveLimit reserves room for up to num claims of the counted pattern
 * of limit, reading its running jobs from the table when its shared count
 * must be refreshed, and fills in limit as CatalogReadLimits would.
 * Returns false if the pattern has no slot in shared memory.
 */
static bool
ReserveLimit(TopicLimit *limit, int32 num)
{
	int32		room = ReserveRunning(limit->running_key, limit->max_running, num,
									  false, 0);

	if (room == -1)
		room = ReserveRunning(limit->running_key, limit->max_running, num,
							  true, CatalogCountRunning(limit->like_pattern));
	if (room < 0)
		return false;
	limit->present = true;
	limit->has_slots = true;
	limit->free_slots = room;
	limit->has_rate = false;
	return true;
}

/*
 * ClaimJobs claims up to num ready jobs, those whose task is LIKE
 * like_pattern when it is not NULL, into out, honouring the topic controls
 * of a 1.1 schema, and returns how many it claimed.  When a rate limit
 * held jobs back, *retry_at is set to when a token will be there.
 */
uint64
ClaimJobs(int32 num, text *like_pattern, TimestampTz now,
		  Tuplestorestate *out, TupleDesc out_desc, TimestampTz *retry_at)
{
	TopicLimit *limits;
	text	  **blocked;
	volatile int nlimits = 0;
	int			nblocked_fixed = 0;
	volatile uint64 total = 0;
	int			i;
	bool		restricted;
	List	   *allowed;
	volatile Datum allowed_array = (Datum) 0;

	if (!CatalogHasJobControl())
		return CatalogClaimJobs(num, like_pattern, now, out, out_desc);
	LoadControls();
	allowed = AllowedPatterns(true, &restricted);
	if (ncontrols == 0 && !restricted)
		return CatalogClaimJobs(num, like_pattern, now, out, out_desc);

	/* a restricted role takes only what its grants allow */
	if (restricted)
	{
		text	  **items = palloc(sizeof(text *) * (list_length(allowed) + 1));
		int			nitems = 0;
		bool		overlap = false;
		ListCell   *lc;

		foreach(lc, allowed)
		{
			items[nitems++] = (text *) lfirst(lc);
			if (MayOverlap(like_pattern, (text *) lfirst(lc)))
				overlap = true;
		}
		if (!overlap)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to consume %s",
							like_pattern ? "this topic" : "jobs"),
					 errdetail("Role \"%s\" may consume only tasks matching the topic patterns granted to it.",
							   GetUserNameFromId(GetOuterUserId(), false)),
					 errhint("An administrator grants topic patterns with jobs.grant_topic.")));
		allowed_array = TextArray(items, nitems);
	}

	/* paused patterns are always skipped; limited ones that may overlap */
	blocked = palloc(sizeof(text *) * (ncontrols + 1));
	limits = palloc0(sizeof(TopicLimit) * (ncontrols + 1));
	for (i = 0; i < ncontrols; i++)
	{
		if (controls[i].paused)
			blocked[nblocked_fixed++] = controls[i].like_pattern;
		else if (controls[i].limited &&
				 MayOverlap(like_pattern, controls[i].like_pattern))
		{
			limits[nlimits].pattern = controls[i].pattern;
			limits[nlimits].like_pattern = controls[i].like_pattern;
			limits[nlimits].counted = controls[i].counted;
			limits[nlimits].running_key = controls[i].running_key;
			limits[nlimits].max_running = controls[i].max_running;
			nlimits++;
		}
	}

	if (nlimits > 0 && IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("jobs of a limited topic cannot be claimed in a REPEATABLE READ or SERIALIZABLE transaction"),
				 errdetail("A limit counts the running jobs others committed, which such a transaction does not see."),
				 errhint("Consume in a READ COMMITTED transaction.")));

	if (nlimits > 0)
	{
		/*
		 * Counted patterns reserve their room in shared memory and claim
		 * without waiting for each other; the others (with a rate, or when
		 * the slot table is full) lock their rows until commit and read
		 * them.
		 */
		text	  **patterns = palloc(sizeof(text *) * nlimits);
		text	  **likes = palloc(sizeof(text *) * nlimits);
		int			n = 0;

		for (i = 0; i < nlimits; i++)
		{
			if (limits[i].counted && !ReserveLimit(&limits[i], num))
				limits[i].counted = false;
			if (limits[i].counted)
				continue;
			patterns[n] = cstring_to_text(limits[i].pattern);
			likes[n] = limits[i].like_pattern;
			n++;
		}
		if (n > 0)
			CatalogReadLimits(now, TextArray(patterns, n), TextArray(likes, n),
							  limits, nlimits, true);

		total = ClaimLimited(num, like_pattern, now, out, out_desc, retry_at,
							 limits, nlimits, blocked, nblocked_fixed,
							 allowed_array, restricted);
		for (i = 0; i < nlimits; i++)
		{
			if (limits[i].counted)
				SettleRunning(limits[i].running_key, limits[i].free_slots,
							  limits[i].claimed);
		}
		return total;
	}
	return ClaimLimited(num, like_pattern, now, out, out_desc, retry_at,
						limits, nlimits, blocked, nblocked_fixed,
						allowed_array, restricted);
}

/*
 * ClaimLimited runs ClaimJobs' claims once the limits are read: as many
 * statements as it takes to claim up to num jobs, each skipping the
 * patterns that are paused or have no room left and taking no more than
 * the smallest room, then spends the tokens of the rate-limited patterns.
 */
static uint64
ClaimLimited(int32 num, text *like_pattern, TimestampTz now,
			 Tuplestorestate *out, TupleDesc out_desc, TimestampTz *retry_at,
			 TopicLimit *limits, int nlimits, text **blocked, int nblocked_fixed,
			 Datum allowed_array, bool restricted)
{
	uint64		total = 0;
	int32		remaining = num;
	int			i;

	while (remaining > 0)
	{
		int			nblocked = nblocked_fixed;
		int32		batch = remaining;
		List	   *tasks = NIL;
		ListCell   *lc;
		uint64		claimed;

		/*
		 * A pattern with no room is skipped; otherwise claim no more than
		 * the smallest room, then count what the claimed tasks used.
		 */
		for (i = 0; i < nlimits; i++)
		{
			int64		room = PG_INT32_MAX;

			if (!limits[i].present)
				continue;
			if (limits[i].has_slots)
				room = Min(room, (int64) limits[i].free_slots - limits[i].claimed);
			if (limits[i].has_rate)
				room = Min(room, (int64) floor(limits[i].tokens) - limits[i].claimed);
			if (room <= 0)
			{
				blocked[nblocked++] = limits[i].like_pattern;
				if (limits[i].has_rate && limits[i].rate > 0 &&
					limits[i].tokens - limits[i].claimed < 1.0)
				{
					double		wait = (1.0 - (limits[i].tokens - limits[i].claimed)) /
						limits[i].rate;

					/* set_limit keeps rates sane; a row written by hand may not be */
					if (!(wait >= 0.0 && wait <= PGJOBS_MAX_WAIT))
						wait = PGJOBS_MAX_WAIT;

					*retry_at = Min(*retry_at,
									now + (TimestampTz) (wait * USECS_PER_SEC) + 1);
				}
			}
			else
				batch = (int32) Min((int64) batch, room);
		}

		claimed = CatalogClaimJobsBlocked(batch, like_pattern,
										  TextArray(blocked, nblocked),
										  allowed_array, !restricted, now,
										  out, out_desc, &tasks);
		total += claimed;
		remaining -= (int32) claimed;
		foreach(lc, tasks)
		{
			text	   *task = (text *) lfirst(lc);

			for (i = 0; i < nlimits; i++)
			{
				if (limits[i].present && TaskMatches(task, limits[i].like_pattern))
					limits[i].claimed++;
			}
		}
		if (claimed < (uint64) batch)
			break;
	}

	for (i = 0; i < nlimits; i++)
	{
		if (limits[i].present && limits[i].has_rate && limits[i].claimed > 0)
			CatalogSpendTokens(now, limits[i].pattern,
							   limits[i].tokens - limits[i].claimed);
	}
	return total;
}

/*
 * NoteJobsFinished is called when jobs stop running (ack, nack, expiry,
 * release): if a concurrency limit exists, a waiting consumer may now
 * claim, so it is woken at commit.
 */
void
NoteJobsFinished(void)
{
	if (!CatalogHasJobControl())
		return;
	LoadControls();
	if (any_limited)
		NoteJobsReadied();
}

/*
 * EndsCounted reports whether the jobs that stop running must be reported
 * with NoteJobEnded: some concurrency limit is counted in shared memory.
 * Call it before connecting to SPI (it may read the controls).
 */
bool
EndsCounted(void)
{
	if (!RunningCountsAvailable() || !CatalogHasJobControl())
		return false;
	LoadControls();
	return any_counted;
}

/*
 * NoteJobEnded records that a running job of task stopped running in this
 * transaction, for each counted limit whose pattern task matches.  It uses
 * the controls EndsCounted loaded.
 */
void
NoteJobEnded(text *task)
{
	int			i;

	if (!any_counted || task == NULL)
		return;
	for (i = 0; i < ncontrols; i++)
	{
		if (controls[i].counted && TaskMatches(task, controls[i].like_pattern))
			NoteRunningEnded(controls[i].running_key);
	}
}

/*
 * pgjobs_topic_control_changed is the statement trigger of
 * jobs.topic_control: at commit every session drops its cached controls,
 * and waiting consumers wake (a resume or a raised limit frees jobs).
 */
Datum
pgjobs_topic_control_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("jobs.topic_control_changed() must be called as a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	NoteJobsReadied();
	PG_RETURN_POINTER(NULL);
}

/*
 * pgjobs_check_topic_pattern raises the error consume_topic would raise
 * for a bad topic pattern, NULL included.
 *
 * jobs.check_topic_pattern(i_pattern)
 */
Datum
pgjobs_check_topic_pattern(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("topic pattern must not be NULL"),
				 errhint("Use '%%' to match every task, or a prefix such as 'email.%%'.")));
	(void) TopicToLikePattern(PG_GETARG_TEXT_PP(0));
	PG_RETURN_VOID();
}

/*
 * pgjobs_wake_consumers wakes waiting consumers when the transaction
 * commits, and resets the claim cursor at once and at commit, so that the
 * next claims start at the head of the claim index: what to call after
 * writing jobs.job_queue directly, which the cursor cannot see.
 *
 * jobs.wake_consumers()
 */
Datum
pgjobs_wake_consumers(PG_FUNCTION_ARGS)
{
	ResetClaimCursor();
	NoteJobsReadied();
	PG_RETURN_VOID();
}

/*
 * GetJobIdArg returns the job id at argno, rejecting NULL.
 */
static int64
GetJobIdArg(FunctionCallInfo fcinfo, int argno, const char *function)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("job_id must not be NULL"),
				 errhint("Pass the id of the job to %s.", function)));
	return PG_GETARG_INT64(argno);
}

/*
 * pgjobs_cancel cancels a pending job at once, or asks a running one to
 * stop, and says which.
 *
 * jobs.cancel(i_job_id, i_reason) -> 'cancelled' | 'cancelling'
 */
Datum
pgjobs_cancel(PG_FUNCTION_ARGS)
{
	int64		job_id = GetJobIdArg(fcinfo, 0, "cancel");
	text	   *reason = PG_ARGISNULL(1) ? cstring_to_text("cancelled") : PG_GETARG_TEXT_PP(1);
	TimestampTz now = GetCurrentTimestamp();
	char	   *outcome;
	char	   *state;

	outcome = CatalogCancelJob(job_id, now, reason);
	if (outcome != NULL)
		PG_RETURN_TEXT_P(cstring_to_text(outcome));

	state = CatalogJobState(job_id, now);
	if (state == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PGJOBS_JOB_NOT_FOUND),
				 errmsg("job " INT64_FORMAT " does not exist", job_id)));
	if (strcmp(state, "cancelling") == 0)
		PG_RETURN_TEXT_P(cstring_to_text("cancelling"));
	ereport(ERROR,
			(errcode(ERRCODE_PGJOBS_JOB_NOT_RUNNING),
			 errmsg("cannot cancel job " INT64_FORMAT ": it has already finished as %s",
					job_id, state)));
	PG_RETURN_NULL();			/* not reached */
}

/*
 * pgjobs_retry puts a failed or cancelled job back in the queue.
 *
 * jobs.retry(i_job_id) -> i_job_id
 */
Datum
pgjobs_retry(PG_FUNCTION_ARGS)
{
	int64		job_id = GetJobIdArg(fcinfo, 0, "retry");
	TimestampTz now = GetCurrentTimestamp();
	char	   *state;

	if (CatalogRetryJob(job_id, now))
	{
		NoteJobsReadied();
		PG_RETURN_INT64(job_id);
	}

	state = CatalogJobState(job_id, now);
	if (state == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PGJOBS_JOB_NOT_FOUND),
				 errmsg("job " INT64_FORMAT " does not exist", job_id)));
	ereport(ERROR,
			(errcode(ERRCODE_PGJOBS_JOB_NOT_RUNNING),
			 errmsg("cannot retry job " INT64_FORMAT ": only failed and cancelled jobs can be retried",
					job_id),
			 errdetail("The job's state is %s.", state)));
	PG_RETURN_NULL();			/* not reached */
}

/*
 * pgjobs_retry_topic puts every failed job (and cancelled one, if asked)
 * whose task matches a topic pattern back in the queue.
 *
 * jobs.retry_topic(i_pattern, i_include_cancelled) -> count
 */
Datum
pgjobs_retry_topic(PG_FUNCTION_ARGS)
{
	text	   *like_pattern;
	bool		include_cancelled = !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
	int64		count;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("topic pattern must not be NULL"),
				 errhint("Use '%%' to match every task, or a prefix such as 'email.%%'.")));
	like_pattern = TopicToLikePattern(PG_GETARG_TEXT_PP(0));
	count = CatalogRetryJobs(like_pattern, include_cancelled, GetCurrentTimestamp());
	if (count > 0)
		NoteJobsReadied();
	PG_RETURN_INT64(count);
}

/*
 * IsTenant reports whether role is a tenant: a member of pgjobs_tenant
 * (granted explicitly) without the privileges of a superuser or of
 * pgjobs_admin.
 */
static bool
IsTenant(Oid role)
{
	Oid			tenant = get_role_oid("pgjobs_tenant", true);

	if (!OidIsValid(tenant) || IsPgjobsAdmin(role))
		return false;
	return is_member_of_role_nosuper(role, tenant);
}

/*
 * TenantScopedKey returns the unique key a publish by the calling role
 * stores: a tenant's keys are its own (prefixed with its name and that
 * name's length, which no other role's key can forge), so that a tenant
 * can neither learn of nor replace another tenant's job through a key.
 * Other roles share one key space.
 */
text *
TenantScopedKey(text *key)
{
	Oid			caller = GetOuterUserId();
	char	   *name;

	if (!CatalogHasJobControl() || !IsTenant(caller))
		return key;
	name = GetUserNameFromId(caller, false);
	return cstring_to_text(psprintf("%d:%s/%s", (int) strlen(name), name,
									text_to_cstring(key)));
}

/*
 * pgjobs_sees_all_jobs tells the views whether the current role sees every
 * job: only a member of pgjobs_tenant (granted explicitly: the superuser
 * shortcut does not make a superuser one) without the privileges of a
 * superuser or of pgjobs_admin sees just the jobs it published.
 *
 * jobs.sees_all_jobs() -> boolean
 */
Datum
pgjobs_sees_all_jobs(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!IsTenant(GetUserId()));
}
