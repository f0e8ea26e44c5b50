"""Tasks the benchmarks run (registered through CONVEYOR_TASK_MODULES)."""

import time

from jobs.core.registry import task


@task("bench.noop", queue="default")
def noop(ctx):
    return None


@task("bench.sleep", queue="default")
def sleep(ctx, seconds: float):
    time.sleep(seconds)
