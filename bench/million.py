#!/usr/bin/env python
"""`make bench` (part 8): the dashboard, the admin job list, the API and /metrics with a
million job records in the database.

Fills the benchmark database with BENCH_MILLION_ROWS jobs (default 1,000,000) spread over
a week and 15 queues (96 % succeeded, 2 % dead, 1 % cancelled, 1 % waiting) and a week of
per-minute rollups, then times each page the way staff and scrapers hit it (Django's test
client, in process: the view and query cost without the network), median of 5 after a
warm-up. For reference it also times what the pages avoid: a COUNT(*) of the table and a
SELECT DISTINCT of task names. Isolated from development data (bench/common.py).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import setup  # noqa: E402

ROWS = int(os.environ.get("BENCH_MILLION_ROWS", "1000000"))
RUNS = 5


def fill(now) -> float:
    from django.conf import settings

    from jobs.core.states import State
    from jobs.models import JobRecord, QueueMinute, QueueTotals

    started = time.monotonic()
    queues = list(settings.CONVEYOR_QUEUES)
    tasks = ["demo.noop", "demo.sleep", "demo.fail", "demo.flaky", "jobs.cleanup", "notifications.send"]
    week = 7 * 24 * 3600
    batch = []
    for i in range(ROWS):
        created = now - timedelta(seconds=week * (1 - i / ROWS))
        roll = i % 100
        state = State.SUCCEEDED if roll < 96 else State.DEAD if roll < 98 else State.CANCELLED if roll < 99 else State.QUEUED
        done = state != State.QUEUED
        batch.append(
            JobRecord(
                id=uuid.uuid4(),
                task_name=tasks[i % len(tasks)],
                queue=queues[i % len(queues)],
                state=state,
                priority=3,
                attempts=1 + (state == State.DEAD) * 3,
                max_attempts=4,
                total_attempts=1,
                timeout=300,
                created_at=created,
                enqueued_at=created,
                started_at=created + timedelta(seconds=1) if done else None,
                finished_at=created + timedelta(seconds=1.2) if done else None,
                correlation_id=uuid.uuid4().hex,
                subject_type="user",
                subject_id=str(i % 5000),
                last_error="RuntimeError: boom" if state == State.DEAD else "",
            )
        )
        if len(batch) == 20_000:
            JobRecord.objects.bulk_create(batch)
            batch = []
    JobRecord.objects.bulk_create(batch)
    minutes = []
    first = now.replace(second=0, microsecond=0) - timedelta(minutes=7 * 1440)
    for m in range(7 * 1440):
        for q in queues:
            minutes.append(
                QueueMinute(
                    queue=q,
                    minute=first + timedelta(minutes=m),
                    succeeded=6,
                    dead=0,
                    retries=1,
                    runtime_sum=1.2,
                    runtime_p50=0.2,
                    runtime_p95=0.9,
                    runtime_p99=1.1,
                    runtime_max=1.3,
                    buckets=[0, 0, 0, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0],
                    waiting=3,
                    final=m < 7 * 1440 - 3,
                )
            )
        if len(minutes) >= 20_000:
            QueueMinute.objects.bulk_create(minutes)
            minutes = []
    QueueMinute.objects.bulk_create(minutes)
    QueueTotals.objects.bulk_create([QueueTotals(queue=q, succeeded=ROWS // len(queues), buckets=[0] * 13) for q in queues])
    return time.monotonic() - started


def timed(fn) -> dict:
    fn()  # warm-up
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(samples), 1), "max_ms": round(max(samples), 1)}


def main() -> None:
    setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from api.auth import token_create
    from jobs.models import JobRecord, QueueMinute
    from jobs.ops import metrics, selectors

    setup_test_environment()  # the test client's response.context, ALLOWED_HOSTS "testserver"
    empty()
    now = datetime.now(UTC)
    fill_seconds = fill(now)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE jobs_jobrecord")
            cursor.execute("VACUUM ANALYZE jobs_queueminute")
    user = get_user_model().objects.filter(username="bench-root").first() or get_user_model().objects.create_superuser(
        "bench-root", "root@example.com", None
    )
    client = Client()
    client.force_login(user)
    api = Client(HTTP_AUTHORIZATION=f"Token {token_create(user, 'bench')[1]}")
    some = JobRecord.objects.order_by("-created_at").values_list("correlation_id", flat=True)[500]

    def page(c, url):
        def get():
            response = c.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return get

    pages = {
        "queue_stats (selector)": selectors.queue_stats,
        "rollup (scheduler, every 15 s)": metrics.rollup,
        "dashboard page": page(client, "/admin/dashboard/"),
        "dashboard live refresh": page(client, "/admin/dashboard/live/"),
        "dashboard chart, last hour": page(client, "/admin/dashboard/series/"),
        "dashboard chart, last day": page(client, "/admin/dashboard/series/?range=day"),
        "admin job list": page(client, "/admin/jobs/jobrecord/"),
        "admin job list, state=dead": page(client, "/admin/jobs/jobrecord/?state__exact=dead"),
        "admin job list, queue and task": page(client, "/admin/jobs/jobrecord/?queue=payouts&task_name=demo.noop"),
        "admin job list, search correlation id": page(client, f"/admin/jobs/jobrecord/?q={some}"),
        "admin job list, page 100": page(client, f"/admin/jobs/jobrecord/?p={min(99, ROWS // 200)}"),
        "admin dead-letter queue": page(client, "/admin/jobs/deadletterjob/"),
        "metrics (Prometheus)": page(api, "/metrics"),
        "API jobs, first page": page(api, "/api/v1/jobs/?page_size=50"),
        "API jobs, state=dead": page(api, "/api/v1/jobs/?state=dead&page_size=50"),
        "API queues": page(api, "/api/v1/queues/"),
    }
    avoided = {
        "COUNT(*) of all jobs": lambda: JobRecord.objects.count(),
        "SELECT DISTINCT task_name": lambda: list(JobRecord.objects.values_list("task_name", flat=True).distinct()),
    }
    results = {name: timed(fn) for name, fn in pages.items()}
    reference = {name: timed(fn) for name, fn in avoided.items()}
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.uname().machine} {os.cpu_count()} cores",
        "database": connection.vendor,
        "job_rows": JobRecord.objects.count(),
        "rollup_rows": QueueMinute.objects.count(),
        "fill_seconds": round(fill_seconds, 1),
        "pages": results,
        "for_reference_what_the_pages_avoid": reference,
    }
    out = Path(os.environ.get("BENCH_MILLION_OUT", ROOT / "bench" / "results" / f"million-{connection.vendor}.json"))
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    empty()


def empty() -> None:
    """Remove the million rows in one statement (a Django delete() would load them to cascade)."""
    from django.db import connection

    from jobs.transport.redis import get_redis

    get_redis().flushdb()
    tables = ["jobs_jobattempt", "jobs_jobrecord", "jobs_queueminute", "jobs_queuetotals"]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")


if __name__ == "__main__":
    main()
