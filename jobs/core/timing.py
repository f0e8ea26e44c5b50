"""Schedule timing, as arithmetic: the schedulers' clock, cron-or-interval validation, the
next fire time, folding missed fires, and the declaration an app makes of a default schedule.

Pure: no ORM, no Redis. It works on anything with a schedule's fields (``cron``,
``interval_seconds``, ``timezone``, ``next_fire_at``), so Schedule, RecurringPayout and the
tests share it. Firing them is ``jobs.scheduling.firing``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from django.conf import settings
from django.core.exceptions import ValidationError

from jobs.core.errors import FieldError
from jobs.core.inputs import check_json
from jobs.core.queues import UnknownQueue, get_queue_config
from jobs.core.registry import UnknownTask, get_task


def now() -> datetime:
    """The schedulers' clock: real UTC time, unless SCHEDULER_CLOCK (tests) shifts and speeds it."""
    if not settings.SCHEDULER_CLOCK:
        return datetime.now(UTC)
    start, anchor, speed = (float(v) for v in settings.SCHEDULER_CLOCK.split(","))
    return datetime.fromtimestamp(start + (time.time() - anchor) * speed, UTC)


def validate_schedule(schedule) -> None:
    """Raise ValidationError naming each bad field; called by the admin, the API and save paths."""
    errors = {}
    task = None
    try:
        task = get_task(schedule.task_name)
    except UnknownTask as exc:
        errors["task_name"] = str(exc)
    if schedule.queue:
        try:
            get_queue_config(schedule.queue)
        except UnknownQueue as exc:
            errors["queue"] = str(exc)
    errors.update(timing_errors(schedule.cron, schedule.interval_seconds, schedule.timezone))
    for field in ("args", "kwargs"):
        try:
            check_json(getattr(schedule, field), field)
        except FieldError as exc:
            errors[field] = exc.message
    if not isinstance(schedule.args, list):
        errors["args"] = "Must be a JSON list."
    if not isinstance(schedule.kwargs, dict):
        errors["kwargs"] = "Must be a JSON object."
    if task is not None and task.signature is not None and not {"args", "kwargs"} & set(errors):
        try:
            task.signature.check(schedule.args, schedule.kwargs)
        except FieldError as exc:
            errors["args" if exc.field.startswith("args") else "kwargs"] = exc.message
    if errors:
        raise ValidationError(errors)


def timing_errors(cron: str, interval_seconds, timezone_name: str) -> dict[str, str]:
    """What is wrong with a cron-or-interval timing, by field (schedules and recurring payouts)."""
    errors = {}
    if bool(cron) == bool(interval_seconds):
        errors["cron"] = "Give either a cron expression or an interval, not both and not neither."
    elif cron and not croniter.is_valid(cron):
        errors["cron"] = f"{cron!r} is not a valid cron expression (five fields: minute hour day month weekday)."
    if interval_seconds is not None and interval_seconds < 1:
        errors["interval_seconds"] = "The interval must be at least 1 second."
    try:
        ZoneInfo(timezone_name)
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = f"{timezone_name!r} is not a known time zone (e.g. UTC, Europe/London)."
    return errors


def next_fire_after(schedule, moment: datetime) -> datetime:
    """The first fire time strictly after ``moment``."""
    if schedule.interval_seconds:
        return moment + timedelta(seconds=schedule.interval_seconds)
    local = moment.astimezone(ZoneInfo(schedule.timezone))
    return croniter(schedule.cron, local).get_next(datetime).astimezone(UTC)


def following(schedule, fire_time: datetime, moment: datetime) -> datetime:
    """The fire after ``fire_time`` (the latest due one): intervals stay anchored to their fire
    times, so they do not drift by the scheduler's tick delay."""
    if schedule.interval_seconds:
        return fire_time + timedelta(seconds=schedule.interval_seconds)
    return next_fire_after(schedule, moment)


def latest_due(schedule, moment: datetime) -> tuple[datetime, int]:
    """The latest fire time at or before ``moment`` (>= next_fire_at), and how many earlier ones it folds in."""
    first = schedule.next_fire_at
    if schedule.interval_seconds:
        steps = int((moment - first).total_seconds() // schedule.interval_seconds)
        return first + timedelta(seconds=steps * schedule.interval_seconds), steps
    tz = ZoneInfo(schedule.timezone)
    latest = croniter(schedule.cron, (moment + timedelta(microseconds=1)).astimezone(tz)).get_prev(datetime).astimezone(UTC)
    latest = max(latest, first)
    missed = 0
    walker = croniter(schedule.cron, first.astimezone(tz))
    while missed < 10_000 and walker.get_next(datetime).astimezone(UTC) <= latest:
        missed += 1
    return latest, missed


@dataclass(frozen=True)
class DefaultSchedule:
    """A schedule an app needs, declared in its ``schedules.py`` (``SCHEDULES = [...]``) and
    created by ``sync_default_schedules`` after every ``migrate``. Timing: ``cron`` (UTC), or
    ``interval_seconds``, or ``interval_setting``, the name of a setting holding the interval."""

    name: str
    task_name: str
    cron: str = ""
    interval_seconds: int | None = None
    interval_setting: str = ""

    def timing(self) -> dict:
        if self.interval_setting:
            return {"cron": "", "interval_seconds": int(getattr(settings, self.interval_setting))}
        return {"cron": self.cron, "interval_seconds": self.interval_seconds}
