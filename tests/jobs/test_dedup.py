"""Duplicate detection: one active job per dedup key, decided by the database."""

import subprocess
import sys

import pytest
from rq import Queue

from jobs.core.errors import InvalidJob, JobStateError
from jobs.core.states import State
from jobs.models import JobRecord
from jobs.ops.control import job_requeue
from jobs.ops.enqueue import JobSpec, enqueue, enqueue_many
from tests.reliability.procs import ROOT, Processes

pytestmark = pytest.mark.django_db(transaction=True)


def test_same_key_returns_the_active_job(redis_db):
    first = enqueue("test.count", dedup_key="report:2026-11")
    second = enqueue("test.count", dedup_key="report:2026-11")
    assert second.pk == first.pk and second.deduplicated and not getattr(first, "deduplicated", False)
    assert JobRecord.objects.count() == 1
    assert Queue("default", connection=redis_db).count == 1


def test_task_derives_its_key_and_the_window_closes_when_the_job_ends(run_worker):
    first = enqueue("test.per_user", [42])
    assert first.dedup_key == "user analytics for user 42"
    assert enqueue("test.per_user", [42]).pk == first.pk
    assert enqueue("test.per_user", [43]).pk != first.pk
    run_worker("analytics")
    again = enqueue("test.per_user", [42])  # the first succeeded: a new one is allowed
    assert again.pk != first.pk and not getattr(again, "deduplicated", False)


def test_a_retrying_job_still_holds_its_key(run_worker):
    failing = enqueue("test.fail", dedup_key="k")
    run_worker("default")
    assert JobRecord.objects.get(pk=failing.pk).state == State.RETRYING
    assert enqueue("test.fail", dedup_key="k").pk == failing.pk


def test_bulk_enqueue_deduplicates_within_the_call_and_against_existing():
    existing = enqueue("test.per_user", [1])
    jobs = enqueue_many([JobSpec("test.per_user", [uid]) for uid in (1, 2, 2, 3, 4)])
    assert jobs[0].pk == existing.pk and jobs[0].deduplicated
    assert jobs[1].pk == jobs[2].pk
    assert len({j.pk for j in jobs}) == 4  # existing, 2, 3 and 4
    assert JobRecord.objects.count() == 4


def test_requeue_is_refused_while_another_job_holds_the_key(run_worker):
    dead = enqueue("test.fail", dedup_key="k", retry={"kind": "fixed", "retries": 0, "delay": 0})
    run_worker("default")
    active = enqueue("test.count", dedup_key="k")
    with pytest.raises(JobStateError, match=str(active.pk)):
        job_requeue(dead.pk, actor="test")
    assert JobRecord.objects.get(pk=dead.pk).state == State.DEAD


@pytest.mark.parametrize("key", ["", "x" * 256, 42])
def test_bad_dedup_keys_are_rejected(key):
    with pytest.raises(InvalidJob) as info:
        enqueue("test.count", dedup_key=key)
    assert info.value.field == "dedup_key" and JobRecord.objects.count() == 0


def test_producers_racing_in_separate_processes_create_one_job():
    env = Processes().env
    producers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "enqueue_job", "test.count", "--dedup-key", "race", "--count", "25"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in producers]
    assert all(p.returncode == 0 for p in producers), outputs
    assert JobRecord.objects.filter(dedup_key="race").count() == 1
    ids = {out.split("last job id ")[1].split()[0] for out, _ in outputs}
    assert ids == {str(JobRecord.objects.get(dedup_key="race").pk)}
