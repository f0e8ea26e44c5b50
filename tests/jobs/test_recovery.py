"""Rescue of jobs whose worker died, and the worker's own heartbeat row."""

import datetime as dt

import pytest
from django.utils import timezone

from jobs.core.states import State
from jobs.models import JobAttempt, JobRecord, WorkerHeartbeat
from jobs.ops.enqueue import enqueue
from jobs.ops.runtime import record_failure, run_job
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


def _lose(job, settings, worker="gone"):
    """Claim the job for a worker that then falls silent, and let the sweep rescue it."""
    long_ago = timezone.now() - dt.timedelta(seconds=settings.WORKER_LOST_AFTER + 5)
    JobRecord.objects.filter(pk=job.pk).update(state=State.QUEUED, run_at=None)
    claimed_by(job, worker, long_ago)
    assert sweep()["rescued"] == 1
    job.refresh_from_db()
    return job


def test_a_lost_worker_does_not_use_up_the_jobs_attempts(settings):
    """Like BullMQ's stalled jobs: a job whose worker died (kill -9, OOM, a deploy's grace ran
    out) runs again at once without that loss counting as one of its attempts, up to
    WORKER_LOST_RETRIES losses; a job that keeps losing its worker (a poison pill) then counts
    them like failures and reaches the dead letters."""
    settings.WORKER_LOST_RETRIES = 2
    job = enqueue("test.count", retry={"kind": "fixed", "retries": 0, "delay": 60})
    for loss in (1, 2):
        job = _lose(job, settings)
        assert job.state == State.RETRYING, loss
        assert job.attempts == 0 and job.total_attempts == loss  # the next run is attempt 1 again
        assert job.run_at <= timezone.now()  # at once, not after the policy's 60 s
    job = _lose(job, settings)
    assert job.state == State.DEAD and job.attempts == 1
    outcomes = list(job.attempt_set.order_by("number").values_list("number", "outcome"))
    assert outcomes == [(n, JobAttempt.Outcome.WORKER_LOST) for n in (1, 2, 3)]


def test_with_no_free_losses_a_lost_worker_counts_as_an_attempt(settings):
    settings.WORKER_LOST_RETRIES = 0
    job = _lose(enqueue("test.count", retry={"kind": "fixed", "retries": 0, "delay": 0}), settings)
    assert job.state == State.DEAD


def test_losses_within_the_budget_leave_the_policys_retries_whole(settings):
    settings.WORKER_LOST_RETRIES = 3
    job = _lose(enqueue("test.count", retry={"kind": "fixed", "retries": 1, "delay": 30}), settings)
    assert (job.state, job.attempts) == (State.RETRYING, 0)
    # A real failure still counts: attempt 1 of 2 fails, one retry is left (after the policy's delay).
    JobRecord.objects.filter(pk=job.pk).update(state=State.QUEUED, run_at=None)
    claimed_by(job, "alive", timezone.now())
    job.refresh_from_db()
    assert record_failure(job, job.started_at, "alive", JobAttempt.Outcome.FAILED, ValueError("boom")) == State.RETRYING
    job.refresh_from_db()
    assert job.attempts == 1 and job.run_at > timezone.now() + dt.timedelta(seconds=20)


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
