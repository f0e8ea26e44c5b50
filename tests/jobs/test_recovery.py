"""Rescue of jobs whose worker died, and the worker's own heartbeat row."""

import datetime as dt

import pytest
from django.utils import timezone

from jobs.core.states import State
from jobs.models import JobAttempt, JobRecord, WorkerHeartbeat
from jobs.ops.enqueue import enqueue
from jobs.ops.runtime import run_job
from jobs.ops.sweep import sweep
from jobs.store.sql import claim

pytestmark = pytest.mark.django_db(transaction=True)


def claimed_by(job, worker_name, started):
    claim(job.pk, worker_name, started, started)
    JobRecord.objects.filter(pk=job.pk).update(started_at=started)
    job.refresh_from_db()
    assert job.state == State.RUNNING
    return job


def test_job_of_a_silent_worker_is_rescued_and_retried(settings):
    long_ago = timezone.now() - dt.timedelta(seconds=settings.WORKER_LOST_AFTER + 5)
    job = claimed_by(enqueue("test.fail"), "dead-worker", long_ago)
    WorkerHeartbeat.objects.create(name="dead-worker", hostname="h", pid=1, started_at=long_ago, last_seen=long_ago)

    assert sweep()["rescued"] == 1
    job.refresh_from_db()
    assert job.state == State.RETRYING and job.run_at is not None and "stopped sending heartbeats" in job.last_error
    (attempt,) = job.attempt_set.all()
    assert (attempt.number, attempt.outcome, attempt.worker_name) == (1, JobAttempt.Outcome.WORKER_LOST, "dead-worker")
    assert sweep()["rescued"] == 0  # once only


def test_rescue_dead_letters_a_job_out_of_attempts(settings):
    long_ago = timezone.now() - dt.timedelta(seconds=settings.WORKER_LOST_AFTER + 5)
    job = claimed_by(enqueue("test.count", retry={"kind": "fixed", "retries": 0, "delay": 0}), "gone", long_ago)
    assert sweep()["rescued"] == 1
    job.refresh_from_db()
    assert job.state == State.DEAD


def test_long_job_of_a_live_worker_is_left_alone(settings):
    long_ago = timezone.now() - dt.timedelta(hours=2)
    job = claimed_by(enqueue("test.count"), "busy-worker", long_ago)
    WorkerHeartbeat.objects.create(name="busy-worker", hostname="h", pid=1, started_at=long_ago, last_seen=timezone.now())
    assert sweep()["rescued"] == 0
    job.refresh_from_db()
    assert job.state == State.RUNNING


def test_freshly_started_job_is_not_rescued_before_the_grace():
    job = claimed_by(enqueue("test.count"), "no-heartbeat-yet", timezone.now())
    assert sweep()["rescued"] == 0
    job.refresh_from_db()
    assert job.state == State.RUNNING


def test_worker_keeps_a_heartbeat_row_while_alive_and_removes_it_on_exit(run_worker):
    enqueue("test.count")
    worker = run_worker("default")
    assert not WorkerHeartbeat.objects.filter(name=worker.name).exists()
    assert worker._jobs_done == 1


def test_stock_rq_workers_are_refused():
    with pytest.raises(RuntimeError, match="ConveyorWorker"):
        run_job("any-id")
