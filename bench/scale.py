#!/usr/bin/env python
"""`make bench` (part 10): the hourly per-user fan-out at 200, 1,000, 5,000 and 10,000 users,
processed by 2 and 4 worker processes.

For each size and worker count: start the workers (and a scheduler, for the dispatcher) and
wait for their heartbeats, then run the fan-out (`analytics.fan_out`'s service) and follow
the work until every job has finished: the fan-out's own time, the time to finish the hour's
work, the queue depth (sampled every second; `depth_every_second` keeps about 30 evenly
spaced samples), and the workers' memory (peak resident set per worker,
a fresh process forked per job included). Users have no payee account (the figures job's
lighter path); results to bench/results/scale-<database>.json and docs/scaling.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import reset, setup, stop, write_results  # noqa: E402

SIZES = [int(n) for n in os.environ.get("BENCH_SCALE_USERS", "200,1000,5000,10000").split(",")]
WORKERS = [int(n) for n in os.environ.get("BENCH_SCALE_WORKERS", "2,4").split(",")]


def tree_rss(pid: int) -> int:
    import psutil

    try:
        parent = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
    except psutil.NoSuchProcess:
        return 0


def run(users: int, workers: int, env: dict) -> dict:
    from django.contrib.auth import get_user_model

    from jobs.core.states import State
    from jobs.models import JobRecord, WorkerHeartbeat
    from reports.services import analytics_fan_out

    reset()
    get_user_model().objects.filter(username__startswith="scale-").exclude(
        pk__in=get_user_model().objects.filter(username__startswith="scale-").order_by("pk").values("pk")[:users]
    ).update(is_active=False)
    get_user_model().objects.filter(
        username__startswith="scale-",
        pk__in=get_user_model().objects.filter(username__startswith="scale-").order_by("pk").values("pk")[:users],
    ).update(is_active=True)
    command = [sys.executable, "manage.py", "conveyor_worker", "analytics"]
    procs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    procs.append(
        subprocess.Popen(
            [sys.executable, "manage.py", "conveyor_scheduler"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    )
    try:
        deadline = time.monotonic() + 60
        while WorkerHeartbeat.objects.count() < workers and time.monotonic() < deadline:
            time.sleep(0.2)
        started = time.monotonic()
        result = analytics_fan_out(
            list(get_user_model().objects.filter(username__startswith="scale-", is_active=True).values_list("pk", flat=True))
        )
        fanned_out = time.monotonic() - started
        depth, peak_rss = [], [0] * workers
        active = JobRecord.objects.filter(task_name="analytics.user").exclude(state__in=[State.SUCCEEDED, State.DEAD, State.CANCELLED])
        while True:
            waiting = active.count()
            depth.append(waiting)
            peak_rss = [max(m, tree_rss(p.pid)) for m, p in zip(peak_rss, procs)]
            if waiting == 0 or time.monotonic() - started > 1800:
                break
            time.sleep(1)
        finished = time.monotonic() - started
        dead = JobRecord.objects.filter(task_name="analytics.user", state=State.DEAD).count()
    finally:
        stop(procs)
    return {
        "users": users,
        "workers": workers,
        "enqueued": result["enqueued"],
        "fan_out_seconds": round(fanned_out, 2),
        "finished_seconds": round(finished, 1),
        "jobs_per_second": round(result["enqueued"] / finished, 1),
        "dead": dead,
        "peak_depth": max(depth),
        "depth_every_second": depth[:: max(1, len(depth) // 30)],
        "peak_rss_mb_per_worker": round(max(peak_rss) / 2**20, 1),
    }


def main() -> None:
    env = setup()
    env["LOG_LEVEL"] = "WARNING"
    from django.contrib.auth import get_user_model

    User = get_user_model()
    have = User.objects.filter(username__startswith="scale-").count()
    User.objects.bulk_create([User(username=f"scale-{i}", password="!", is_active=True) for i in range(have, max(SIZES))], batch_size=5000)
    results = [run(users, workers, env) for users in SIZES for workers in WORKERS]
    write_results("scale", {"runs": results})
    reset()


if __name__ == "__main__":
    main()
