/*-------------------------------------------------------------------------
 *
 * pgjobs.h
 *	  Declarations shared by the pgjobs source files.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGJOBS_H
#define PGJOBS_H

#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/timestamp.h"
#include "nodes/pg_list.h"
#include "utils/tuplestore.h"

/*
 * pgjobs' own SQLSTATEs, class PJ.  Documented in the README; clients match
 * on them to learn that an ack or nack did not count.
 */
#define ERRCODE_PGJOBS_JOB_NOT_FOUND		MAKE_SQLSTATE('P','J','0','0','1')
#define ERRCODE_PGJOBS_JOB_NOT_RUNNING		MAKE_SQLSTATE('P','J','0','0','2')
#define ERRCODE_PGJOBS_LEASE_EXPIRED		MAKE_SQLSTATE('P','J','0','0','3')
#define ERRCODE_PGJOBS_CANCELLED			MAKE_SQLSTATE('P','J','0','0','4')

/* Defaults of jobs.publish, as in the original pgjobs. */
#define PGJOBS_DEFAULT_TIMEOUT		"60"
#define PGJOBS_DEFAULT_PRIORITY		0
#define PGJOBS_DEFAULT_MAX_RETRIES	3

/* Limits checked before anything is written. */
#define PGJOBS_MAX_TASK_LENGTH		1024
#define PGJOBS_MIN_TIMEOUT			0.01
#define PGJOBS_MAX_TIMEOUT			99999.99

/* Longest progress note, in bytes. */
#define PGJOBS_MAX_NOTE_BYTES		8192

/* Longest wait a consume may ask for, in seconds (an hour). */
#define PGJOBS_MAX_WAIT				3600

/* How many expired jobs one consume call reclaims at most. */
#define PGJOBS_CONSUME_EXPIRE_BATCH	100
/* How many expired jobs jobs.expire() reclaims per statement. */
#define PGJOBS_EXPIRE_BATCH			1000
/* How many finished jobs one pruning statement deletes. */
#define PGJOBS_PRUNE_BATCH			1000

/* GUCs (pgjobs.c) */
extern double pgjobs_retry_backoff_base;
extern double pgjobs_retry_backoff_max;
extern int	pgjobs_consume_expire_interval;
extern int	pgjobs_wait_poll_interval;
extern int	pgjobs_notify;
extern char *pgjobs_database;
extern int	pgjobs_maintenance_interval;
extern int	pgjobs_retention;
extern int	pgjobs_queue_vacuum_threshold;
extern bool pgjobs_claim_cursor;
extern int	pgjobs_claim_cursor_check_interval;
extern int	pgjobs_claim_costly_pages;
extern bool pgjobs_expiry_floor;

/* pgjobs.notify levels: which job events are sent with NOTIFY */
#define PGJOBS_NOTIFY_OFF		0
#define PGJOBS_NOTIFY_FINISHED	1
#define PGJOBS_NOTIFY_ALL		2

/*
 * An ack or nack names the claim it ends by job_id and, optionally, by the
 * attempt number consume returned; ANY_ATTEMPT means the current claim.
 */
#define ANY_ATTEMPT 0

/* What publish writes for one job; NULL fields take the defaults. */
typedef struct JobSpec
{
	text	   *task;
	Datum		body;
	bool		body_isnull;
	Datum		scheduled_at;	/* timestamptz */
	bool		scheduled_at_isnull;
	Datum		timeout;		/* numeric */
	bool		timeout_isnull;
	int32		priority;
	bool		priority_isnull;
	int32		max_retries;
	bool		max_retries_isnull;
} JobSpec;

/* A row of jobs.topic_control, as consumers cache it (control.c). */
typedef struct TopicControl
{
	char	   *pattern;		/* topic pattern */
	text	   *like_pattern;	/* its LIKE form */
	bool		paused;
	bool		limited;		/* has max_running or rate */
	bool		has_rate;		/* has rate */
	bool		has_max_running;	/* has max_running */
	int32		max_running;
	bool		counted;		/* its running jobs are counted in shared memory */
	uint64		running_key;	/* its slot there (limits.c) */
} TopicControl;

/* The state of a limited pattern at claim time (control.c). */
typedef struct TopicLimit
{
	char	   *pattern;
	text	   *like_pattern;
	bool		present;		/* the row still exists */
	bool		has_slots;		/* max_running is set */
	int32		free_slots;
	bool		has_rate;		/* rate is set */
	double		tokens;
	double		rate;
	int32		claimed;		/* claims of its jobs so far */
	bool		counted;		/* counted in shared memory (limits.c) */
	uint64		running_key;	/* its slot there */
	int32		max_running;	/* when counted */
} TopicLimit;

/* A row of jobs.topic_grant, as sessions cache it (control.c). */
typedef struct TopicGrant
{
	Oid			role;
	char	   *pattern;
	text	   *like_pattern;
	bool		can_publish;
	bool		can_consume;
} TopicGrant;

/* catalog.c: all access to the jobs.* tables */
extern int64 CatalogInsertJob(const JobSpec *spec);
extern void CatalogInsertJobs(Datum jobs, Oid array_type,
							  Tuplestorestate *out, TupleDesc out_desc,
							  char **tasks, int ntasks);
extern bool CatalogInsertJobsDirect(const JobSpec *specs, int ntasks,
									Tuplestorestate *out, TupleDesc out_desc,
									char **tasks);
extern uint64 CatalogClaimJobs(int32 num, text *like_pattern, TimestampTz now,
							 Tuplestorestate *out, TupleDesc out_desc);
extern int64 CatalogExpireJobs(TimestampTz now, int32 limit, TimestampTz from);
extern TimestampTz CatalogNextWakeup(TimestampTz now);
extern TimestampTz CatalogLeaseFloor(TimestampTz from);
extern int64 CatalogPruneJobs(TimestampTz cutoff, int32 limit);
extern int64 CatalogQueueDeadRows(void);
extern bool CatalogFinishJob(int64 job_id, int32 attempt, TimestampTz now,
							 Datum result, bool result_isnull);
extern bool CatalogFailJob(int64 job_id, int32 attempt, TimestampTz now,
						   text *error, Datum retry_at, bool retry_at_isnull);
extern bool CatalogHasJobControl(void);
extern int64 CatalogInsertUniqueJob(const JobSpec *spec, text *key, bool replace,
									bool while_running, bool *inserted);
extern uint64 CatalogFinishJobs(TimestampTz now, Datum ids, Datum results,
								bool results_isnull, Datum attempts,
								bool attempts_isnull, Tuplestorestate *out,
								TupleDesc out_desc);
extern uint64 CatalogFailJobs(TimestampTz now, Datum ids, text *error,
							  Datum retry_at, bool retry_at_isnull,
							  Datum attempts, bool attempts_isnull,
							  Tuplestorestate *out, TupleDesc out_desc);
extern bool CatalogTouchJob(int64 job_id, int32 attempt, TimestampTz now,
							double extend, bool extend_isnull,
							TimestampTz *expires_at);
extern bool CatalogProgressJob(int64 job_id, int32 attempt, TimestampTz now,
							   double progress, text *note);
extern bool CatalogReleaseJob(int64 job_id, int32 attempt, TimestampTz now,
							  Datum retry_at, bool retry_at_isnull);
extern char *CatalogCancelJob(int64 job_id, TimestampTz now, text *reason);
extern char *CatalogJobState(int64 job_id, TimestampTz now);
extern bool CatalogRetryJob(int64 job_id, TimestampTz now);
extern int64 CatalogRetryJobs(text *like_pattern, bool include_cancelled,
							  TimestampTz now);
extern uint64 CatalogClaimJobsBlocked(int32 num, text *like_pattern,
									  Datum blocked, Datum allowed,
									  bool allowed_isnull, TimestampTz now,
									  Tuplestorestate *out, TupleDesc out_desc,
									  List **tasks);
extern TopicControl *CatalogLoadTopicControls(MemoryContext cxt, int *n);
extern void CatalogReadLimits(TimestampTz now, Datum patterns,
							  Datum like_patterns, TopicLimit *limits,
							  int nlimits, bool lock_rows);
extern int64 CatalogCountRunning(text *like_pattern);
extern void CatalogSpendTokens(TimestampTz now, const char *pattern,
							   double tokens);
extern int64 CatalogRunSchedules(void);
extern text *CatalogJobTask(int64 job_id);
extern TopicGrant *CatalogLoadTopicGrants(MemoryContext cxt, int *n);
extern void CatalogReportNotRunning(int64 job_id, int32 attempt, TimestampTz now,
									const char *action) pg_attribute_noreturn();

/* notify.c */
extern bool NotifyWanted(int level);
extern int	NotifyEventLevel(const char *event);
extern void NotifyJobEvent(const char *event, int64 job_id, const char *task);

/* shmem.c */
extern void InitSharedMemory(void);

/* wakeup.c */
extern void InitWakeup(void);
extern Size WakeupShmemSize(void);
extern void WakeupShmemInit(void);
extern void NoteJobsReadied(void);
extern void NoteJobsClaimed(void);
extern uint64 WakeupGeneration(void);
extern void WaitForJobs(uint64 generation, TimestampTz wake_at);

/* cursor.c: where in the claim index claims start */
typedef struct ClaimKey
{
	int32		priority;
	TimestampTz scheduled_at;
	int64		job_id;
} ClaimKey;

/* Priorities with a claim cursor of their own, per database. */
#define CLAIM_CURSORS	16

/* What a claim read of the claim cursors. */
typedef struct ClaimCursor
{
	bool		tracked;		/* the claim may move the cursors afterwards */
	bool		check;			/* run the periodic check first */
	bool		all;			/* read from every cursor; else from the lowest only */
	int			ncursors;		/* 0: every priority from its head */
	ClaimKey	keys[CLAIM_CURSORS];	/* one per priority, highest first */
	int			slot;			/* the slot read */
	uint64		seq;			/* lowerings before the read */
	uint64		sig;			/* the claim's filter (ClaimFilterSig); 0: none */
	int			nfilters;		/* the filter's cursors read */
	ClaimKey	fkeys[CLAIM_CURSORS];	/* one per priority, highest first */
	bool		bounded;		/* pending jobs' priorities lie in [lo, hi] */
	int32		lo;
	int32		hi;
	bool		probe;			/* find the bounds (ClaimBoundsProbed) first */
	uint64		bounds_seq;		/* resets of the bounds before the read */
	uint64		probe_seq;		/* probes started before this one */
} ClaimCursor;

extern Size CursorShmemSize(void);
extern void CursorShmemInit(void);
extern bool ClaimKeyLess(const ClaimKey *a, const ClaimKey *b);
extern bool ClaimCursorRead(ClaimCursor *cc, uint64 sig, bool may_check);
extern void ClaimCursorAdvance(const ClaimCursor *cc, const ClaimKey *keys,
							   const ClaimKey *filter_keys, int nkeys);
extern void ClaimCursorLower(const ClaimKey *key, bool readied);
extern void ClaimCursorCost(const ClaimCursor *cc, int64 pages, uint64 claimed);
extern void ClaimCursorCheckDone(void);
extern void ClaimBoundsProbed(const ClaimCursor *cc, int32 lo, int32 hi);
extern void NoteClaimKeyReadied(int32 priority, TimestampTz scheduled_at, int64 job_id);
extern void NotePendingLocked(void);
extern void ResetClaimCursor(void);
extern void ClaimCursorXactEnd(XactEvent event);
extern void ClaimCursorSubXactAbort(void);
extern void ClaimCursorSubXactCommit(void);

/* cursor.c: the expiry floor, where lease expiry starts reading */
typedef struct ExpiryFloor
{
	bool		tracked;		/* the pass may move the floor afterwards */
	bool		valid;			/* read from floor; else from the head */
	bool		check;			/* run the periodic check first */
	TimestampTz floor;
	int			slot;			/* the slot read */
	uint64		seq;			/* lowerings before the read */
} ExpiryFloor;

extern bool ExpiryFloorRead(ExpiryFloor *ef);
extern bool ExpiryFloorAhead(TimestampTz now);
extern TimestampTz ExpiryFloorPeek(void);
extern void ExpiryFloorAdvance(const ExpiryFloor *ef, TimestampTz floor);
extern void ExpiryFloorLower(const TimestampTz *floor);
extern void NoteLeaseSet(TimestampTz expires_at);
extern void NoteExpiryPass(void);

/* limits.c */
extern void InitLimits(void);
extern Size LimitsShmemSize(void);
extern void LimitsShmemInit(void);
extern bool RunningCountsAvailable(void);
extern uint64 RunningKey(const char *pattern);
extern int32 ReserveRunning(uint64 key, int32 max_running, int32 want,
							bool have_count, int64 count);
extern void SettleRunning(uint64 key, int32 reserved, int32 claimed);
extern void NoteRunningEnded(uint64 key);

/* worker.c */
extern void RegisterMaintenanceWorkers(void);

/* expire.c */
extern void ExpireJobsIfDue(TimestampTz now, bool force);
extern int64 ReclaimExpiredJobs(TimestampTz now, int32 limit, bool whole);

/* retry.c */
extern Interval *NextBackoff(int32 attempt);

/* publish.c */
extern void ValidateJobSpec(const JobSpec *spec, int element);

/* control.c: topic controls (pause, concurrency and rate limits) */
extern uint64 ClaimJobs(int32 num, text *like_pattern, TimestampTz now,
						Tuplestorestate *out, TupleDesc out_desc,
						TimestampTz *retry_at);
extern void NoteJobsFinished(void);
extern bool EndsCounted(void);
extern void NoteJobEnded(text *task);
extern void CheckPublishAllowed(text *task, int element);
extern void CheckJobAllowed(int64 job_id);
extern bool JobAllowed(int64 job_id);
extern bool ConsumeRestricted(void);
extern text *TenantScopedKey(text *key);

/* ack.c */
extern void AckJob(int64 job_id, Datum result, bool result_isnull, int32 attempt);
extern int32 GetAttempt(FunctionCallInfo fcinfo, int argno);

/* consume.c */
extern text *TopicToLikePattern(text *topic);

/* consume.c: set-returning function plumbing shared with publish_bulk */
extern Tuplestorestate *BeginMaterializedResult(FunctionCallInfo fcinfo,
												TupleDesc *desc);

#endif							/* PGJOBS_H */
