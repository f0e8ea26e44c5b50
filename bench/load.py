#!/usr/bin/env python
"""`make bench` (part 9): the web tier under load with the workers busy.

Starts gunicorn (2 processes x 4 threads), two workers and a scheduler on the benchmark
services, keeps the workers busy (5,000 short jobs queued first, and every API client
enqueues more), then runs locust headless for BENCH_LOAD_SECONDS (60) with BENCH_LOAD_USERS
(24) users against this machine only: API clients (token) listing jobs, reading one,
enqueueing, reading queue stats; staff (session) refreshing the dashboard and the job list.
Reports requests/s and p50/p95/p99 per request type and overall, and the jobs the workers
finished meanwhile, to bench/results/load-<database>.json.

Needs locust (requirements-bench.txt; `make bench` installs it).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import reset, setup, stop, write_results  # noqa: E402
from scripts.with_services import free_port  # noqa: E402

BIN = Path(sys.executable).parent
SECONDS = int(os.environ.get("BENCH_LOAD_SECONDS", "60"))
USERS = int(os.environ.get("BENCH_LOAD_USERS", "24"))


def wait_for(url: str, timeout: float = 30) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


def main() -> None:
    env = setup()
    env.update(API_THROTTLE_USER="100000000/min", API_THROTTLE_ANON="100000000/min", LOG_LEVEL="WARNING", RQ_LOG_LEVEL="WARNING")
    from django.contrib.auth import get_user_model

    from api.auth import token_create
    from jobs.core.states import State
    from jobs.models import JobRecord
    from jobs.ops.enqueue import JobSpec, enqueue_many

    reset()
    User = get_user_model()
    User.objects.filter(username="load").delete()
    staff = User.objects.create_superuser("load", "load@example.com", "load")
    env["LOAD_TOKEN"] = token_create(staff, "load")[1]
    env["LOAD_STAFF"] = "load:load"
    enqueue_many([JobSpec("demo.sleep", kwargs={"seconds": 0.02, "steps": 1}) for _ in range(5000)])
    port = free_port()
    worker_cmd = [sys.executable, "manage.py", "conveyor_worker", "default"]
    procs = [
        subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        ),
        subprocess.Popen(worker_cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL),
        subprocess.Popen(worker_cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, "manage.py", "conveyor_scheduler"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL),
    ]
    try:
        wait_for(f"http://127.0.0.1:{port}/health/live")
        done_before = JobRecord.objects.filter(state=State.SUCCEEDED).count()
        with tempfile.TemporaryDirectory() as tmp:
            prefix = str(Path(tmp) / "load")
            subprocess.run(
                [
                    str(BIN / "locust"),
                    "-f",
                    str(ROOT / "bench" / "locustfile.py"),
                    "--headless",
                    "-u",
                    str(USERS),
                    "-r",
                    str(USERS),
                    "-t",
                    f"{SECONDS}s",
                    "--host",
                    f"http://127.0.0.1:{port}",
                    "--csv",
                    prefix,
                    "--only-summary",
                    "--loglevel",
                    "WARNING",
                ],
                cwd=ROOT,
                env=env,
                check=False,
            )
            with open(f"{prefix}_stats.csv") as f:
                rows = list(csv.DictReader(f))
        done = JobRecord.objects.filter(state=State.SUCCEEDED).count() - done_before
        waiting = JobRecord.objects.filter(state__in=[State.QUEUED, State.PENDING]).count()
    finally:
        stop(procs)

    def figures(row):
        return {
            "requests": int(row["Request Count"]),
            "failures": int(row["Failure Count"]),
            "rps": round(float(row["Requests/s"]), 1),
            "p50_ms": float(row["50%"]),
            "p95_ms": float(row["95%"]),
            "p99_ms": float(row["99%"]),
        }

    write_results(
        "load",
        {
            "seconds": SECONDS,
            "users": USERS,
            "setup": "gunicorn 2 processes x 4 threads, 2 workers (busy), 1 scheduler, locust on the same machine",
            "requests": {row["Name"]: figures(row) for row in rows if row["Name"] != "Aggregated"},
            "overall": next((figures(row) for row in rows if row["Name"] == "Aggregated"), None),
            "jobs_finished_during_the_test": done,
            "jobs_still_waiting_after": waiting,
        },
    )
    reset()


if __name__ == "__main__":
    main()
