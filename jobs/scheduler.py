"""The scheduler process's loop (``manage.py conveyor_scheduler``) and its duties.

The loop does no work itself: each pass runs the duties in order, each a small object with a
name, a cadence (every sweep interval, or every pass) and whether it runs only where this
process fires schedules (the single-instance lock, USE_DISTRIBUTED_SCHEDULER=false):

    dispatch   every interval   rescue dead workers' jobs, re-send what Redis lost, send pending
                                and due rows (jobs.ops.sweep)
    heartbeat  every interval   this scheduler in the dashboard's list (jobs.ops.metrics)
    events     every interval   the attempts' events to the job event stream (jobs.ops.events)
    fire       every pass, firing processes   due schedules, each once (jobs.scheduling.firing),
                                the readiness key /health/ready reads, and the next wake-up
    rollup     every pass, firing processes   the per-minute queue rollup (jobs.ops.metrics)

Pruning old jobs is a scheduled job of its own (``jobs.cleanup``, jobs/schedules.py). A duty
that fails is logged and the others still run, so a broken rollup cannot stop dispatching.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from redis.exceptions import RedisError

from jobs.core.keys import SCHEDULER_ALIVE_KEY
from jobs.ops import events, metrics
from jobs.ops.sweep import sweep
from jobs.scheduling import firing
from jobs.transport import events as event_stream
from jobs.transport.redis import get_redis

log = logging.getLogger(__name__)

SCHEDULE_WAKE_FLOOR = 0.05  # seconds: the shortest sleep before a schedule's fire time


@dataclass
class Pass:
    """What one pass of the loop knows; duties read it and may bring ``wake_at`` forward."""

    mode: firing.SchedulerMode
    interval: float  # seconds between sweeps
    sweep_due: bool
    fires: bool  # this process fires schedules on this pass
    wake_at: float  # time.monotonic() of the next pass


class Duty:
    name = "duty"
    every_interval = True  # False: every pass (a pass also happens when a schedule falls due)
    firing_only = False  # True: only where this process fires schedules

    def applies(self, p: Pass) -> bool:
        return (p.sweep_due or not self.every_interval) and (p.fires or not self.firing_only)

    def run(self, p: Pass) -> None:
        raise NotImplementedError


class Dispatch(Duty):
    name = "dispatch"

    def run(self, p: Pass) -> None:
        counts = sweep()
        if any(counts.values()):
            log.info("dispatcher: %s", counts)


class Heartbeat(Duty):
    name = "heartbeat"

    def run(self, p: Pass) -> None:
        metrics.note_scheduler(get_redis(), p.mode.identity)


class Events(Duty):
    name = "events"

    def run(self, p: Pass) -> None:
        if settings.EVENT_STREAM:
            events.relay()


class Fire(Duty):
    name = "fire"
    every_interval = False
    firing_only = True

    def run(self, p: Pass) -> None:
        firing.tick(still_allowed=None if settings.USE_DISTRIBUTED_SCHEDULER else p.mode.may_fire)
        # Readiness: a scheduler that fires schedules is present (/health/ready checks it).
        get_redis().set(SCHEDULER_ALIVE_KEY, p.mode.identity, ex=max(10, int(5 * p.interval)))
        due = firing.seconds_to_next_fire()
        if due is not None:
            p.wake_at = min(p.wake_at, time.monotonic() + max(due, SCHEDULE_WAKE_FLOOR))


class Rollup(Duty):
    name = "rollup"
    every_interval = False
    firing_only = True

    def run(self, p: Pass) -> None:
        metrics.maybe_rollup()


DUTIES = (Dispatch(), Heartbeat(), Events(), Fire(), Rollup())


def run_forever(interval: float, stop=lambda: False, duties=DUTIES) -> None:
    """Run the duties until ``stop()`` says so: the every-interval ones each ``interval`` seconds,
    the every-pass ones then and whenever the earliest schedule falls due in between (no sooner
    than SCHEDULE_WAKE_FLOOR)."""
    mode = firing.SchedulerMode()
    next_sweep = 0.0
    redis_down_since = None  # set while duties fail for Redis; a "redis.recovered" event when it answers
    while not stop():
        sweep_due = time.monotonic() >= next_sweep
        if sweep_due:
            next_sweep = time.monotonic() + interval
        try:
            fires = any(d.firing_only for d in duties) and mode.may_fire()
        except RedisError as exc:
            log.warning("scheduler: Redis unavailable (%s)", exc)
            fires = False
        p = Pass(mode=mode, interval=interval, sweep_due=sweep_due, fires=fires, wake_at=next_sweep)
        redis_failed = False
        for duty in duties:
            if not duty.applies(p):
                continue
            try:
                duty.run(p)
            except RedisError as exc:
                redis_failed = True
                log.warning("scheduler: %s: Redis unavailable (%s)", duty.name, exc)
            except Exception:
                log.exception("scheduler: %s failed", duty.name)
        if redis_failed and redis_down_since is None:
            redis_down_since = time.time()
        elif not redis_failed and redis_down_since is not None and sweep_due:
            event_stream.publish(
                "redis.recovered", down_since=redis_down_since, seconds=round(time.time() - redis_down_since, 1), scheduler=mode.identity
            )
            redis_down_since = None
        time.sleep(max(0.0, p.wake_at - time.monotonic()))
    try:
        mode.release()
    except RedisError as exc:
        log.warning("scheduler: could not release the single-instance lock (%s); it expires by itself", exc)
