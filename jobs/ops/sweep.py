"""One pass of the dispatcher: the scheduler's "dispatch" and "rescue" duties.

Rescues the jobs of dead workers, re-sends what Redis lost (every queued row after Redis
lost its data, else the oldest past the grace period), sends pending rows, and starts due
retries and scheduled jobs. Safe to run from any number of processes: every move is a
compare-and-set on the row, and pushing a job twice is harmless.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.utils import timezone
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job

from jobs.core.keys import EPOCH_KEY, TAKEN_KEY
from jobs.core.queues import rq_queue_name
from jobs.core.states import State
from jobs.models import JobRecord, WorkerHeartbeat
from jobs.ops.recovery import rescue_lost_jobs
from jobs.store import transitions
from jobs.transport import events
from jobs.transport.dispatch import dispatch, sync_paused
from jobs.transport.redis import get_redis

log = logging.getLogger(__name__)

# A sweep keeps sending batches for at most this long (seconds), so a large backlog is restored quickly.
SWEEP_BUDGET = 10.0
# Rows younger than this are left to their own on-commit push.
SWEEP_GRACE = timedelta(seconds=5)
SWEEP_BATCH = 1000  # rows per UPDATE
# A queued row older than this whose id is in no Redis list and held by no worker is stranded
# (a worker died in the instant between its blocking pop and recording what it took); checked
# every STRANDED_CHECK_EVERY seconds, oldest first, STRANDED_BATCH rows at a time.
STRANDED_AFTER = timedelta(seconds=60)
STRANDED_CHECK_EVERY = 30.0
STRANDED_BATCH = 200
_last_stranded_check = float("-inf")


def sweep(now=None) -> dict:
    """One pass of the dispatcher: rescue jobs of dead workers, re-send what Redis lost, send
    pending rows, start due retries and scheduled jobs. Safe to run from any number of processes."""
    now = now or timezone.now()
    sync_paused()
    counts = {"pending": 0, "due": 0, "lost": 0, "rescued": rescue_lost_jobs(now)}
    deadline = time.monotonic() + SWEEP_BUDGET
    lost = list(dict.fromkeys(_queued_missing_from_redis(now) + _stranded(now)))
    for chunk in _chunks(lost, SWEEP_BATCH):
        counts["lost"] += transitions.hand_back(chunk)
        counts["pending"] += dispatch(chunk, {State.PENDING}, now=now)
    if counts["lost"]:  # candidates that finished meanwhile (their RQ job deleted) are not lost
        log.warning("%d queued job(s) were missing from Redis; re-dispatched", counts["lost"])
    while time.monotonic() < deadline:
        pending = list(
            JobRecord.objects.filter(state=State.PENDING, created_at__lte=now - SWEEP_GRACE)
            .order_by("created_at")
            .values_list("id", flat=True)[:SWEEP_BATCH]
        )
        sent = dispatch(pending, {State.PENDING}, now=now)
        counts["pending"] += sent
        if len(pending) < SWEEP_BATCH or not sent:
            break
    while time.monotonic() < deadline:
        due = list(
            JobRecord.objects.filter(state__in=(State.SCHEDULED, State.RETRYING), run_at__lte=now)
            .order_by("run_at")
            .values_list("id", flat=True)[:SWEEP_BATCH]
        )
        sent = dispatch(due, {State.SCHEDULED, State.RETRYING}, now=now)
        counts["due"] += sent
        if len(due) < SWEEP_BATCH or not sent:
            break
    return counts


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _queued_missing_from_redis(now) -> list:
    """Queued rows whose RQ job is gone. Normally the oldest batch past the grace period;
    after Redis lost its data (no epoch key), every queued row, with no grace."""
    connection = get_redis()
    try:
        everything = connection.set(EPOCH_KEY, timezone.now().isoformat(), nx=True)
    except RedisError:
        return []
    queued = JobRecord.objects.filter(state=State.QUEUED)
    if everything:
        candidates = list(queued.values_list("id", flat=True))
        # First start, or Redis lost its data (a restart without persistence, a FLUSHALL).
        events.publish("redis.data_lost", queued_jobs_checked=len(candidates))
    else:
        # The oldest batch past the grace period, and the newest: behind a backlog longer than a
        # batch, rows lost in the last seconds (a process killed between its commit and its push,
        # or with rows still on its hand-off thread) are found now, not once the backlog drains.
        past_grace = queued.filter(enqueued_at__lte=now - SWEEP_GRACE)
        oldest = list(past_grace.order_by("enqueued_at").values_list("id", flat=True)[:SWEEP_BATCH])
        newest = list(past_grace.order_by("-enqueued_at").values_list("id", flat=True)[:SWEEP_BATCH]) if len(oldest) == SWEEP_BATCH else []
        candidates = list(dict.fromkeys(oldest + newest))
    missing = []
    try:
        for chunk in _chunks(candidates, 5000):
            with connection.pipeline(transaction=False) as pipe:
                for job_id in chunk:
                    pipe.exists(Job.key_for(str(job_id)))
                missing += [job_id for job_id, there in zip(chunk, pipe.execute()) if not there]
    except RedisError:
        return []
    return missing


def _stranded(now) -> list:
    """Old queued rows whose RQ job exists but sits in no list and in no worker's taken hash.
    The oldest rows of a healthy backlog are at the head of their list, so LPOS finds them fast."""
    global _last_stranded_check
    if time.monotonic() - _last_stranded_check < STRANDED_CHECK_EVERY:
        return []
    _last_stranded_check = time.monotonic()
    rows = list(
        JobRecord.objects.filter(state=State.QUEUED, enqueued_at__lte=now - STRANDED_AFTER)
        .order_by("enqueued_at")
        .values_list("id", "queue", "priority")[:STRANDED_BATCH]
    )
    if not rows:
        return []
    connection = get_redis()
    try:
        with connection.pipeline(transaction=False) as pipe:
            for job_id, queue, priority in rows:
                pipe.lpos(Queue.redis_queue_namespace_prefix + rq_queue_name(queue, priority), str(job_id))
            listed = pipe.execute()
            for name in WorkerHeartbeat.objects.values_list("name", flat=True):
                pipe.hkeys(TAKEN_KEY.format(name))
            held = {job_id.decode() for keys in pipe.execute() for job_id in keys}
    except RedisError:
        return []
    stranded = [job_id for (job_id, _, _), position in zip(rows, listed) if position is None and str(job_id) not in held]
    if stranded:
        log.warning("%d queued job(s) were in no Redis list and held by no worker; re-dispatched", len(stranded))
    return stranded
