"""Reads about jobs and queues (no writes)."""
from __future__ import annotations

from django.conf import settings
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from jobs import flow
from jobs.models import JobRecord, QueueState
from jobs.redis import get_redis
from jobs.states import State


RATE_WINDOW = 300  # seconds: the per-minute rates are averaged over the last five minutes


def queue_stats() -> list[dict]:
    """Per queue: counts by state (succeeded and cancelled: those retention has kept), the
    succeeded and dead rates per minute over the last five minutes, running slots from Redis
    and the pause switch."""
    names = list(settings.CONVEYOR_QUEUES)
    counts = {name: {} for name in names}
    for row in JobRecord.objects.values("queue", "state").annotate(n=Count("id")).order_by():
        counts.setdefault(row["queue"], {})[row["state"]] = row["n"]
    since = timezone.now() - timedelta(seconds=RATE_WINDOW)
    finished = {name: {} for name in names}
    recent = JobRecord.objects.filter(state__in=[State.SUCCEEDED, State.DEAD], finished_at__gte=since)
    for row in recent.values("queue", "state").annotate(n=Count("id")).order_by():
        finished.setdefault(row["queue"], {})[row["state"]] = row["n"]
    paused = set(QueueState.objects.filter(paused=True).values_list("name", flat=True))
    try:
        slots = flow.running_counts(get_redis(), names)
    except Exception:
        slots = {}
    result = []
    for name in names:
        config, c = settings.CONVEYOR_QUEUES[name], counts.get(name, {})
        result.append({
            "name": name,
            "paused": name in paused,
            "waiting": c.get(State.PENDING, 0) + c.get(State.QUEUED, 0),
            "scheduled": c.get(State.SCHEDULED, 0),
            "running": c.get(State.RUNNING, 0),
            "slots_in_use": slots.get(name),
            "retrying": c.get(State.RETRYING, 0),
            "succeeded": c.get(State.SUCCEEDED, 0),
            "cancelled": c.get(State.CANCELLED, 0),
            "dead": c.get(State.DEAD, 0),
            "succeeded_per_min": round(finished.get(name, {}).get(State.SUCCEEDED, 0) * 60 / RATE_WINDOW, 2),
            "dead_per_min": round(finished.get(name, {}).get(State.DEAD, 0) * 60 / RATE_WINDOW, 2),
            "concurrency": config["concurrency"],
            "rate_limit": config["rate_limit"],
        })
    return result


def health() -> dict:
    """Readiness of the job platform. "ok"; "degraded" (Redis down: work is accepted and waits as
    pending; or no live worker); "down" (the database, the source of truth, is unreachable)."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from jobs.models import WorkerHeartbeat

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
    from jobs.dispatch import SCHEDULER_ALIVE_KEY

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
