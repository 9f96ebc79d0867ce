"""The client API: publish, publish_bulk, consume, ack, nack, run, errors."""

import asyncio
import datetime
import json
import time

import asyncpg
import pytest

import pgjobs
from pgjobs import errors
from tests.conftest import DSN


async def test_publish_in_rolled_back_transaction_leaves_nothing(conn):
    with pytest.raises(RuntimeError):
        async with conn.transaction():
            job_id = await pgjobs.publish(conn, "tests.sample_tasks.add", 1, 2)
            assert job_id > 0
            assert await conn.fetchval("SELECT count(*) FROM jobs.job_queue") == 1
            raise RuntimeError("roll back")
    assert await conn.fetchval("SELECT count(*) FROM jobs.all") == 0
    # and a committed one exists
    async with conn.transaction():
        await pgjobs.publish(conn, "tests.sample_tasks.add", 1, 2)
    assert await conn.fetchval("SELECT count(*) FROM jobs.job_queue") == 1


async def test_publish_body_and_options(conn):
    job_id = await pgjobs.publish(conn, "tests.sample_tasks.add", 1, [2], timeout=2.5,
                                  priority=7, max_retries=0, b="x")
    row = await conn.fetchrow("SELECT body::text, timeout, priority, max_retries "
                              "FROM jobs.job_queue WHERE job_id = $1", job_id)
    assert json.loads(row["body"]) == {"args": [1, [2]], "kwargs": {"b": "x"}}
    assert float(row["timeout"]) == 2.5 and row["priority"] == 7 and row["max_retries"] == 0
    later = await pgjobs.publish(conn, "tests.sample_tasks.noop",
                                 scheduled_at=datetime.timedelta(hours=1))
    jobs = await pgjobs.consume(conn, 10)
    assert [j.job_id for j in jobs] == [job_id]        # the scheduled one is not ready
    j = jobs[0]
    assert j["job_id"] == j.job_id and j.args == [1, [2]] and j.kwargs == {"b": "x"}
    assert j.attempt == 1 and j.timeout == 2.5 and j.expires_at > j.created_at
    assert await conn.fetchval("SELECT scheduled_at > now() + interval '50 minutes' "
                               "FROM jobs.job_queue WHERE job_id = $1", later)


async def test_publish_bulk_keeps_order(conn):
    ids = await pgjobs.publish_bulk(conn, [
        {"task": "tests.sample_tasks.add", "args": [1, 2], "priority": 1},
        ("tests.sample_tasks.mul", [3], {"b": 4}),
        {"task": "tests.sample_tasks.noop", "timeout": 1.5, "max_retries": 0},
    ])
    assert len(ids) == 3 and ids == sorted(ids)
    rows = await conn.fetch("SELECT task, body::text AS body, priority, timeout, max_retries "
                            "FROM jobs.job_queue ORDER BY job_id")
    assert [r["task"] for r in rows] == ["tests.sample_tasks.add", "tests.sample_tasks.mul",
                                         "tests.sample_tasks.noop"]
    assert json.loads(rows[1]["body"]) == {"args": [3], "kwargs": {"b": 4}}
    assert rows[0]["priority"] == 1 and float(rows[2]["timeout"]) == 2 and rows[2]["max_retries"] == 0
    assert await pgjobs.publish_bulk(conn, []) == []


async def test_ack_and_consume(conn):
    ids = [await pgjobs.publish(conn, "tests.chain.%d" % i, i, priority=10 - i) for i in range(3)]
    [first] = await pgjobs.ack_and_consume(conn, None)
    assert first.job_id == ids[0]
    [second] = await pgjobs.ack_and_consume(conn, first, result={"n": 0}, attempt=first.attempt,
                                            topic="tests.chain.%")
    assert second.job_id == ids[1]
    assert json.loads(await conn.fetchval(
        "SELECT result::text FROM jobs.job WHERE job_id = $1 AND status = 'succeeded'",
        ids[0])) == {"n": 0}
    # a failed ack claims nothing: the third job stays pending
    with pytest.raises(errors.LeaseExpired):
        await pgjobs.ack_and_consume(conn, second, attempt=second.attempt + 1)
    assert await conn.fetchval("SELECT status::text FROM jobs.job_queue WHERE job_id = $1",
                               ids[2]) == "pending"
    assert [j.job_id for j in await pgjobs.ack_and_consume(conn, second, n=5)] == [ids[2]]
    await pgjobs.ack(conn, ids[2])
    assert await pgjobs.ack_and_consume(conn, None, topic="tests.chain.%") == []


async def test_ack_nack_and_server_errors(conn):
    a = await pgjobs.publish(conn, "tests.sample_tasks.add", 1, 2)
    b = await pgjobs.publish(conn, "tests.sample_tasks.boom")
    with pytest.raises(errors.JobNotRunning) as ei:
        await pgjobs.ack(conn, a)                      # pending, never claimed
    assert ei.value.sqlstate == "PJ002" and isinstance(ei.value.__cause__, asyncpg.PostgresError)
    with pytest.raises(errors.JobNotFound):
        await pgjobs.ack(conn, 999999999)
    jobs = {j.task: j for j in await pgjobs.consume(conn, 2, topic="tests.%")}
    await pgjobs.ack(conn, jobs["tests.sample_tasks.add"], {"sum": 3},
                     attempt=jobs["tests.sample_tasks.add"].attempt)
    assert json.loads(await conn.fetchval(
        "SELECT result::text FROM jobs.job WHERE job_id = $1 AND status = 'succeeded'", a)) == {"sum": 3}
    # a stale attempt: the job was given back and claimed again
    await pgjobs.nack(conn, b, "first failure", schedule_at="now", attempt=1)
    [again] = await pgjobs.consume(conn, 1)
    assert again.job_id == b and again.attempt == 2
    with pytest.raises(errors.LeaseExpired) as ei:
        await pgjobs.ack(conn, b, attempt=1)
    assert ei.value.sqlstate == "PJ003"
    await pgjobs.nack(conn, b, "second failure", schedule_at=datetime.timedelta(hours=1), attempt=2)
    row = await conn.fetchrow("SELECT status::text, last_error, scheduled_at > now() AS later "
                              "FROM jobs.job_queue WHERE job_id = $1", b)
    assert tuple(row) == ("pending", "second failure", True)
    with pytest.raises(errors.InvalidArgument) as ei:
        await pgjobs.publish(conn, "")
    assert ei.value.sqlstate == "22023"
    with pytest.raises(errors.InvalidArgument):
        await pgjobs.consume(conn, 0)


async def test_consume_wait(conn):
    t0 = time.monotonic()
    assert await pgjobs.consume(conn, 1, wait=0.3) == []
    assert time.monotonic() - t0 >= 0.29
    other = await asyncpg.connect(DSN)
    try:
        async def later():
            await asyncio.sleep(0.2)
            return await pgjobs.publish(other, "tests.sample_tasks.noop")
        publisher = asyncio.create_task(later())
        jobs = await pgjobs.consume(conn, 5, topic="tests.sample_tasks.%", wait=5)
        assert [j.job_id for j in jobs] == [await publisher]
    finally:
        await other.close()
    # the polling fallback gives the same answers
    pgjobs.client.QUERIES["consume_wait_saved"] = pgjobs.client.QUERIES["consume_topic_wait"]
    pgjobs.client.QUERIES["consume_topic_wait"] = "SELECT * FROM jobs.no_such_function($1, $2, $3)"
    try:
        t0 = time.monotonic()
        assert await pgjobs.consume(conn, 1, topic="%", wait=0.3) == []
        assert time.monotonic() - t0 >= 0.29
        j = await pgjobs.publish(conn, "tests.sample_tasks.noop")
        assert [x.job_id for x in await pgjobs.consume(conn, 1, topic="%", wait=1)] == [j]
    finally:
        pgjobs.client.QUERIES["consume_topic_wait"] = pgjobs.client.QUERIES.pop("consume_wait_saved")


async def test_seed_worker_loop_works_as_written(conn):
    """The original README's loop, with the connection passed explicitly."""
    await pgjobs.publish(conn, "tests.sample_tasks.add", 2, 3)
    await pgjobs.publish(conn, "tests.sample_tasks.boom")
    db = conn
    for _ in range(2):
        jobs = await pgjobs.consume(db, 1)
        for job in jobs:
            try:
                await pgjobs.run(db, job["job_id"])
                await pgjobs.ack(db, job["job_id"])
            except Exception as e:
                await pgjobs.nack(db, job["job_id"], str(e))
    rows = await conn.fetch("SELECT task, status::text, last_error FROM jobs.all ORDER BY job_id")
    assert (rows[0]["task"], rows[0]["status"]) == ("tests.sample_tasks.add", "succeeded")
    assert (rows[1]["status"], rows[1]["last_error"]) == ("pending", "boom")


async def test_run_returns_results(conn):
    await pgjobs.publish(conn, "tests.sample_tasks.add", 2, 3)
    await pgjobs.publish(conn, "tests.sample_tasks.mul", a=2, b=5)
    a, m = await pgjobs.consume(conn, 2)
    assert await pgjobs.run(conn, a) == 5
    assert await pgjobs.run(conn, m) == {"product": 10}
    assert await pgjobs.run(conn, {"task": "tests.sample_tasks.add", "body": {"args": [1, 1]}}) == 2


def test_resolve_task_refusals():
    allow = ["tests.sample_tasks"]
    assert pgjobs.resolve_task("tests.sample_tasks.add", allow).__name__ == "add"
    for bad in ["os.system", "tests.sample_tasksx.add", "tests.sample_tasks.__class__",
                "tests.sample_tasks._private", "tests.sample_tasks.system", "x", "a..b", "a.b c"]:
        with pytest.raises(errors.TaskNotAllowed):
            pgjobs.resolve_task(bad, allow)
    with pytest.raises(errors.TaskNotFound):
        pgjobs.resolve_task("tests.sample_tasks.missing", allow)
    with pytest.raises(errors.TaskNotFound):
        pgjobs.resolve_task("tests.no_such_module.f", ["tests"])


async def test_no_extension_is_reported(database):
    c = await asyncpg.connect(database="postgres")
    try:
        if await c.fetchval("SELECT true FROM pg_extension WHERE extname = 'pgjobs'"):
            pytest.skip("the postgres database has the extension")
        with pytest.raises(errors.ExtensionMissing):
            await pgjobs.publish(c, "tests.sample_tasks.noop")
        with pytest.raises(errors.ExtensionMissing):
            await pgjobs.consume(c, 1)
    finally:
        await c.close()


async def test_leases_progress_release(conn):
    j = await pgjobs.publish(conn, "tests.sample_tasks.noop", timeout=5, max_retries=0)
    [job] = await pgjobs.consume(conn, 1)
    assert job.job_id == j
    expires = await pgjobs.touch(conn, j, 3600, attempt=job.attempt)
    assert expires > datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=59)
    await pgjobs.progress(conn, j, 0.5, "half", attempt=job.attempt)
    row = await conn.fetchrow("SELECT progress, progress_note FROM jobs.running WHERE job_id = $1", j)
    assert row["progress"] == 0.5 and row["progress_note"] == "half"
    with pytest.raises(errors.InvalidArgument):
        await pgjobs.progress(conn, j, 2)
    await pgjobs.release(conn, j, attempt=job.attempt)
    assert await conn.fetchval("SELECT attempts FROM jobs.job_queue WHERE job_id = $1 "
                               "AND status = 'pending'", j) == 0
    with pytest.raises(errors.JobNotRunning):
        await pgjobs.touch(conn, j)


async def test_cancel_and_retry(conn):
    pending = await pgjobs.publish(conn, "tests.sample_tasks.noop")
    assert await pgjobs.cancel(conn, pending, "not needed") == "cancelled"
    running = await pgjobs.publish(conn, "tests.sample_tasks.noop")
    [job] = await pgjobs.consume(conn, 1)
    assert job.job_id == running
    assert await pgjobs.cancel(conn, running) == "cancelling"
    with pytest.raises(errors.JobCancelled) as info:
        await pgjobs.touch(conn, running, attempt=job.attempt)
    assert info.value.sqlstate == "PJ004"
    with pytest.raises(errors.JobCancelled):
        await pgjobs.ack(conn, running, attempt=job.attempt)
    await pgjobs.nack(conn, running, "stopped", attempt=job.attempt)
    assert await conn.fetchval("SELECT status::text FROM jobs.job WHERE job_id = $1",
                               running) == "cancelled"
    assert await pgjobs.retry(conn, running) == running
    assert await conn.fetchval("SELECT status::text FROM jobs.job_queue WHERE job_id = $1",
                               running) == "pending"
    with pytest.raises(errors.JobNotRunning):
        await pgjobs.cancel(conn, pending)
