#!/usr/bin/python3
"""bench/python_worker.py: Python worker throughput next to the SQL-level drain.

Usage: PYTHONPATH=python /usr/bin/python3 bench/python_worker.py DSN [--seconds 10] [--prefill 200000]

Needs a server with the pgjobs extension in DSN's database (the queue is
truncated!) and pgbench (from PGBIN, or pg_config's bindir, or PATH).  For
each workload the queue is emptied, prefilled with no-op jobs, vacuumed and
checkpointed, then drained for --seconds:

  sql drain      pgbench -n -M prepared -c 4 -j 2 -f bench/pgbench/drain.sql:
                 jobs.consume(1) then jobs.ack, two transactions per job
  worker c=N     pgjobs.worker.Worker (the jobs-worker code, in this process)
                 with concurrency N = 1, 16, 64 running python_worker.noop

and prints completed jobs/s and the ratio to the SQL drain of the same run.
Target (issue 5): the worker at concurrency 64 reaches at least 0.5.
Per-job log lines are off (WARNING level) during the runs.
"""

import argparse
import asyncio
import logging
import os
import re
import shutil
import subprocess
import sys
import time

import asyncpg

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(1, HERE)                # the worker imports python_worker.noop
sys.path.insert(1, os.path.join(os.path.dirname(HERE), "python"))

from pgjobs.worker import Worker       # noqa: E402


def noop():
    """The benchmark's task: does nothing."""
    return None


async def reset(dsn, prefill):
    c = await asyncpg.connect(dsn)
    try:
        await c.execute("TRUNCATE jobs.job_queue, jobs.job")
        left = prefill
        while left > 0:
            n = min(left, 100000)
            await c.execute(
                "SELECT count(*) FROM jobs.publish_bulk(ARRAY(SELECT ROW('python_worker.noop', "
                "'{\"args\": [], \"kwargs\": {}}', NULL, NULL, NULL, NULL)::jobs.bulk_job "
                "FROM generate_series(1, $1)))", n)
            left -= n
        await c.execute("VACUUM ANALYZE jobs.job_queue")
        await c.execute("VACUUM ANALYZE jobs.job")
        await c.execute("CHECKPOINT")
    finally:
        await c.close()


async def succeeded(dsn):
    c = await asyncpg.connect(dsn)
    try:
        return await c.fetchval("SELECT count(*) FROM jobs.job WHERE status = 'succeeded'")
    finally:
        await c.close()


def pgbench_path():
    d = os.environ.get("PGBIN")
    if not d and shutil.which("pg_config"):
        d = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
    for cand in ([os.path.join(d, "pgbench")] if d else []) + [shutil.which("pgbench") or ""]:
        if cand and os.access(cand, os.X_OK):
            return cand
    sys.exit("python_worker.py: pgbench not found (set PGBIN)")


async def sql_drain(dsn, seconds):
    script = os.path.join(HERE, "pgbench", "drain.sql")
    r = await asyncio.to_thread(
        subprocess.run, [pgbench_path(), "-n", "-M", "prepared", "-T", str(seconds), "-c", "4",
                         "-j", "2", "-f", script, dsn], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"pgbench failed:\n{r.stdout}\n{r.stderr}")
    done = await succeeded(dsn)
    return done / seconds


async def worker_drain(dsn, concurrency, seconds):
    w = Worker(dsn, ["python_worker"], concurrency=concurrency, stats_interval=3600)
    task = asyncio.create_task(w.run(install_signals=False))
    await asyncio.sleep(seconds)
    w.stop()
    status = await task
    if status != 0:
        sys.exit(f"worker exited with {status}")
    done = await succeeded(dsn)
    return done / seconds, w


async def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dsn")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--prefill", type=int, default=200000)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = []
    await reset(args.dsn, args.prefill)
    sql = await sql_drain(args.dsn, int(args.seconds))
    rows.append(("sql drain (pgbench, 4 clients)", sql, None))
    for c in (1, 16, 64):
        await reset(args.dsn, args.prefill)
        rate, w = await worker_drain(args.dsn, c, args.seconds)
        bad = w.totals["failed"] + w.totals["timed_out"] + w.totals["lost"]
        rows.append((f"python worker c={c}", rate, f"{bad} not succeeded" if bad else None))
        if rate * args.seconds >= args.prefill * 0.95:
            rows[-1] = (rows[-1][0], rate, "queue ran dry: lower bound")
    print(f"pgjobs Python worker benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{args.seconds:g} s per run, {os.cpu_count()} cores")
    print(f"{'workload':34} {'jobs/s':>10} {'vs sql':>7}")
    for name, rate, note in rows:
        ratio = rate / sql if sql else float("nan")
        print(f"{name:34} {rate:10.0f} {ratio:7.2f}" + (f"  {note}" if note else ""))
    c64 = rows[-1][1] / sql if sql else 0
    print(f"target: c=64 >= 0.50 x sql drain: {'met' if c64 >= 0.5 else 'MISSED'} ({c64:.2f})")


if __name__ == "__main__":
    asyncio.run(main())
