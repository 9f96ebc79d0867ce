"""The commands, as subprocesses: jobs-migrate and jobs-worker."""

import asyncio
import os
import signal
import subprocess
import sys
import time

import asyncpg
import pytest

import pgjobs
from pgjobs import cli as pgjobs_cli
from pgjobs import errors
from tests.conftest import DSN, PYROOT, child_env, cli, wait_for


def start_worker(*args, module="pgjobs.worker"):
    return subprocess.Popen([sys.executable, "-m", module, DSN, *args], env=child_env(),
                            cwd=PYROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def finish(proc, timeout=20):
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError("worker did not exit:\n" + out)
    return proc.returncode, out


async def default_version():
    c = await asyncpg.connect(database="postgres")
    try:
        return await c.fetchval(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'pgjobs'")
    finally:
        await c.close()


async def test_migrate_is_idempotent(database):
    version = await default_version()
    for _ in range(2):
        r = cli("migrate", DSN)
        assert r.returncode == 0, r.stderr
        assert f"extension pgjobs {version} is up to date" in r.stdout


async def test_migrate_creates_the_extension(database):
    c = await asyncpg.connect(database="postgres")
    try:
        await c.execute("DROP DATABASE IF EXISTS pgjobs_python_migrate")
        await c.execute("CREATE DATABASE pgjobs_python_migrate")
        r = cli("migrate", "postgresql:///pgjobs_python_migrate")
        assert r.returncode == 0, r.stderr
        assert f"created extension pgjobs {await default_version()}" in r.stdout
        r = cli("migrate", "postgresql:///pgjobs_python_migrate")
        assert r.returncode == 0 and "up to date" in r.stdout
    finally:
        await c.execute("DROP DATABASE IF EXISTS pgjobs_python_migrate")
        await c.close()


async def test_migrate_updates_an_older_version(database):
    version = await default_version()
    c = await asyncpg.connect(database="postgres")
    try:
        await c.execute("DROP DATABASE IF EXISTS pgjobs_python_upgrade")
        await c.execute("CREATE DATABASE pgjobs_python_upgrade")
        old = await asyncpg.connect(database="pgjobs_python_upgrade")
        try:
            await old.execute("CREATE EXTENSION pgjobs VERSION '1.0'")
            await old.execute("SELECT jobs.publish('kept.across.upgrade')")
        finally:
            await old.close()
        r = cli("migrate", "postgresql:///pgjobs_python_upgrade")
        assert r.returncode == 0, r.stderr
        assert version in r.stdout
        new = await asyncpg.connect(database="pgjobs_python_upgrade")
        try:
            assert await new.fetchval(
                "SELECT extversion FROM pg_extension WHERE extname = 'pgjobs'") == version
            assert await new.fetchval(
                "SELECT count(*) FROM jobs.job_queue WHERE task = 'kept.across.upgrade'") == 1
        finally:
            await new.close()
    finally:
        await c.execute("DROP DATABASE IF EXISTS pgjobs_python_upgrade WITH (FORCE)")
        await c.close()


async def test_missing_extension_files_are_explained(conn):
    # The server's answer when the control file is missing, with another
    # extension name (the real files are installed).
    with pytest.raises(errors.ExtensionNotAvailable) as ei:
        with errors.wrap():
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pgjobs_no_such_extension")
    msg = pgjobs_cli.describe(ei.value)
    assert "server has no pgjobs extension files" in msg and "make install" in msg
    r = cli("migrate", "postgresql:///no_such_database_xyz")
    assert r.returncode == 1 and "jobs-migrate:" in r.stderr and "Traceback" not in r.stderr


def test_worker_refuses_to_start_without_allow_list():
    r = subprocess.run([sys.executable, "-m", "pgjobs.worker", DSN], env=child_env(), cwd=PYROOT,
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 2 and "--tasks" in r.stderr
    r = subprocess.run([sys.executable, "-m", "pgjobs.worker", DSN, "--tasks", "x",
                        "--topic", "os.%"], env=child_env(), cwd=PYROOT,
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 2 and "does not lie within the allow-list" in r.stderr


async def test_burst_drains_and_exits(conn):
    ids = await pgjobs.publish_bulk(conn, [("tests.sample_tasks.add", [i, i]) for i in range(5)]
                                    + [("tests.sample_tasks.mul", [2, 3])])
    outside = await pgjobs.publish(conn, "other.task")
    later = await pgjobs.publish(conn, "tests.sample_tasks.noop", scheduled_at=3600)
    proc = start_worker("--tasks", "tests.sample_tasks", "--burst", "--concurrency", "3")
    status, out = await asyncio.to_thread(finish, proc)
    assert status == 0, out
    assert await conn.fetchval("SELECT count(*) FROM jobs.job WHERE status = 'succeeded'") == 6
    assert set(await conn.fetchval("SELECT array_agg(job_id) FROM jobs.job")) == set(ids)
    assert await conn.fetchval("SELECT array_agg(job_id ORDER BY job_id) FROM jobs.job_queue "
                               "WHERE attempts = 0") == [outside, later]
    assert "burst: no job ready and none in flight" in out
    assert "final totals: claimed=6 succeeded=6" in out


async def test_sigterm_lets_the_job_in_flight_finish(conn):
    j = await pgjobs.publish(conn, "tests.sample_tasks.nap", 1.0, "done")
    proc = start_worker("--tasks", "tests.sample_tasks", "--grace", "10")
    try:
        await wait_for(conn, "SELECT true FROM jobs.running WHERE job_id = $1", j)
        proc.send_signal(signal.SIGTERM)
        status, out = await asyncio.to_thread(finish, proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert status == 0, out
    assert await conn.fetchval("SELECT result::text FROM jobs.job WHERE job_id = $1 "
                               "AND status = 'succeeded'", j) == '"done"'
    assert "SIGTERM: no more claims" in out and "outcome=succeeded" in out


async def test_sigterm_after_grace_gives_the_job_back(conn):
    # without retries left: a give-back that spent the attempt would fail it
    j = await pgjobs.publish(conn, "tests.sample_tasks.nap", 60, max_retries=0)
    proc = start_worker("--tasks", "tests.sample_tasks", "--grace", "0.3")
    try:
        await wait_for(conn, "SELECT true FROM jobs.running WHERE job_id = $1", j)
        proc.send_signal(signal.SIGTERM)
        status, out = await asyncio.to_thread(finish, proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert status == 0, out
    row = await conn.fetchrow("SELECT status::text, attempts, last_error, "
                              "scheduled_at <= now() AS ready FROM jobs.job_queue "
                              "WHERE job_id = $1", j)
    # jobs.release: pending again, ready now, the claim not counted
    assert row["status"] == "pending" and row["ready"] and row["attempts"] == 0
    assert row["last_error"] is None
    assert "outcome=given back" in out


def restart_server():
    cluster, pgbin = os.environ["CLUSTER_DIR"], os.environ["PGBIN"]
    cmd = [os.path.join(pgbin, "pg_ctl"), "-D", os.path.join(cluster, "data"),
           "-l", os.path.join(cluster, "server.log"), "restart", "-m", "fast", "-w", "-s"]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   timeout=60)


@pytest.mark.skipif(not (os.environ.get("CLUSTER_DIR") and os.environ.get("PGBIN")),
                    reason="needs CLUSTER_DIR and PGBIN to restart the server")
async def test_server_restart_loses_no_job(database):
    n = 30
    c = await asyncpg.connect(DSN)
    await c.execute("TRUNCATE jobs.job_queue, jobs.job")
    await pgjobs.publish_bulk(c, [{"task": "tests.sample_tasks.nap", "args": [0.1, i],
                                   "timeout": 5} for i in range(n)])
    await c.close()
    proc = start_worker("--tasks", "tests.sample_tasks", "--concurrency", "4")
    try:
        c = await asyncpg.connect(DSN)
        await wait_for(c, "SELECT count(*) >= 4 FROM jobs.job")
        await c.close()
        await asyncio.to_thread(restart_server)
        deadline = time.monotonic() + 40
        while True:
            try:
                c = await asyncpg.connect(DSN)
                break
            except (OSError, asyncpg.PostgresError):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.2)
        try:
            await wait_for(c, f"SELECT count(*) = {n} FROM jobs.job", timeout=35)
            rows = await c.fetch("SELECT status::text, result::text FROM jobs.job")
        finally:
            await c.close()
        assert proc.poll() is None, "the worker died"
        proc.send_signal(signal.SIGTERM)
        status, out = await asyncio.to_thread(finish, proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert status == 0, out
    assert all(r["status"] == "succeeded" for r in rows), out
    assert sorted(int(r["result"]) for r in rows) == list(range(n))
    assert "connection lost" in out
