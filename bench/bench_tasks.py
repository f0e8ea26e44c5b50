"""Tasks the benchmarks run (registered through CONVEYOR_TASK_MODULES)."""

import time

import django_tasks

from jobs.core.registry import task
from jobs.transport.redis import get_redis

# bench/engine.py's latency samples: the moment a body starts, pushed by the task itself.
STARTED_KEY = "bench:started"


@task("bench.noop", queue="default")
def noop(ctx):
    return None


@task("bench.sleep", queue="default")
def sleep(ctx, seconds: float):
    time.sleep(seconds)


@task("bench.stamp", queue="default")
def stamp(ctx):
    get_redis().rpush(STARTED_KEY, repr(time.time()))


@django_tasks.task()
def standard_noop():
    """The same no-op through Django's standard Tasks API (jobs.standard_tasks)."""
    return None
