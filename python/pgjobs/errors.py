"""pgjobs exceptions.

Every error the client and the worker raise is a PgJobsError.  Errors from
the server keep the driver's exception as ``__cause__`` and its SQLSTATE as
``sqlstate``; callers never need to catch bare asyncpg exceptions.

    PgJobsError
    ├── JobError              an ack or nack that could not count
    │   ├── JobNotFound       PJ001  no job has that id
    │   ├── JobNotRunning     PJ002  pending, or already finished
    │   ├── LeaseExpired      PJ003  lease lapsed, or not the current claim
    │   └── JobCancelled      PJ004  jobs.cancel asked the running job to stop
    ├── InvalidArgument       class 22 (NULL where a value is needed, out of range, too long)
    ├── ExtensionMissing      the database has no pgjobs extension: run jobs-migrate
    ├── ExtensionNotAvailable the server has no pgjobs extension files
    ├── PermissionDenied      42501
    ├── ConnectionLost        the connection failed or the server is restarting
    ├── DatabaseError         any other server error
    └── TaskError             a job's task cannot be run
        ├── TaskNotAllowed    outside the worker's allow-list, or not a public name
        └── TaskNotFound      its module or function cannot be imported
"""

import contextlib

import asyncpg

__all__ = [
    "PgJobsError", "JobError", "JobNotFound", "JobNotRunning", "LeaseExpired", "JobCancelled",
    "InvalidArgument", "ExtensionMissing", "ExtensionNotAvailable",
    "PermissionDenied", "ConnectionLost", "DatabaseError",
    "TaskError", "TaskNotAllowed", "TaskNotFound", "wrap", "from_driver",
]


class PgJobsError(Exception):
    """Base class of every pgjobs error."""

    def __init__(self, message, *, sqlstate=None, detail=None, hint=None):
        super().__init__(message)
        self.sqlstate = sqlstate
        self.detail = detail
        self.hint = hint


class JobError(PgJobsError):
    """An ack or nack that changed nothing."""


class JobNotFound(JobError):
    """PJ001: no job has that id."""


class JobNotRunning(JobError):
    """PJ002: the job is pending or has already finished."""


class LeaseExpired(JobError):
    """PJ003: the claim's lease lapsed, or the attempt is not the current claim."""


class JobCancelled(JobError):
    """PJ004: jobs.cancel asked the running job to stop; nack it to finish it as cancelled."""


class InvalidArgument(PgJobsError, ValueError):
    """The server rejected an argument (SQLSTATE class 22)."""


class ExtensionMissing(PgJobsError):
    """The database has no pgjobs extension (run jobs-migrate)."""


class ExtensionNotAvailable(PgJobsError):
    """The server has no pgjobs extension files to create the extension from."""


class PermissionDenied(PgJobsError):
    """The role lacks a privilege (SQLSTATE 42501)."""


class ConnectionLost(PgJobsError, ConnectionError):
    """The connection failed, or the server is shutting down or starting up."""


class DatabaseError(PgJobsError):
    """Any other error reported by the server."""


class TaskError(PgJobsError):
    """A job's task cannot be run."""


class TaskNotAllowed(TaskError):
    """The task is outside the allow-list, or names a private attribute."""


class TaskNotFound(TaskError):
    """The task's module or function cannot be imported."""


_BY_SQLSTATE = {
    "PJ001": JobNotFound,
    "PJ002": JobNotRunning,
    "PJ003": LeaseExpired,
    "PJ004": JobCancelled,
    "42501": PermissionDenied,
    "3F000": ExtensionMissing,      # invalid_schema_name: no schema "jobs"
    "42883": ExtensionMissing,      # undefined_function: jobs.* missing
    "42P01": ExtensionMissing,      # undefined_table: jobs.* missing
    "42704": ExtensionMissing,      # undefined_object: jobs.bulk_job missing
    "58P01": ExtensionNotAvailable,  # undefined_file: no pgjobs.control (older minors)
    "57P01": ConnectionLost,        # admin_shutdown
    "57P02": ConnectionLost,        # crash_shutdown
    "57P03": ConnectionLost,        # cannot_connect_now (starting up)
}


def from_driver(exc):
    """Returns the PgJobsError for a driver or socket exception, or None."""
    if isinstance(exc, PgJobsError):
        return exc
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", None) or ""
        text = f"{getattr(exc, 'message', '')} {getattr(exc, 'detail', '')}"
        if state in _BY_SQLSTATE:
            cls = _BY_SQLSTATE[state]
        elif state.startswith("08") or isinstance(exc, asyncpg.PostgresConnectionError):
            cls = ConnectionLost
        elif state == "0A000" and "extension control file" in text:
            # PostgreSQL 15.x (x >= 4): 'extension "..." is not available'
            cls = ExtensionNotAvailable
        elif state.startswith("22"):
            cls = InvalidArgument
        else:
            cls = DatabaseError
        msg = getattr(exc, "message", None) or str(exc)
        return cls(msg, sqlstate=state or None,
                   detail=getattr(exc, "detail", None), hint=getattr(exc, "hint", None))
    if isinstance(exc, (asyncpg.InterfaceError, OSError, TimeoutError)):
        # "connection is closed", "cannot perform operation: another
        # operation is in progress" after a broken query, refused or reset
        # sockets, connect timeouts.
        if isinstance(exc, asyncpg.InterfaceError) and "connection" not in str(exc):
            return None
        return ConnectionLost(str(exc) or type(exc).__name__)
    return None


@contextlib.contextmanager
def wrap():
    """Re-raises driver and socket errors as PgJobsError subclasses."""
    try:
        yield
    except PgJobsError:
        raise
    except Exception as exc:            # noqa: BLE001 -- filtered below
        mapped = from_driver(exc)
        if mapped is None:
            raise
        raise mapped from exc
