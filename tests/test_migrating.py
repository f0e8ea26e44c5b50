"""docs/migrating.md's mappings, run: each row's Conveyor side does what the row says."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

import tests.migrating_tasks  # noqa: F401  (registers the examples' tasks)
from jobs.core.queues import Priority
from jobs.core.states import State
from jobs.models import JobRecord
from jobs.ops.enqueue import enqueue
from jobs.ops.sweep import sweep
from tests import standard_tasks
from tests.sample_tasks import runs

pytestmark = pytest.mark.django_db(transaction=True)
DOC = (Path(__file__).resolve().parents[1] / "docs" / "migrating.md").read_text()


def test_enqueue_now_later_and_at_a_time(run_worker):
    now = enqueue("reports.build_example", [7])  # django_rq.enqueue(build, 7) / build.delay(7)
    later = enqueue("reports.build_example", [8], delay=300)  # enqueue_in(timedelta(minutes=5), ...) / countdown=300
    when = timezone.now() + timedelta(hours=1)
    at = enqueue("reports.build_example", [9], run_at=when)  # enqueue_at(when, ...) / eta=when
    assert (now.state, later.state, at.state) == (State.QUEUED, State.SCHEDULED, State.SCHEDULED)
    assert timedelta(seconds=299) < later.run_at - later.created_at <= timedelta(seconds=301) and at.run_at == when
    run_worker("reports")
    now.refresh_from_db()
    assert now.state == State.SUCCEEDED and now.result == {"report": 7} and now.progress == 100 and runs("build-7") == 1
    assert runs("build-8") == runs("build-9") == 0


def test_queue_priority_timeout_and_retry_per_call():
    job = enqueue(
        "mail.send_example",
        [7],
        queue="notifications",  # apply_async(queue=...)
        priority=Priority.LOW,  # apply_async(priority=9) on Celery's Redis transport
        timeout=30,  # job_timeout / time_limit
        retry={"kind": "fixed", "retries": 3, "delay": 30},  # Retry(max=3, interval=30)
    )
    assert (job.queue, job.priority, job.timeout, job.max_attempts) == ("notifications", Priority.LOW, 30, 4)
    assert enqueue("reports.build_example", [1]).timeout == 600  # @task(timeout=600)


@pytest.mark.parametrize(
    "mode, state, attempts, wait",
    [
        ("flaky", State.RETRYING, 1, (1, 10)),  # autoretry_for: the policy's 2 s (with jitter)
        ("throttled", State.RETRYING, 1, (59, 61)),  # self.retry(countdown=60)
        ("bounced", State.DEAD, 1, None),  # Reject(requeue=False)
    ],
)
def test_celerys_retry_idioms(run_worker, mode, state, attempts, wait):
    job = enqueue("mail.send_example", [7], {"mode": mode})
    run_worker("emails")
    job.refresh_from_db()
    assert (job.state, job.attempts) == (state, attempts)
    if wait:
        assert timedelta(seconds=wait[0]) <= job.run_at - job.finished_at <= timedelta(seconds=wait[1])


def test_the_policy_ends_in_the_dead_letter_queue(run_worker):
    job = enqueue("mail.send_example", [7], {"mode": "flaky"})  # max_retries=3
    for _ in range(5):
        JobRecord.objects.filter(state=State.RETRYING).update(run_at=timezone.now())
        sweep()
        run_worker("emails")
    job.refresh_from_db()
    assert (job.state, job.attempts) == (State.DEAD, 4)


def test_standard_api_code_runs_unchanged(run_worker):
    result = standard_tasks.add.enqueue(20, 22)
    run_worker("default")
    result.refresh()
    assert result.return_value == 42


def test_the_doc_names_what_exists():
    for name in (
        "import_rq_schedules",
        "conveyor_worker",
        "conveyor_scheduler",
        "RetryLater",
        "PermanentFailure",
        "DefaultSchedule",
        "QUEUE_OVERRIDES",
    ):
        assert name in DOC
