"""Declaring tasks.

    @task("payouts.process", queue="payouts", priority=Priority.HIGH, timeout=120)
    def process_payout(ctx, payout_id): ...

The body receives a JobContext first (job id, attempt number, a progress
reporter), then the job's JSON arguments. Bodies stay thin: take ids, call a
service, and be safe to run twice. The arguments of every job are checked against
the body's signature and annotations when it is enqueued (jobs/arguments.py).

Who may start a task by name from outside the code (docs/api.md, "Tasks by name"):

* ``permission``: the Django permission needed to start it from a surface: a schedule
  (add, change, enable, run now) and a retry or requeue of its dead jobs when it moves
  money. None: only superusers, through schedules.
* ``api=True``: ``POST /api/v1/jobs/`` may enqueue it by name, for holders of ``permission``.
* ``money=True``: it moves or decides money. Never enqueueable by the generic job
  endpoint, whoever asks; its dead jobs are retried only by holders of ``permission``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from jobs.core.arguments import Signature
from jobs.core.policies import Policy, policy_from_dict
from jobs.core.queues import Priority, get_queue_config


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
    permission: str | None = None
    api: bool = False
    money: bool = False
    signature: Signature | None = field(default=None, compare=False, repr=False)

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
    permission: str | None = None,
    api: bool = False,
    money: bool = False,
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
    if api and (money or not permission):
        raise ValueError(f"task {name!r}: api=True needs a permission, and money tasks are never enqueueable by name")
    if permission is not None and permission.count(".") != 1:
        raise ValueError(f"task {name!r}: permission must be 'app_label.codename', not {permission!r}")

    def register(func: Callable) -> Callable:
        existing = _REGISTRY.get(name)
        if existing and existing.func.__qualname__ != func.__qualname__:
            raise ValueError(f"task name {name!r} is already used by {existing.func.__module__}.{existing.func.__qualname__}")
        _REGISTRY[name] = Task(
            name=name,
            func=func,
            queue=queue,
            priority=priority,
            timeout=timeout,
            retry=retry,
            dedup=dedup,
            permission=permission,
            api=api,
            money=money,
            signature=Signature(name, func),
        )
        func.task_name = name
        return func

    return register


def get_task(name: str) -> Task:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownTask(f"Unknown task {name!r}. Registered tasks: {', '.join(sorted(_REGISTRY)) or 'none'}.") from None


def find_task(name: str) -> Task | None:
    """The task called ``name``, or None (a job of a task whose code is gone)."""
    return _REGISTRY.get(name)


def all_tasks() -> dict[str, Task]:
    return dict(_REGISTRY)
