#!/usr/bin/env python
"""`make bench` (part 2): flow control and crash recovery, measured.

* rescue: time from kill -9 of a busy worker to its job being recorded as
  "worker lost" and set to retry, with the default heartbeat settings;
* per-user fan-out: the hourly producer over 10,000 active users (one deduplicated
  job each, bulk insert, pipelined push), then again (all duplicates), against bare
  RQ enqueue_many of 10,000 in the same run (target: at most 1.5 s);
* slow vs fast: two workers, a stream of 2 s jobs on `analytics` and 50 ms jobs on
  `notifications`; start latency of the fast jobs with the slow queue capped at 1
  (one worker always free for other work) and uncapped (both can be tied up).

Isolated from development data (bench/common.py).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import reset, setup  # noqa: E402


def main() -> None:
    env = setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rq import Queue

    from jobs.core.states import State
    from jobs.models import JobAttempt, JobRecord, WorkerHeartbeat
    from jobs.ops.enqueue import JobSpec, enqueue, enqueue_many
    from jobs.transport.redis import get_redis
    from reports.services import analytics_fan_out

    redis = get_redis()

    def start(*args, **extra):
        return subprocess.Popen(
            [sys.executable, "manage.py", *args], cwd=ROOT, env={**env, **extra}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def stop(procs):
        for p in procs:
            if p.poll() is None:
                p.kill()
        for p in procs:
            p.wait()

    def wait(predicate, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        raise SystemExit("benchmark condition not reached")

    results = {}

    # 1. kill -9 -> rescue, default settings
    reset()
    rescue_times = []
    for _ in range(3):
        job = enqueue("bench.sleep", kwargs={"seconds": 120})
        procs = [start("conveyor_scheduler"), start("rqworker", "default", "--verbosity", "0")]
        try:
            wait(lambda job=job: JobRecord.objects.filter(pk=job.pk, state=State.RUNNING).exists(), 60)
            pid = WorkerHeartbeat.objects.get(name=JobRecord.objects.get(pk=job.pk).worker_name).pid
            os.kill(pid, signal.SIGKILL)
            killed = time.monotonic()
            wait(lambda job=job: JobAttempt.objects.filter(job_id=job.pk, outcome="worker_lost").exists(), 120)
            rescue_times.append(round(time.monotonic() - killed, 2))
        finally:
            stop(procs)
        JobRecord.objects.filter(pk=job.pk).delete()
    results["rescue_after_kill_9"] = {
        "heartbeat_interval_s": settings.WORKER_HEARTBEAT_INTERVAL,
        "worker_lost_after_s": settings.WORKER_LOST_AFTER,
        "seconds": rescue_times,
        "max_seconds": max(rescue_times),
    }

    # 2. the hourly per-user fan-out: 10,000 active users, deduplicated per user
    reset()
    User = get_user_model()
    User.objects.filter(username__startswith="bench-user-").delete()
    User.objects.bulk_create([User(username=f"bench-user-{i}", password="!") for i in range(10_000)], batch_size=2000)
    timings = []
    for _ in range(3):
        reset()
        started = time.perf_counter()
        first = analytics_fan_out()
        timings.append(time.perf_counter() - started)
    started = time.perf_counter()
    again = analytics_fan_out()
    duplicate = time.perf_counter() - started
    assert first["enqueued"] >= 10_000 and again["enqueued"] == 0
    bare = Queue("bare", connection=redis)
    bare_timings = []
    for _ in range(3):
        redis.delete(bare.key)
        started = time.perf_counter()
        bare.enqueue_many([Queue.prepare_data("bench.bare_tasks.noop", result_ttl=0) for _ in range(10_000)])
        bare_timings.append(time.perf_counter() - started)
    User.objects.filter(username__startswith="bench-user-").delete()
    results["per_user_fan_out_10k_users"] = {
        "users": first["users"],
        "fan_out_seconds": [round(t, 3) for t in timings],
        "best_seconds": round(min(timings), 3),
        "again_all_duplicates_seconds": round(duplicate, 3),
        "bare_rq_enqueue_many_seconds": round(min(bare_timings), 3),
        "ratio_to_bare": round(min(timings) / min(bare_timings), 2),
        "target_seconds": 1.5,
    }

    # 3. slow jobs must not block fast ones
    def latency_run(slow_cap: int) -> dict:
        reset()
        overrides = json.dumps({"analytics": {"concurrency": slow_cap}, "notifications": {"rate_limit": None}})
        procs = [start("rqworker", "analytics", "notifications", "--verbosity", "0", QUEUE_OVERRIDES=overrides) for _ in range(2)]
        try:
            wait(lambda: WorkerHeartbeat.objects.count() == 2, 60)
            enqueue_many([JobSpec("bench.sleep", kwargs={"seconds": 2}, queue="analytics") for _ in range(8)])
            fast = []
            for _ in range(20):
                fast.append(enqueue("bench.sleep", kwargs={"seconds": 0.05}, queue="notifications"))
                time.sleep(0.25)
            wait(lambda: not JobRecord.objects.filter(pk__in=[j.pk for j in fast]).exclude(state=State.SUCCEEDED).exists(), 120)
        finally:
            stop(procs)
        delays = sorted((r.started_at - r.created_at).total_seconds() for r in JobRecord.objects.filter(pk__in=[j.pk for j in fast]))
        return {
            "fast_jobs": len(delays),
            "p50_s": round(statistics.median(delays), 3),
            "p95_s": round(delays[int(0.95 * len(delays)) - 1], 3),
            "max_s": round(delays[-1], 3),
        }

    results["fast_start_latency_slow_queue_capped_at_1"] = latency_run(1)
    results["fast_start_latency_slow_queue_uncapped"] = latency_run(0)
    reset()

    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.uname().machine} {os.cpu_count()} cores",
        "database": connection.vendor,
        **results,
    }
    out = ROOT / "bench" / "results" / f"flow-{connection.vendor}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
