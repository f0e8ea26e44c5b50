"""Recurring schedules: when they fire, and firing each due time exactly once.

Every scheduler process calls ``tick()`` every DISPATCH_INTERVAL (1 s), and also wakes
for the earliest schedule's fire time, so fires start within tens of milliseconds of
their time rather than up to a second late. For each enabled
schedule whose ``next_fire_at`` has come, one process (the row is locked with
SKIP LOCKED where the database supports it) inserts a ScheduleFire for that fire
time and enqueues the job in the same transaction. The (schedule, fire_time)
unique constraint makes a second insert for the same fire fail, so a fire cannot
happen twice even if two processes got that far. Then ``next_fire_at`` moves to the
first fire time after now.

Missed fires: if every scheduler was down past one or more fire times, the
schedule's policy decides. ``run_once`` (default) fires once, for the latest missed
time, recording how many were folded into it; ``skip`` fires only if that latest
time is within MISFIRE_GRACE of now, and otherwise waits for the next one.

Two modes (USE_DISTRIBUTED_SCHEDULER): true, any number of scheduler processes
tick together as above; false, only the process holding a Redis lock ticks (the
single-instance mode; a standby takes over when the lock expires).
"""
from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone as dt_timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

log = logging.getLogger(__name__)

MISFIRE_GRACE = timedelta(seconds=60)
SINGLE_LOCK = "conveyor:scheduler:single"
SINGLE_LOCK_TTL = 15
_TIMING_FIELDS = ("cron", "interval_seconds", "timezone", "enabled")


# --- Clock ------------------------------------------------------------------

def now() -> datetime:
    """The schedulers' clock: real UTC time, unless SCHEDULER_CLOCK (tests) shifts and speeds it."""
    if not settings.SCHEDULER_CLOCK:
        return datetime.now(dt_timezone.utc)
    start, anchor, speed = (float(v) for v in settings.SCHEDULER_CLOCK.split(","))
    return datetime.fromtimestamp(start + (time.time() - anchor) * speed, dt_timezone.utc)


# --- Schedule arithmetic ----------------------------------------------------

def validate_schedule(schedule) -> None:
    """Raise ValidationError naming each bad field; called by the admin, the API and save paths."""
    from jobs.queues import UnknownQueue, get_queue_config
    from jobs.registry import UnknownTask, get_task
    from jobs.errors import FieldError
    from jobs.services import InvalidJob, _check_json

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
            _check_json(getattr(schedule, field), field)
        except InvalidJob as exc:
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


def timing_changed(schedule) -> bool:
    if schedule.pk is None:
        return True
    saved = type(schedule).objects.filter(pk=schedule.pk).values(*_TIMING_FIELDS).first()
    return saved is None or any(saved[f] != getattr(schedule, f) for f in _TIMING_FIELDS)


def next_fire_after(schedule, moment: datetime) -> datetime:
    """The first fire time strictly after ``moment``."""
    if schedule.interval_seconds:
        return moment + timedelta(seconds=schedule.interval_seconds)
    local = moment.astimezone(ZoneInfo(schedule.timezone))
    return croniter(schedule.cron, local).get_next(datetime).astimezone(dt_timezone.utc)


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
    latest = croniter(schedule.cron, (moment + timedelta(microseconds=1)).astimezone(tz)).get_prev(datetime).astimezone(dt_timezone.utc)
    latest = max(latest, first)
    missed = 0
    walker = croniter(schedule.cron, first.astimezone(tz))
    while missed < 10_000 and walker.get_next(datetime).astimezone(dt_timezone.utc) <= latest:
        missed += 1
    return latest, missed


# --- Firing -----------------------------------------------------------------

def tick(moment: datetime | None = None, still_allowed=None) -> int:
    """Fire every due schedule once. Returns the number of jobs enqueued.

    ``still_allowed`` (single-instance mode: renews the leader's lock) is asked again every
    few seconds of a long tick; when it says no, another scheduler has taken over and this
    one stops firing, so a burst of due schedules cannot outlast the lock unnoticed."""
    from jobs.models import Schedule

    moment = moment or now()
    fired = 0
    asked = time.monotonic()
    for pk in list(Schedule.objects.filter(enabled=True, next_fire_at__lte=moment).values_list("pk", flat=True)):
        if still_allowed is not None and time.monotonic() - asked > SINGLE_LOCK_TTL / 3:
            asked = time.monotonic()
            if not still_allowed():
                log.warning("scheduler: lost the single-instance lock mid-tick; the new holder fires the rest")
                break
        fired += _fire(pk, moment)
    return fired


def seconds_to_next_fire() -> float | None:
    """Real seconds until the earliest enabled schedule is due (0 if one is), None if none is
    enabled: the scheduler loop wakes for it instead of waiting out its interval."""
    from django.db.models import Min

    from jobs.models import Schedule

    earliest = Schedule.objects.filter(enabled=True).aggregate(at=Min("next_fire_at"))["at"]
    if earliest is None:
        return None
    speed = float(settings.SCHEDULER_CLOCK.split(",")[2]) if settings.SCHEDULER_CLOCK else 1.0
    return max(0.0, (earliest - now()).total_seconds() / speed)


def _fire(pk, moment: datetime) -> int:
    from jobs.models import Schedule, ScheduleFire
    from jobs.services import InvalidJob, enqueue

    with transaction.atomic():
        schedule = Schedule.objects.select_for_update(skip_locked=True).filter(pk=pk, enabled=True, next_fire_at__lte=moment).first()
        if schedule is None:
            return 0  # another scheduler has it, or it is no longer due
        fire_time, missed = latest_due(schedule, moment)
        fired = 0
        late = moment - fire_time > MISFIRE_GRACE
        if schedule.missed_fires == Schedule.MissedFires.SKIP and late:
            log.warning("schedule %s: fire at %s missed; skipped by policy", schedule.name, fire_time)
        else:
            try:
                with transaction.atomic():
                    fire = ScheduleFire.objects.create(schedule=schedule, fire_time=fire_time, missed=missed)
            except IntegrityError:
                fire = None  # already fired by another scheduler
            if fire is not None:
                try:
                    job = enqueue(
                        schedule.task_name, schedule.args, schedule.kwargs, queue=schedule.queue or None,
                        priority=schedule.priority, correlation_id=f"schedule-{schedule.pk}-{int(fire_time.timestamp())}",
                    )
                except InvalidJob as exc:
                    schedule.last_error = f"{fire_time:%Y-%m-%d %H:%M:%S} UTC: {exc}"
                    log.error("schedule %s: could not enqueue (%s)", schedule.name, exc)
                else:
                    fire.job = job
                    fire.save(update_fields=["job"])
                    schedule.last_job, schedule.last_error, fired = job, "", 1
                schedule.last_fire_at = fire_time
        schedule.next_fire_at = following(schedule, fire_time, moment)
        Schedule.objects.filter(pk=schedule.pk).update(
            next_fire_at=schedule.next_fire_at, last_fire_at=schedule.last_fire_at,
            last_job=schedule.last_job, last_error=schedule.last_error,
        )
    return fired


def fire_now(schedule, *, actor) -> "JobRecord":  # noqa: F821
    """Run a schedule's job now, outside its timetable (admin action); audited, timetable unchanged."""
    from jobs.services import audit, enqueue

    with transaction.atomic():
        job = enqueue(schedule.task_name, schedule.args, schedule.kwargs, queue=schedule.queue or None,
                      priority=schedule.priority, created_by=actor)
        audit(actor, "schedule.fire_now", "schedule", schedule.pk, details={"job": str(job.pk)})
    return job


# --- Modes --------------------------------------------------------------------

class SchedulerMode:
    """Decides whether this process fires schedules on this tick."""

    def __init__(self):
        self.identity = f"{socket.gethostname()}:{os.getpid()}"

    def may_fire(self) -> bool:
        if settings.USE_DISTRIBUTED_SCHEDULER:
            return True
        from jobs.redis import get_redis

        connection = get_redis()
        if connection.set(SINGLE_LOCK, self.identity, nx=True, ex=SINGLE_LOCK_TTL):
            log.info("scheduler %s: holds the single-instance lock", self.identity)
            return True
        return bool(connection.eval(_RENEW_IF_OWNER, 1, SINGLE_LOCK, self.identity, SINGLE_LOCK_TTL))

    def release(self) -> None:
        """On a clean stop: give up the single-instance lock if this process holds it, so a
        standby fires on its next tick rather than after the lock's expiry (rolling deploys)."""
        from jobs.redis import get_redis

        if get_redis().eval(_RELEASE_IF_OWNER, 1, SINGLE_LOCK, self.identity):
            log.info("scheduler %s: released the single-instance lock", self.identity)


_RENEW_IF_OWNER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE_IF_OWNER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


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


def declared_schedules() -> list[DefaultSchedule]:
    """Every installed app's ``schedules.SCHEDULES``."""
    from django.apps import apps
    from importlib import import_module
    from importlib.util import find_spec

    declared = []
    for app in apps.get_app_configs():
        if find_spec(f"{app.name}.schedules") is not None:
            declared += import_module(f"{app.name}.schedules").SCHEDULES
    return declared


def declared_schedule_problems(declared: list[DefaultSchedule] | None = None) -> list[str]:
    """What is wrong with the declared schedules (a system check reports these)."""
    from jobs.registry import UnknownTask, get_task

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
        timing = default.timing()
        for field, message in timing_errors(timing["cron"], timing["interval_seconds"], "UTC").items():
            problems.append(f"schedule {default.name!r}: {field}: {message}")
    return problems


def sync_default_schedules(declared: list[DefaultSchedule] | None = None) -> dict:
    """Create the declared schedules that do not exist (by name), and move the timing of those
    whose timing nobody changed in the admin to what the code and settings declare now (a
    changed QUEUE_CLEANUP_INTERVAL, a new cron in code). A schedule someone edited keeps its
    timing; one someone deleted comes back at the next migrate (disable it instead)."""
    from jobs.models import Schedule

    counts = {"created": 0, "updated": 0}
    moment = now()
    for default in declared_schedules() if declared is None else declared:
        timing = default.timing()
        schedule = Schedule.objects.filter(name=default.name).first()
        if schedule is None:
            schedule = Schedule(name=default.name, task_name=default.task_name, timezone="UTC", declared_timing=timing, **timing)
            schedule.next_fire_at = next_fire_after(schedule, moment)
            schedule.save()
            counts["created"] += 1
            continue
        current = {"cron": schedule.cron or "", "interval_seconds": schedule.interval_seconds}
        # Untouched: its timing is what the code declared last time. A schedule from before
        # declarations were recorded, whose timing differs, counts as edited: it is left alone.
        untouched = schedule.declared_timing == current and schedule.timezone == "UTC"
        changed = schedule.declared_timing != timing
        if untouched and current != timing:
            for field, value in timing.items():
                setattr(schedule, field, value)
            schedule.next_fire_at = None  # recomputed by save() from the new timing
            counts["updated"] += 1
        if changed:
            schedule.declared_timing = timing
            schedule.save()
    return counts
