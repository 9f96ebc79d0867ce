#!/usr/bin/python3
# Copyright (c) 2026, The pgjobs developers
#
# chaos_worker.py: one producer or one consumer process for 006_chaos.pl.
#
#   chaos_worker.py produce --host H --port P --parent PID --seed S --slot I
#                           --jobs N --of K --seconds T
#   chaos_worker.py consume --host H --port P --parent PID --seed S --slot I --gen G
#
# A producer publishes the keys k in [0, N) with k % K == I, spread over about
# T seconds, each job together with its ledger row chaos.published(key, job_id)
# in one statement, so the job exists exactly when its ledger row does.  After
# any error it reconnects if need be, reads the ledger again and goes on with
# the keys not in it; a key already in it (a commit whose reply was lost) is refused by the
# ledger's primary key, which rolls the publish back.  Odd slots publish in
# random batches with jobs.publish_bulk, even slots one job at a time
# (jobs.publish, some scheduled up to 2 s ahead).  It exits 0 when every one
# of its keys is in the ledger.
#
# A consumer claims 1 to 3 jobs with jobs.consume(num, 2) and records a row
# chaos.execution(job_id, attempt) per claimed job in the same statement, so
# executions are exactly the committed claims.  It runs each job as a
# pg_sleep on its backend (so the test can cancel or terminate a backend that
# is working, not only one that waits), then acks it, or nacks it if the job's
# mode says so or the work was cancelled, passing the attempt, in a
# transaction that also records chaos.outcome(job_id, attempt, outcome).  An
# ack or nack refused because the claim ended (PJ002, PJ003) is logged and
# skipped; after a lost connection it reconnects and abandons the rest of its
# claim, whose leases then lapse.  It runs until killed (SIGTERM exits at once).
#
# What a job does is decided by its key and the seed alone (mode_of); the
# producer writes it into the body (mode, work_ms, fail_first: how many of
# its first attempts cannot succeed), and the test checks the outcome:
#   poison  nacks every attempt: fails after its max_retries (2) retries
#   flaky   nacks attempt 1, or attempts 1 and 2
#   slow    works past its 1 s lease on attempt 1 (its ack is refused)
#   normal  works 0-40 ms and acks (as do the others once past fail_first)
# Each process logs one line per error or notable event to stdout, and exits
# as soon as it sees that its parent (the test, pid PID) is gone.

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import time

import asyncpg

TASK = 'chaos.job'
TIMEOUT = 1                 # seconds: the lease of every job
MAX_RETRIES = {'poison': 2}  # others: DEFAULT_MAX_RETRIES
DEFAULT_MAX_RETRIES = 12
WAIT = 2                    # seconds a consume waits for work


def mode_of(seed, key):
    """The mode, work time (ms) and number of leading attempts that fail of
    job key, the same in every process."""
    rng = random.Random(seed * 1000003 + key)
    r = rng.random()
    work_ms = rng.randint(0, 40)
    if r < 0.03:
        return 'poison', work_ms, MAX_RETRIES['poison'] + 1
    if r < 0.15:
        return 'flaky', work_ms, rng.randint(1, 2)
    if r < 0.16:
        return 'slow', work_ms, 1
    return 'normal', work_ms, 0


def log(*words):
    print(time.strftime('%H:%M:%S'), *words, flush=True)


def describe(exc):
    code = getattr(exc, 'sqlstate', None)
    return '%s[%s] %s' % (type(exc).__name__, code, str(exc).splitlines()[0] if str(exc) else '')


def broken(conn, exc):
    """Whether conn is unusable after exc: closed, ended by the server, or
    hit by a client-side error (asyncpg's own state may be confused)."""
    if conn is None or conn.is_closed() or not isinstance(exc, asyncpg.PostgresError):
        return True
    return (exc.sqlstate or '').startswith(('08', '57P'))


def drop(conn):
    """Closes conn without waiting for the server; returns None."""
    if conn is not None:
        conn.terminate()
    return None


def check_parent(args):
    """Exits when the test that started this process is gone."""
    if os.getppid() != args.parent:
        log('parent gone, exiting')
        os._exit(3)


async def connect(args, role):
    """Connects, retrying every 100-300 ms while the server is down."""
    while True:
        check_parent(args)
        try:
            conn = await asyncpg.connect(
                host=args.host, port=args.port, user='postgres', database='postgres',
                timeout=5, statement_cache_size=0,
                server_settings={'application_name': 'chaos-%s%d-%d' % (role, args.slot, os.getpid())})
            return conn
        except Exception as exc:      # down, starting up, shutting down, too many clients
            log('connect failed:', describe(exc))
            await asyncio.sleep(0.1 + random.random() * 0.2)


async def produce(args):
    rng = random.Random('%d:p%d' % (args.seed, args.slot))
    mine = [k for k in range(args.jobs) if k % args.of == args.slot]
    pause = args.seconds / max(len(mine), 1)
    conn = None
    while True:
        try:
            if conn is None:
                conn = await connect(args, 'p')
            rows = await conn.fetch(
                'SELECT key FROM chaos.published WHERE key % $1 = $2', args.of, args.slot)
            done = {r['key'] for r in rows}
            unpublished = [k for k in mine if k not in done]
            log('ledger has', len(done), 'of my', len(mine), 'keys')
            if not unpublished:
                log('all published')
                return 0
            i = 0
            while i < len(unpublished):
                check_parent(args)
                n = rng.randint(1, 20) if args.slot % 2 else 1
                batch = unpublished[i:i + n]
                bodies, prios, retries = [], [], []
                for k in batch:
                    mode, work_ms, fail_first = mode_of(args.seed, k)
                    bodies.append(json.dumps({'key': k, 'mode': mode, 'work_ms': work_ms,
                                              'fail_first': fail_first}))
                    prios.append(k % 3)
                    retries.append(MAX_RETRIES.get(mode, DEFAULT_MAX_RETRIES))
                if n == 1 and args.slot % 2 == 0:
                    delay = rng.random() * 2.0 if rng.random() < 0.1 else 0.0
                    await conn.execute(
                        'INSERT INTO chaos.published (key, job_id)'
                        ' VALUES ($1, jobs.publish($2, $3::jsonb,'
                        '   now() + make_interval(secs => $4), $5, $6, $7))',
                        batch[0], TASK, bodies[0], delay, TIMEOUT, prios[0], retries[0])
                else:
                    await conn.execute(
                        'INSERT INTO chaos.published (key, job_id)'
                        ' SELECT i.key, p.job_id'
                        '   FROM jobs.publish_bulk((SELECT array_agg(ROW($4::varchar, b.body, NULL, $5::int,'
                        '            b.prio, b.retries)::jobs.bulk_job ORDER BY b.ord)'
                        '          FROM unnest($2::jsonb[], $3::int[], $6::int[])'
                        '               WITH ORDINALITY AS b(body, prio, retries, ord)))'
                        '        WITH ORDINALITY AS p(job_id, ord)'
                        '   JOIN unnest($1::int[]) WITH ORDINALITY AS i(key, ord) USING (ord)',
                        batch, bodies, prios, TASK, TIMEOUT, retries)
                i += len(batch)
                await asyncio.sleep(pause * len(batch) * (0.5 + rng.random()))
        except asyncpg.UniqueViolationError as exc:
            log('already published, rereading the ledger:', describe(exc))
        except Exception as exc:
            log('error, rereading the ledger:', describe(exc))
            if broken(conn, exc):
                conn = drop(conn)
            await asyncio.sleep(0.1)


CLAIM = (
    'WITH c AS MATERIALIZED (SELECT * FROM jobs.consume($1, %d)),'
    '     e AS (INSERT INTO chaos.execution (job_id, attempt, backend_pid, worker)'
    '           SELECT job_id, attempt, pg_backend_pid(), $2 FROM c)'
    ' SELECT job_id, attempt, body::text AS body FROM c ORDER BY job_id' % WAIT)


async def finish(conn, job_id, attempt, outcome, key):
    """Acks or nacks one claim and records the outcome, in one transaction."""
    async with conn.transaction():
        if outcome == 'ack':
            await conn.execute('SELECT jobs.ack($1, $2::jsonb, $3)', job_id,
                               json.dumps({'key': key, 'attempt': attempt}), attempt)
        else:
            await conn.execute('SELECT jobs.nack($1, $2, NULL, $3)', job_id,
                               'chaos: %s at attempt %d' % (outcome, attempt), attempt)
        await conn.execute(
            'INSERT INTO chaos.outcome (job_id, attempt, outcome) VALUES ($1, $2, $3)',
            job_id, attempt, outcome)


async def consume(args):
    rng = random.Random('%d:c%d:%d' % (args.seed, args.slot, args.gen))
    worker = 'c%d.%d' % (args.slot, args.gen)
    conn = None
    while True:
        check_parent(args)
        if conn is None:
            conn = await connect(args, 'c')
        try:
            claimed = await conn.fetch(CLAIM, rng.randint(1, 3), worker)
        except Exception as exc:
            log('claim failed:', describe(exc))
            if broken(conn, exc):
                conn = drop(conn)
            await asyncio.sleep(0.05)
            continue
        for job in claimed:
            job_id, attempt = job['job_id'], job['attempt']
            body = json.loads(job['body'])
            mode, key = body['mode'], body['key']
            work = body['work_ms'] / 1000.0
            if mode == 'slow' and attempt == 1:
                work = TIMEOUT + 0.3
            outcome = 'ack'
            if mode == 'poison' or (mode == 'flaky' and attempt <= body['fail_first']):
                outcome = 'nack'
            what = 'job %d (key %d, %s) attempt %d' % (job_id, key, mode, attempt)
            try:
                await conn.execute('SELECT pg_sleep($1)', work)
            except asyncpg.QueryCanceledError:
                log(what, 'cancelled while working')
                outcome = 'nack-cancelled'
            except Exception as exc:
                log(what, 'work failed:', describe(exc))
                if broken(conn, exc):
                    conn = drop(conn)
                    break
                continue
            try:
                await finish(conn, job_id, attempt, outcome, key)
            except Exception as exc:
                log(what, outcome, 'failed:', describe(exc))
                if broken(conn, exc):
                    conn = drop(conn)
                    break


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('role', choices=['produce', 'consume'])
    ap.add_argument('--host', required=True)
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--seed', type=int, required=True)
    ap.add_argument('--slot', type=int, required=True)
    ap.add_argument('--parent', type=int, required=True)
    ap.add_argument('--gen', type=int, default=1)
    ap.add_argument('--jobs', type=int, default=0)
    ap.add_argument('--of', type=int, default=1)
    ap.add_argument('--seconds', type=float, default=10)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    log('start', args.role, 'slot', args.slot, 'gen', args.gen, 'pid', os.getpid())
    return asyncio.run(produce(args) if args.role == 'produce' else consume(args))


if __name__ == '__main__':
    sys.exit(main())
