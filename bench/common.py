"""Set-up shared by the benchmarks: an isolated Redis db and database, Django, a reset."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def bench_env() -> dict:
    """Redis database 15 of REDIS_URL's server, and bench.sqlite3 or a conveyor_bench database
    beside DATABASE_URL's: benchmarks never touch development data."""
    env = dict(os.environ)
    redis = urlsplit(env["REDIS_URL"])
    env["REDIS_URL"] = urlunsplit(redis._replace(path="/15"))
    db = env.get("DATABASE_URL")
    if db:
        parts = urlsplit(db)
        env["DATABASE_URL"] = urlunsplit(parts._replace(path="/conveyor_bench"))
        admin_url = urlunsplit(parts._replace(path="/postgres"))
        subprocess.run(["psql", admin_url, "-qc", "CREATE DATABASE conveyor_bench"], capture_output=True)
    else:
        env["DATABASE_URL"] = f"sqlite:///{ROOT / 'bench.sqlite3'}"
    env["LOG_LEVEL"] = "WARNING"
    # What production runs: DJANGO_ENV=local would turn DEBUG on, and Django then wraps every
    # query to keep its SQL and timing (~4 % of a no-op job).
    env["DEBUG"] = "false"
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env["CONVEYOR_TASK_MODULES"] = "bench.bench_tasks"
    return env


def setup() -> dict:
    """Point this process at the benchmark services, migrate, start Django; returns the env for children."""
    env = bench_env()
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    import django

    django.setup()
    return env


def quantile(values: list[float], q: float) -> float:
    """The q-quantile of ``values``, interpolated between the two nearest samples."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def reset() -> None:
    """Empty the benchmark Redis db and job tables."""
    from jobs.models import JobAttempt, JobRecord, WorkerHeartbeat
    from jobs.transport.redis import get_redis

    get_redis().flushdb()
    JobAttempt.objects.all().delete()
    JobRecord.objects.all().delete()
    WorkerHeartbeat.objects.all().delete()


def stop(procs, grace: float = 40) -> None:
    """SIGTERM every process (workers finish their job), then wait; kill what outlives the grace."""
    import signal

    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()


def write_results(name: str, figures: dict) -> None:
    """bench/results/<name>-<database>.json, stamped with when and on what; also printed."""
    import json
    from datetime import datetime

    from django.db import connection

    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.uname().machine} {os.cpu_count()} cores",
        "database": connection.vendor,
        **figures,
    }
    out = ROOT / "bench" / "results" / f"{name}-{connection.vendor}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
