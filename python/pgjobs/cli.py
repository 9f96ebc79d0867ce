"""The pgjobs commands: jobs-migrate and jobs-worker.

    jobs-migrate DSN
    jobs-worker DSN --tasks PKG [--tasks PKG2] [--concurrency N] [--topic PATTERN] [--burst]
                [--metrics-port PORT [--metrics-host HOST]]

Also ``python3 -m pgjobs.cli migrate|worker ...`` and ``python3 -m pgjobs.worker ...``.
"""

import argparse
import asyncio
import logging
import os
import sys

import asyncpg

from . import errors
from .queries import QUERIES

__all__ = ["migrate", "migrate_main", "worker_main", "main"]

log = logging.getLogger("pgjobs")

_DSN_HELP = ("PostgreSQL connection string, e.g. postgresql://user@host:5432/db "
             "(libpq's PG* environment variables fill in what it leaves out; "
             "there are no built-in credentials)")


def _setup_logging(level):
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


async def migrate(conn):
    """Creates the pgjobs extension if missing, then updates it to the
    default version of the server's extension files.  Returns
    (version before or None, version after)."""
    with errors.wrap():
        before = await conn.fetchval(QUERIES["extension_version"])
        async with conn.transaction():
            await conn.execute(QUERIES["create_extension"])
            await conn.execute(QUERIES["update_extension"])
        after = await conn.fetchval(QUERIES["extension_version"])
    return before, after


def describe(exc):
    """A message for a migration error, saying what to do about it."""
    if isinstance(exc, errors.ExtensionNotAvailable):
        return ("the PostgreSQL server has no pgjobs extension files (pgjobs.control and its SQL "
                "scripts); install them on the database server first (make install from the "
                f"repository, as root, on that machine), then run jobs-migrate again.\n"
                f"server said: {exc}" + (f" ({exc.detail})" if exc.detail else ""))
    if isinstance(exc, errors.PermissionDenied):
        return (f"permission denied: {exc}; creating or updating pgjobs needs a superuser "
                "(the extension is not trusted)")
    if isinstance(exc, errors.ConnectionLost):
        return f"cannot connect to the database: {exc}"
    return str(exc)


async def _migrate(dsn):
    try:
        with errors.wrap():
            conn = await asyncpg.connect(dsn, timeout=10)
    except errors.PgJobsError as exc:
        print(f"jobs-migrate: {describe(exc)}", file=sys.stderr)
        return 1
    try:
        before, after = await migrate(conn)
    except errors.PgJobsError as exc:
        print(f"jobs-migrate: {describe(exc)}", file=sys.stderr)
        return 1
    finally:
        await conn.close()
    if before is None:
        print(f"jobs-migrate: created extension pgjobs {after}")
    elif before != after:
        print(f"jobs-migrate: updated extension pgjobs from {before} to {after}")
    else:
        print(f"jobs-migrate: extension pgjobs {after} is up to date")
    return 0


def _migrate_parser(prog="jobs-migrate"):
    p = argparse.ArgumentParser(
        prog=prog,
        description="Create the pgjobs extension in a database, or update it to the version "
                    "installed on the server (CREATE EXTENSION IF NOT EXISTS pgjobs; "
                    "ALTER EXTENSION pgjobs UPDATE). Needs a superuser. Safe to run again.")
    p.add_argument("dsn", metavar="DSN", help=_DSN_HELP)
    return p


def migrate_main(argv=None):
    """Entry point of jobs-migrate."""
    args = _migrate_parser().parse_args(argv)
    return asyncio.run(_migrate(args.dsn))


def _positive_int(text):
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def _port(text):
    n = int(text)
    if not 0 <= n <= 65535:
        raise argparse.ArgumentTypeError("must be between 0 and 65535")
    return n


def _seconds(text):
    x = float(text)
    if x < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return x


def _worker_parser(prog="jobs-worker"):
    p = argparse.ArgumentParser(
        prog=prog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Claim and run pgjobs jobs. A job's task names the function that runs\n"
                    "it, package.module.function; its body's args and kwargs are passed to\n"
                    "it. Coroutine functions are awaited, plain ones run in a thread pool.",
        epilog="""\
Only tasks under the --tasks prefixes are claimed and run: with --tasks myapp
the worker claims with jobs.consume_topic('myapp.%', n), so a job named
os.system is never touched. The worker refuses to start without --tasks.

On success the job is acked with its return value (JSON); on an exception it
is nacked with the traceback and retried with backoff until max_retries. A
job running past its timeout is cancelled and nacked as timed out.

SIGINT/SIGTERM: stop claiming, let running jobs finish within --grace
seconds, give back the rest (ready again at once). A second signal gives
them back immediately. Lost connections are retried with backoff.

An idle worker with one claim pattern waits in the server with the blocking
consume; with several it polls (50 ms to 1 s).

Totals are logged every --stats-interval seconds and at exit. With
--metrics-port the same counters are served for Prometheus at
http://HOST:PORT/metrics (text format 0.0.4); off by default.

examples:
  jobs-worker postgresql://worker@db/app --tasks myapp --concurrency 32
  jobs-worker postgresql://worker@db/app --tasks myapp --topic 'myapp.mail.%'
  jobs-worker postgresql://worker@db/app --tasks myapp --burst   # cron / k8s Job
  jobs-worker postgresql://worker@db/app --tasks myapp --metrics-port 9464
""")
    p.add_argument("dsn", metavar="DSN", help=_DSN_HELP)
    p.add_argument("--tasks", metavar="PKG", action="append", default=[], required=True,
                   help="allow-list: run only tasks named PKG.<...> (repeatable; required)")
    p.add_argument("--concurrency", metavar="N", type=_positive_int, default=10,
                   help="jobs run at once (default: 10)")
    p.add_argument("--topic", metavar="PATTERN",
                   help="claim only tasks matching this pattern (%% or * match any run of "
                        "characters); it must lie within the allow-list")
    p.add_argument("--burst", action="store_true",
                   help="run what is ready, then exit 0 once no job is ready or running")
    p.add_argument("--grace", metavar="SECONDS", type=_seconds, default=30.0,
                   help="at shutdown, how long running jobs may take to finish (default: 30)")
    p.add_argument("--stats-interval", metavar="SECONDS", type=_seconds, default=60.0,
                   help="log totals this often (default: 60)")
    p.add_argument("--metrics-port", metavar="PORT", type=_port,
                   help="serve Prometheus metrics at http://HOST:PORT/metrics (default: off; "
                        "0 picks a free port, logged at start)")
    p.add_argument("--metrics-host", metavar="HOST",
                   help="address the metrics endpoint listens on (default: 127.0.0.1; "
                        "0.0.0.0 or :: for every interface); needs --metrics-port")
    p.add_argument("--log-level", default="INFO",
                   choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="default: INFO")
    return p


def worker_main(argv=None, prog="jobs-worker"):
    """Entry point of jobs-worker."""
    from .worker import Worker

    parser = _worker_parser(prog)
    args = parser.parse_args(argv)
    if args.metrics_host is not None and args.metrics_port is None:
        parser.error("--metrics-host needs --metrics-port")
    _setup_logging(args.log_level)
    try:
        worker = Worker(args.dsn, args.tasks, concurrency=args.concurrency, topic=args.topic,
                        burst=args.burst, grace=args.grace,
                        stats_interval=args.stats_interval or 60.0,
                        metrics_port=args.metrics_port,
                        metrics_host=args.metrics_host or "127.0.0.1")
    except ValueError as exc:
        parser.error(str(exc))
    # Task modules are also looked up in the current directory (last, so
    # that nothing there shadows an installed package).
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    status = asyncio.run(worker.run())
    if worker.stuck_threads:
        # Abandoned task functions would keep the interpreter from exiting.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


def main(argv=None):
    """python3 -m pgjobs.cli {migrate|worker} ..."""
    argv = sys.argv[1:] if argv is None else argv
    usage = "usage: python3 -m pgjobs.cli {migrate|worker} ... (see --help of each)"
    if not argv or argv[0] in ("-h", "--help"):
        print(usage)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "migrate":
        return migrate_main(rest)
    if cmd == "worker":
        return worker_main(rest, prog="python3 -m pgjobs.cli worker")
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
