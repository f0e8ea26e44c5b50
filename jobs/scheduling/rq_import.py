"""Moving over from django-rq: rq-scheduler's schedules and rq.cron definitions become
Conveyor schedules (``manage.py import_rq_schedules``, docs/migrating.md).

What rq-scheduler keeps in Redis (its sorted set of jobs with their next time) is read through
rq-scheduler itself; an rq.cron configuration module is loaded the way ``rq cron`` loads it,
collecting its ``cron.register(...)`` calls. Each definition maps onto a schedule:

* the function (``myapp.tasks.send_report``) must be a Conveyor task (a function decorated
  with Conveyor's ``@task``) or a standard-API task (django_tasks ``@task``): a schedule runs a
  task by name. Anything else is reported and skipped: wrap it in a task first;
* a cron string is the schedule's cron (read in UTC, or the server's zone if rq-scheduler was
  told to use local time); an interval is ``interval_seconds``; rq-scheduler's ``repeat``
  count has no equivalent and is reported;
* its queue is kept when Conveyor declares one of that name, else the task's own queue;
* a one-off job rq-scheduler holds for later (``enqueue_at``/``enqueue_in``) becomes a delayed
  Conveyor job at the same time.

Schedules are created disabled unless asked otherwise, so the old scheduler and Conveyor do
not both fire while you move; a second import skips what the first created (by name).
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.module_loading import import_string

from jobs.core.registry import find_task
from jobs.models import Schedule
from jobs.ops.enqueue import enqueue
from jobs.scheduling.control import schedule_save


@dataclass
class Report:
    created: list[str] = field(default_factory=list)
    delayed: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "what: why"
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Definition:
    source: str  # "rq-scheduler job <id>" or "rq.cron <module>"
    func_name: str
    args: tuple
    kwargs: dict
    queue: str
    cron: str = ""
    interval: int | None = None
    timezone: str = "UTC"
    run_at: datetime | None = None  # a one-off job
    repeat: int | None = None


def task_name_for(func_name: str) -> str | None:
    """The Conveyor task name a dotted function path runs as, or None."""
    try:
        target = import_string(func_name)
    except ImportError:
        return None
    name = getattr(target, "task_name", None)  # Conveyor's @task marks the function
    if name and find_task(name) is not None:
        return name
    module_path = getattr(target, "module_path", None)  # a standard-API Task object
    if module_path and find_task(module_path) is not None:
        return module_path
    return None


def from_rq_scheduler(connection) -> list[Definition]:
    from rq_scheduler import Scheduler  # noqa: PLC0415  (only this command reads rq-scheduler's data)

    found = []
    for job, when in Scheduler(connection=connection).get_jobs(with_times=True):
        meta = job.meta or {}
        common = {
            "source": f"rq-scheduler job {job.id}",
            "func_name": job.func_name,
            "args": tuple(job.args or ()),
            "kwargs": dict(job.kwargs or {}),
            "queue": job.origin,
        }
        if meta.get("cron_string"):
            zone = _local_zone() if meta.get("use_local_timezone") else "UTC"
            found.append(Definition(**common, cron=meta["cron_string"], timezone=zone))
        elif meta.get("interval"):
            found.append(Definition(**common, interval=int(meta["interval"]), repeat=meta.get("repeat")))
        else:
            found.append(Definition(**common, run_at=when.replace(tzinfo=UTC) if when.tzinfo is None else when))
    return found


def from_rq_cron_module(path: str) -> list[Definition]:
    """The ``cron.register(...)`` calls of an rq.cron configuration (a file path or a module)."""
    from rq import cron  # noqa: PLC0415

    cron._job_data_registry.clear()
    if path.endswith(".py") or Path(path).exists():
        spec = importlib.util.spec_from_file_location(f"rq_cron_config_{hashlib.sha1(path.encode()).hexdigest()[:8]}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        sys.modules.pop(path, None)
        importlib.import_module(path)
    registered, cron._job_data_registry[:] = list(cron._job_data_registry), []
    return [
        Definition(
            source=f"rq.cron {path}",
            func_name=f"{data['func'].__module__}.{data['func'].__name__}",
            args=tuple(data.get("args") or ()),
            kwargs=dict(data.get("kwargs") or {}),
            queue=data["queue_name"],
            cron=data.get("cron") or "",
            interval=data.get("interval"),
        )
        for data in registered
    ]


def import_definitions(definitions: list[Definition], *, enabled: bool, actor, dry_run: bool = False) -> Report:
    from django.conf import settings  # noqa: PLC0415

    report = Report()
    for d in definitions:
        task_name = task_name_for(d.func_name)
        what = f"{d.func_name} ({d.source})"
        if task_name is None:
            report.skipped.append(f"{what}: not a Conveyor or standard-API task; decorate it (docs/migrating.md) and import again")
            continue
        queue = d.queue if d.queue in settings.CONVEYOR_QUEUES else ""
        if d.queue and not queue:
            report.notes.append(f"{what}: no Conveyor queue {d.queue!r}; it runs on the task's own queue")
        if d.run_at is not None:
            if not dry_run:
                enqueue(task_name, list(d.args), d.kwargs, run_at=d.run_at, **({"queue": queue} if queue else {}))
            report.delayed.append(f"{what} at {d.run_at:%Y-%m-%d %H:%M:%S} UTC")
            continue
        if d.repeat:
            report.notes.append(f"{what}: rq-scheduler's repeat={d.repeat} has no equivalent; the schedule runs until disabled")
        timing = d.cron or f"every {d.interval} s"
        name = f"{task_name} {timing}"[:84] + f" [rq {hashlib.sha1((d.source + timing).encode()).hexdigest()[:8]}]"
        if Schedule.objects.filter(name=name).exists():
            report.existing.append(name)
            continue
        schedule = Schedule(
            name=name,
            task_name=task_name,
            args=list(d.args),
            kwargs=d.kwargs,
            queue=queue,
            cron=d.cron,
            interval_seconds=d.interval if not d.cron else None,
            timezone=d.timezone,
            enabled=enabled,
        )
        try:
            schedule.full_clean()
        except ValidationError as exc:
            report.skipped.append(f"{what}: {'; '.join(f'{k}: {v[0]}' for k, v in exc.message_dict.items())}")
            continue
        if not dry_run:
            with transaction.atomic():
                schedule_save(schedule, actor=actor, reason=f"imported from {d.source}")
        report.created.append(name)
    return report


def _local_zone() -> str:
    try:
        return str(datetime.now().astimezone().tzinfo.key)  # type: ignore[union-attr]
    except AttributeError:
        return "UTC"
