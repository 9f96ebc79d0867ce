/*-------------------------------------------------------------------------
 *
 * notify.c
 *	  Job events sent with NOTIFY, for applications that follow progress.
 *
 * With pgjobs.notify set to "all", every job sends an event on the channel
 * "pgjobs" when it is queued, picked (claimed), retried (a failed attempt
 * put back in the queue), and when it finishes (succeeded or failed); with
 * "finished", only the last two.  The payload is JSON:
 *
 *		{"event": "succeeded", "job_id": 42, "task": "mail.send"}
 *
 * Events are sent like any NOTIFY: when, and only if, the transaction that
 * caused them commits.  NOTIFY serialises committing transactions that
 * notified on a global lock, so this is off by default; bench/ measures
 * what it costs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/async.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/json.h"

#include "pgjobs.h"

/* The channel every event goes to. */
#define PGJOBS_NOTIFY_CHANNEL "pgjobs"

/* A NOTIFY payload must be shorter than this many bytes. */
#define MAX_PAYLOAD_BYTES	8000

/*
 * Longest task name, in bytes, an event carries when its payload would be
 * too long: even escaped six bytes a character, it fits.
 */
#define MAX_TASK_BYTES		1200

/*
 * NotifyWanted reports whether events of the given level are sent under
 * the current pgjobs.notify setting.
 */
bool
NotifyWanted(int level)
{
	return pgjobs_notify >= level;
}

/*
 * NotifyEventLevel returns the pgjobs.notify level from which events of
 * the given kind are sent.
 */
int
NotifyEventLevel(const char *event)
{
	if (strcmp(event, "succeeded") == 0 || strcmp(event, "failed") == 0 ||
		strcmp(event, "cancelled") == 0)
		return PGJOBS_NOTIFY_FINISHED;
	return PGJOBS_NOTIFY_ALL;
}

/*
 * BuildPayload writes the JSON payload of an event to buf.
 */
static void
BuildPayload(StringInfo buf, const char *event, int64 job_id, const char *task)
{
	appendStringInfoString(buf, "{\"event\": ");
	escape_json(buf, event);
	appendStringInfo(buf, ", \"job_id\": " INT64_FORMAT ", \"task\": ", job_id);
	escape_json(buf, task);
	appendStringInfoChar(buf, '}');
}

/*
 * NotifyJobEvent queues one event for job job_id (running task) to be sent
 * when the transaction commits, if pgjobs.notify asks for events of that
 * kind.
 */
void
NotifyJobEvent(const char *event, int64 job_id, const char *task)
{
	StringInfoData payload;

	if (!NotifyWanted(NotifyEventLevel(event)))
		return;
	if (task == NULL)
		task = "";

	initStringInfo(&payload);
	BuildPayload(&payload, event, job_id, task);
	if (payload.len >= MAX_PAYLOAD_BYTES)
	{
		/*
		 * Only a row inserted by hand can have so long a task name: clip it
		 * so that the payload stays within NOTIFY's limit even if every
		 * character needs a six-byte JSON escape.
		 */
		resetStringInfo(&payload);
		BuildPayload(&payload, event, job_id,
					 pnstrdup(task, pg_mbcliplen(task, strlen(task), MAX_TASK_BYTES)));
	}

	Async_Notify(PGJOBS_NOTIFY_CHANNEL, payload.data);
	pfree(payload.data);
}
