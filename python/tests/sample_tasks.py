"""Task functions for the pgjobs Python tests (run by in-process and
subprocess workers started with --tasks tests.sample_tasks)."""

import asyncio
import os
import time
from os import system  # noqa: F401 -- re-exported: a worker must refuse tests.sample_tasks.system


def add(a, b):
    """A plain function: runs in the worker's thread pool."""
    return a + b


async def mul(a, b):
    """A coroutine function: awaited."""
    await asyncio.sleep(0)
    return {"product": a * b}


def boom(message="boom"):
    raise ValueError(message)


async def hang():
    await asyncio.sleep(3600)


async def nap(seconds, value=None):
    await asyncio.sleep(seconds)
    return value


def sleep_sync(seconds, value=None):
    time.sleep(seconds)
    return value


def not_json():
    return object()


def touch(path):
    """Leaves a file behind, to prove a task ran (or did not)."""
    with open(path, "w") as f:
        f.write(str(os.getpid()))
    return path


def noop():
    return None


GATES = {}


def gate(name):
    """The asyncio.Event that wait_gate(name) waits for; a test sets it."""
    return GATES.setdefault(name, asyncio.Event())


async def wait_gate(name, value=None):
    """Runs until the test opens gate ``name`` (in-process workers only)."""
    await gate(name).wait()
    return value
