"""Per-minute rollups of finished jobs, for the dashboard and /metrics.

The scheduler calls ``maybe_rollup()`` on its loop. A rollup reads only the jobs that finished
in the minutes it (re)computes, one index range scan per queue and outcome (the
``(queue, state, finished_at)`` index), and upserts one QueueMinute row per queue and minute.
A minute stays provisional for SETTLE minutes (a job committed just after the minute ended still
lands in it); then it is final and added, exactly once (a conditional UPDATE decides who adds
it, even with several schedulers), to QueueTotals, the monotonic counters /metrics exposes.

Nothing here touches the worker's hot path: the job rows are the source.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Min, Sum
from django.utils import timezone

from jobs.core.keys import SCHEDULERS_KEY, SINGLE_LOCK
from jobs.core.states import State
from jobs.models import JobRecord, QueueMinute, QueueTotals

log = logging.getLogger(__name__)

RUNTIME_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)  # seconds, then +Inf
SETTLE = 2  # minutes a minute stays provisional
BACKFILL = 60  # minutes a rollup catches up after the scheduler was away
WAITING = (State.PENDING, State.QUEUED)


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _percentile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]  # nearest rank


def _bucket_counts(runtimes: list[float]) -> list[int]:
    counts = [0] * (len(RUNTIME_BUCKETS) + 1)
    for value in runtimes:
        counts[next((i for i, bound in enumerate(RUNTIME_BUCKETS) if value <= bound), len(RUNTIME_BUCKETS))] += 1
    return counts


def waiting_counts() -> dict[str, int]:
    """Jobs waiting to start (pending or queued), per queue: an index range scan per state."""
    rows = JobRecord.objects.filter(state__in=WAITING).values("queue").annotate(n=Count("id")).order_by()
    return {row["queue"]: row["n"] for row in rows}


def rollup(now: datetime | None = None) -> dict:
    """(Re)compute the provisional minutes, finalise the settled ones. Returns counts."""
    now = now or timezone.now()
    current = floor_minute(now)
    queues = list(settings.CONVEYOR_QUEUES)
    last_final = QueueMinute.objects.filter(final=True).order_by("-minute").values_list("minute", flat=True).first()
    start = max(
        current - timedelta(minutes=BACKFILL), (last_final + timedelta(minutes=1)) if last_final else current - timedelta(minutes=SETTLE)
    )
    finished: dict[tuple[str, datetime], dict] = {}
    for queue in queues:
        for state in (State.SUCCEEDED, State.DEAD):
            rows = JobRecord.objects.filter(
                queue=queue, state=state, finished_at__gte=start, finished_at__lt=current + timedelta(minutes=1)
            )
            for started_at, finished_at, attempts in rows.values_list("started_at", "finished_at", "attempts").iterator(chunk_size=5000):
                slot = finished.setdefault((queue, floor_minute(finished_at)), {"succeeded": 0, "dead": 0, "retries": 0, "runtimes": []})
                slot["succeeded" if state == State.SUCCEEDED else "dead"] += 1
                slot["retries"] += max(0, attempts - 1)
                if started_at is not None:
                    slot["runtimes"].append(max(0.0, (finished_at - started_at).total_seconds()))
    waiting = waiting_counts()
    written = finalised = 0
    minute = start
    while minute <= current:
        settled = minute <= current - timedelta(minutes=SETTLE)
        for queue in queues:
            slot = finished.get((queue, minute), {"succeeded": 0, "dead": 0, "retries": 0, "runtimes": []})
            ordered = sorted(slot["runtimes"])
            values = {
                "succeeded": slot["succeeded"],
                "dead": slot["dead"],
                "retries": slot["retries"],
                "runtime_sum": sum(ordered),
                "runtime_p50": _percentile(ordered, 0.50),
                "runtime_p95": _percentile(ordered, 0.95),
                "runtime_p99": _percentile(ordered, 0.99),
                "runtime_max": ordered[-1] if ordered else None,
                "buckets": _bucket_counts(ordered),
            }
            if minute == current:
                values["waiting"] = waiting.get(queue, 0)
            row, created = QueueMinute.objects.get_or_create(queue=queue, minute=minute, defaults=values)
            if row.final:
                continue
            if not created:  # a new row already holds these values
                QueueMinute.objects.filter(pk=row.pk, final=False).update(**values)
            written += 1
            if settled:
                finalised += _finalise(row.pk)
        minute += timedelta(minutes=1)
    return {"minutes_written": written, "finalised": finalised}


def _finalise(row_id) -> int:
    """Mark one minute final and add it to the totals, once (whoever flips ``final`` adds it)."""
    with transaction.atomic():
        if not QueueMinute.objects.filter(pk=row_id, final=False).update(final=True):
            return 0
        row = QueueMinute.objects.get(pk=row_id)
        totals, _ = QueueTotals.objects.select_for_update().get_or_create(queue=row.queue)
        buckets = totals.buckets or [0] * len(row.buckets)
        QueueTotals.objects.filter(pk=totals.pk).update(
            succeeded=F("succeeded") + row.succeeded,
            dead=F("dead") + row.dead,
            retries=F("retries") + row.retries,
            runtime_sum=F("runtime_sum") + row.runtime_sum,
            buckets=[a + b for a, b in zip(buckets, row.buckets)],
            through=row.minute,
        )
    return 1


_last_rollup = 0.0


def maybe_rollup() -> dict | None:
    """The scheduler loop's hook: a rollup every METRICS_ROLLUP_INTERVAL seconds."""
    global _last_rollup
    if time.monotonic() - _last_rollup < settings.METRICS_ROLLUP_INTERVAL:
        return None
    _last_rollup = time.monotonic()
    started = time.monotonic()
    result = rollup()
    log.debug("metrics rollup: %s in %.3fs", result, time.monotonic() - started)
    return result


def prune(now: datetime | None = None) -> int:
    """Drop minutes older than METRICS_RETENTION (the totals keep their sums; a minute left
    provisional by an outage longer than BACKFILL goes too)."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.METRICS_RETENTION)
    return QueueMinute.objects.filter(minute__lt=cutoff).delete()[0]


# --- reads ---------------------------------------------------------------------------------


def series(hours: int = 1, step_minutes: int = 1, now: datetime | None = None) -> dict:
    """Chart data: per queue, per step, jobs succeeded and dead, the worst p50 and p95 run times
    of its minutes and the last depth, over the last ``hours``."""
    now = now or timezone.now()
    end = floor_minute(now)
    start = end - timedelta(hours=hours) + timedelta(minutes=1)
    steps = [start + timedelta(minutes=step_minutes * i) for i in range((hours * 60) // step_minutes)]
    out = {
        q: {
            "succeeded": [0] * len(steps),
            "dead": [0] * len(steps),
            "p50": [None] * len(steps),
            "p95": [None] * len(steps),
            "waiting": [None] * len(steps),
        }
        for q in settings.CONVEYOR_QUEUES
    }
    rows = QueueMinute.objects.filter(minute__gte=start, minute__lte=end).values_list(
        "queue", "minute", "succeeded", "dead", "runtime_p50", "runtime_p95", "waiting"
    )
    for queue, minute, succeeded, dead, p50, p95, waiting in rows:
        if queue not in out:
            continue
        i = min(len(steps) - 1, int((minute - start).total_seconds() // (60 * step_minutes)))
        slot = out[queue]
        slot["succeeded"][i] += succeeded
        slot["dead"][i] += dead
        if p95 is not None:
            slot["p95"][i] = max(slot["p95"][i] or 0.0, p95)
        if p50 is not None:
            slot["p50"][i] = max(slot["p50"][i] or 0.0, p50)
        if waiting is not None:
            slot["waiting"][i] = waiting
    return {
        "start": start.isoformat(),
        "step_minutes": step_minutes,
        "labels": [s.strftime("%H:%M") for s in steps],
        "times": [int(s.timestamp()) for s in steps],
        "queues": out,
    }


def last_hour(now: datetime | None = None) -> dict[str, dict]:
    """Per queue: succeeded, dead and retries in the last 60 minutes, and per-minute rates over
    the last five, from the rollups."""
    now = now or timezone.now()
    end = floor_minute(now)
    result = {
        q: {"succeeded_1h": 0, "dead_1h": 0, "retries_1h": 0, "succeeded_per_min": 0.0, "dead_per_min": 0.0}
        for q in settings.CONVEYOR_QUEUES
    }
    hour = QueueMinute.objects.filter(minute__gt=end - timedelta(minutes=60), minute__lte=end)
    for row in hour.values("queue").annotate(s=Sum("succeeded"), d=Sum("dead"), r=Sum("retries")).order_by():
        if row["queue"] in result:
            result[row["queue"]].update(succeeded_1h=row["s"] or 0, dead_1h=row["d"] or 0, retries_1h=row["r"] or 0)
    recent = QueueMinute.objects.filter(minute__gt=end - timedelta(minutes=5), minute__lte=end)
    for row in recent.values("queue").annotate(s=Sum("succeeded"), d=Sum("dead")).order_by():
        if row["queue"] in result:
            result[row["queue"]].update(succeeded_per_min=round((row["s"] or 0) / 5, 2), dead_per_min=round((row["d"] or 0) / 5, 2))
    return result


def oldest_waiting(now: datetime | None = None) -> dict[str, float]:
    """Per queue: seconds the oldest waiting (pending or queued) job has waited."""
    now = now or timezone.now()
    rows = JobRecord.objects.filter(state__in=WAITING).values("queue").annotate(oldest=Min("created_at")).order_by()
    return {row["queue"]: round((now - row["oldest"]).total_seconds(), 1) for row in rows if row["oldest"]}


def note_scheduler(connection, identity: str) -> None:
    connection.hset(SCHEDULERS_KEY, identity, int(time.time()))


def schedulers(connection) -> list[dict]:
    """Scheduler processes seen in the last minute, the lock holder marked as leader (with the
    distributed scheduler every one of them fires schedules)."""
    now = time.time()
    seen = {k.decode() if isinstance(k, bytes) else k: int(v) for k, v in connection.hgetall(SCHEDULERS_KEY).items()}
    stale = [k for k, v in seen.items() if now - v > 3600]
    if stale:
        connection.hdel(SCHEDULERS_KEY, *stale)
    holder = connection.get(SINGLE_LOCK)
    holder = holder.decode() if isinstance(holder, bytes) else holder
    return [
        {"identity": k, "age": round(now - v, 1), "leader": settings.USE_DISTRIBUTED_SCHEDULER or k == holder}
        for k, v in sorted(seen.items())
        if now - v <= 60
    ]
