"""The pgjobs client: publish, consume, ack, nack and run jobs with asyncpg.

Every function takes an asyncpg connection (or pool) that the caller owns and
runs in the caller's transaction, if any.  A job's body is
``{"args": [...], "kwargs": {...}}``; its task names the function that runs
it, ``package.module.function``.

The client never creates the extension: if the database lacks it, calls
raise ExtensionMissing and ``jobs-migrate DSN`` creates it.
"""

import asyncio
import dataclasses
import datetime
import functools
import importlib
import inspect
import json
import math
import re
import time

from . import errors
from .queries import QUERIES

__all__ = ["Job", "publish", "publish_bulk", "consume", "ack", "nack", "run",
           "resolve_task", "task_allowed"]

_RESERVED = ("scheduled_at", "timeout", "priority", "max_retries")


@dataclasses.dataclass
class Job:
    """A claimed job, as jobs.consume returns it.

    ``job["job_id"]`` works as well as ``job.job_id``, so code written for
    asyncpg records keeps working.
    """

    job_id: int
    task: str
    body: object
    attempt: int
    max_retries: int
    priority: int
    timeout: float
    created_at: datetime.datetime
    scheduled_at: datetime.datetime
    expires_at: datetime.datetime
    claimed_at: float = dataclasses.field(default_factory=time.monotonic, repr=False)

    @classmethod
    def from_record(cls, rec, claimed_at=None):
        body = rec["body"]
        if isinstance(body, str):
            body = json.loads(body)
        job = cls(rec["job_id"], rec["task"], body, rec["attempt"], rec["max_retries"],
                  rec["priority"], None if rec["timeout"] is None else float(rec["timeout"]),
                  rec["created_at"],
                  rec["scheduled_at"], rec["expires_at"])
        if claimed_at is not None:
            job.claimed_at = claimed_at
        return job

    @property
    def args(self):
        """The positional arguments of the body (a list)."""
        if isinstance(self.body, dict):
            return list(self.body.get("args") or [])
        return []

    @property
    def kwargs(self):
        """The keyword arguments of the body (a dict)."""
        if isinstance(self.body, dict):
            return dict(self.body.get("kwargs") or {})
        return {}

    def __getitem__(self, key):
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None


def _when(value):
    """Turns a scheduled time into an aware datetime: datetimes pass through
    (naive ones are taken as UTC, as asyncpg does), a timedelta or a number
    of seconds counts from now."""
    if value is None or isinstance(value, datetime.datetime):
        return value
    now = datetime.datetime.now(datetime.timezone.utc)
    if isinstance(value, datetime.timedelta):
        return now + value
    if isinstance(value, (int, float)):
        return now + datetime.timedelta(seconds=value)
    raise TypeError(f"scheduled_at must be a datetime, a timedelta or seconds, not {type(value).__name__}")


def _body(args, kwargs):
    return json.dumps({"args": list(args), "kwargs": dict(kwargs)})


async def publish(conn, task, *args, scheduled_at=None, timeout=None, priority=None,
                  max_retries=None, **kwargs):
    """Queues one job in the caller's transaction and returns its id.

    The body is ``{"args": args, "kwargs": kwargs}`` (JSON).  ``scheduled_at``
    is a datetime, or a timedelta / number of seconds from now; ``timeout``
    is in seconds (default 60); ``priority`` (default 0, greater first);
    ``max_retries`` (default 3).  These four names cannot be keyword
    arguments of the task.
    """
    body = _body(args, kwargs)
    with errors.wrap():
        return await conn.fetchval(QUERIES["publish"], task, body, _when(scheduled_at),
                                   None if timeout is None else float(timeout),
                                   priority, max_retries)


def _bulk_item(item):
    """Normalizes one publish_bulk element: a mapping with "task" and
    optionally "args", "kwargs", "scheduled_at", "timeout", "priority",
    "max_retries"; or a tuple (task, args, kwargs)."""
    if isinstance(item, str):
        item = {"task": item}
    elif isinstance(item, (tuple, list)):
        task, *rest = item
        item = {"task": task, "args": rest[0] if rest else (),
                "kwargs": rest[1] if len(rest) > 1 else {}}
    unknown = set(item) - {"task", "args", "kwargs", *_RESERVED}
    if unknown:
        raise TypeError(f"publish_bulk: unknown job field(s) {sorted(unknown)}")
    timeout = item.get("timeout")
    return (item["task"], _body(item.get("args", ()), item.get("kwargs", {})),
            _when(item.get("scheduled_at")),
            None if timeout is None else math.ceil(timeout),
            item.get("priority"), item.get("max_retries"))


async def publish_bulk(conn, jobs):
    """Queues many jobs in one statement, all or nothing; returns their ids
    in input order.  Each job is a mapping ``{"task": ..., "args": [...],
    "kwargs": {...}, "scheduled_at": ..., "timeout": ..., "priority": ...,
    "max_retries": ...}`` (all but "task" optional) or a tuple
    ``(task, args, kwargs)``.  jobs.bulk_job holds whole seconds, so a
    fractional timeout is rounded up."""
    rows = [_bulk_item(j) for j in jobs]
    if not rows:
        return []
    cols = [list(c) for c in zip(*rows)]
    with errors.wrap():
        recs = await conn.fetch(QUERIES["publish_bulk"], *cols)
    return [r["job_id"] for r in recs]


async def _consume_once(conn, n, topic):
    claimed_at = time.monotonic()
    with errors.wrap():
        if topic is None:
            recs = await conn.fetch(QUERIES["consume"], n)
        else:
            recs = await conn.fetch(QUERIES["consume_topic"], topic, n)
    return [Job.from_record(r, claimed_at) for r in recs]


async def consume(conn, n, topic=None, wait=None):
    """Claims up to ``n`` ready jobs (matching the topic pattern, if given)
    and returns them as Job objects, highest priority first.

    Without ``wait`` it returns at once, possibly with no job.  With
    ``wait`` (seconds, at most 3600) it returns as soon as at least one job
    is claimed, or an empty list after ``wait`` seconds.  It waits inside
    the server with the blocking consume (``jobs.consume(num, i_wait)``)
    when the extension has it; with an extension that lacks it, it polls,
    sleeping 10 ms doubling up to 500 ms while the queue stays empty.

    Claims count only when committed: call it outside a transaction (each
    statement commits) or commit soon, and ack or nack every job before its
    ``expires_at``.
    """
    if wait and wait > 0:
        started = time.monotonic()
        try:
            with errors.wrap():
                if topic is None:
                    recs = await conn.fetch(QUERIES["consume_wait"], n, float(wait))
                else:
                    recs = await conn.fetch(QUERIES["consume_topic_wait"], topic, n, float(wait))
            # the claim was made when a job was ready, shortly before the
            # reply: count the lease from a little before the reply (but
            # not before the call), not from the start of the wait
            claimed_at = max(started, time.monotonic() - 0.05)
            return [Job.from_record(r, claimed_at) for r in recs]
        except errors.ExtensionMissing:
            if conn.is_in_transaction():
                raise                   # the failed statement aborted the caller's transaction
            # an extension without the blocking consume: poll below
    jobs = await _consume_once(conn, n, topic)
    if jobs or not wait:
        return jobs
    deadline = time.monotonic() + wait
    pause = 0.01
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return []
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 2, 0.5)
        jobs = await _consume_once(conn, n, topic)
        if jobs:
            return jobs


def _job_id(job):
    if isinstance(job, Job):
        return job.job_id
    return int(job)


async def ack_json(conn, job_id, result_json, attempt=None):
    """As ack, with the result already serialized as JSON text (or None)."""
    with errors.wrap():
        await conn.execute(QUERIES["ack"], _job_id(job_id), result_json, attempt)


async def ack(conn, job_id, result=None, attempt=None):
    """Completes a running job as succeeded, storing ``result`` (JSON).

    Pass the ``attempt`` consume returned so that a lapsed claim raises
    LeaseExpired instead of ending another worker's claim.  Raises
    JobNotFound, JobNotRunning or LeaseExpired when the ack did not count.
    """
    payload = None if result is None else json.dumps(result)
    with errors.wrap():
        await conn.execute(QUERIES["ack"], _job_id(job_id), payload, attempt)


async def ack_and_consume(conn, job_id, n=1, topic=None, result=None, attempt=None):
    """Acks ``job_id`` as ack does (nothing when it is None), then claims up
    to ``n`` ready jobs (matching the topic pattern, if given) in the same
    statement and commit, and returns them as consume does.

    One round trip and one commit per job for a loop that works one job at
    a time.  If the ack fails it raises as ack does and claims nothing.  It
    never waits: when it returns no job, wait with consume(..., wait=...).
    Needs pgjobs 1.2.
    """
    payload = None if result is None else json.dumps(result)
    job_id = None if job_id is None else _job_id(job_id)
    claimed_at = time.monotonic()
    with errors.wrap():
        recs = await conn.fetch(QUERIES["ack_and_consume"], job_id, payload, attempt, n, topic)
    return [Job.from_record(r, claimed_at) for r in recs]


async def nack(conn, job_id, error, schedule_at=None, attempt=None):
    """Fails the current attempt of a running job, keeping ``error`` (text).

    With retries left the job is ready again at ``schedule_at`` (a datetime,
    a timedelta or seconds from now, or the string "now" for the server's
    current time), or after the backoff when None; otherwise it fails.
    ``attempt`` and the errors raised are as for ack.
    """
    with errors.wrap():
        if isinstance(schedule_at, str):
            if schedule_at != "now":
                raise ValueError('schedule_at must be a datetime, a timedelta, seconds or "now"')
            await conn.execute(QUERIES["nack_now"], _job_id(job_id), error, attempt)
        else:
            await conn.execute(QUERIES["nack"], _job_id(job_id), error, _when(schedule_at), attempt)


async def release(conn, job_id, attempt=None):
    """Gives a running job back, ready again at once, without spending an
    attempt (pgjobs 1.1).  Errors as for ack."""
    with errors.wrap():
        await conn.execute(QUERIES["release"], _job_id(job_id), attempt)


async def touch(conn, job_id, extend=None, attempt=None):
    """Extends a running job's lease to now + ``extend`` seconds (default:
    its timeout) and returns the new end of the lease (pgjobs 1.1).  Raises
    JobCancelled when the job's cancellation was requested, else as ack."""
    with errors.wrap():
        return await conn.fetchval(QUERIES["touch"], _job_id(job_id),
                                   None if extend is None else float(extend), attempt)


async def progress(conn, job_id, fraction, note=None, attempt=None):
    """Records how far a running job has got, 0 to 1, with an optional note
    (pgjobs 1.1).  Errors as for touch."""
    with errors.wrap():
        await conn.execute(QUERIES["progress"], _job_id(job_id), float(fraction), note, attempt)


async def cancel(conn, job_id, reason=None):
    """Cancels a pending job ("cancelled") or asks a running one to stop
    ("cancelling") (pgjobs 1.1)."""
    with errors.wrap():
        return await conn.fetchval(QUERIES["cancel"], _job_id(job_id), reason)


async def retry(conn, job_id):
    """Puts a failed or cancelled job back in the queue with fresh attempts
    (pgjobs 1.1)."""
    with errors.wrap():
        return await conn.fetchval(QUERIES["retry"], _job_id(job_id))


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def task_allowed(task, prefixes):
    """True if ``task`` is ``prefix.something`` for one of the prefixes."""
    return any(task.startswith(p + ".") for p in prefixes)


def resolve_task(task, allow=None):
    """Imports ``package.module.function`` and returns the function.

    Refuses (TaskNotAllowed) names outside ``allow`` (a list of prefixes),
    names that are not dotted Python identifiers, dunder parts, a private
    final name, and a function defined outside the allowed prefixes (so a
    re-exported ``os.system`` is refused).  Raises TaskNotFound when the
    module or function does not exist or is not callable.
    """
    if not isinstance(task, str) or not _NAME.match(task):
        raise errors.TaskNotAllowed(f"task name {task!r} is not a dotted Python name")
    parts = task.split(".")
    if any(p.startswith("__") for p in parts) or parts[-1].startswith("_"):
        raise errors.TaskNotAllowed(f"task {task!r} names a private attribute")
    if allow is not None and not task_allowed(task, allow):
        raise errors.TaskNotAllowed(f"task {task!r} is outside the allow-list {list(allow)}")
    module_name, func_name = task.rsplit(".", 1)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise errors.TaskNotFound(f"task {task!r}: cannot import module {module_name!r}: {exc}") from exc
    func = getattr(module, func_name, None)
    if func is None or not callable(func) or inspect.isclass(func) or inspect.ismodule(func):
        raise errors.TaskNotFound(f"task {task!r}: module {module_name!r} has no function {func_name!r}")
    if allow is not None:
        defined_in = getattr(func, "__module__", None) or ""
        if not any(defined_in == p or defined_in.startswith(p + ".") for p in allow):
            raise errors.TaskNotAllowed(
                f"task {task!r} is defined in {defined_in or 'an unknown module'!r}, "
                f"outside the allow-list {list(allow)}")
    return func


async def run(conn, job, *, allow=None, executor=None):
    """Runs a job's task and returns its result.

    ``job`` is a Job (or any mapping with "task" and "body"), or a job id,
    in which case the running job is read from ``conn``.  The task is
    imported (see resolve_task; ``allow`` restricts it to prefixes) and
    called with the body's args and kwargs: a coroutine function is
    awaited, a plain function runs in ``executor`` (the loop's default
    thread pool when None).  Exceptions from the task propagate unchanged.
    """
    if isinstance(job, int):
        with errors.wrap():
            rec = await conn.fetchrow(QUERIES["running_job"], job)
        if rec is None:
            raise errors.JobNotRunning(f"job {job} is not running")
        job = Job.from_record(rec)
    elif not isinstance(job, Job):
        job = Job.from_record({f.name: job.get(f.name) for f in dataclasses.fields(Job)
                               if f.name != "claimed_at"})
    func = resolve_task(job.task, allow)
    if inspect.iscoroutinefunction(func):
        return await func(*job.args, **job.kwargs)
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(executor, functools.partial(func, *job.args, **job.kwargs))
    if inspect.isawaitable(result):
        result = await result
    return result
