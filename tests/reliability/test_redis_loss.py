"""Redis loses its data, or goes away and comes back, in the middle of a run."""

import pytest

from jobs.core.states import State
from jobs.models import JobRecord
from jobs.ops.enqueue import JobSpec, enqueue, enqueue_many
from jobs.transport.redis import reset_redis
from tests.reliability.procs import PrivateRedis, Processes, finished, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_flush_in_the_middle_of_a_run(processes, redis_db):
    jobs = enqueue_many([JobSpec("test.chaos", kwargs={"seconds": 0.05}) for _ in range(120)])
    processes.scheduler()
    processes.worker()
    processes.worker()
    wait_for(lambda: JobRecord.objects.filter(state=State.SUCCEEDED).count() >= 20, timeout=60, message="some progress")
    redis_db.flushdb()  # every queued job's id and RQ hash are gone
    wait_for(lambda: finished(jobs), timeout=90, interval=0.2, message="every job to finish after the flush")
    processes.assert_no_run_after_success(jobs)


def test_redis_stopped_and_restarted_during_a_run(settings):
    private = PrivateRedis()
    private.start()
    settings.REDIS_URL = private.url
    reset_redis()
    procs = Processes(redis_url=private.url)
    try:
        first = enqueue_many([JobSpec("test.chaos", kwargs={"seconds": 0.05}) for _ in range(30)])
        procs.scheduler()
        procs.worker()
        procs.worker()
        wait_for(lambda: JobRecord.objects.filter(state=State.SUCCEEDED).count() >= 5, timeout=60, message="some progress")

        private.stop()
        during = [enqueue("test.chaos", kwargs={"seconds": 0.05}) for _ in range(10)]  # the web side keeps accepting
        assert JobRecord.objects.filter(pk__in=[j.pk for j in during], state=State.PENDING).count() == 10
        wait_for(lambda: True, timeout=2)

        private.start()  # empty: it kept nothing
        wait_for(lambda: finished(first + during), timeout=90, interval=0.2, message="every job to finish after the restart")
        procs.assert_no_run_after_success(first + during)
        assert not procs.dead(), f"a worker or scheduler died while Redis was down:\n{procs.dead()}"
    finally:
        procs.stop_all()
        reset_redis()
        private.close()
