"""Fixtures for the pgjobs Python tests.

They need a running PostgreSQL server with the pgjobs extension files
installed, found through the PG* environment variables (scripts/test.sh
exports them).  Tests use the database PGJOBS_TEST_DB (default
pgjobs_python), created if missing, with the extension created by
jobs-migrate.  The server-restart test also needs CLUSTER_DIR and PGBIN.
"""

import asyncio
import os
import subprocess
import sys

import asyncpg
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYROOT = os.path.dirname(HERE)          # python/: holds pgjobs/ and tests/
DBNAME = os.environ.get("PGJOBS_TEST_DB", "pgjobs_python")
DSN = f"postgresql:///{DBNAME}"         # host, port and user from PG* variables

if not os.environ.get("PGHOST"):
    pytest.skip("PGHOST is not set: run these tests through scripts/test.sh",
                allow_module_level=True)


# Subprocesses run in python/, not the repository root: "python3 -m" puts the
# current directory first on sys.path, and the root holds the built
# extension pgjobs.so, which Python would try to import as "pgjobs".


def child_env():
    """The environment of a worker or migrate subprocess."""
    env = dict(os.environ)
    env["PYTHONPATH"] = PYROOT + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def cli(*args, timeout=30, **kw):
    """Runs python3 -m pgjobs.cli ARGS and returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "pgjobs.cli", *args], env=child_env(),
                          cwd=PYROOT, capture_output=True, text=True, timeout=timeout, **kw)


async def _create_db():
    conn = await asyncpg.connect(database="postgres")
    try:
        if not await conn.fetchval("SELECT true FROM pg_database WHERE datname = $1", DBNAME):
            await conn.execute(f'CREATE DATABASE "{DBNAME}"')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def database():
    """The test database, with the extension created by jobs-migrate."""
    asyncio.run(_create_db())
    r = cli("migrate", DSN)
    assert r.returncode == 0, r.stderr
    return DSN


@pytest.fixture
async def conn(database):
    """A connection to an emptied queue."""
    c = await asyncpg.connect(database)
    await c.execute("TRUNCATE jobs.job_queue, jobs.job")
    try:
        yield c
    finally:
        await c.close()


async def wait_for(conn, query, *args, timeout=15.0, interval=0.05):
    """Polls until query returns a true value; returns it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await conn.fetchval(query, *args)
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for: {query} {args}")
        await asyncio.sleep(interval)
