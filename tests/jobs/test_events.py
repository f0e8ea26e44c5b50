"""Running-job cancellation and the job event signals."""

import datetime as dt

import pytest
from django.utils import timezone

from audit.models import AuditEntry
from jobs.core import signals
from jobs.core.states import State
from jobs.models import JobAttempt, JobRecord
from jobs.ops.control import job_cancel
from jobs.ops.enqueue import enqueue
from jobs.ops.sweep import sweep
from tests.sample_tasks import runs

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def events():
    received = []
    handlers = {}
    for name in ("job_succeeded", "job_failed", "job_retrying", "job_dead", "job_cancelled", "job_progress"):

        def handler(sender, _name=name, **kwargs):
            received.append((_name, kwargs))

        handlers[name] = handler
        getattr(signals, name).connect(handler)
    yield received
    for name, handler in handlers.items():
        getattr(signals, name).disconnect(handler)


def test_running_job_stops_at_its_next_progress_report(run_worker, events):
    job = enqueue("test.cancel_me")
    run_worker("default")
    job.refresh_from_db()
    assert job.state == State.CANCELLED and job.progress == 10 and job.cancel_requested
    assert runs("after-cancel") == 0
    (attempt,) = job.attempt_set.all()
    assert attempt.outcome == JobAttempt.Outcome.CANCELLED
    assert AuditEntry.objects.get().action == "job.cancel_requested"
    assert [name for name, _ in events] == ["job_progress", "job_cancelled"]
    assert events[1][1]["while_running"] is True and events[1][1]["job_id"] == job.pk


def test_cancelling_a_running_job_twice_records_one_request():
    job = enqueue("test.count")
    JobRecord.objects.filter(pk=job.pk).update(state=State.RUNNING, attempts=1)
    job_cancel(job.pk, actor="system:test")
    job_cancel(job.pk, actor="system:test")
    assert JobRecord.objects.get(pk=job.pk).state == State.RUNNING
    assert AuditEntry.objects.filter(action="job.cancel_requested").count() == 1


def test_signals_for_success_retry_and_dead(run_worker, events):
    ok = enqueue("test.progress")
    bad = enqueue("test.fail", retry={"kind": "fixed", "retries": 1, "delay": 0})
    run_worker("default")
    JobRecord.objects.filter(pk=bad.pk).update(run_at=timezone.now() - dt.timedelta(milliseconds=1))
    sweep()
    run_worker("default")
    names = [(name, kw["job_id"]) for name, kw in events]
    assert ("job_succeeded", ok.pk) in names
    assert [n for n, j in names if j == bad.pk] == ["job_failed", "job_retrying", "job_failed", "job_dead"]
    succeeded = next(kw for name, kw in events if name == "job_succeeded")
    assert succeeded["result"] == "done" and succeeded["task_name"] == "test.progress" and succeeded["queue"] == "default"
    assert [kw["percent"] for name, kw in events if name == "job_progress"] == [10, 50]


def test_cancelling_a_waiting_job_sends_the_signal(events):
    job = enqueue("test.count", delay=60)
    job_cancel(job.pk, actor="system:test")
    assert events == [
        (
            "job_cancelled",
            {
                "job_id": job.pk,
                "task_name": "test.count",
                "queue": "default",
                "attempt": 0,
                "while_running": False,
                "signal": signals.job_cancelled,
            },
        )
    ]
