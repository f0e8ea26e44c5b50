"""Reads about jobs and queues (no writes)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from access import rules
from jobs.core.keys import SCHEDULER_ALIVE_KEY
from jobs.core.states import State
from jobs.models import JobRecord, QueueState, WorkerHeartbeat
from jobs.ops import metrics
from jobs.transport import flow
from jobs.transport.redis import get_redis


def queue_stats() -> list[dict]:
    """Per queue: jobs by state (waiting, scheduled, running, retrying, dead: index range scans on
    state, never a count of all jobs), the oldest waiting job's age, the last hour's outcomes and
    per-minute rates from the rollups (jobs/metrics.py), running slots from Redis and the pause
    switch. Cheap with millions of finished jobs in the table."""
    names = list(settings.CONVEYOR_QUEUES)
    counts = {name: {} for name in names}
    live = JobRecord.objects.filter(state__in=[State.PENDING, State.SCHEDULED, State.QUEUED, State.RUNNING, State.RETRYING, State.DEAD])
    for row in live.values("queue", "state").annotate(n=Count("id")).order_by():
        counts.setdefault(row["queue"], {})[row["state"]] = row["n"]
    paused = set(QueueState.objects.filter(paused=True).values_list("name", flat=True))
    try:
        slots = flow.running_counts(get_redis(), names)
    except Exception:
        slots = {}
    hour, oldest = metrics.last_hour(), metrics.oldest_waiting()
    result = []
    for name in names:
        config, c = settings.CONVEYOR_QUEUES[name], counts.get(name, {})
        result.append(
            {
                "name": name,
                "paused": name in paused,
                "waiting": c.get(State.PENDING, 0) + c.get(State.QUEUED, 0),
                "oldest_waiting_seconds": oldest.get(name),
                "scheduled": c.get(State.SCHEDULED, 0),
                "running": c.get(State.RUNNING, 0),
                "slots_in_use": slots.get(name),
                "retrying": c.get(State.RETRYING, 0),
                "dead": c.get(State.DEAD, 0),
                **hour[name],
                "concurrency": config["concurrency"],
                "rate_limit": config["rate_limit"],
            }
        )
    return result


def health() -> dict:
    """Readiness of the job platform. "ok"; "degraded" (Redis down: work is accepted and waits as
    pending; or no live worker); "down" (the database, the source of truth, is unreachable)."""
    report = {"database": "ok", "redis": "ok", "workers": 0, "undispatched": 0}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        cutoff = timezone.now() - timedelta(seconds=settings.WORKER_LOST_AFTER)
        report["workers"] = WorkerHeartbeat.objects.filter(last_seen__gte=cutoff).count()
        report["undispatched"] = JobRecord.objects.filter(state=State.PENDING).count()
    except Exception as exc:
        report["database"] = f"unavailable: {type(exc).__name__}"
    try:
        get_redis().ping()
    except Exception as exc:
        report["redis"] = f"unavailable: {type(exc).__name__}"
    if report["database"] != "ok":
        report["status"] = "down"
    elif report["redis"] != "ok" or not report["workers"]:
        report["status"] = "degraded"
    else:
        report["status"] = "ok"
    return report


def readiness() -> dict:
    """health() plus the scheduler: every check must pass for "ok"."""
    report = health()
    checks = {"database": report["database"] == "ok", "redis": report["redis"] == "ok", "workers": report["workers"] > 0}
    try:
        scheduler = get_redis().get(SCHEDULER_ALIVE_KEY)
    except Exception:
        scheduler = None
    report["scheduler"] = scheduler.decode() if isinstance(scheduler, bytes) else (scheduler or "absent")
    checks["scheduler"] = scheduler is not None
    report["checks"] = checks
    report["status"] = "ok" if all(checks.values()) else "unavailable"
    return report


def visible_jobs(user):
    """The jobs ``user`` may see: all of them (jobs.view_jobrecord), or those they created."""
    jobs = JobRecord.objects.all()
    return jobs if rules.sees_all_jobs(user) else jobs.filter(created_by=user)


def jobs_of_user(user_id: int):
    """A user's jobs: about them (subject) or created by them. Who may ask: access.rules.refusal_to_see_jobs_of."""
    return JobRecord.objects.filter(Q(subject_type="user", subject_id=str(user_id)) | Q(created_by_id=user_id))
