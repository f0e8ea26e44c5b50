"""Per-minute rollups: counts, retries and run-time percentiles per queue and minute; settled
minutes folded into the totals exactly once; the dashboard reads and queue stats use them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.core.states import State
from jobs.models import JobRecord, QueueMinute, QueueTotals
from jobs.ops import metrics
from jobs.ops.enqueue import enqueue
from jobs.ops.selectors import queue_stats

pytestmark = pytest.mark.django_db(transaction=True)


def finished(state, at, runtime, attempts=1, queue="default"):
    job = enqueue("test.count", queue=queue)
    JobRecord.objects.filter(pk=job.pk).update(state=state, started_at=at - timedelta(seconds=runtime), finished_at=at, attempts=attempts)
    return job


def test_a_minute_counts_outcomes_retries_and_percentiles():
    now = timezone.now().replace(second=30, microsecond=0)
    minute = metrics.floor_minute(now)
    for i in range(100):
        finished(State.SUCCEEDED, minute + timedelta(seconds=i * 0.5), runtime=(i + 1) / 100)  # 0.01 .. 1.00 s
    finished(State.DEAD, minute + timedelta(seconds=5), runtime=2.0, attempts=4)
    finished(State.SUCCEEDED, minute + timedelta(seconds=6), runtime=0.1, queue="reports")
    enqueue("test.count")  # waiting
    metrics.rollup(now)
    row = QueueMinute.objects.get(queue="default", minute=minute)
    assert (row.succeeded, row.dead, row.retries, row.waiting) == (100, 1, 3, 1)
    assert row.runtime_p50 == pytest.approx(0.51) and row.runtime_p95 == pytest.approx(0.96) and row.runtime_max == 2.0
    assert sum(row.buckets) == 101 and len(row.buckets) == len(metrics.RUNTIME_BUCKETS) + 1
    assert not row.final and QueueMinute.objects.get(queue="reports", minute=minute).succeeded == 1


def test_settled_minutes_are_added_to_the_totals_exactly_once():
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=10)
    metrics.rollup(start)  # the first rollup starts here
    finished(State.SUCCEEDED, start + timedelta(seconds=10), runtime=0.2, attempts=2)
    finished(State.DEAD, start + timedelta(minutes=1, seconds=10), runtime=1.0, attempts=3)
    for later in (3, 3, 4, 5):  # repeated and overlapping rollups, as from two schedulers
        metrics.rollup(start + timedelta(minutes=later, seconds=5))
    totals = QueueTotals.objects.get(queue="default")
    assert (totals.succeeded, totals.dead, totals.retries) == (1, 1, 3)
    assert totals.runtime_sum == pytest.approx(1.2) and sum(totals.buckets) == 2
    assert QueueMinute.objects.filter(queue="default", minute=start, final=True).exists()
    # A job that lands in a final minute later (it should not) changes nothing: final is final.
    finished(State.SUCCEEDED, start + timedelta(seconds=20), runtime=0.2)
    metrics.rollup(start + timedelta(minutes=6))
    assert QueueTotals.objects.get(queue="default").succeeded == 1


def test_the_scheduler_being_away_is_caught_up():
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=30)
    metrics.rollup(start)
    finished(State.SUCCEEDED, start + timedelta(minutes=12), runtime=0.3)
    metrics.rollup(start + timedelta(minutes=25))
    assert QueueTotals.objects.get(queue="default").succeeded == 1
    assert QueueMinute.objects.filter(queue="default", minute__gt=start).count() == 25


def test_series_last_hour_and_queue_stats_read_the_rollups():
    now = timezone.now()
    minute = metrics.floor_minute(now)
    for _ in range(10):
        finished(State.SUCCEEDED, minute - timedelta(minutes=2), runtime=0.5)
    finished(State.DEAD, minute - timedelta(minutes=1), runtime=0.5, attempts=2)
    old = enqueue("test.count")
    JobRecord.objects.filter(pk=old.pk).update(created_at=now - timedelta(minutes=7))
    metrics.rollup(now - timedelta(minutes=3))
    metrics.rollup(now)
    hour = metrics.series(hours=1, now=now)["queues"]["default"]
    assert sum(hour["succeeded"]) == 10 and sum(hour["dead"]) == 1 and hour["waiting"][-1] == 1
    day = metrics.series(hours=24, step_minutes=10, now=now)
    assert len(day["labels"]) == 144 and sum(day["queues"]["default"]["succeeded"]) == 10
    stats = next(q for q in queue_stats() if q["name"] == "default")
    assert (stats["succeeded_1h"], stats["dead_1h"], stats["retries_1h"], stats["succeeded_per_min"]) == (10, 1, 1, 2.0)
    assert stats["oldest_waiting_seconds"] >= 7 * 60 and stats["dead"] == 1


def test_old_minutes_are_pruned_but_totals_stay(settings):
    now = timezone.now()
    start = metrics.floor_minute(now) - timedelta(days=8)
    metrics.rollup(start)
    finished(State.SUCCEEDED, start + timedelta(seconds=1), runtime=0.1)
    metrics.rollup(start + timedelta(minutes=5))
    assert metrics.prune(now) > 0 and QueueTotals.objects.get(queue="default").succeeded == 1
