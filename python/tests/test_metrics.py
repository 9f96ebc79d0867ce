"""The worker's Prometheus endpoint (--metrics-port): exact series after real
jobs, the totals lines agreeing with them, HTTP behaviour, and nothing
listening without the flag."""

import asyncio
import logging
import os
import re
import signal
import socket
import urllib.error
import urllib.request

import pytest

import pgjobs
from pgjobs import cli as pgjobs_cli
from pgjobs import metrics
from pgjobs.worker import Worker
from tests import sample_tasks
from tests.conftest import DSN, wait_for
from tests.test_cli import finish, start_worker
from tests.test_worker import running

TASKS = ["tests.sample_tasks"]
T = "tests.sample_tasks."
WEIRD = T + 'we"ird\\na\nme'            # a task name with every character the format escapes

FAMILIES = {
    "pgjobs_worker_jobs_claimed_total": "counter",
    "pgjobs_worker_jobs_succeeded_total": "counter",
    "pgjobs_worker_jobs_nacked_total": "counter",
    "pgjobs_worker_jobs_not_recorded_total": "counter",
    "pgjobs_worker_claims_total": "counter",
    "pgjobs_worker_errors_total": "counter",
    "pgjobs_worker_reconnects_total": "counter",
    "pgjobs_worker_jobs_in_flight": "gauge",
    "pgjobs_worker_concurrency": "gauge",
    "pgjobs_worker_start_time_seconds": "gauge",
    "pgjobs_worker_job_duration_seconds": "histogram",
}

# -- reading the exposition text -----------------------------------------------

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"(,|$)')


def _unescape(value):
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def parse(text):
    """Parses text format 0.0.4 strictly enough for these tests: returns
    (types, helps, samples) with samples {name: {frozenset(labels): value}}."""
    assert text.endswith("\n")
    types, helps, samples = {}, {}, {}
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP "):
            name, text_ = line[7:].split(" ", 1)
            helps[name] = text_
        elif line.startswith("# TYPE "):
            name, type_ = line[7:].split(" ")
            assert name not in types, f"two TYPE lines for {name}"
            types[name] = type_
        else:
            m = _SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            labels, pos, body = {}, 0, m.group(2) or ""
            while pos < len(body):
                pm = _PAIR.match(body, pos)
                assert pm, f"bad labels in {line!r}"
                labels[pm.group(1)] = _unescape(pm.group(2))
                pos = pm.end()
            family = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
            assert family in types, f"sample before its TYPE line: {line!r}"
            samples.setdefault(m.group(1), {})[frozenset(labels.items())] = float(m.group(3))
    return types, helps, samples


def series(samples, name, **fixed):
    """{tuple of the other label values: value} of one sample name, among
    the series whose labels include ``fixed``."""
    out = {}
    for labels, value in samples.get(name, {}).items():
        d = dict(labels)
        if all(d.get(k) == v for k, v in fixed.items()):
            out[tuple(v for k, v in sorted(d.items()) if k not in fixed)] = value
    return out


def get(host, port, path="/metrics", method="GET"):
    """One HTTP request with urllib; returns (status, headers, body text)."""
    req = urllib.request.Request(f"http://{host}:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers, e.read().decode("utf-8")


async def scrape(host, port):
    status, headers, body = await asyncio.to_thread(get, host, port)
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert int(headers["Content-Length"]) == len(body.encode("utf-8"))
    return parse(body)


async def until(predicate, timeout=15.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def totals_line(records, label):
    lines = [r.getMessage() for r in records if r.getMessage().startswith(label + ": ")]
    assert lines, f"no {label} line"
    return dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", lines[-1]))


# -- the series, after real jobs -------------------------------------------------


async def test_series_count_what_the_worker_did(conn, caplog):
    caplog.set_level(logging.INFO, logger="pgjobs.worker")
    lease, taken = f"lease-{id(conn)}", f"taken-{id(conn)}"
    for i in range(3):
        await pgjobs.publish(conn, T + "add", i, 1)
    await pgjobs.publish(conn, T + "mul", 2, 3)
    await pgjobs.publish(conn, T + "boom", max_retries=1)      # retried once, then final
    await pgjobs.publish(conn, WEIRD, max_retries=0)            # not a Python name: fails
    await pgjobs.publish(conn, T + "nap", 0.3)                  # for the buckets
    j_lease = await pgjobs.publish(conn, T + "wait_gate", lease, max_retries=0)
    j_taken = await pgjobs.publish(conn, T + "wait_gate", taken, max_retries=1)
    # retry at once (the backoff base is a superuser setting; the tests connect as one)
    settings = {"application_name": "jobs-worker", "pgjobs.retry_backoff_base": "0"}
    w = Worker(DSN, TASKS, concurrency=4, poll_max=0.2, metrics_port=0,
               connect_kwargs={"server_settings": settings})
    before = await conn.fetchval("SELECT extract(epoch FROM clock_timestamp())::float8")
    async with running(w):
        try:
            # both gated jobs are claimed and wait; end their claims behind the worker's back
            await wait_for(conn, "SELECT count(*) = 2 FROM jobs.job_queue "
                                 "WHERE task = $1 AND status = 'running'", T + "wait_gate")
            # a later attempt is current: the worker's ack gets PJ003 (lease expired)
            await conn.execute("UPDATE jobs.job_queue SET attempts = attempts + 1 "
                               "WHERE job_id = $1", j_lease)
            # back in the queue for an hour: the worker's ack gets PJ002 (job not running)
            await pgjobs.nack(conn, j_taken, "taken back", schedule_at=3600)
        finally:
            sample_tasks.gate(lease).set()      # whatever happened, let the worker finish
            sample_tasks.gate(taken).set()
        await until(lambda: w.totals["claimed"] == 10 and not w._in_flight)
        after = await conn.fetchval("SELECT extract(epoch FROM clock_timestamp())::float8")
        types, helps, s = await scrape(*w.metrics_address)
        w._log_totals("now")

    assert types == FAMILIES
    assert set(helps) == set(FAMILIES) and all(helps.values())

    assert series(s, "pgjobs_worker_jobs_claimed_total") == {
        (T + "add",): 3, (T + "mul",): 1, (T + "boom",): 2, (WEIRD,): 1, (T + "nap",): 1,
        (T + "wait_gate",): 2}
    assert series(s, "pgjobs_worker_jobs_succeeded_total") == {
        (T + "add",): 3, (T + "mul",): 1, (T + "nap",): 1, (T + "wait_gate",): 2}
    # labels in name order: final, outcome, task
    assert series(s, "pgjobs_worker_jobs_nacked_total") == {
        ("false", "failed", T + "boom"): 1, ("true", "failed", T + "boom"): 1,
        ("true", "failed", WEIRD): 1}
    assert series(s, "pgjobs_worker_jobs_not_recorded_total") == {
        ("lease_expired", T + "wait_gate"): 1, ("job_not_running", T + "wait_gate"): 1}
    assert series(s, "pgjobs_worker_errors_total") == {
        ("LeaseExpired", "ack"): 1, ("JobNotRunning", "ack"): 1}
    assert series(s, "pgjobs_worker_reconnects_total") == {(): 0}
    assert series(s, "pgjobs_worker_claims_total")[()] >= 1
    assert series(s, "pgjobs_worker_jobs_in_flight") == {(): 0}
    assert series(s, "pgjobs_worker_concurrency") == {(): 4}
    start = series(s, "pgjobs_worker_start_time_seconds")[()]
    assert before - 1 <= start <= after + 1

    h = "pgjobs_worker_job_duration_seconds"
    assert series(s, h + "_count") == {
        (T + "add",): 3, (T + "mul",): 1, (T + "boom",): 2, (WEIRD,): 1, (T + "nap",): 1,
        (T + "wait_gate",): 2}
    for (task,), n in series(s, h + "_count").items():
        buckets = series(s, h + "_bucket", task=task)
        les = [float(le) for (le,) in buckets]
        assert sorted(les) == list(metrics.DURATION_BUCKETS) + [float("inf")]
        counts = [buckets[k] for k in sorted(buckets, key=lambda k: float(k[0]))]
        assert counts == sorted(counts) and counts[-1] == n      # cumulative, +Inf = count
    nap = series(s, h + "_bucket", task=T + "nap")
    assert (nap[("0.25",)], nap[("0.5",)], nap[("+Inf",)]) == (0, 1, 1)
    assert 0.3 <= series(s, h + "_sum")[(T + "nap",)] < 0.5

    # the totals lines print the same numbers, summed
    expected = {"claimed": 10, "succeeded": 7, "failed": 3, "timed_out": 0, "given_back": 0,
                "refused": 0, "not_recorded": 2, "in_flight": 0, "errors": 2, "reconnects": 0}
    assert totals_line(caplog.records, "now") == expected
    assert totals_line(caplog.records, "final totals") == expected
    assert expected["claimed"] == sum(series(s, "pgjobs_worker_jobs_claimed_total").values())
    assert expected["failed"] == sum(series(s, "pgjobs_worker_jobs_nacked_total").values())
    assert expected["not_recorded"] == sum(
        series(s, "pgjobs_worker_jobs_not_recorded_total").values())


async def test_timed_out_and_refused_jobs(conn):
    """The other nack outcomes, counted by the same code path."""
    j = await pgjobs.publish(conn, T + "hang", timeout=0.5, max_retries=0)
    w = Worker(DSN, TASKS, poll_max=0.2, metrics_port=0)
    async with running(w):
        await wait_for(conn, "SELECT true FROM jobs.job WHERE job_id = $1", j)
        await until(lambda: not w._in_flight and w.totals["timed_out"] == 1)
        # a job handed to the worker outside its allow-list is refused (see test_worker)
        other = await pgjobs.publish(conn, "os.system", "true")
        [job] = await pgjobs.consume(conn, 1, "os.%")
        await w._execute(job)
        _, _, s = await scrape(*w.metrics_address)
    assert series(s, "pgjobs_worker_jobs_nacked_total") == {
        ("true", "timed_out", T + "hang"): 1, ("false", "refused", "os.system"): 1}
    assert series(s, "pgjobs_worker_job_duration_seconds_count") == {(T + "hang",): 1}
    assert series(s, "pgjobs_worker_jobs_claimed_total") == {(T + "hang",): 1}
    assert await conn.fetchval("SELECT attempts FROM jobs.job_queue WHERE job_id = $1", other) == 1


async def test_reconnect_is_counted(conn):
    name = "jobs-worker-reconnect-test"
    w = Worker(DSN, TASKS, poll_max=1.0,
               connect_kwargs={"server_settings": {"application_name": name}})
    async with running(w):
        # the worker's one connection, waiting in its claim, is cut
        await wait_for(conn, "SELECT true FROM pg_stat_activity WHERE application_name = $1 "
                             "AND state = 'active' AND query LIKE '%consume_topic%'", name)
        await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE application_name = $1", name)
        j = await pgjobs.publish(conn, T + "add", 1, 1)
        await wait_for(conn, "SELECT true FROM jobs.job WHERE job_id = $1", j)
        await until(lambda: w.totals["succeeded"] == 1)
    assert w.metrics.reconnects.value() == 1
    # cut while waiting (almost always), or found closed in the pool
    assert set(w.metrics.errors._series) <= {("claim", "ConnectionLost")}
    assert w.totals["errors"] == w.metrics.errors.total() <= 1


# -- HTTP -------------------------------------------------------------------------


async def raw(host, port, request):
    """Sends ``request`` and half-closes; returns all the server wrote."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(request)
    writer.write_eof()
    await writer.drain()
    reply = await asyncio.wait_for(reader.read(), 5)        # until the server closes
    writer.close()
    return reply.decode("utf-8")


async def test_http_paths_methods_and_bad_requests(database):
    w = Worker(DSN, TASKS, poll_max=0.2, metrics_port=0)
    async with running(w):
        await until(lambda: w.metrics_address is not None)
        host, port = w.metrics_address
        assert host == "127.0.0.1"
        status, headers, body = await asyncio.to_thread(get, host, port, "/other")
        assert status == 404 and "/metrics" in body
        assert int(headers["Content-Length"]) == len(body)
        for path in ("/", "/metrics/", "/metricsx"):
            assert (await asyncio.to_thread(get, host, port, path))[0] == 404
        assert (await asyncio.to_thread(get, host, port, "/metrics?x=1"))[0] == 200
        status, headers, body = await asyncio.to_thread(get, host, port, "/metrics", "POST")
        assert status == 405 and headers["Allow"] == "GET, HEAD"
        reply = await raw(host, port, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _, rest = reply.partition("\r\n\r\n")
        assert head.startswith("HTTP/1.1 200 OK\r\n") and rest == ""
        assert int(re.search(r"Content-Length: (\d+)", head).group(1)) > 0
        reply = await raw(host, port, b"GET /metrics HTTP/1.0\r\n\r\n")
        assert reply.startswith("HTTP/1.1 200 OK\r\n") and reply.endswith("\n")
        assert (await raw(host, port, b"nonsense\r\n\r\n")).startswith("HTTP/1.1 400 ")
        assert (await raw(host, port, b"GET /" + b"x" * 20000 + b" HTTP/1.1\r\n\r\n")
                ).startswith("HTTP/1.1 400 ")
        assert await raw(host, port, b"") == ""             # closed without a request
        # a client that never sends its request is dropped when the worker stops
        idle = await asyncio.open_connection(host, port)
        idle[1].write(b"GET /metrics HTTP/1.1\r\n")
    assert w.metrics_address is None                     # closed with the worker
    assert await asyncio.wait_for(idle[0].read(), 5) == b""
    idle[1].close()
    with pytest.raises(OSError):
        await asyncio.open_connection(host, port)


async def test_busy_port_fails_the_start(database, caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        w = Worker(DSN, TASKS, metrics_port=port)
        assert await asyncio.wait_for(w.run(install_signals=False), 10) == 1
    assert f"cannot serve metrics on 127.0.0.1 port {port}" in caplog.text


def test_cli_checks_the_flags(capsys):
    for argv in (["--metrics-host", "0.0.0.0"], ["--metrics-port", "70000"],
                 ["--metrics-port", "x"]):
        with pytest.raises(SystemExit) as ei:
            pgjobs_cli.worker_main([DSN, "--tasks", "tests.sample_tasks", *argv])
        assert ei.value.code == 2
    err = capsys.readouterr().err
    assert "--metrics-host needs --metrics-port" in err and "between 0 and 65535" in err
    with pytest.raises(ValueError):
        Worker(DSN, TASKS, metrics_port=-1)


# -- the command: off by default -------------------------------------------------


def listening_ports(pid):
    """The TCP ports process pid listens on (from /proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                rows = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and fields[9] in inodes:      # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not os.path.exists("/proc/self/net/tcp"), reason="needs Linux /proc")
async def test_command_listens_only_with_the_flag(conn):
    j = await pgjobs.publish(conn, T + "add", 1, 1)
    proc = start_worker("--tasks", "tests.sample_tasks")
    try:
        await wait_for(conn, "SELECT true FROM jobs.job WHERE job_id = $1", j)
        assert listening_ports(proc.pid) == set()
    finally:
        proc.send_signal(signal.SIGTERM)
        status, out = await asyncio.to_thread(finish, proc)
    assert status == 0 and "metrics at" not in out, out

    await conn.execute("TRUNCATE jobs.job_queue, jobs.job")
    await pgjobs.publish(conn, T + "add", 2, 3)
    await pgjobs.publish(conn, T + "boom", max_retries=0)
    port = free_port()
    proc = start_worker("--tasks", "tests.sample_tasks", "--concurrency", "3",
                        "--metrics-port", str(port), "--metrics-host", "127.0.0.1")
    try:
        await wait_for(conn, "SELECT count(*) = 2 FROM jobs.job")
        assert listening_ports(proc.pid) == {port}
        # the rows commit just before the worker counts them: scrape until it has
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:
            _, _, s = await scrape("127.0.0.1", port)
            done = sum(series(s, "pgjobs_worker_jobs_claimed_total").values()) == 2 and \
                series(s, "pgjobs_worker_jobs_in_flight") == {(): 0}
            if done or loop.time() > deadline:
                break
            await asyncio.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        status, out = await asyncio.to_thread(finish, proc)
    assert status == 0, out
    assert series(s, "pgjobs_worker_jobs_claimed_total") == {(T + "add",): 1, (T + "boom",): 1}
    assert series(s, "pgjobs_worker_jobs_succeeded_total") == {(T + "add",): 1}
    assert series(s, "pgjobs_worker_jobs_nacked_total") == {("true", "failed", T + "boom"): 1}
    assert series(s, "pgjobs_worker_concurrency") == {(): 3}
    assert f"metrics at http://127.0.0.1:{port}/metrics" in out
    assert ("final totals: claimed=2 succeeded=1 failed=1 timed_out=0 given_back=0 refused=0 "
            "not_recorded=0 in_flight=0 errors=0 reconnects=0") in out


# -- the text format --------------------------------------------------------------


def test_exposition_format():
    c = metrics.Counter("x_total", "Help with \\ and\nnewline.", ["task"])
    c.inc(task='a"b\\c\nd')
    c.inc(2, task="plain")
    with pytest.raises(ValueError):
        c.inc(task="t", other="u")
    with pytest.raises(ValueError):
        c.inc(-1, task="t")
    h = metrics.Histogram("d_seconds", "Durations.", ["task"], buckets=[0.1, 1, 1.0])
    for v in (0.1, 0.5, 1.0, 2.0):      # a value on a bound counts in its bucket (le)
        h.observe(v, task="t")
    g = metrics.Gauge("g", "A gauge.", function=lambda: 2.5)
    r = metrics.Registry()
    for m in (c, h, g):
        r.register(m)
    with pytest.raises(ValueError):
        r.register(metrics.Gauge("g", "Again."))
    assert r.render() == (
        '# HELP x_total Help with \\\\ and\\nnewline.\n'
        '# TYPE x_total counter\n'
        'x_total{task="a\\"b\\\\c\\nd"} 1\n'
        'x_total{task="plain"} 2\n'
        '# HELP d_seconds Durations.\n'
        '# TYPE d_seconds histogram\n'
        'd_seconds_bucket{task="t",le="0.1"} 1\n'
        'd_seconds_bucket{task="t",le="1.0"} 3\n'
        'd_seconds_bucket{task="t",le="+Inf"} 4\n'
        'd_seconds_sum{task="t"} 3.6\n'
        'd_seconds_count{task="t"} 4\n'
        '# HELP g A gauge.\n'
        '# TYPE g gauge\n'
        'g 2.5\n')
    assert parse(r.render())[2]["x_total"][frozenset({("task", 'a"b\\c\nd')})] == 1
    assert [metrics.format_value(v) for v in (3, 0.25, float("inf"), float("nan"), True)] == [
        "3", "0.25", "+Inf", "NaN", "1"]
