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


# Callables (name -> Task or None) asked about a name nobody registered: jobs.standard_tasks
# finds a Django standard-API task by its module path in a process that has not imported it.
_RESOLVERS: list[Callable[[str], Task | None]] = []


def add_resolver(resolve: Callable[[str], Task | None]) -> None:
    if resolve not in _RESOLVERS:
        _RESOLVERS.append(resolve)


def register_task(task: Task) -> Task:
    """Register a Task made elsewhere than by @task (jobs.standard_tasks); the first one of a
    name stays."""
    get_queue_config(task.queue)
    return _REGISTRY.setdefault(task.name, task)


def get_task(name: str) -> Task:
    found = find_task(name)
    if found is None:
        raise UnknownTask(f"Unknown task {name!r}. Registered tasks: {', '.join(sorted(_REGISTRY)) or 'none'}.")
    return found


def find_task(name: str, *, resolve: bool = True) -> Task | None:
    """The task called ``name``, or None (a job of a task whose code is gone). ``resolve``:
    ask the resolvers about a name nobody registered."""
    task = _REGISTRY.get(name)
    if task is None and resolve:
        for resolve in _RESOLVERS:
            task = resolve(name)
            if task is not None:
                break
    return task


def all_tasks() -> dict[str, Task]:
    return dict(_REGISTRY)
