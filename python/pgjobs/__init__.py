"""pgjobs: asyncio/asyncpg client for the pgjobs PostgreSQL job queue.

    import asyncpg, pgjobs
    conn = await asyncpg.connect(dsn)
    async with conn.transaction():
        await pgjobs.publish(conn, "myapp.mail.send", "ada@example.com", subject="hi")

Run jobs with the ``jobs-worker`` command (pgjobs.worker.Worker), create or
update the extension with ``jobs-migrate``.
"""

from .client import Job, ack, consume, nack, publish, publish_bulk, resolve_task, run
from .errors import (ConnectionLost, DatabaseError, ExtensionMissing, ExtensionNotAvailable,
                     InvalidArgument, JobError, JobNotFound, JobNotRunning, LeaseExpired,
                     PermissionDenied, PgJobsError, TaskError, TaskNotAllowed, TaskNotFound)

__version__ = "1.0.0"

__all__ = [
    "Job", "ack", "consume", "nack", "publish", "publish_bulk", "resolve_task", "run",
    "PgJobsError", "JobError", "JobNotFound", "JobNotRunning", "LeaseExpired",
    "InvalidArgument", "ExtensionMissing", "ExtensionNotAvailable", "PermissionDenied",
    "ConnectionLost", "DatabaseError", "TaskError", "TaskNotAllowed", "TaskNotFound",
]
