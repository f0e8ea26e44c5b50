#!/usr/bin/env python
"""`make bench` (part 11): centralised against distributed scheduling.

For each mode (USE_DISTRIBUTED_SCHEDULER false, then true), two scheduler processes run
side by side on the benchmark services (no workers: this measures firing, not the jobs):

1. Throughput: BENCH_SCHED_BURST (1,000) schedules fall due at the same moment; the time until
   every one has fired once gives fires per second, and the lateness of each fire
   (ScheduleFire.created_at - fire_time) its latency.
2. Steady state: BENCH_SCHED_STEADY (100) interval schedules every 5 s, their fire times spread
   across the 5 s (20 fires/s), for BENCH_SCHED_SECONDS (30); lateness p50/p95/p99/max.
3. An instance dies: the scheduler holding the work (the lock holder in centralised mode,
   either one in distributed mode) is killed with SIGKILL mid-run, and the run goes on for
   30 s: the longest gap with no fire, the worst lateness, how many due times were folded
   into a later fire (the run_once missed-fire policy), and duplicates (must be 0).
4. A clean stop (SIGTERM, as a deploy does) of the remaining leader with a fresh standby
   beside it: how long firing paused.

Results to bench/results/scheduling-<database>.json and docs/scaling.md.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import reset, setup, stop, write_results  # noqa: E402

BURST = int(os.environ.get("BENCH_SCHED_BURST", "1000"))
STEADY = int(os.environ.get("BENCH_SCHED_STEADY", "100"))
SECONDS = int(os.environ.get("BENCH_SCHED_SECONDS", "30"))
EVERY = 5
PREFIX = "bench-sched-"


def percentiles(values: list[float]) -> dict:
    if not values:
        return {}
    values = sorted(values)

    def at(p: float) -> float:
        return round(values[min(len(values) - 1, int(p * len(values)))], 3)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": round(values[-1], 3), "fires": len(values)}


def fires_between(start: datetime, end: datetime):
    from jobs.models import ScheduleFire

    return list(
        ScheduleFire.objects.filter(schedule__name__startswith=PREFIX, created_at__gte=start, created_at__lt=end).values_list(
            "schedule_id", "fire_time", "created_at", "missed"
        )
    )


def lateness(fires) -> dict:
    return percentiles([(created - fire_time).total_seconds() for _, fire_time, created, _ in fires])


def longest_gap(fires, start: datetime, end: datetime) -> float:
    moments = sorted([start, *(created for _, _, created, _ in fires), end])
    return round(max((b - a).total_seconds() for a, b in zip(moments, moments[1:])), 2)


def observe(seconds: int) -> dict:
    """Fires recorded in the next ``seconds``: how late, the longest pause, due times folded."""
    from django.utils import timezone as dj_timezone

    start = dj_timezone.now()
    time.sleep(seconds)
    end = dj_timezone.now()
    fires = fires_between(start, end)
    return {
        "seconds_observed": seconds,
        "fires": len(fires),
        "lateness_seconds": lateness(fires),
        "longest_gap_seconds": longest_gap(fires, start, end),
        "fire_times_folded": sum(missed for *_, missed in fires),
    }


def duplicates() -> int:
    """Jobs per schedule fire beyond the first (the correlation id names the schedule and fire time)."""
    from django.db.models import Count

    from jobs.models import JobRecord

    return sum(
        row["n"] - 1
        for row in JobRecord.objects.filter(correlation_id__startswith="schedule-")
        .values("correlation_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )


def start_scheduler(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "conveyor_scheduler"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def wait_until(condition, timeout: float = 60, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


def make_schedules(count: int, interval: int, first: datetime, spread: float) -> None:
    from jobs.models import Schedule

    Schedule.objects.bulk_create(
        [
            Schedule(
                name=f"{PREFIX}{interval}-{i}",
                task_name="bench.noop",
                interval_seconds=interval,
                timezone="UTC",
                next_fire_at=first + timedelta(seconds=spread * i / count),
            )
            for i in range(count)
        ]
    )


def clear_schedules() -> None:
    from jobs.models import Schedule

    Schedule.objects.filter(name__startswith=PREFIX).delete()


def holder(procs: list[subprocess.Popen], distributed: bool) -> subprocess.Popen:
    """The process that fires: the lock holder in centralised mode; the first in distributed mode."""
    from jobs.core.keys import SINGLE_LOCK
    from jobs.transport.redis import get_redis

    if distributed:
        return procs[0]
    owner = get_redis().get(SINGLE_LOCK)
    pid = int(owner.decode().rsplit(":", 1)[1])
    return next(p for p in procs if p.pid == pid)


def run(distributed: bool, env: dict) -> dict:
    from django.utils import timezone as dj_timezone

    from jobs.core.keys import SINGLE_LOCK
    from jobs.models import ScheduleFire
    from jobs.transport.redis import get_redis

    reset()
    clear_schedules()
    env = {**env, "USE_DISTRIBUTED_SCHEDULER": "true" if distributed else "false"}
    procs = [start_scheduler(env), start_scheduler(env)]
    ours = ScheduleFire.objects.filter(schedule__name__startswith=PREFIX)
    result: dict = {"mode": "distributed" if distributed else "centralised", "schedulers": 2}
    try:
        from jobs.ops import metrics

        wait_until(lambda: len(metrics.schedulers(get_redis())) >= 2)
        if not distributed:
            wait_until(lambda: get_redis().get(SINGLE_LOCK) is not None)

        # 1. Throughput: a burst of schedules due at once.
        moment = dj_timezone.now()
        make_schedules(BURST, 3600, moment, 0)
        started = time.monotonic()
        wait_until(lambda: ours.count() >= BURST, timeout=300, every=0.05)
        took = time.monotonic() - started
        burst = list(ours.values_list("schedule_id", "fire_time", "created_at", "missed"))
        result["burst"] = {
            "schedules": BURST,
            "seconds": round(took, 2),
            "fires_per_second": round(BURST / took, 1),
            "lateness_seconds": lateness(burst),
        }
        clear_schedules()

        # 2. Steady state.
        first = dj_timezone.now() + timedelta(seconds=2)
        make_schedules(STEADY, EVERY, first, EVERY)
        time.sleep(2 + SECONDS)
        steady_end = dj_timezone.now()
        steady = fires_between(first, steady_end)
        result["steady"] = {
            "schedules": STEADY,
            "every_seconds": EVERY,
            "fires_per_second_due": STEADY / EVERY,
            "seconds": SECONDS,
            "fires": len(steady),
            "lateness_seconds": lateness(steady),
            "longest_gap_seconds": longest_gap(steady, first, steady_end),
        }

        # 3. The instance that fires is killed.
        victim = holder(procs, distributed)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        result["instance_killed"] = {**observe(30), "expected_fires_if_nothing_died": int(30 * STEADY / EVERY)}

        # 4. A clean stop (SIGTERM) of the survivor, a new standby beside it.
        survivor = next(p for p in procs if p.poll() is None)
        procs.append(start_scheduler(env))
        wait_until(lambda: len([s for s in metrics.schedulers(get_redis()) if s["age"] < 3]) >= 2)
        time.sleep(3)
        survivor.send_signal(signal.SIGTERM)
        survivor.wait(timeout=30)
        result["clean_stop"] = observe(20)
        result["duplicate_jobs"] = duplicates()
    finally:
        stop(procs)
        clear_schedules()
    return result


def main() -> None:
    env = setup()
    from jobs.models import Schedule

    # Only the benchmark's schedules fire (the default ones are paused, then put back).
    paused = list(Schedule.objects.filter(enabled=True).exclude(name__startswith=PREFIX).values_list("pk", flat=True))
    Schedule.objects.filter(pk__in=paused).update(enabled=False)
    try:
        results = [run(distributed, env) for distributed in (False, True)]
    finally:
        Schedule.objects.filter(pk__in=paused).update(enabled=True)
    write_results("scheduling", {"dispatch_interval_seconds": float(env.get("DISPATCH_INTERVAL", 1.0)), "runs": results})
    reset()


if __name__ == "__main__":
    main()
