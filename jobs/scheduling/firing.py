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
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Min

from audit.services import audit
from jobs.core import timing
from jobs.core.errors import InvalidJob
from jobs.core.keys import SINGLE_LOCK
from jobs.core.timing import following, latest_due
from jobs.models import JobRecord, Schedule, ScheduleFire
from jobs.ops.enqueue import enqueue
from jobs.transport import events
from jobs.transport.redis import get_redis

log = logging.getLogger(__name__)

MISFIRE_GRACE = timedelta(seconds=60)
SINGLE_LOCK_TTL = 15  # seconds


def tick(moment: datetime | None = None, still_allowed=None) -> int:
    """Fire every due schedule once. Returns the number of jobs enqueued.

    ``still_allowed`` (single-instance mode: renews the leader's lock) is asked again every
    few seconds of a long tick; when it says no, another scheduler has taken over and this
    one stops firing, so a burst of due schedules cannot outlast the lock unnoticed."""
    moment = moment or timing.now()
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

    earliest = Schedule.objects.filter(enabled=True).aggregate(at=Min("next_fire_at"))["at"]
    if earliest is None:
        return None
    speed = float(settings.SCHEDULER_CLOCK.split(",")[2]) if settings.SCHEDULER_CLOCK else 1.0
    return max(0.0, (earliest - timing.now()).total_seconds() / speed)


def _fire(pk, moment: datetime) -> int:
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
                        schedule.task_name,
                        schedule.args,
                        schedule.kwargs,
                        queue=schedule.queue or None,
                        priority=schedule.priority,
                        correlation_id=f"schedule-{schedule.pk}-{int(fire_time.timestamp())}",
                    )
                except InvalidJob as exc:
                    schedule.last_error = f"{fire_time:%Y-%m-%d %H:%M:%S} UTC: {exc}"
                    log.error("schedule %s: could not enqueue (%s)", schedule.name, exc)
                    events.publish("schedule.failed", schedule=schedule.name, schedule_id=schedule.pk, fire_time=fire_time, error=str(exc))
                else:
                    fire.job = job
                    fire.save(update_fields=["job"])
                    schedule.last_job, schedule.last_error, fired = job, "", 1
                schedule.last_fire_at = fire_time
        schedule.next_fire_at = following(schedule, fire_time, moment)
        Schedule.objects.filter(pk=schedule.pk).update(
            next_fire_at=schedule.next_fire_at,
            last_fire_at=schedule.last_fire_at,
            last_job=schedule.last_job,
            last_error=schedule.last_error,
        )
    return fired


def fire_now(schedule, *, actor) -> JobRecord:
    """Run a schedule's job now, outside its timetable (admin action); audited, timetable unchanged."""
    with transaction.atomic():
        job = enqueue(
            schedule.task_name, schedule.args, schedule.kwargs, queue=schedule.queue or None, priority=schedule.priority, created_by=actor
        )
        audit(actor, "schedule.fire_now", "schedule", schedule.pk, job=str(job.pk))
    return job


class SchedulerMode:
    """Decides whether this process fires schedules on this tick."""

    def __init__(self):
        self.identity = f"{socket.gethostname()}:{os.getpid()}"

    def may_fire(self) -> bool:
        if settings.USE_DISTRIBUTED_SCHEDULER:
            return True
        connection = get_redis()
        if connection.set(SINGLE_LOCK, self.identity, nx=True, ex=SINGLE_LOCK_TTL):
            log.info("scheduler %s: holds the single-instance lock", self.identity)
            return True
        return bool(connection.eval(_RENEW_IF_OWNER, 1, SINGLE_LOCK, self.identity, SINGLE_LOCK_TTL))

    def release(self) -> None:
        """On a clean stop: give up the single-instance lock if this process holds it, so a
        standby fires on its next tick rather than after the lock's expiry (rolling deploys)."""
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
