#!/usr/bin/python3
"""Publish-commit to claim latency of an idle consumer, three ways.

One producer publishes RATE jobs per second (each job its own transaction);
one idle consumer waits for them in one of three ways:

  wait    jobs.consume(1, i_wait): waits inside the server, woken by the
          publisher's commit (through shared memory when pgjobs is preloaded)
  poll    jobs.consume(1), sleeping POLL_MS between empty polls
  notify  LISTEN on a channel the publisher NOTIFYs in its transaction, then
          jobs.consume(1) until empty

The latency of a job is measured in this process on one monotonic clock:
from the moment the producer's publish (autocommit: the commit included)
returned, to the moment the consumer's consume returned the job.  The
consumer acks each job.  Prints one line per mode: p50, p99 and max in
milliseconds.  Connection settings come from the PG* environment variables.

Usage: latency.py [--rate 100] [--seconds 10] [--modes wait,poll,notify]
"""

import argparse
import asyncio
import statistics
import sys
import time

import asyncpg

POLL_MS = 100


def percentile(values, p):
    """The p-th percentile (0-100) of values, by nearest rank."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


async def producer(conn, mode, rate, seconds, published):
    """Publishes rate jobs a second for seconds, recording when each commit returned."""
    interval = 1.0 / rate
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < seconds:
        if mode == "notify":
            # one simple-query message, so one implicit transaction for both;
            # it returns no id (jobs are matched by order afterwards)
            await conn.execute("SELECT jobs.publish('bench.latency'); NOTIFY pgjobs_bench")
            job_id = None
        else:
            job_id = await conn.fetchval("SELECT jobs.publish('bench.latency')")
        published.append((time.monotonic(), job_id))
        n += 1
        delay = start + n * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


async def claim_one(conn, wait):
    """Claims one job (waiting up to wait seconds); returns (job_id, attempt) or None."""
    row = await conn.fetchrow(
        "SELECT job_id, attempt FROM jobs.consume(1, $1::numeric)", wait)
    return (row["job_id"], row["attempt"]) if row else None


async def consumer(conn, mode, done, claimed):
    """Claims jobs the way mode says until done is set and the queue is empty."""
    wakeup = asyncio.Event()
    if mode == "notify":
        await conn.add_listener("pgjobs_bench", lambda *args: wakeup.set())
    while True:
        job = await claim_one(conn, 1 if mode == "wait" else 0)
        if job:
            claimed.append((time.monotonic(), job[0]))
            await conn.execute("SELECT jobs.ack($1, NULL, $2)", job[0], job[1])
            continue
        if done.is_set():
            return
        if mode == "poll":
            await asyncio.sleep(POLL_MS / 1000)
        elif mode == "notify":
            try:
                await asyncio.wait_for(wakeup.wait(), 1)
            except asyncio.TimeoutError:
                pass
            wakeup.clear()


async def measure(mode, rate, seconds):
    """Runs one mode and returns the latencies in milliseconds."""
    prod = await asyncpg.connect()
    cons = await asyncpg.connect()
    try:
        await prod.execute("TRUNCATE jobs.job_queue, jobs.job")
        published, claimed = [], []
        done = asyncio.Event()
        task = asyncio.create_task(consumer(cons, mode, done, claimed))
        await asyncio.sleep(0.2)        # let the consumer go idle
        await producer(prod, mode, rate, seconds, published)
        await asyncio.sleep(0.5)
        done.set()
        await task
    finally:
        await prod.close()
        await cons.close()
    if mode == "notify":
        # the publish and NOTIFY statement returns no id: jobs are claimed in order
        ids = [job_id for _, job_id in claimed]
        published = [(t, job_id) for (t, _), job_id in zip(published, sorted(ids))]
    sent = {job_id: t for t, job_id in published}
    lat = [(t - sent[job_id]) * 1000 for t, job_id in claimed if job_id in sent]
    if len(lat) != len(published):
        raise SystemExit(f"{mode}: published {len(published)} jobs, claimed {len(lat)}")
    return lat


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--modes", default="wait,poll,notify")
    args = parser.parse_args()
    print(f"{'consumer waits by':<28} | {'jobs':>5} | {'p50 ms':>7} | {'p99 ms':>7} | {'max ms':>7}")
    labels = {"wait": "jobs.consume(1, i_wait)",
              "poll": f"polling every {POLL_MS} ms",
              "notify": "LISTEN/NOTIFY"}
    for mode in args.modes.split(","):
        lat = await measure(mode, args.rate, args.seconds)
        print(f"{labels[mode]:<28} | {len(lat):>5} | {percentile(lat, 50):>7.2f} | "
              f"{percentile(lat, 99):>7.2f} | {max(lat):>7.2f}", flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except (OSError, asyncpg.PostgresError) as e:
        print(f"latency.py: {e}", file=sys.stderr)
        sys.exit(1)
