"""The worker's counters, and the HTTP endpoint that serves them to Prometheus.

The worker counts what it does once, in a WorkerMetrics: its periodic
"totals" log lines are sums of these series, and ``GET /metrics`` renders
them in the Prometheus text exposition format, version 0.0.4.  The endpoint
is opt-in (``jobs-worker --metrics-port PORT``) and runs on the worker's own
asyncio loop; nothing here needs a package beyond the standard library.

    pgjobs_worker_jobs_claimed_total{task}              counter
    pgjobs_worker_jobs_succeeded_total{task}            counter
    pgjobs_worker_jobs_nacked_total{task,outcome,final} counter
    pgjobs_worker_jobs_not_recorded_total{task,reason}  counter
    pgjobs_worker_claims_total                          counter
    pgjobs_worker_errors_total{operation,error}         counter
    pgjobs_worker_reconnects_total                      counter
    pgjobs_worker_jobs_in_flight                        gauge
    pgjobs_worker_concurrency                           gauge
    pgjobs_worker_start_time_seconds                    gauge
    pgjobs_worker_job_duration_seconds{task}            histogram

Everything is updated and read on the event loop's thread, so there are no
locks.
"""

import asyncio
import bisect
import contextlib
import logging
import math
import re

__all__ = ["CONTENT_TYPE", "Counter", "Gauge", "Histogram", "Registry", "WorkerMetrics",
           "DURATION_BUCKETS", "MetricsServer", "serve", "escape_label", "format_value"]

log = logging.getLogger("pgjobs.worker")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Job run times, in seconds: a few milliseconds to an hour (timeouts default
# to 60 s and go up to 99999 s; longer runs land in +Inf).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                    60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def escape_label(value):
    """A label value as the text format writes it between double quotes:
    backslash, double quote and line feed escaped."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value):
    """A sample value: integers as such, floats as Python's shortest repr
    (which Prometheus parses), infinities and NaN as the format spells them."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


class _Metric:
    """One metric family: a name, a help text, label names, and its series
    keyed by the tuple of their label values."""

    type = "untyped"

    def __init__(self, name, help_text, labelnames=()):
        if not _NAME.match(name):
            raise ValueError(f"invalid metric name {name!r}")
        labelnames = tuple(labelnames)
        for n in labelnames:
            if not _LABEL.match(n) or n.startswith("__") or n == "le":
                raise ValueError(f"invalid label name {n!r}")
        self.name = name
        self.help = help_text
        self.labelnames = labelnames
        self._series = {}

    def _key(self, labels):
        if len(labels) != len(self.labelnames) or set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes the labels {list(self.labelnames)}, "
                             f"not {sorted(labels)}")
        return tuple(str(labels[n]) for n in self.labelnames)

    def _labels(self, key, extra=()):
        pairs = list(zip(self.labelnames, key)) + list(extra)
        if not pairs:
            return ""
        return "{" + ",".join(f'{n}="{escape_label(v)}"' for n, v in pairs) + "}"

    def _samples(self):
        return []

    def render(self):
        """The family's lines: HELP, TYPE, then its samples, in label order."""
        return [f"# HELP {self.name} {_escape_help(self.help)}",
                f"# TYPE {self.name} {self.type}", *self._samples()]


class Counter(_Metric):
    """A monotonic count.  Without labels its one series exists from the
    start (at 0); with labels a series appears at its first increment."""

    type = "counter"

    def __init__(self, name, help_text, labelnames=()):
        super().__init__(name, help_text, labelnames)
        if not self.labelnames:
            self._series[()] = 0

    def inc(self, amount=1, **labels):
        if amount < 0:
            raise ValueError("a counter only goes up")
        key = self._key(labels)
        self._series[key] = self._series.get(key, 0) + amount

    def value(self, **labels):
        return self._series.get(self._key(labels), 0)

    def total(self, **match):
        """The sum of the series whose labels have the given values."""
        idx = [(self.labelnames.index(n), str(v)) for n, v in match.items()]
        return sum(v for k, v in self._series.items() if all(k[i] == s for i, s in idx))

    def _samples(self):
        return [f"{self.name}{self._labels(k)} {format_value(self._series[k])}"
                for k in sorted(self._series)]


class Gauge(_Metric):
    """A value without labels, set, or read from ``function`` at each scrape."""

    type = "gauge"

    def __init__(self, name, help_text, function=None, value=0):
        super().__init__(name, help_text)
        self._function = function
        self._value = value

    def set(self, value):
        self._value = value

    def value(self):
        return self._function() if self._function is not None else self._value

    def _samples(self):
        return [f"{self.name} {format_value(self.value())}"]


class Histogram(_Metric):
    """Observations counted in cumulative ``le`` buckets, with their sum and count."""

    type = "histogram"

    def __init__(self, name, help_text, labelnames=(), buckets=DURATION_BUCKETS):
        super().__init__(name, help_text, labelnames)
        self.buckets = tuple(sorted({float(b) for b in buckets if not math.isinf(b)}))

    def observe(self, value, **labels):
        key = self._key(labels)
        s = self._series.get(key)
        if s is None:
            s = self._series[key] = [[0] * len(self.buckets), 0.0, 0]
        i = bisect.bisect_left(self.buckets, value)     # the first bucket with le >= value
        if i < len(self.buckets):
            s[0][i] += 1
        s[1] += value
        s[2] += 1

    def count(self, **labels):
        s = self._series.get(self._key(labels))
        return 0 if s is None else s[2]

    def _samples(self):
        out = []
        for k in sorted(self._series):
            counts, total, n = self._series[k]
            acc = 0
            for le, c in zip(self.buckets, counts):
                acc += c
                out.append(f"{self.name}_bucket{self._labels(k, [('le', format_value(le))])} {acc}")
            out.append(f"{self.name}_bucket{self._labels(k, [('le', '+Inf')])} {n}")
            out.append(f"{self.name}_sum{self._labels(k)} {format_value(total)}")
            out.append(f"{self.name}_count{self._labels(k)} {n}")
        return out


class Registry:
    """The metric families one endpoint serves, in registration order."""

    def __init__(self):
        self._metrics = []

    def register(self, metric):
        if any(m.name == metric.name for m in self._metrics):
            raise ValueError(f"metric {metric.name} is already registered")
        self._metrics.append(metric)
        return metric

    def render(self):
        """The exposition text of every family (text format 0.0.4)."""
        lines = []
        for m in self._metrics:
            lines += m.render()
        return "\n".join(lines) + "\n"


class WorkerMetrics:
    """Every counter of one worker: the only tally it keeps.

    ``in_flight`` is a function returning the number of jobs in flight,
    read at each scrape.
    """

    def __init__(self, concurrency, in_flight):
        r = self.registry = Registry()
        self.claimed = r.register(Counter(
            "pgjobs_worker_jobs_claimed_total",
            "Jobs this worker claimed, by task.", ["task"]))
        self.succeeded = r.register(Counter(
            "pgjobs_worker_jobs_succeeded_total",
            "Jobs whose task returned a JSON result, acked, by task.", ["task"]))
        self.nacked = r.register(Counter(
            "pgjobs_worker_jobs_nacked_total",
            "Jobs nacked, by task and outcome (failed: the task raised or returned no JSON; "
            "timed_out; given_back: at shutdown; refused: outside the allow-list), "
            "final=true when it was the job's last attempt (it ends as failed), "
            "final=false when it is retried.", ["task", "outcome", "final"]))
        self.not_recorded = r.register(Counter(
            "pgjobs_worker_jobs_not_recorded_total",
            "Acks and nacks that did not count, by task and reason (lease_expired: PJ003, "
            "job_not_running: PJ002, job_not_found: PJ001, connection_lost, stopped, "
            "database_error).", ["task", "reason"]))
        self.claims = r.register(Counter(
            "pgjobs_worker_claims_total",
            "Claim statements (jobs.consume_topic) that returned, with jobs or without."))
        self.errors = r.register(Counter(
            "pgjobs_worker_errors_total",
            "Failed database operations (each try counts), by operation (check, claim, ack, "
            "nack) and pgjobs error class; operation=internal for a bug in the worker.",
            ["operation", "error"]))
        self.reconnects = r.register(Counter(
            "pgjobs_worker_reconnects_total",
            "Connections opened to replace one that was lost."))
        self.in_flight = r.register(Gauge(
            "pgjobs_worker_jobs_in_flight",
            "Jobs claimed and not yet reported.", function=in_flight))
        self.concurrency = r.register(Gauge(
            "pgjobs_worker_concurrency",
            "The most jobs this worker runs at once (--concurrency).", value=concurrency))
        self.start_time = r.register(Gauge(
            "pgjobs_worker_start_time_seconds",
            "When the worker started, in seconds since the Unix epoch."))
        self.duration = r.register(Histogram(
            "pgjobs_worker_job_duration_seconds",
            "Run time of the jobs that succeeded, failed or timed out, by task.", ["task"]))

    def totals(self):
        """The figures of the worker's totals lines, summed from the series."""
        t = {"claimed": self.claimed.total(), "succeeded": self.succeeded.total()}
        for outcome in ("failed", "timed_out", "given_back", "refused"):
            t[outcome] = self.nacked.total(outcome=outcome)
        t["not_recorded"] = self.not_recorded.total()
        t["errors"] = self.errors.total()
        t["reconnects"] = self.reconnects.total()
        return t


# -- the HTTP endpoint -------------------------------------------------------------

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            500: "Internal Server Error"}
_REQUEST_LINE = re.compile(r"^([A-Z]+) (\S+) HTTP/\d\.\d$")
_TIMEOUT = 10.0         # seconds a client may take to send its request or read the reply
_MAX_HEADERS = 100
_LINE_LIMIT = 16384     # bytes in one request or header line


class MetricsServer:
    """The HTTP endpoint: ``GET /metrics`` on an asyncio server, one
    request per connection.  Start it with ``await serve(...)``."""

    def __init__(self, render):
        self._render = render
        self._server = None
        self._connections = set()

    async def start(self, host, port):
        self._server = await asyncio.start_server(self._connection, host, port,
                                                  limit=_LINE_LIMIT)

    @property
    def sockets(self):
        """The listening sockets (none once closed)."""
        return () if self._server is None else self._server.sockets

    async def close(self):
        """Stops listening and ends the connections still open."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(set(self._connections), timeout=2)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _connection(self, reader, writer):
        task = asyncio.current_task()
        self._connections.add(task)
        try:
            await _handle(self._render, reader, writer)
        finally:
            self._connections.discard(task)


async def serve(render, host, port):
    """Starts serving ``GET /metrics`` on host:port and returns the
    MetricsServer.  ``render`` returns the exposition text.  Raises OSError
    when the address cannot be bound."""
    server = MetricsServer(render)
    await server.start(host, port)
    return server


async def _read_request(reader):
    """Reads the request line and the headers; returns (method, target), or
    None when the client closed without a request.  Raises ValueError for a
    malformed request."""
    line = await reader.readline()
    if not line.strip():
        return None
    m = _REQUEST_LINE.match(line.decode("latin-1").rstrip("\r\n"))
    if m is None:
        raise ValueError("malformed request line")
    for _ in range(_MAX_HEADERS):
        header = await reader.readline()
        if header in (b"", b"\r\n", b"\n"):     # end of the headers (or of the input)
            return m.group(1), m.group(2)
    raise ValueError("too many header lines")


def _respond(render, request):
    """Returns (status, extra headers, content type, body) for a request,
    None meaning a malformed one."""
    text = "text/plain; charset=utf-8"
    if request is None:
        return 400, [], text, b"bad request\n"
    method, target = request
    if target.split("?", 1)[0] != "/metrics":
        return 404, [], text, b"not found: the metrics are at /metrics\n"
    if method not in ("GET", "HEAD"):
        return 405, [("Allow", "GET, HEAD")], text, b"method not allowed\n"
    try:
        body = render().encode("utf-8")
    except Exception:                   # noqa: BLE001 -- a bug: say so, keep the worker
        log.exception("metrics: cannot render the metrics")
        return 500, [], text, b"internal error\n"
    return 200, [], CONTENT_TYPE, body


async def _handle(render, reader, writer):
    """Serves one connection: one request, one reply, then closes."""
    try:
        try:
            request = await asyncio.wait_for(_read_request(reader), _TIMEOUT)
            if request is None:
                return
        except ValueError:              # malformed, or a line over the limit
            request = None
        status, headers, ctype, body = _respond(render, request)
        head = [f"HTTP/1.1 {status} {_REASONS[status]}", f"Content-Type: {ctype}",
                f"Content-Length: {len(body)}", "Connection: close"]
        head += [f"{k}: {v}" for k, v in headers]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if request is None or request[0] != "HEAD":
            writer.write(body)
        await asyncio.wait_for(writer.drain(), _TIMEOUT)
    except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, OSError):
        pass                            # a slow or vanished client: just close
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 1)
