"""Default schedules: each app declares the schedules it needs in its ``schedules.py``
(``SCHEDULES = [DefaultSchedule(...)]``); ``manage.py check`` validates them (jobs.E004) and
``sync_default_schedules`` creates or updates them after every ``migrate``."""

from __future__ import annotations

from django.conf import settings

from jobs.core import timing
from jobs.core.discovery import app_modules
from jobs.core.registry import UnknownTask, get_task
from jobs.core.timing import DefaultSchedule, next_fire_after, timing_errors
from jobs.models import Schedule


def declared_schedules() -> list[DefaultSchedule]:
    """Every installed app's ``schedules.SCHEDULES``."""
    return [schedule for module in app_modules("schedules") for schedule in module.SCHEDULES]


def declared_schedule_problems(declared: list[DefaultSchedule] | None = None) -> list[str]:
    """What is wrong with the declared schedules (a system check reports these)."""
    problems, seen = [], set()
    for default in declared_schedules() if declared is None else declared:
        if default.name in seen:
            problems.append(f"schedule {default.name!r} is declared twice")
        seen.add(default.name)
        try:
            get_task(default.task_name)
        except UnknownTask:
            problems.append(f"schedule {default.name!r} names the unknown task {default.task_name!r}")
        if default.interval_setting and not hasattr(settings, default.interval_setting):
            problems.append(f"schedule {default.name!r} reads the missing setting {default.interval_setting}")
            continue
        wanted = default.timing()
        for field, message in timing_errors(wanted["cron"], wanted["interval_seconds"], "UTC").items():
            problems.append(f"schedule {default.name!r}: {field}: {message}")
    return problems


def sync_default_schedules(declared: list[DefaultSchedule] | None = None) -> dict:
    """Create the declared schedules that do not exist (by name), and move the timing of those
    whose timing nobody changed in the admin to what the code and settings declare now (a
    changed QUEUE_CLEANUP_INTERVAL, a new cron in code). A schedule someone edited keeps its
    timing; one someone deleted comes back at the next migrate (disable it instead)."""
    counts = {"created": 0, "updated": 0}
    moment = timing.now()
    for default in declared_schedules() if declared is None else declared:
        wanted = default.timing()
        schedule = Schedule.objects.filter(name=default.name).first()
        if schedule is None:
            schedule = Schedule(name=default.name, task_name=default.task_name, timezone="UTC", declared_timing=wanted, **wanted)
            schedule.next_fire_at = next_fire_after(schedule, moment)
            schedule.save()
            counts["created"] += 1
            continue
        current = {"cron": schedule.cron or "", "interval_seconds": schedule.interval_seconds}
        # Untouched: its timing is what the code declared last time. A schedule from before
        # declarations were recorded, whose timing differs, counts as edited: it is left alone.
        untouched = schedule.declared_timing == current and schedule.timezone == "UTC"
        changed = schedule.declared_timing != wanted
        if untouched and current != wanted:
            for field, value in wanted.items():
                setattr(schedule, field, value)
            schedule.next_fire_at = None  # recomputed by save() from the new timing
            counts["updated"] += 1
        if changed:
            schedule.declared_timing = wanted
            schedule.save()
    return counts
