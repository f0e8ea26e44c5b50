"""Delayed jobs start on time with real processes, and survive Redis losing its data."""

import datetime as dt

import pytest
from django.utils import timezone

from jobs.core.keys import SCHEDULER_ALIVE_KEY
from jobs.core.states import State
from jobs.models import JobRecord, WorkerHeartbeat
from jobs.ops.enqueue import enqueue
from jobs.ops.sweep import sweep
from jobs.transport.redis import get_redis
from tests.reliability.procs import Processes, finished, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_delayed_jobs_start_within_a_second_or_two_of_their_time():
    procs = Processes()
    try:
        procs.scheduler()
        procs.worker()
        # Timed from when both run, not from their start-up (seconds on a loaded machine).
        wait_for(
            lambda: WorkerHeartbeat.objects.exists() and get_redis().exists(SCHEDULER_ALIVE_KEY),
            timeout=60,
            message="worker and scheduler up",
        )
        delays = {}
        for delay in (2, 3, 4):
            job = enqueue("test.chaos", kwargs={"seconds": 0.01}, delay=delay)
            delays[job.pk] = (job.run_at, delay)
        assert set(JobRecord.objects.filter(pk__in=delays).values_list("state", flat=True)) == {State.SCHEDULED}
        wait_for(lambda: finished(list(JobRecord.objects.filter(pk__in=delays))), timeout=60, interval=0.1, message="the delayed jobs")
        for job in JobRecord.objects.filter(pk__in=delays):
            due, delay = delays[job.pk]
            assert job.state == State.SUCCEEDED
            assert job.started_at >= due - dt.timedelta(seconds=0.05), "started before its time"
            assert (job.started_at - due).total_seconds() < 2, f"started {(job.started_at - due).total_seconds():.2f}s late"
    finally:
        procs.stop_all()


def test_a_scheduled_job_survives_redis_losing_its_data(redis_db, run_worker):
    job = enqueue("test.count", delay=60)
    redis_db.flushdb()
    JobRecord.objects.filter(pk=job.pk).update(run_at=timezone.now() - dt.timedelta(milliseconds=1))
    assert sweep()["due"] == 1
    run_worker("default")
    assert JobRecord.objects.get(pk=job.pk).state == State.SUCCEEDED
