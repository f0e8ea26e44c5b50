"""Rescue of jobs whose worker died.

A worker writes a WorkerHeartbeat row every WORKER_HEARTBEAT_INTERVAL seconds
(from a thread, so long jobs do not silence it). A `running` row whose worker
has been silent for WORKER_LOST_AFTER seconds is closed as a "worker lost"
attempt and retried by its policy (or dead-lettered when out of attempts).
The close is conditional on the row still running that same attempt, so a late
worker and the rescuer cannot both record it.

A dead worker is then settled: the jobs it took off Redis and never claimed (its taken
hash, jobs.transport.flow) are sent again, the concurrency slots it
held are released at once (not when their leases expire), and its heartbeat row and RQ
registration are removed, so the dashboards list live workers only.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError

from jobs.core.states import State
from jobs.models import JobAttempt, JobRecord, WorkerHeartbeat
from jobs.ops.runtime import WorkerLost, record_failure
from jobs.store import transitions
from jobs.store.sql import CLAIMED_FIELDS, Claimed
from jobs.transport import events, flow
from jobs.transport.dispatch import dispatch
from jobs.transport.redis import get_redis, unregister_rq_worker

log = logging.getLogger(__name__)

BATCH = 500


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
    if rescued:
        log.warning("rescued %d job(s) whose worker was lost", rescued)
    rescued += settle_dead_workers(cutoff)
    return rescued


def settle_dead_workers(cutoff) -> int:
    """Hand back what dead workers took and never claimed, free their slots, forget them.
    Returns how many jobs were handed back. A worker whose Redis state cannot be read now
    keeps its row, and is settled on a later pass."""
    handed_back = 0
    connection = get_redis()
    for name, queues in WorkerHeartbeat.objects.filter(last_seen__lt=cutoff).values_list("name", "queues")[:BATCH]:
        try:
            held = flow.settle_dead_worker(connection, name)
            unregister_rq_worker(connection, name, queues or [])
        except RedisError as exc:
            log.warning("worker %s: lost, but Redis is unavailable to settle it (%s); next pass", name, exc)
            break
        events.publish("worker.lost", worker=name, unstarted_jobs=len(held))
        if held:
            # Queued rows only: a running one was rescued above, a finished one needs nothing.
            moved = transitions.hand_back(list(held))
            if moved:
                log.warning("worker %s was lost holding %d job(s) it had not started; sent again", name, moved)
                dispatch(list(held), {State.PENDING})
            handed_back += moved
        WorkerHeartbeat.objects.filter(name=name, last_seen__lt=cutoff).delete()
    return handed_back
