"""The state machine as a real worker drives it: in-process ConveyorWorker, real Redis, real database."""

import datetime as dt

import pytest
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError
from rq.job import Job

from audit.models import AuditEntry
from jobs.core.errors import JobStateError
from jobs.core.queues import Priority
from jobs.core.states import State
from jobs.models import JobAttempt, JobRecord
from jobs.ops.control import job_cancel, job_requeue, job_retry
from jobs.ops.enqueue import enqueue
from jobs.ops.sweep import SWEEP_GRACE, sweep
from jobs.store import transitions
from jobs.transport import dispatch
from jobs.worker import ConveyorWorker
from tests.sample_tasks import runs

pytestmark = pytest.mark.django_db(transaction=True)


def fast_forward(job):
    """Let the job's backoff or delay elapse: move its run_at to now (the worker checks the real clock)."""
    JobRecord.objects.filter(pk=job.pk).update(run_at=timezone.now() - dt.timedelta(milliseconds=1))


def test_success_path_records_everything(run_worker):
    job = enqueue("test.count", kwargs={"key": "ok"}, subject=("user", 7))
    run_worker("default")
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED
    assert job.result == {"attempt": 1} and job.progress == 100
    assert job.started_at <= job.finished_at and job.worker_name
    (attempt,) = job.attempt_set.all()
    assert (attempt.number, attempt.outcome) == (1, JobAttempt.Outcome.SUCCEEDED)
    assert runs("ok") == 1


def test_progress_is_recorded_while_running(run_worker):
    job = enqueue("test.progress")
    run_worker("default")
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED and job.result == "done" and job.progress == 100


def test_unserialisable_result_is_kept_as_a_note(run_worker):
    job = enqueue("test.unserialisable_result")
    run_worker("default")
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED and "not JSON-serialisable" in job.result["note"]


def test_failures_retry_with_backoff_then_land_in_dead_letter(run_worker):
    job = enqueue("test.fail", kwargs={"key": "f"})
    delays = []
    for attempt in range(1, 5):
        run_worker("default")
        job.refresh_from_db()
        assert job.attempts == attempt
        if attempt < 4:
            assert job.state == State.RETRYING
            delays.append(round((job.run_at - job.finished_at).total_seconds()))
            assert sweep()["due"] == 0  # not yet due: the backoff is respected
            fast_forward(job)
            assert sweep()["due"] == 1
    assert delays == [2, 4, 8]
    assert job.state == State.DEAD and job.run_at is None
    assert job.kwargs == {"key": "f"}  # original arguments kept
    attempts = list(job.attempt_set.values_list("number", "outcome", "exc_type", "exc_message"))
    assert attempts == [(n, "failed", "ValueError", f"boom {n}") for n in range(1, 5)]
    assert "ValueError: boom 4" in job.last_error
    assert "Traceback" in job.attempt_set.last().traceback
    assert runs("f") == 4


def test_requeue_from_dead_letter_starts_a_fresh_chain(run_worker, django_user_model):
    staff = django_user_model.objects.create_user("ops", is_staff=True)
    job = enqueue("test.fail", retry={"kind": "fixed", "retries": 0, "delay": 0})
    run_worker("default")
    job.refresh_from_db()
    assert job.state == State.DEAD
    with pytest.raises(JobStateError):
        job_cancel(job.pk, actor=staff)
    job = job_requeue(job.pk, actor=staff, reason="fixed the provider")
    assert job.state == State.QUEUED and job.attempts == 0
    run_worker("default")
    job.refresh_from_db()
    assert job.state == State.DEAD and job.attempts == 1 and job.total_attempts == 2
    assert list(job.attempt_set.values_list("number", flat=True)) == [1, 2]
    entry = AuditEntry.objects.get(action="job.requeue")
    assert (entry.actor, entry.object_id, entry.reason, entry.details["from_state"]) == (staff, str(job.pk), "fixed the provider", "dead")


def test_retry_now_skips_the_backoff_but_keeps_the_count(run_worker, django_user_model):
    staff = django_user_model.objects.create_user("ops", is_staff=True)
    job = enqueue("test.fail")
    run_worker("default")
    job = job_retry(job.pk, actor=staff)
    assert job.state == State.QUEUED and job.attempts == 1
    run_worker("default")
    job.refresh_from_db()
    assert job.attempts == 2 and job.state == State.RETRYING
    assert AuditEntry.objects.filter(action="job.retry", object_id=str(job.pk)).count() == 1


def test_succeeded_jobs_cannot_be_retried_or_requeued(run_worker, django_user_model):
    staff = django_user_model.objects.create_user("ops", is_staff=True)
    job = enqueue("test.count")
    run_worker("default")
    for action in (job_retry, job_requeue, job_cancel):
        with pytest.raises(JobStateError):
            action(job.pk, actor=staff)
    assert AuditEntry.objects.count() == 0


def test_cancelled_job_never_runs_even_if_delivered(run_worker, redis_db, django_user_model):
    staff = django_user_model.objects.create_user("ops", is_staff=True)
    job = enqueue("test.count", kwargs={"key": "cancelled"})
    dispatch.push([(job.pk, job.queue, job.priority, job.timeout, job.task_name)])  # a stray second copy
    job = job_cancel(job.pk, actor=staff, reason="not needed")
    assert job.state == State.CANCELLED
    run_worker("default")
    assert runs("cancelled") == 0
    job.refresh_from_db()
    assert job.state == State.CANCELLED and job.attempts == 0


def test_timeout_is_recorded_and_the_policy_applies(run_worker):
    job = enqueue("test.slow", kwargs={"seconds": 5})
    run_worker("default")
    job.refresh_from_db()
    assert job.state == State.DEAD  # the task allows no retries
    (attempt,) = job.attempt_set.all()
    assert attempt.outcome == JobAttempt.Outcome.TIMED_OUT and attempt.duration_ms < 4000


def test_duplicate_delivery_runs_the_job_once(run_worker):
    job = enqueue("test.count", kwargs={"key": "dup"})
    row = (job.pk, job.queue, job.priority, job.timeout, job.task_name)
    dispatch.push([row])
    dispatch.push([row])
    run_worker("default")
    assert runs("dup") == 1
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED and job.total_attempts == 1


def test_early_delivery_of_a_scheduled_job_waits_for_its_time(run_worker):
    job = enqueue("test.count", kwargs={"key": "early"}, delay=60)
    dispatch.push([(job.pk, job.queue, job.priority, job.timeout, job.task_name)])
    run_worker("default")
    job.refresh_from_db()
    assert job.state == State.SCHEDULED and runs("early") == 0
    fast_forward(job)
    assert sweep()["due"] == 1
    run_worker("default")
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED and runs("early") == 1


def test_priority_tiers_start_in_order(run_worker, redis_db):
    for key, priority in [
        ("low", Priority.LOW),
        ("normal", Priority.NORMAL),
        ("critical", Priority.CRITICAL),
        ("high", Priority.HIGH),
        ("payout-high", Priority.HIGH),
    ]:
        enqueue("test.count", kwargs={"key": key}, priority=priority, queue="payouts" if key.startswith("payout") else "default")
    run_worker("payouts", "default")
    order = [k.decode() for k in redis_db.lrange("test:order", 0, -1)]
    assert order == ["critical", "payout-high", "high", "normal", "low"]


def test_unknown_task_at_run_time_goes_straight_to_dead_letter(run_worker):
    job = enqueue("test.count")
    JobRecord.objects.filter(pk=job.pk).update(task_name="removed.task")
    run_worker("default")
    job.refresh_from_db()
    assert job.state == State.DEAD and job.attempts == 1 and "Unknown task" in job.last_error


@pytest.mark.parametrize("failing", ["fetch", "prepare_execution", "prepare_job_execution"])
def test_redis_failing_between_pop_and_start_hands_the_job_back(run_worker, monkeypatch, failing):
    """Redis going away after a job was popped but before it started must neither end the
    worker (RQ's loop quits on any unexpected error) nor strand the job: its row goes back to
    pending, the dispatcher sends it again, and it runs once."""
    first = enqueue("test.count", kwargs={"key": "handed-back"})
    second = enqueue("test.count", kwargs={"key": "next"})
    target = Job if failing == "fetch" else ConveyorWorker
    original = getattr(target, failing)
    calls = []

    def once_broken(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RedisConnectionError("Redis went away")
        return original(*args[1:], **kwargs) if failing == "fetch" else original(*args, **kwargs)

    monkeypatch.setattr(target, failing, classmethod(once_broken) if failing == "fetch" else once_broken)
    monkeypatch.setattr("jobs.worker.time.sleep", lambda seconds: None)
    run_worker("default")
    assert JobRecord.objects.get(pk=first.pk).state == State.PENDING
    assert JobRecord.objects.get(pk=second.pk).state == State.SUCCEEDED  # the worker carried on
    monkeypatch.undo()
    JobRecord.objects.filter(pk=first.pk).update(created_at=timezone.now() - SWEEP_GRACE * 2)
    assert sweep()["pending"] == 1
    run_worker("default")
    first.refresh_from_db()
    assert first.state == State.SUCCEEDED and first.attempts == 1


@pytest.mark.parametrize("failing", ["register_birth", "subscribe"])
def test_redis_going_away_during_the_workers_start_up_delays_it_instead_of_ending_it(run_worker, redis_db, monkeypatch, failing):
    """After _wait_for_redis saw Redis answer, RQ's start-up (worker key, registry, pubsub) may
    still meet an outage; django-rq would exit 1. The worker starts again once Redis answers,
    after undoing what the failed try left: the worker key (which register_birth would take for
    a live worker of the same name) and the pubsub connection."""
    job = enqueue("test.count", kwargs={"key": "late"})
    original = getattr(ConveyorWorker, failing)
    calls, left = [], []

    def once_broken(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            if failing == "subscribe":  # RQ made its pubsub; its SUBSCRIBE met the outage
                self.pubsub = self.connection.pubsub()
                self.pubsub.subscribe("conveyor-test-channel")
                left.append(self.pubsub)
            raise RedisConnectionError("Redis went away")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ConveyorWorker, failing, once_broken)
    monkeypatch.setattr("jobs.worker.time.sleep", lambda seconds: None)
    worker = run_worker("default")
    assert len(calls) == 2
    assert JobRecord.objects.get(pk=job.pk).state == State.SUCCEEDED
    assert all(pubsub.connection is None for pubsub in left)  # the failed try's connection closed
    assert worker.name.encode() not in redis_db.smembers("rq:workers")


def test_a_hand_back_the_database_refused_is_retried_on_the_next_pass(run_worker, monkeypatch):
    """Redis and the database both failing at the hand-back: the worker keeps the job id and
    hands it back once the database answers, instead of leaving the row queued forever."""
    first = enqueue("test.count", kwargs={"key": "owed"})
    second = enqueue("test.count", kwargs={"key": "next"})
    fetch, hand_back = Job.fetch, transitions.hand_back
    broken = {"fetch": 1, "hand_back": 1}

    def fetch_once_broken(cls, *args, **kwargs):
        if broken["fetch"]:
            broken["fetch"] -= 1
            raise RedisConnectionError("Redis went away")
        return fetch(*args, **kwargs)

    def hand_back_once_broken(*args, **kwargs):
        if broken["hand_back"]:
            broken["hand_back"] -= 1
            raise RuntimeError("database went away")
        return hand_back(*args, **kwargs)

    monkeypatch.setattr(Job, "fetch", classmethod(fetch_once_broken))
    monkeypatch.setattr(transitions, "hand_back", hand_back_once_broken)
    monkeypatch.setattr("jobs.worker.time.sleep", lambda seconds: None)
    run_worker("default")
    assert broken == {"fetch": 0, "hand_back": 0}
    assert JobRecord.objects.get(pk=first.pk).state == State.PENDING
    assert JobRecord.objects.get(pk=second.pk).state == State.SUCCEEDED
