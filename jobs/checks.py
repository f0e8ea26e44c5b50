"""System checks of the job platform's declarations: the queues settings ended with, and the
tasks that name them. Run by every `manage.py` command (the release phase's `migrate` too)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register

from jobs.core.queues import queue_problems, tiered_rq_names
from jobs.core.registry import all_tasks
from jobs.scheduling.defaults import declared_schedule_problems


@register("conveyor")
def queues_are_sound(app_configs=None, **kwargs):
    errors = [Error(problem, hint="Check QUEUE_OVERRIDES.", id="jobs.E001") for problem in queue_problems(settings.CONVEYOR_QUEUES)]
    missing = [name for name in tiered_rq_names(list(settings.CONVEYOR_QUEUES)) if name not in settings.RQ_QUEUES]
    if missing:
        errors.append(
            Error(f"RQ_QUEUES lacks the Redis lists {', '.join(missing)}", hint="Build RQ_QUEUES with rq_queue_settings.", id="jobs.E002")
        )
    return errors


@register("conveyor")
def tasks_name_declared_queues(app_configs=None, **kwargs):
    return [
        Error(f"task {task.name!r} uses queue {task.queue!r}, which is not declared", id="jobs.E003")
        for task in all_tasks().values()
        if task.queue not in settings.CONVEYOR_QUEUES
    ]


@register("conveyor")
def declared_schedules_are_sound(app_configs=None, **kwargs):
    return [Error(problem, hint="Fix the app's schedules.py.", id="jobs.E004") for problem in declared_schedule_problems()]
