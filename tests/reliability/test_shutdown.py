"""Graceful shutdown of a real worker: SIGTERM finishes the running job and takes no new one;
past WORKER_SHUTDOWN_GRACE, or on a second signal, it stops and the job is retried at once."""

import signal
import time

import pytest

from jobs.core.states import State
from jobs.models import JobAttempt, JobRecord
from jobs.ops.enqueue import enqueue
from tests.reliability.procs import Processes, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def running(job):
    return JobRecord.objects.filter(pk=job.pk, state=State.RUNNING).exists()


@pytest.mark.parametrize("slots", [1, 4])
def test_sigterm_lets_the_running_jobs_finish_and_takes_no_new_one(slots):
    procs = Processes(WORKER_CONCURRENCY=str(slots))
    try:
        jobs = [enqueue("test.chaos", kwargs={"seconds": 1.5}) for _ in range(slots)]  # every slot busy
        worker = procs.worker()
        wait_for(lambda: all(running(job) for job in jobs), timeout=30, message="the jobs to start")
        later = enqueue("test.chaos", kwargs={"seconds": 0.01})
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
        assert {JobRecord.objects.get(pk=job.pk).state for job in jobs} == {State.SUCCEEDED}
        assert JobRecord.objects.get(pk=later.pk).state == State.QUEUED  # waits for the next worker
    finally:
        procs.stop_all()


@pytest.mark.parametrize("slots", [1, 4])
@pytest.mark.parametrize("second_signal", [False, True], ids=["grace-runs-out", "second-signal"])
def test_a_job_cut_short_by_shutdown_is_recorded_and_retried_at_once(second_signal, slots):
    procs = Processes(
        WORKER_CONCURRENCY=str(slots),
        WORKER_SHUTDOWN_GRACE="30" if second_signal else "1",
        WORKER_LOST_AFTER="60",
        WORKER_HEARTBEAT_INTERVAL="5",
    )
    try:
        job = enqueue("test.chaos", kwargs={"seconds": 60})
        worker = procs.worker()
        wait_for(lambda: running(job), timeout=30, message="the job to start")
        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        if second_signal:
            time.sleep(1.5)  # RQ ignores a repeat within one second
            worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        assert time.monotonic() - started < 10  # not the 60 s job, not the 60 s rescue
        job.refresh_from_db()
        assert job.state == State.RETRYING
        assert job.attempt_set.get().outcome == JobAttempt.Outcome.WORKER_LOST
    finally:
        procs.stop_all()
