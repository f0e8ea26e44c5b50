"""Conveyor as a backend for Django's standard Tasks API (`django.tasks` in Django 6.0; the
`django-tasks` backport on Django 5.2):

    TASKS = {"default": {"BACKEND": "jobs.standard_tasks.ConveyorBackend"}}   # config/settings

    from django_tasks import task

    @task(queue_name="emails", priority=10)
    def send_welcome(user_id: int) -> str: ...

    result = send_welcome.enqueue(7)          # a JobRecord, pushed after the caller's commit
    send_welcome.get_result(result.id).status  # READY, RUNNING, SUCCESSFUL, FAILED

A standard task runs as a Conveyor task named by its module path, with everything Conveyor
adds: a database row and its attempts, on-commit enqueue, the queue's retry policy, caps
and rate limits, the dead-letter queue, the admin. What maps to what (docs/migrating.md):

* ``queue_name`` is the Conveyor queue (any declared one; "default" is Conveyor's default);
* ``priority`` (-100..100, higher first): above 50 CRITICAL, 1..50 HIGH, 0 NORMAL, below 0 LOW;
* ``run_after`` is a delayed job (``run_at``);
* the result's ``id`` is the job's id; ``status``: pending/queued/scheduled/retrying are READY,
  running RUNNING, succeeded SUCCESSFUL, dead or cancelled FAILED; ``errors`` are the failed
  attempts (their exception class and traceback); ``worker_ids`` the attempts' workers;
  ``return_value`` the job's stored result (JSON).
"""

from __future__ import annotations

import builtins
import logging
import sys
import uuid

from django.apps import apps
from django.conf import settings
from django.utils.module_loading import import_string
from django_tasks import TaskContext, TaskResult, TaskResultStatus
from django_tasks.backends.base import BaseTaskBackend
from django_tasks.base import Task as StandardTask
from django_tasks.base import TaskError
from django_tasks.exceptions import TaskResultDoesNotExist
from django_tasks.signals import task_enqueued, task_finished, task_started

from jobs.core import registry
from jobs.core.queues import Priority
from jobs.core.states import State
from jobs.models import JobAttempt, JobRecord
from jobs.ops.enqueue import enqueue

log = logging.getLogger(__name__)

STATUS = {
    State.PENDING: TaskResultStatus.READY,
    State.SCHEDULED: TaskResultStatus.READY,
    State.QUEUED: TaskResultStatus.READY,
    State.RETRYING: TaskResultStatus.READY,
    State.RUNNING: TaskResultStatus.RUNNING,
    State.SUCCEEDED: TaskResultStatus.SUCCESSFUL,
    State.DEAD: TaskResultStatus.FAILED,
    State.CANCELLED: TaskResultStatus.FAILED,
}
FAILED_OUTCOMES = (JobAttempt.Outcome.FAILED, JobAttempt.Outcome.TIMED_OUT, JobAttempt.Outcome.WORKER_LOST)


def conveyor_priority(priority: int) -> Priority:
    """The standard API's priority (-100..100, higher runs first) as a Conveyor tier."""
    if priority > 50:
        return Priority.CRITICAL
    if priority > 0:
        return Priority.HIGH
    return Priority.NORMAL if priority == 0 else Priority.LOW


class ConveyorBackend(BaseTaskBackend):
    supports_defer = True
    supports_get_result = True
    supports_priority = True
    supports_async_task = False

    def __init__(self, alias: str, params: dict) -> None:
        super().__init__(alias, params)
        # Every Conveyor queue unless the backend's QUEUES names fewer.
        self.queues = set(params.get("QUEUES") or settings.CONVEYOR_QUEUES)

    def enqueue(self, task: StandardTask, args, kwargs) -> TaskResult:
        self.validate_task(task)
        job = enqueue(
            _register(task).name,
            list(args),
            dict(kwargs),
            queue=task.queue_name,
            priority=conveyor_priority(task.priority),
            run_at=task.run_after,
        )
        result = _result(job, task, self.alias, attempts=[])
        task_enqueued.send(type(self), task_result=result)
        return result

    def get_result(self, result_id: str) -> TaskResult:
        try:
            job = JobRecord.objects.filter(pk=uuid.UUID(str(result_id))).first()
        except ValueError:
            job = None
        task = _standard_task(job.task_name) if job is not None else None
        if task is None:
            raise TaskResultDoesNotExist(result_id)
        return _result(job, task, self.alias, attempts=list(job.attempt_set.order_by("number")))


def _result(job: JobRecord, task: StandardTask, alias: str, *, attempts: list) -> TaskResult:
    started = [a.started_at for a in attempts]
    result = TaskResult(
        task=task,
        id=str(job.pk),
        status=STATUS[job.state],
        enqueued_at=job.enqueued_at or job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at if job.state in (State.SUCCEEDED, State.DEAD, State.CANCELLED) else None,
        last_attempted_at=max(started) if started else job.started_at,
        args=list(job.args),
        kwargs=dict(job.kwargs),
        backend=alias,
        errors=[
            TaskError(exception_class_path=_exception_path(a), traceback=a.traceback or f"{a.exc_type}: {a.exc_message}")
            for a in attempts
            if a.outcome in FAILED_OUTCOMES
        ],
        worker_ids=[a.worker_name for a in attempts if a.outcome != JobAttempt.Outcome.DEFERRED],
    )
    if job.state == State.SUCCEEDED:
        object.__setattr__(result, "_return_value", job.result)
    return result


def _exception_path(attempt) -> str:
    """The failed attempt's exception class as a dotted path: from its traceback's last line
    (Python writes module.Class there, but for builtins), else from its stored class name."""
    lines = [line for line in (attempt.traceback or "").strip().splitlines() if line and not line.startswith(" ")]
    name = lines[-1].split(":", 1)[0].strip() if lines else attempt.exc_type
    if "." in name:
        return name
    if hasattr(builtins, name):
        return f"builtins.{name}"
    return {"WorkerLost": "jobs.ops.runtime.WorkerLost", "JobTimeoutException": "rq.timeouts.JobTimeoutException"}.get(name, name)


def _standard_task(name: str) -> StandardTask | None:
    """The standard Task object at the dotted path ``name``, or None. Only code of this project
    is imported for it (an installed app's package, a CONVEYOR_TASK_MODULES module, or a module
    already loaded): a task name can come from outside (the API, a schedule), and importing
    a module runs it."""
    module = name.rpartition(".")[0]
    if not module:
        return None
    packages = {config.name.split(".")[0] for config in apps.get_app_configs()}
    if not (module in sys.modules or module.split(".")[0] in packages or module in settings.CONVEYOR_TASK_MODULES):
        return None
    try:
        found = import_string(name)
    except ImportError:
        return None
    return found if isinstance(found, StandardTask) else None


def _register(task: StandardTask) -> registry.Task:
    """The Conveyor task that runs ``task`` (named by its module path), registered once."""
    existing = registry.find_task(task.module_path, resolve=False)
    if existing is not None:
        return existing
    return registry.register_task(
        registry.Task(
            name=task.module_path,
            func=_runner(task.module_path),
            queue="default" if task.queue_name not in settings.CONVEYOR_QUEUES else task.queue_name,
            priority=conveyor_priority(task.priority),
            timeout=None,
            retry=None,
        )
    )


def _resolve(name: str) -> registry.Task | None:
    """The registry's resolver: a job of a standard task whose module this process has not
    imported yet (a worker) finds its task by the module path."""
    task = _standard_task(name)
    return _register(task) if task is not None else None


def _runner(module_path: str):
    def run(ctx, *args, **kwargs):
        task = _standard_task(module_path)
        job = JobRecord.objects.get(pk=ctx.job_id)
        # Attempt rows are written when an attempt ends: a first run has none to read.
        earlier = list(job.attempt_set.order_by("number")) if job.total_attempts > 1 else []
        running = _result(job, task, task.backend, attempts=earlier)
        object.__setattr__(running, "status", TaskResultStatus.RUNNING)
        running.worker_ids.append(job.worker_name)
        task_started.send(ConveyorBackend, task_result=running)
        try:
            value = task.call(TaskContext(task_result=running), *args, **kwargs) if task.takes_context else task.call(*args, **kwargs)
        except BaseException:
            object.__setattr__(running, "status", TaskResultStatus.FAILED)
            task_finished.send(ConveyorBackend, task_result=running)
            raise
        object.__setattr__(running, "status", TaskResultStatus.SUCCESSFUL)
        object.__setattr__(running, "_return_value", value)
        task_finished.send(ConveyorBackend, task_result=running)
        return value

    run.__name__ = run.__qualname__ = module_path.rsplit(".", 1)[-1]
    return run


registry.add_resolver(_resolve)
