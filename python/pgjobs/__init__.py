"""pgjobs: asyncio/asyncpg client for the pgjobs PostgreSQL job queue.

    import asyncpg, pgjobs
    conn = await asyncpg.connect(dsn)
    async with conn.transaction():
        await pgjobs.publish(conn, "myapp.mail.send", "ada@example.com", subject="hi")

Run jobs with the ``jobs-worker`` command (pgjobs.worker.Worker), create or
update the extension with ``jobs-migrate``.
"""

from .client import (Job, ack, ack_and_consume, cancel, consume, nack, progress, publish, publish_bulk, release,
                     resolve_task, retry, run, touch)
from .errors import (ConnectionLost, DatabaseError, ExtensionMissing, ExtensionNotAvailable,
                     InvalidArgument, JobCancelled, JobError, JobNotFound, JobNotRunning,
                     LeaseExpired,
                     PermissionDenied, PgJobsError, TaskError, TaskNotAllowed, TaskNotFound)

__version__ = "1.1.0"

__all__ = [
    "Job", "ack", "ack_and_consume", "consume", "nack", "publish", "publish_bulk", "resolve_task", "run",
    "release", "touch", "progress", "cancel", "retry",
    "PgJobsError", "JobError", "JobNotFound", "JobNotRunning", "LeaseExpired", "JobCancelled",
    "InvalidArgument", "ExtensionMissing", "ExtensionNotAvailable", "PermissionDenied",
    "ConnectionLost", "DatabaseError", "TaskError", "TaskNotAllowed", "TaskNotFound",
]
