"""Declaring tasks.

    @task("payouts.process", queue="payouts", priority=Priority.HIGH, timeout=120)
    def process_payout(ctx, payout_id): ...

The body receives a JobContext first (job id, attempt number, a progress
reporter), then the job's JSON arguments. Bodies stay thin: take ids, call a
service, and be safe to run twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from jobs.policies import Policy, policy_from_dict
from jobs.queues import Priority, get_queue_config


class UnknownTask(LookupError):
    pass


@dataclass(frozen=True)
class Task:
    name: str
    func: Callable
    queue: str
    priority: Priority
    timeout: int | None
    retry: Policy | None
    dedup: Callable | None = None  # (*args, **kwargs) -> key, e.g. lambda user_id: f"user-analytics:{user_id}"

    def retry_policy(self) -> Policy:
        return self.retry or policy_from_dict(get_queue_config(self.queue).retry)


_REGISTRY: dict[str, Task] = {}


def task(
    name: str,
    *,
    queue: str = "default",
    priority: Priority | int = Priority.NORMAL,
    timeout: int | None = None,
    retry: Policy | None = None,
    dedup: Callable | None = None,
):
    """Register ``func`` as task ``name``. The queue must exist in CONVEYOR_QUEUES.

    ``dedup`` derives a dedup key from the job's arguments: while a job with that key
    is active (pending, scheduled, queued, running or retrying), enqueueing the task
    again returns the existing job.
    """
    get_queue_config(queue)  # unknown queue: fail at import, not at the first enqueue
    priority = Priority(priority)
    if timeout is not None and timeout < 1:
        raise ValueError(f"task {name!r}: timeout must be at least 1 second")

    def register(func: Callable) -> Callable:
        existing = _REGISTRY.get(name)
        if existing and existing.func.__qualname__ != func.__qualname__:
            raise ValueError(f"task name {name!r} is already used by {existing.func.__module__}.{existing.func.__qualname__}")
        _REGISTRY[name] = Task(name=name, func=func, queue=queue, priority=priority, timeout=timeout, retry=retry, dedup=dedup)
        func.task_name = name
        return func

    return register


def get_task(name: str) -> Task:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownTask(f"Unknown task {name!r}. Registered tasks: {', '.join(sorted(_REGISTRY)) or 'none'}.") from None


def all_tasks() -> dict[str, Task]:
    return dict(_REGISTRY)
