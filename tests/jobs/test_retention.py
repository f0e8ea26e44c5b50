"""Retention cleanup, the scheduler's periodic trigger, large-backlog recovery and health."""

import datetime as dt
import socket

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.utils import timezone

from jobs.core.states import State
from jobs.models import JobAttempt, JobRecord, Schedule, WorkerHeartbeat
from jobs.ops import retention
from jobs.ops.enqueue import JobSpec, enqueue_many
from jobs.ops.selectors import health
from jobs.ops.sweep import sweep
from jobs.scheduling.defaults import sync_default_schedules
from jobs.transport.redis import reset_redis

pytestmark = pytest.mark.django_db(transaction=True)


def make_finished(queue, state, count, finished_at):
    rows = [JobRecord(task_name="test.count", queue=queue, state=state, timeout=5, finished_at=finished_at) for _ in range(count)]
    JobRecord.objects.bulk_create(rows)
    JobAttempt.objects.bulk_create(
        [JobAttempt(job=r, number=1, started_at=finished_at, finished_at=finished_at, outcome="succeeded") for r in rows]
    )
    return rows


def test_succeeded_keeps_the_newest_100_or_the_last_day_whichever_keeps_more(settings):
    now = timezone.now()
    make_finished("reports", State.SUCCEEDED, 150, now - dt.timedelta(days=3))
    make_finished("exports", State.SUCCEEDED, 150, now - dt.timedelta(days=3))
    make_finished("exports", State.SUCCEEDED, 120, now - dt.timedelta(hours=2))  # recent: all kept
    dead = make_finished("reports", State.DEAD, 50, now - dt.timedelta(days=300))
    deleted = retention.cleanup(now)
    assert JobRecord.objects.filter(queue="reports", state=State.SUCCEEDED).count() == 100
    assert JobRecord.objects.filter(queue="exports", state=State.SUCCEEDED).count() == 120
    assert JobRecord.objects.filter(pk__in=[d.pk for d in dead]).count() == 50  # dead-letter: never
    assert deleted["succeeded"] == 50 + 150
    assert JobAttempt.objects.filter(job__isnull=True).count() == 0
    assert JobAttempt.objects.count() == 100 + 120 + 50


def test_cancelled_jobs_follow_failed_job_retention(settings):
    settings.FAILED_JOB_RETENTION = 3600
    now = timezone.now()
    make_finished("default", State.CANCELLED, 520, now - dt.timedelta(hours=2))
    retention.cleanup(now)
    assert JobRecord.objects.filter(state=State.CANCELLED).count() == 500


def test_retention_is_configurable_per_queue(settings):
    queues = dict(settings.CONVEYOR_QUEUES)
    queues["analytics"] = {**queues["analytics"], "retention": {"succeeded": {"keep": 10, "max_age": 60}}}
    settings.CONVEYOR_QUEUES = queues
    make_finished("analytics", State.SUCCEEDED, 30, timezone.now() - dt.timedelta(minutes=5))
    call_command("conveyor_cleanup")
    assert JobRecord.objects.filter(queue="analytics").count() == 10


def test_the_apps_default_schedules_are_created_after_migrate_and_follow_their_settings(settings):
    Schedule.objects.all().delete()
    assert sync_default_schedules()["created"] == 11
    schedule = Schedule.objects.get(task_name="jobs.cleanup")
    assert schedule.enabled and schedule.interval_seconds == settings.QUEUE_CLEANUP_INTERVAL
    assert set(Schedule.objects.values_list("task_name", flat=True)) >= {
        "analytics.fan_out",
        "reports.daily_report",
        "payouts.reconcile_credits",
        "payouts.daily_run",
        "jobs.cleanup",
        "payouts.recurring_due",
        "payouts.recover",
        "payouts.check_sent",
        "calculations.post_interest",
        "integrations.sync_payees",
        "reports.expire_files",
    }
    settings.QUEUE_CLEANUP_INTERVAL = 900  # a changed setting, at the next deploy's migrate
    assert sync_default_schedules() == {"created": 0, "updated": 1}
    schedule.refresh_from_db()
    assert schedule.interval_seconds == 900 and schedule.next_fire_at is not None
    Schedule.objects.filter(pk=schedule.pk).update(interval_seconds=120)  # staff change it in the admin
    settings.QUEUE_CLEANUP_INTERVAL = 600
    assert sync_default_schedules()["updated"] == 0
    assert Schedule.objects.get(pk=schedule.pk).interval_seconds == 120  # an edited schedule keeps its own timing
    assert sync_default_schedules() == {"created": 0, "updated": 0}  # nothing changes twice


def test_a_large_backlog_is_restored_in_one_sweep_after_redis_loss(redis_db):
    enqueue_many([JobSpec("test.count") for _ in range(2500)])
    sweep()  # sets the epoch
    redis_db.flushdb()
    counts = sweep()  # no grace, no batch limit: the epoch key is gone
    assert counts["lost"] == 2500 and counts["pending"] == 2500
    assert redis_db.llen("rq:queue:default") == 2500


def test_health_reports_degraded_without_redis_or_workers(settings):
    assert health()["status"] == "degraded"  # no worker yet
    WorkerHeartbeat.objects.create(name="w", hostname="h", pid=1, started_at=timezone.now(), last_seen=timezone.now())
    assert health() == {"database": "ok", "redis": "ok", "workers": 1, "undispatched": 0, "status": "ok"}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        settings.REDIS_URL = f"redis://127.0.0.1:{s.getsockname()[1]}/0"
    reset_redis()
    report = health()
    assert report["status"] == "degraded" and report["redis"].startswith("unavailable")
    with pytest.raises(SystemExit) as exit_info:
        call_command("conveyor_health")
    assert exit_info.value.code == 1


def test_expired_sessions_are_deleted_with_the_rest():
    """Sessions are written through to the database (they outlive a Redis outage there): the
    retention cleanup removes the expired rows, as `manage.py clearsessions` would."""
    now = timezone.now()
    Session.objects.create(session_key="old", session_data="x", expire_date=now - dt.timedelta(minutes=1))
    Session.objects.create(session_key="live", session_data="x", expire_date=now + dt.timedelta(hours=1))
    assert retention.cleanup(now)["sessions"] == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == ["live"]
