"""Workers and a Redis that goes away: a worker started while Redis is down waits for it (it
does not exit), and idle workers resume within about a second of Redis answering again."""

import time

import pytest

from jobs.core.states import State
from jobs.models import JobRecord, WorkerHeartbeat
from jobs.ops.enqueue import enqueue
from jobs.transport.redis import reset_redis
from tests.reliability.procs import Processes, finished, wait_for
from tests.reliability.test_redis_loss import PrivateRedis

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def private_redis(settings):
    private = PrivateRedis()
    settings.REDIS_URL = private.url
    reset_redis()
    yield private
    reset_redis()
    private.close()


def test_a_worker_started_while_redis_is_down_waits_and_then_works(private_redis):
    procs = Processes(redis_url=private_redis.url)
    try:
        worker = procs.worker()
        time.sleep(3)
        assert worker.poll() is None, f"the worker exited while Redis was down:\n{procs.dead()}"
        private_redis.start()
        job = enqueue("test.count", kwargs={"key": "late-start"})
        procs.scheduler()
        wait_for(lambda: finished([job]), timeout=30, message="the job to run once Redis answers")
        assert JobRecord.objects.get(pk=job.pk).state == State.SUCCEEDED
    finally:
        procs.stop_all()


def test_idle_workers_resume_within_a_second_or_so_of_redis_coming_back(private_redis):
    private_redis.start()
    procs = Processes(redis_url=private_redis.url)
    try:
        procs.scheduler()  # re-sends a job whose push met the outage
        procs.worker()
        procs.worker()
        wait_for(lambda: WorkerHeartbeat.objects.count() == 2, timeout=30, message="two workers up")
        private_redis.stop()
        time.sleep(6)  # long enough for a doubling back-off to have grown past 4 s
        private_redis.start()
        back = time.monotonic()
        job = enqueue("test.count", kwargs={"key": "after-outage"})  # pushed at once, on commit
        wait_for(lambda: JobRecord.objects.filter(pk=job.pk, state=State.SUCCEEDED).exists(), timeout=30, message="the job")
        # The old doubling back-off left workers asleep 11-12 s; now they poll every second.
        assert time.monotonic() - back < 5
        assert not procs.dead()
    finally:
        procs.stop_all()
