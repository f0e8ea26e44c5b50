"""Demo tasks: the platform's own, used by `make run`'s demo data, the docs and the benchmark."""

from __future__ import annotations

import time

from jobs.core.policies import Exponential
from jobs.core.registry import task
from jobs.ops import retention, webhooks


@task("demo.noop", queue="default", permission="jobs.enqueue_task", api=True)
def noop(ctx):
    return None


@task("demo.sleep", queue="default", permission="jobs.enqueue_task", api=True)
def sleep(ctx, seconds: float = 2.0, steps: int = 4):
    """Sleeps in steps, reporting progress after each."""
    steps = max(1, int(steps))
    for step in range(1, steps + 1):
        time.sleep(seconds / steps)
        ctx.progress(int(step * 100 / steps), f"step {step} of {steps}")
    return {"slept": seconds}


@task("demo.fail", queue="default", retry=Exponential(retries=3, delay=2), permission="jobs.enqueue_task", api=True)
def fail(ctx, message: str = "this demo job always fails"):
    """Always raises: retries at 2 s, 4 s, 8 s, then lands in the dead-letter list."""
    raise RuntimeError(f"{message} (attempt {ctx.attempt} of {ctx.max_attempts})")


@task("demo.flaky", queue="default", retry=Exponential(retries=3, delay=1), permission="jobs.enqueue_task", api=True)
def flaky(ctx, fail_times: int = 2):
    """Fails its first ``fail_times`` attempts, then succeeds."""
    if ctx.attempt <= fail_times:
        raise RuntimeError(f"flaky failure on attempt {ctx.attempt}")
    return {"succeeded_on_attempt": ctx.attempt}


@task("jobs.cleanup", queue="maintenance", permission="jobs.enqueue_task")
def cleanup(ctx):
    """The retention cleanup (jobs/retention.py), fired by the "Retention cleanup" schedule."""
    return retention.cleanup()


@task("webhooks.deliver", queue="integrations", permission="jobs.change_webhookendpoint")
def deliver_webhook(ctx, delivery_id: int):
    """POST one job event to one webhook endpoint, signed (jobs/ops/webhooks.py)."""
    return {"delivery": delivery_id, "state": webhooks.deliver(delivery_id, last_attempt=ctx.is_last_attempt)}
