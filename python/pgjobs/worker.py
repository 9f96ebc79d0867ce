"""The pgjobs worker: claims jobs, runs them concurrently, acks or nacks them.

    jobs-worker DSN --tasks myapp [--tasks otherpkg] [--concurrency 10]
                [--topic PATTERN] [--burst] [--grace 30]

or, in Python, ``await Worker(dsn, ["myapp"]).run()``.

How it works:

- It only claims and only runs tasks under its allow-list of prefixes: with
  ``--tasks myapp`` it claims with ``jobs.consume_topic('myapp.%', n)``, and
  before running a job it checks the name again and that the function is
  defined inside an allowed package (a re-exported ``os.system`` is
  refused).  It refuses to start with no allow-list.
- Each job runs in its own asyncio task, up to ``concurrency`` at once.
  Whenever there is room the worker claims as many jobs as fit, in one
  statement per pattern.
- An idle worker with one claim pattern waits inside the server with the
  blocking consume (``jobs.consume_topic(pattern, n, i_wait)``, up to 1 s
  at a time), so a published job starts within a millisecond of its commit
  when pgjobs is preloaded.  With several patterns (several ``--tasks``) it
  polls: after an empty claim it sleeps 50 ms, doubling up to 1 s while the
  queue stays empty, and goes back to 50 ms as soon as a claim returns work.
- A job gets its timeout, less a margin of 10 % (at most 1 s), counted from
  just before the claim, so that the worker's "timed out" nack lands while
  the lease still holds.  Coroutine tasks are cancelled; a plain function
  running in the worker's thread pool cannot be interrupted: it is
  abandoned (the job is nacked) and its thread finishes on its own.
- Success is acked with the JSON of the return value; an exception (or a
  return value that is not JSON) is nacked with the formatted traceback.
  Acks and nacks pass the attempt the claim returned, so a lapsed lease is
  reported (LeaseExpired) instead of ending another worker's claim.
- SIGINT/SIGTERM: stop claiming, wait up to ``grace`` seconds for the jobs
  in flight, then cancel the rest and give them back with jobs.release
  (ready at once, no attempt spent; on a pgjobs 1.0 server, a nack
  scheduled now, which counts as an attempt).  A second signal skips the
  rest of the grace period.
- Connection failures (server restart, network) are retried with backoff;
  the claim loop reconnects by itself.  An ack or nack that fails for lack
  of a connection is retried until the job's lease ends; if it still cannot
  be delivered it is logged as lost (the job then runs again once its lease
  lapses), never dropped silently.
- One log line per job (id, task, attempt, duration, outcome) and totals
  every ``stats_interval`` seconds and at exit.
- Every count lives in one place, a metrics.WorkerMetrics: the totals lines
  are its sums, and with ``metrics_port`` (``--metrics-port``) the worker
  serves it at ``http://metrics_host:metrics_port/metrics`` in the
  Prometheus text format, from its own asyncio loop.
"""

import asyncio
import collections
import concurrent.futures
import contextlib
import json
import logging
import random
import re
import signal
import threading
import time
import traceback

import asyncpg

from . import client, errors, metrics
from .queries import QUERIES

__all__ = ["Worker", "claim_patterns"]

log = logging.getLogger("pgjobs.worker")

_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_WILDCARD = re.compile(r"[%*]")


def claim_patterns(tasks, topic=None):
    """Returns the consume_topic patterns a worker with allow-list ``tasks``
    and optional ``topic`` claims with, each matching only allowed tasks.

    Without a topic, one pattern ``prefix.%`` per prefix.  A topic is
    accepted when, for some prefix, it is inside ``prefix.%`` (it has no
    wildcard before "prefix.") or it is a literal head and one trailing
    wildcard that covers ``prefix.%`` (``%``, ``my%``): then ``prefix.%`` is
    used.  Any other topic raises ValueError.
    """
    if not tasks:
        raise ValueError("no allow-list: give at least one --tasks prefix")
    for p in tasks:
        if not _PREFIX.match(p):
            raise ValueError(f"--tasks {p!r} is not a dotted Python name (such as myapp or myapp.jobs)")
    if topic is None:
        return [p + ".%" for p in tasks]
    if not topic:
        raise ValueError("--topic must not be empty")
    m = _WILDCARD.search(topic)
    head = topic if m is None else topic[:m.start()]
    out = []
    for p in tasks:
        if head.startswith(p + "."):
            out.append(topic)
        elif m is not None and m.end() == len(topic) and (p + ".").startswith(head):
            out.append(p + ".%")
    out = list(dict.fromkeys(out))
    if not out:
        raise ValueError(
            f"--topic {topic!r} does not lie within the allow-list {list(tasks)}: it must start "
            f"with an allowed prefix and a dot (e.g. {tasks[0] + '.mail.%'!r}), or be a prefix "
            f"pattern covering one (e.g. '%')")
    return out


class _Conns:
    """A small connection pool: connections are made on demand, up to
    ``size``; one that failed, was cancelled mid-statement or is left in a
    transaction is discarded, so the next acquire reconnects.  A connection
    opened to replace a lost one calls ``on_reconnect``."""

    def __init__(self, dsn, size, connect_kwargs, on_reconnect=None):
        self._dsn = dsn
        self._kwargs = connect_kwargs
        self._idle = []
        self._sem = asyncio.Semaphore(size)
        self._all = set()
        self._on_reconnect = on_reconnect
        self._lost = 0                  # connections found broken, not yet replaced

    @contextlib.asynccontextmanager
    async def acquire(self):
        async with self._sem:
            con = None
            while self._idle:
                con = self._idle.pop()
                if not con.is_closed():
                    break
                self._all.discard(con)
                self._lost += 1
                con = None
            if con is None:
                with errors.wrap():
                    con = await asyncpg.connect(self._dsn, **self._kwargs)
                self._all.add(con)
                if self._lost:
                    self._lost -= 1
                    if self._on_reconnect is not None:
                        self._on_reconnect()
            keep = False
            broken = False
            try:
                yield con
                keep = True
            except errors.ConnectionLost:
                broken = True
                raise
            except errors.PgJobsError:
                keep = True             # a statement error: the connection is fine
                raise
            finally:
                if keep and not con.is_closed() and not con.is_in_transaction():
                    self._idle.append(con)
                else:
                    if broken or con.is_closed():
                        self._lost += 1     # its replacement counts as a reconnect
                    self._all.discard(con)
                    con.terminate()

    async def close(self):
        for con in list(self._all):
            try:
                await asyncio.wait_for(con.close(), 2)
            except Exception:           # noqa: BLE001 -- best effort at exit
                con.terminate()
        self._all.clear()
        self._idle.clear()


class _CountingExecutor(concurrent.futures.ThreadPoolExecutor):
    """A thread pool that knows how many task functions are still running
    (a timed-out or abandoned function keeps its thread)."""

    def __init__(self, n):
        super().__init__(max_workers=n, thread_name_prefix="pgjobs-task")
        self._lock = threading.Lock()
        self.running = 0

    def submit(self, fn, /, *args, **kwargs):
        def counted():
            with self._lock:
                self.running += 1
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self.running -= 1
        return super().submit(counted)


class Worker:
    """Claims and runs jobs whose task names start with one of ``tasks``.

    Parameters: ``dsn`` (required, no default credentials; asyncpg also
    reads the PG* environment variables), ``tasks`` (the allow-list of
    prefixes), ``concurrency`` (jobs in flight at once), ``topic`` (an
    optional narrower pattern, see claim_patterns), ``burst`` (exit once no
    job is ready and none is in flight), ``grace`` (seconds to let jobs
    finish at shutdown), ``stats_interval`` (seconds between totals lines),
    ``poll_min``/``poll_max`` (the idle polling sleep), ``connect_kwargs``
    (passed to asyncpg.connect), ``metrics_port`` (serve the counters for
    Prometheus at http://metrics_host:metrics_port/metrics; None, the
    default, serves nothing; 0 picks a free port, see metrics_address) and
    ``metrics_host`` (default 127.0.0.1).

    ``metrics`` (a metrics.WorkerMetrics) holds every count; ``totals`` sums
    it as the totals lines print it.
    """

    def __init__(self, dsn, tasks, *, concurrency=10, topic=None, burst=False, grace=30.0,
                 stats_interval=60.0, poll_min=0.05, poll_max=1.0, connect_kwargs=None,
                 metrics_port=None, metrics_host="127.0.0.1"):
        tasks = list(tasks or [])
        self.patterns = claim_patterns(tasks, topic)
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if metrics_port is not None and not 0 <= metrics_port <= 65535:
            raise ValueError("metrics_port must be between 0 and 65535")
        self.dsn = dsn
        self.tasks = tasks
        self.concurrency = concurrency
        self.burst = burst
        self.grace = grace
        self.stats_interval = stats_interval
        self.poll_min = poll_min
        self.poll_max = poll_max
        kwargs = {"timeout": 10, "server_settings": {"application_name": "jobs-worker"}}
        kwargs.update(connect_kwargs or {})
        self.connect_kwargs = kwargs
        self.metrics_port = metrics_port
        self.metrics_host = metrics_host
        self.stuck_threads = 0
        self._in_flight = set()
        self.metrics = metrics.WorkerMetrics(concurrency, lambda: len(self._in_flight))
        self._metrics_server = None
        self._stopping = False
        self._hurry = False
        self._release_missing = False   # a 1.0 server has no jobs.release
        self._wake = None
        self._conns = None
        self._executor = None
        self._turn = 0

    @property
    def totals(self):
        """The figures of the totals lines (claimed, succeeded, failed,
        timed_out, given_back, refused, not_recorded, errors, reconnects),
        summed from ``metrics``: a snapshot, not a tally of its own."""
        return collections.Counter(self.metrics.totals())

    @property
    def metrics_address(self):
        """(host, port) the metrics endpoint listens on, or None."""
        if self._metrics_server is None or not self._metrics_server.sockets:
            return None
        return self._metrics_server.sockets[0].getsockname()[:2]

    # -- control -----------------------------------------------------------

    def stop(self, immediate=False):
        """Stops claiming; in-flight jobs get the grace period (none if immediate)."""
        if self._stopping and not immediate:
            immediate = True
        self._stopping = True
        self._hurry = self._hurry or immediate
        if self._wake is not None:
            self._wake.set()

    def _on_signal(self, signum):
        name = signal.Signals(signum).name
        if self._stopping:
            log.warning("%s again: giving back the jobs in flight now", name)
            self.stop(immediate=True)
        else:
            log.info("%s: no more claims; waiting up to %gs for %d job(s) in flight",
                     name, self.grace, len(self._in_flight))
            self.stop()

    async def _sleep(self, seconds):
        """Sleeps, waking early on stop() or when a job finishes."""
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    # -- main loop -----------------------------------------------------------

    async def run(self, install_signals=True):
        """Runs until stopped (or, in burst mode, until the queue is drained).
        Returns the exit status: 0, or 1 when the database cannot be used or
        the metrics address cannot be bound."""
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self.metrics.start_time.set(time.time())
        if self.metrics_port is not None and not await self._start_metrics():
            return 1
        self._conns = _Conns(self.dsn, min(self.concurrency, 16) + 1, self.connect_kwargs,
                             on_reconnect=self.metrics.reconnects.inc)
        self._executor = _CountingExecutor(self.concurrency)
        if install_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._on_signal, sig)
        stats = asyncio.create_task(self._stats())
        log.info("worker started: tasks %s, claiming with %s, concurrency %d%s",
                 ", ".join(self.tasks), ", ".join(repr(p) for p in self.patterns),
                 self.concurrency, ", burst" if self.burst else "")
        status = 0
        try:
            status = await self._check()
            if status == 0:
                status = await self._loop()
        finally:
            await self._shutdown()
            stats.cancel()
            if install_signals:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
            await self._stop_metrics()
            self._log_totals("final totals")
        return status

    async def _start_metrics(self):
        """Starts the metrics endpoint; False (logged) if the address cannot be bound."""
        try:
            self._metrics_server = await metrics.serve(
                self.metrics.registry.render, self.metrics_host, self.metrics_port)
        except OSError as exc:
            log.error("cannot serve metrics on %s port %d: %s",
                      self.metrics_host, self.metrics_port, exc)
            return False
        for sock in self._metrics_server.sockets:
            host, port = sock.getsockname()[:2]
            log.info("metrics at http://%s:%d/metrics", f"[{host}]" if ":" in host else host, port)
        return True

    async def _stop_metrics(self):
        if self._metrics_server is not None:
            await self._metrics_server.close()

    async def _check(self):
        """Waits for the database and checks it has the extension."""
        delay = 0.1
        started = time.monotonic()
        while not self._stopping:
            try:
                try:
                    async with self._conns.acquire() as con:
                        with errors.wrap():
                            version = await con.fetchval(QUERIES["extension_version"])
                except errors.PgJobsError as exc:
                    self._count_error("check", exc)
                    raise
                if version is None:
                    log.error("the database has no pgjobs extension: run jobs-migrate DSN first")
                    return 1
                return 0
            except errors.ConnectionLost as exc:
                if self.burst and time.monotonic() - started > 30:
                    log.error("cannot connect: %s", exc)
                    return 1
                log.warning("cannot connect (%s); retrying in %.1fs", exc, delay)
                await self._sleep(delay)
                delay = min(delay * 2, 5.0) * random.uniform(0.8, 1.2)
            except errors.PgJobsError as exc:
                log.error("cannot use the database: %s", exc)
                return 1
        return 0

    async def _loop(self):
        pause = self.poll_min
        backoff = 0.1
        while not self._stopping:
            self._wake.clear()
            room = self.concurrency - len(self._in_flight)
            if room <= 0:
                await self._wake.wait()
                continue
            try:
                jobs = await self._claim(room)
            except errors.ConnectionLost as exc:
                log.warning("claim failed, connection lost (%s); retrying in %.1fs", exc, backoff)
                await self._sleep(backoff)
                backoff = min(backoff * 2, 5.0) * random.uniform(0.8, 1.2)
                continue
            except errors.ExtensionMissing as exc:
                log.error("the pgjobs extension is gone: %s", exc)
                return 1
            except errors.PgJobsError as exc:
                log.error("claim failed: %s; retrying in %.1fs", exc, backoff)
                await self._sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if backoff > 0.1:
                log.info("connected again")
            backoff = 0.1
            for job in jobs:
                self._start(job)
            if len(jobs) == room:
                pause = self.poll_min
                continue                # maybe more ready: claim again when there is room
            if self.burst:
                if not self._in_flight:
                    log.info("burst: no job ready and none in flight, exiting")
                    break
                await self._wake.wait()  # a finishing job may have been retried at once
                continue
            if jobs:
                pause = self.poll_min
            elif len(self.patterns) == 1:
                # idle, one pattern: wait in the server, woken by the commit
                # that readies a job, for at most poll_max seconds at a time
                # (a stop or a freed slot is noticed within that); a claim
                # made while stopping just joins the jobs in flight
                try:
                    jobs = await self._claim(room, wait=self.poll_max)
                except errors.PgJobsError as exc:
                    log.warning("waiting claim failed (%s); polling", exc)
                    await self._sleep(pause)
                    continue
                for job in jobs:
                    self._start(job)
                continue
            await self._sleep(pause)
            if not jobs:
                pause = min(pause * 2, self.poll_max)
        return 0

    async def _claim(self, room, wait=None):
        """Claims up to ``room`` jobs, pattern by pattern (rotating the first);
        with ``wait`` (one pattern only), waits up to that many seconds in the
        server for a job to be ready."""
        jobs = []
        try:
            if wait:
                async with self._conns.acquire() as con:
                    jobs = await client.consume(con, room, self.patterns[0], wait=wait)
                self.metrics.claims.inc()
            else:
                n = len(self.patterns)
                order = [self.patterns[(self._turn + i) % n] for i in range(n)]
                self._turn += 1
                async with self._conns.acquire() as con:
                    for pattern in order:
                        want = room - len(jobs)
                        if want <= 0:
                            break
                        jobs += await client._consume_once(con, want, pattern)
                        self.metrics.claims.inc()
        except errors.PgJobsError as exc:
            self._count_error("claim", exc)
            raise
        for job in jobs:
            self.metrics.claimed.inc(task=job.task)
        return jobs

    def _count_error(self, operation, exc):
        self.metrics.errors.inc(operation=operation, error=type(exc).__name__)

    def _start(self, job):
        task = asyncio.create_task(self._execute(job), name=f"pgjobs-job-{job.job_id}")
        self._in_flight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task):
        self._in_flight.discard(task)
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            self._count_error("internal", task.exception())
            log.error("internal error in a job task", exc_info=task.exception())

    # -- one job ---------------------------------------------------------------

    async def _execute(self, job):
        """Runs one job and reports its outcome; logs one line."""
        started = time.monotonic()
        budget = job.timeout - min(1.0, job.timeout * 0.1)
        remaining = max(job.claimed_at + budget - started, 0.001)
        result_json = None
        if not client.task_allowed(job.task, self.tasks):
            # Claims only match allowed prefixes, so this "cannot happen";
            # if it does, the job is never run and goes back to the queue.
            outcome = "refused"
            error = f"task {job.task!r} is outside this worker's allow-list {self.tasks}; not run"
        else:
            inner = asyncio.ensure_future(
                client.run(None, job, allow=self.tasks, executor=self._executor))
            try:
                done, _ = await asyncio.wait({inner}, timeout=remaining)
            except asyncio.CancelledError:
                inner.cancel()
                await asyncio.wait({inner}, timeout=1)
                outcome = "given back"
                error = "the worker shut down before the job finished"
            else:
                if not done:
                    inner.cancel()
                    await asyncio.wait({inner}, timeout=1)
                    outcome = "timed out"
                    error = f"timed out after {job.timeout:g} seconds (cancelled by the worker)"
                elif inner.exception() is not None:
                    exc = inner.exception()
                    outcome = "failed"
                    error = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                else:
                    try:
                        result_json = json.dumps(inner.result())
                        outcome, error = "succeeded", None
                    except (TypeError, ValueError) as exc:
                        outcome = "failed"
                        error = f"the task's return value is not JSON: {exc}"
        duration = time.monotonic() - started
        note = await self._report(job, outcome, result_json, error)
        m = self.metrics
        if outcome == "succeeded":
            m.succeeded.inc(task=job.task)
        else:
            # a failed attempt ends the job when no retry is left
            # (jobs.nack retries while attempts <= max_retries)
            m.nacked.inc(task=job.task, outcome=outcome.replace(" ", "_"),
                         final="true" if job.attempt > job.max_retries else "false")
        if outcome in ("succeeded", "failed", "timed out"):
            m.duration.observe(duration, task=job.task)
        log.info("job %d task=%s attempt=%d duration=%.3fs outcome=%s%s",
                 job.job_id, job.task, job.attempt, duration, outcome,
                 f" ({note})" if note else "")

    async def _report(self, job, outcome, result_json, error):
        """Acks or nacks the job, retrying while the connection is down and
        the lease holds.  Returns None, or a note when the outcome was not
        recorded (the note is also logged as a warning or an error).  Every
        failed try counts in the errors metric, every outcome not recorded
        in the not-recorded one."""
        lease_end = job.claimed_at + job.timeout
        delay = 0.1
        retried = False
        operation = "ack" if outcome == "succeeded" else "nack"
        while True:
            try:
                try:
                    async with self._conns.acquire() as con:
                        if outcome == "succeeded":
                            await client.ack_json(con, job.job_id, result_json,
                                                  attempt=job.attempt)
                        elif outcome == "given back":
                            await self._give_back(con, job, error)
                        elif outcome == "refused":
                            await client.nack(con, job.job_id, error, schedule_at="now",
                                              attempt=job.attempt)
                        else:
                            await client.nack(con, job.job_id, error, attempt=job.attempt)
                except errors.PgJobsError as exc:
                    self._count_error(operation, exc)
                    raise
                return None
            except errors.ConnectionLost as exc:
                if time.monotonic() + delay < lease_end and not self._hurry:
                    retried = True
                    log.warning("job %d: connection lost reporting %s (%s); retrying in %.1fs",
                                job.job_id, outcome, exc, delay)
                    try:
                        await asyncio.sleep(delay)
                    except asyncio.CancelledError:
                        return self._stopped_reporting(job, outcome)
                    delay = min(delay * 2, 5.0)
                    continue
                note = f"{outcome} NOT RECORDED: connection lost ({exc}); the job runs again when its lease lapses"
                self.metrics.not_recorded.inc(task=job.task, reason="connection_lost")
                log.error("job %d: %s", job.job_id, note)
                return note
            except errors.JobNotRunning as exc:
                if retried:
                    note = f"{outcome} probably recorded before the connection was lost ({exc})"
                    log.warning("job %d: %s", job.job_id, note)
                    return note
                note = f"{outcome} not recorded: {exc}"
                reason = "job_not_running"
            except errors.LeaseExpired as exc:
                note = f"{outcome} not recorded, the lease lapsed: {exc}"
                reason = "lease_expired"
            except errors.JobNotFound as exc:
                note = f"{outcome} not recorded: {exc}"
                reason = "job_not_found"
            except errors.PgJobsError as exc:
                note = f"{outcome} not recorded: {exc}"
                reason = "database_error"
            except asyncio.CancelledError:
                return self._stopped_reporting(job, outcome)
            self.metrics.not_recorded.inc(task=job.task, reason=reason)
            log.warning("job %d: %s", job.job_id, note)
            return note

    async def _give_back(self, con, job, error):
        """Gives a job the shutdown kept from running back to the queue:
        jobs.release (pgjobs 1.1) spends no attempt, so a job without retries
        left runs later instead of failing; a 1.0 server gets a nack that
        makes it ready at once."""
        if self._release_missing:
            await client.nack(con, job.job_id, error, schedule_at="now", attempt=job.attempt)
            return
        try:
            await client.release(con, job.job_id, attempt=job.attempt)
        except errors.ExtensionMissing:
            self._release_missing = True
            await client.nack(con, job.job_id, error, schedule_at="now", attempt=job.attempt)

    def _stopped_reporting(self, job, outcome):
        """Counts and logs an outcome the shutdown kept from being reported; returns the note."""
        note = f"{outcome} NOT RECORDED: the worker was stopped while reporting it"
        self.metrics.not_recorded.inc(task=job.task, reason="stopped")
        log.error("job %d: %s", job.job_id, note)
        return note

    # -- shutdown and totals ---------------------------------------------------------

    async def _shutdown(self):
        """Lets in-flight jobs finish within the grace period, gives back the rest."""
        self._stopping = True
        if self._in_flight:
            deadline = time.monotonic() + self.grace
            while self._in_flight and not self._hurry and time.monotonic() < deadline:
                self._wake.clear()
                await self._sleep(min(0.1, max(deadline - time.monotonic(), 0)))
            pending = set(self._in_flight)
            if pending:
                log.warning("giving back %d job(s) still running", len(pending))
                for t in pending:
                    t.cancel()
                _, still = await asyncio.wait(pending, timeout=10)
                for t in still:             # stuck reporting: give up on them
                    t.cancel()
                if still:
                    await asyncio.wait(still, timeout=1)
        if self._conns is not None:
            await self._conns.close()
        if self._executor is not None:
            self.stuck_threads = self._executor.running
            if self.stuck_threads:
                log.warning("%d task function(s) still running in threads were abandoned",
                            self.stuck_threads)
            self._executor.shutdown(wait=False, cancel_futures=True)

    def _log_totals(self, label="totals"):
        t = self.metrics.totals()
        log.info("%s: claimed=%d succeeded=%d failed=%d timed_out=%d given_back=%d refused=%d "
                 "not_recorded=%d in_flight=%d errors=%d reconnects=%d", label, t["claimed"],
                 t["succeeded"], t["failed"], t["timed_out"], t["given_back"], t["refused"],
                 t["not_recorded"], len(self._in_flight), t["errors"], t["reconnects"])

    async def _stats(self):
        while True:
            await asyncio.sleep(self.stats_interval)
            self._log_totals()


if __name__ == "__main__":
    import sys

    from .cli import worker_main
    sys.exit(worker_main())
