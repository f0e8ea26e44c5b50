"""The scheduler process's loop (``manage.py conveyor_scheduler``).

Each pass runs the scheduler's duties in order: the dispatcher sweep (dispatch and rescue,
``jobs.ops.sweep``), then, where this process may fire schedules, firing them
(``jobs.scheduling.firing``), the readiness heartbeat, and the metrics rollup
(``jobs.ops.metrics``). Retention runs as a scheduled job of its own.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from redis.exceptions import RedisError

from jobs.core.keys import SCHEDULER_ALIVE_KEY
from jobs.ops import metrics
from jobs.ops.sweep import sweep
from jobs.scheduling import firing
from jobs.transport.redis import get_redis

log = logging.getLogger(__name__)

SCHEDULE_WAKE_FLOOR = 0.05  # seconds: the shortest sleep before a schedule's fire time


def run_forever(interval: float, stop=lambda: False) -> None:
    """The scheduler process's loop: a dispatcher sweep every ``interval``, and due schedules
    then and whenever the earliest schedule falls due in between (no sooner than SCHEDULE_WAKE_FLOOR)."""
    mode = firing.SchedulerMode()
    next_sweep = 0.0
    while not stop():
        sweep_due = time.monotonic() >= next_sweep
        if sweep_due:
            next_sweep = time.monotonic() + interval
        wake = next_sweep
        try:
            if sweep_due:
                counts = sweep()
                if any(counts.values()):
                    log.info("dispatcher: %s", counts)
                metrics.note_scheduler(get_redis(), mode.identity)
            if mode.may_fire():
                firing.tick(still_allowed=None if settings.USE_DISTRIBUTED_SCHEDULER else mode.may_fire)
                # Readiness: a scheduler that fires schedules is present (/health/ready checks it).
                get_redis().set(SCHEDULER_ALIVE_KEY, mode.identity, ex=max(10, int(5 * interval)))
                metrics.maybe_rollup()
                due = firing.seconds_to_next_fire()
                if due is not None:
                    wake = min(next_sweep, time.monotonic() + max(due, SCHEDULE_WAKE_FLOOR))
        except RedisError as exc:
            log.warning("scheduler: Redis unavailable (%s)", exc)
        except Exception:
            log.exception("scheduler: pass failed")
        time.sleep(max(0.0, wake - time.monotonic()))
    try:
        mode.release()
    except RedisError as exc:
        log.warning("scheduler: could not release the single-instance lock (%s); it expires by itself", exc)
