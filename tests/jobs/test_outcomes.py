"""What a task can say besides "it failed" (jobs.core.outcomes): a permanent failure is not
retried, RetryLater waits at least what it asks, and Defer waits without costing an attempt."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.core.outcomes import MAXIMUM_WAIT, Defer, RetryLater
from jobs.core.states import State
from jobs.models import JobAttempt, JobRecord
from jobs.ops.enqueue import enqueue
from jobs.ops.sweep import sweep
from tests.sample_tasks import runs

pytestmark = pytest.mark.django_db(transaction=True)


def _run_due(run_worker):
    JobRecord.objects.filter(state=State.RETRYING).update(run_at=timezone.now())
    sweep()
    run_worker("default")


def test_a_permanent_failure_goes_to_the_dead_letter_queue_at_once(run_worker):
    job = enqueue("test.outcome", ["permanent"])  # its policy would retry 3 times
    run_worker("default")
    job.refresh_from_db()
    assert (job.state, job.attempts, runs("outcome-permanent")) == (State.DEAD, 1, 1)
    assert job.last_error == "PermanentFailure: the number does not exist"
    assert JobAttempt.objects.get(job=job).outcome == JobAttempt.Outcome.FAILED


def test_retry_later_waits_at_least_what_it_asks_and_counts_an_attempt(run_worker):
    job = enqueue("test.outcome", ["later", 30])
    before = timezone.now()
    run_worker("default")
    job.refresh_from_db()
    assert (job.state, job.attempts) == (State.RETRYING, 1)
    assert job.run_at >= before + timedelta(seconds=30)  # the policy alone would say 2 s


def test_the_policy_delay_wins_when_it_is_the_longer(run_worker):
    job = enqueue("test.outcome", ["later", 0])
    before = timezone.now()
    run_worker("default")
    job.refresh_from_db()
    assert job.state == State.RETRYING
    assert before + timedelta(seconds=1) <= job.run_at <= before + timedelta(seconds=10)  # 2 s, with jitter


def test_retry_later_still_ends_when_the_retries_are_used_up(run_worker):
    job = enqueue("test.outcome", ["later", 1])
    for _ in range(4):
        _run_due(run_worker) if job.attempts else run_worker("default")
        job.refresh_from_db()
    assert (job.state, job.attempts) == (State.DEAD, 4)


def test_a_deferral_waits_and_costs_no_attempt(run_worker):
    job = enqueue("test.outcome", ["defer", 12])
    before = timezone.now()
    for _ in range(6):  # more deferrals than the policy has attempts: none of them counts
        last = timezone.now()  # the last deferral's wait starts after this
        _run_due(run_worker) if runs("outcome-defer") else run_worker("default")
    job.refresh_from_db()
    assert runs("outcome-defer") == 6
    assert (job.state, job.attempts, job.total_attempts) == (State.RETRYING, 0, 6)
    assert job.run_at >= last + timedelta(seconds=12)  # not against the clock after the run (slow under load)
    assert job.run_at >= before
    outcomes = list(JobAttempt.objects.filter(job=job).order_by("number").values_list("number", "outcome"))
    assert outcomes == [(n, JobAttempt.Outcome.DEFERRED) for n in range(1, 7)]


@pytest.mark.parametrize("after", [-1, float("nan"), "5", True])
def test_a_wait_must_be_seconds(after):
    with pytest.raises(ValueError, match="after must be a number of seconds"):
        Defer("x", after=after)


def test_a_wait_is_kept_within_bounds():
    assert RetryLater("x", after=10 * 86400).after == MAXIMUM_WAIT
