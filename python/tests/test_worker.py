"""The worker, run in-process: results, retries, timeouts, allow-list."""

import asyncio
import json
import logging

import pytest

import pgjobs
from pgjobs.worker import Worker, claim_patterns
from tests.conftest import DSN, wait_for

TASKS = ["tests.sample_tasks"]


class running:
    """async with running(Worker(...)) as w: the worker runs in a task until the block ends."""

    def __init__(self, worker):
        self.worker = worker

    async def __aenter__(self):
        self.task = asyncio.create_task(self.worker.run(install_signals=False))
        return self.worker

    async def __aexit__(self, *exc):
        self.worker.stop()
        self.status = await asyncio.wait_for(self.task, 15)
        assert self.status == 0


def worker(**kw):
    kw.setdefault("poll_max", 0.2)
    return Worker(DSN, kw.pop("tasks", TASKS), **kw)


async def test_sync_and_async_results_are_stored(conn, caplog):
    caplog.set_level(logging.INFO, logger="pgjobs.worker")
    a = await pgjobs.publish(conn, "tests.sample_tasks.add", 2, 3)
    m = await pgjobs.publish(conn, "tests.sample_tasks.mul", a=4, b=5)
    n = await pgjobs.publish(conn, "tests.sample_tasks.noop")
    async with running(worker(concurrency=4)) as w:
        await wait_for(conn, "SELECT count(*) = 3 FROM jobs.job")
    rows = {r["job_id"]: r for r in await conn.fetch(
        "SELECT job_id, status::text, result::text FROM jobs.job")}
    assert rows[a]["status"] == rows[m]["status"] == rows[n]["status"] == "succeeded"
    assert json.loads(rows[a]["result"]) == 5
    assert json.loads(rows[m]["result"]) == {"product": 20}
    assert json.loads(rows[n]["result"]) is None
    assert w.totals["succeeded"] == 3
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"job {a} ")]
    assert len(lines) == 1
    assert "task=tests.sample_tasks.add attempt=1 duration=" in lines[0]
    assert lines[0].endswith("outcome=succeeded")


async def test_raising_task_is_retried_then_fails(conn):
    j = await pgjobs.publish(conn, "tests.sample_tasks.boom", "kaput", max_retries=1)
    async with running(worker()):
        # the retry waits out the backoff (1 to 2 s with the default base)
        await wait_for(conn, "SELECT true FROM jobs.job WHERE job_id = $1", j)
    row = await conn.fetchrow("SELECT status::text, attempts, last_error FROM jobs.job "
                              "WHERE job_id = $1", j)
    assert row["status"] == "failed" and row["attempts"] == 2
    assert row["last_error"].startswith("Traceback (most recent call last):")
    assert "ValueError: kaput" in row["last_error"]
    assert "sample_tasks.py" in row["last_error"]


async def test_hanging_task_is_timed_out(conn):
    j = await pgjobs.publish(conn, "tests.sample_tasks.hang", timeout=1, max_retries=0)
    ok = await pgjobs.publish(conn, "tests.sample_tasks.add", 1, 1)
    async with running(worker(concurrency=2)) as w:
        await wait_for(conn, "SELECT count(*) = 2 FROM jobs.job")
    row = await conn.fetchrow("SELECT status::text, last_error FROM jobs.job WHERE job_id = $1", j)
    assert row["status"] == "failed"
    assert "timed out after 1 seconds (cancelled by the worker)" in row["last_error"]
    assert w.totals["timed_out"] == 1
    assert await conn.fetchval("SELECT status::text FROM jobs.job WHERE job_id = $1", ok) == "succeeded"


async def test_non_json_result_and_missing_function_fail(conn):
    a = await pgjobs.publish(conn, "tests.sample_tasks.not_json", max_retries=0)
    b = await pgjobs.publish(conn, "tests.sample_tasks.nope", max_retries=0)
    async with running(worker()):
        await wait_for(conn, "SELECT count(*) = 2 FROM jobs.job")
    errs = dict(await conn.fetch("SELECT job_id, last_error FROM jobs.job WHERE status = 'failed'"))
    assert "not JSON" in errs[a]
    assert "TaskNotFound" in errs[b] and "has no function 'nope'" in errs[b]


async def test_task_outside_allow_list_is_never_claimed_nor_run(conn, tmp_path):
    marker = tmp_path / "ran"
    outside = [
        await pgjobs.publish(conn, "os.system", f"touch {marker}"),
        await pgjobs.publish(conn, "tests.sample_tasksx.touch", str(marker)),
        await pgjobs.publish(conn, "tests_sample_tasks.touch", str(marker)),
    ]
    reexport = await pgjobs.publish(conn, "tests.sample_tasks.system", f"touch {marker}",
                                    max_retries=0)
    inside = await pgjobs.publish(conn, "tests.sample_tasks.add", 1, 2)
    async with running(worker()):
        await wait_for(conn, "SELECT count(*) = 2 FROM jobs.job")
    assert not marker.exists()
    rows = await conn.fetch("SELECT job_id, attempts, status::text FROM jobs.job_queue ORDER BY job_id")
    assert [(r["job_id"], r["attempts"], r["status"]) for r in rows] == [
        (i, 0, "pending") for i in outside]
    assert await conn.fetchval("SELECT status::text FROM jobs.job WHERE job_id = $1", inside) == "succeeded"
    err = await conn.fetchval("SELECT last_error FROM jobs.job WHERE job_id = $1", reexport)
    assert "TaskNotAllowed" in err and "defined in 'posix'" in err


async def test_received_task_outside_allow_list_is_not_run(conn, tmp_path):
    """Even a job handed to the worker by mistake is refused and given back."""
    marker = tmp_path / "ran"
    j = await pgjobs.publish(conn, "os.system", f"touch {marker}")
    [job] = await pgjobs.consume(conn, 1)
    w = worker()
    w._wake = asyncio.Event()
    from pgjobs.worker import _Conns
    w._conns = _Conns(DSN, 2, w.connect_kwargs)
    try:
        await w._execute(job)
    finally:
        await w._conns.close()
    assert not marker.exists()
    assert w.totals["refused"] == 1
    row = await conn.fetchrow("SELECT status::text, last_error, scheduled_at <= now() AS ready "
                              "FROM jobs.job_queue WHERE job_id = $1", j)
    assert row["status"] == "pending" and row["ready"]
    assert "outside this worker's allow-list" in row["last_error"]


def test_claim_patterns():
    assert claim_patterns(["app"]) == ["app.%"]
    assert claim_patterns(["app", "b.c"]) == ["app.%", "b.c.%"]
    assert claim_patterns(["app", "b"], "app.mail.%") == ["app.mail.%"]
    assert claim_patterns(["app", "b"], "%") == ["app.%", "b.%"]
    assert claim_patterns(["app", "b"], "a*") == ["app.%"]
    assert claim_patterns(["app"], "app.send") == ["app.send"]
    for tasks, topic in [([], None), (["a%"], None), (["a.*"], None), ([""], None),
                         (["app"], "%.send"), (["app"], "other.%"), (["app"], "app"),
                         (["app"], "")]:
        with pytest.raises(ValueError):
            claim_patterns(tasks, topic)


async def test_topic_narrows_claims(conn):
    mail = await pgjobs.publish(conn, "tests.sample_tasks.add", 1, 1)
    other = await pgjobs.publish(conn, "tests.sample_tasks.noop")
    async with running(worker(topic="tests.sample_tasks.a%")):
        await wait_for(conn, "SELECT count(*) = 1 FROM jobs.job")
        await asyncio.sleep(0.3)
    assert await conn.fetchval("SELECT job_id FROM jobs.job") == mail
    assert await conn.fetchval("SELECT job_id FROM jobs.job_queue WHERE attempts = 0") == other


async def test_concurrency_runs_jobs_in_parallel(conn):
    await pgjobs.publish_bulk(conn, [{"task": "tests.sample_tasks.nap", "args": [0.5]}] * 8)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    async with running(worker(concurrency=8, burst=True)) as w:
        await wait_for(conn, "SELECT count(*) = 8 FROM jobs.job WHERE status = 'succeeded'")
    assert loop.time() - t0 < 2.5        # 8 × 0.5 s in parallel, not 4 s in series
    assert w.totals["succeeded"] == 8
