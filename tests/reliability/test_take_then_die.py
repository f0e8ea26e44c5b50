"""A worker killed after it took jobs off Redis and before it claimed their rows: what it
held comes back (its taken hash), and its concurrency slots are released by the rescue."""

import time

import pytest

from jobs.core.keys import RUNNING_KEY, TAKEN_KEY
from jobs.core.states import State
from jobs.models import JobRecord, WorkerHeartbeat
from jobs.ops.enqueue import enqueue
from jobs.transport.redis import get_redis
from tests.reliability.procs import Processes, finished, wait_for
from tests.sample_tasks import runs

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("slots", [1, 4])
def test_a_job_taken_by_a_worker_killed_before_its_claim_is_run_once(processes, slots):
    job = enqueue("test.count", kwargs={"key": "taken"})
    faulty = Processes(
        CONVEYOR_TASK_MODULES="tests.sample_tasks,tests.faults", CONVEYOR_TEST_DIE_AFTER_TAKE="1", WORKER_CONCURRENCY=str(slots)
    )
    try:
        victim = faulty.worker()
        victim.wait(timeout=30)
        name = WorkerHeartbeat.objects.get(pid=victim.pid).name
        assert get_redis().hexists(TAKEN_KEY.format(name), str(job.pk))  # taken, then the worker died
        assert JobRecord.objects.get(pk=job.pk).state == State.QUEUED
    finally:
        faulty.stop_all()
    died = time.monotonic()
    processes.scheduler()
    processes.worker()
    wait_for(lambda: finished([job]), timeout=30, message="the job to finish")
    assert JobRecord.objects.get(pk=job.pk).state == State.SUCCEEDED and runs("taken") == 1
    assert time.monotonic() - died < 20
    wait_for(lambda: not WorkerHeartbeat.objects.filter(name=name).exists(), timeout=10, message="the dead worker forgotten")
    assert not get_redis().exists(TAKEN_KEY.format(name))


def test_a_dead_workers_slots_are_released_by_the_rescue(processes):
    """A capped queue (maintenance: 1 at a time) whose slot a killed worker held: the next job
    starts when the rescue runs, not when the lease would have expired."""
    job = enqueue("test.nap_capped", kwargs={"seconds": 0.1})
    faulty = Processes(CONVEYOR_TASK_MODULES="tests.sample_tasks,tests.faults", CONVEYOR_TEST_DIE_AFTER_TAKE="1")
    try:
        faulty.worker("maintenance").wait(timeout=30)
    finally:
        faulty.stop_all()
    assert get_redis().zcard(RUNNING_KEY.format("maintenance")) == 1  # the corpse's lease
    processes.scheduler()
    processes.worker("maintenance")
    wait_for(lambda: finished([job]), timeout=30, message="the job to finish")
    assert JobRecord.objects.get(pk=job.pk).state == State.SUCCEEDED
    # The slot's Redis release follows the success commit (decision 45): wait for it, not race it.
    wait_for(lambda: get_redis().zcard(RUNNING_KEY.format("maintenance")) == 0, timeout=10, message="the slot's release")
