"""Rescue of jobs whose worker died.

A worker writes a WorkerHeartbeat row every WORKER_HEARTBEAT_INTERVAL seconds
(from a thread, so long jobs do not silence it). A `running` row whose worker
has been silent for WORKER_LOST_AFTER seconds is closed as a "worker lost"
attempt and retried by its policy (or dead-lettered when out of attempts).
The close is conditional on the row still running that same attempt, so a late
worker and the rescuer cannot both record it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from jobs.core.states import State
from jobs.models import JobAttempt, JobRecord, WorkerHeartbeat
from jobs.ops.runtime import WorkerLost, record_failure
from jobs.store.sql import CLAIMED_FIELDS, Claimed

log = logging.getLogger(__name__)

BATCH = 500
FORGET_WORKERS_AFTER = timedelta(hours=1)


def rescue_lost_jobs(now=None) -> int:
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.WORKER_LOST_AFTER)
    live = WorkerHeartbeat.objects.filter(last_seen__gte=cutoff).values("name")
    lost = list(
        JobRecord.objects.filter(state=State.RUNNING, started_at__lt=cutoff)
        .exclude(worker_name__in=live)
        .values("id", *CLAIMED_FIELDS, "worker_name", "started_at")[:BATCH]
    )
    rescued = 0
    for row in lost:
        worker, started = row.pop("worker_name"), row.pop("started_at")
        record = Claimed(pk=row.pop("id"), **row)
        error = WorkerLost(f"worker {worker or '?'} stopped sending heartbeats for {settings.WORKER_LOST_AFTER:g}s")
        if record_failure(record, started, worker, JobAttempt.Outcome.WORKER_LOST, error) != "skipped":
            rescued += 1
    WorkerHeartbeat.objects.filter(last_seen__lt=now - FORGET_WORKERS_AFTER).delete()
    if rescued:
        log.warning("rescued %d job(s) whose worker was lost", rescued)
    return rescued
