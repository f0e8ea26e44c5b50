"""Tasks used only by the tests. Side effects go to a Redis counter so duplicates are visible."""

from __future__ import annotations

import os
import threading
import time

from jobs.core.outcomes import Defer, PermanentFailure, RetryLater
from jobs.core.policies import Exponential, Fixed
from jobs.core.registry import task
from jobs.ops.control import job_cancel
from jobs.transport.redis import get_redis


def runs(key: str) -> int:
    return int(get_redis().get(f"test:runs:{key}") or 0)


@task("test.count", queue="default", permission="jobs.enqueue_task", api=True)
def count(ctx, key: str = "count"):
    get_redis().incr(f"test:runs:{key}")
    get_redis().rpush("test:order", key)
    return {"attempt": ctx.attempt}


@task("test.anything", queue="default")
def anything(ctx, *args, **kwargs):
    """Takes any arguments: for tests about storage, not about a task's signature."""
    return None


@task("test.fail", queue="default", retry=Exponential(retries=3, delay=2))
def always_fail(ctx, key: str = "fail"):
    get_redis().incr(f"test:runs:{key}")
    raise ValueError(f"boom {ctx.attempt}")


@task("test.fail_fixed", queue="payout_expiry", retry=Fixed(retries=2, delay=5))
def fail_fixed(ctx):
    raise ValueError("fixed boom")


@task("test.slow", queue="default", timeout=1, retry=Fixed(retries=0, delay=0))
def slow(ctx, seconds: float = 5):
    time.sleep(seconds)


@task("test.nap", queue="default")
def nap(ctx, seconds: float = 0.3):
    """Waits like a provider call; returns the thread it ran in, so tests see the slots used."""
    time.sleep(seconds)
    return {"thread": threading.get_ident()}


@task("test.nap_capped", queue="maintenance")  # a queue capped at 1 job at a time, fleet-wide
def nap_capped(ctx, seconds: float = 0.3):
    time.sleep(seconds)


@task("test.spin", queue="default", timeout=1, retry=Fixed(retries=0, delay=0))
def spin(ctx, seconds: float = 5):
    """Busy in Python code until stopped: its timeout lands at once."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.01)


@task("test.progress", queue="default")
def progress(ctx):
    ctx.progress(10, "started")
    ctx.progress(50, "half")
    return "done"


@task("test.unserialisable_result", queue="default")
def unserialisable_result(ctx):
    return object()


@task("test.chaos", queue="default", retry=Fixed(retries=50, delay=0.2))
def chaos(ctx, seconds: float = 0.3):
    """Appends every start, and every end of its body, to CONVEYOR_TEST_STARTS (outside Redis,
    which the tests flush), so a run after success, or after a completed body, is detectable."""
    with open(os.environ["CONVEYOR_TEST_STARTS"], "a") as log:
        log.write(f"{ctx.job_id} {time.time()}\n")
    time.sleep(seconds)
    with open(os.environ["CONVEYOR_TEST_STARTS"], "a") as log:
        log.write(f"{ctx.job_id} {time.time()} end\n")


@task("test.per_user", queue="analytics", dedup=lambda user_id: f"user analytics for user {user_id}")
def per_user(ctx, user_id: int):
    return {"user": user_id}


@task("test.cancel_me", queue="default")
def cancel_me(ctx):
    """Staff cancel this job while it runs (simulated from inside); it stops at its next progress report."""
    ctx.progress(10, "working")
    job_cancel(ctx.job_id, actor="system:test", reason="stop it")
    ctx.progress(50, "never recorded")
    get_redis().incr("test:runs:after-cancel")


@task("test.outcome", queue="default", retry=Exponential(retries=3, delay=2))
def outcome(ctx, kind: str, after: float = 0):
    """Ends as the test asks: a permanent failure, a retry after ``after`` s, or a deferral."""
    get_redis().incr(f"test:runs:outcome-{kind}")
    if kind == "permanent":
        raise PermanentFailure("the number does not exist")
    if kind == "later":
        raise RetryLater("throttled", after=after)
    if kind == "defer":
        raise Defer("over the key's limit", after=after)
    return {"attempt": ctx.attempt}
