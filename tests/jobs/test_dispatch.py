"""Redis is the transport, not the record: outages and data loss lose no job and repeat none."""

import datetime as dt
import socket

import pytest
from django.utils import timezone

from jobs.core.states import State
from jobs.models import JobRecord
from jobs.ops.enqueue import JobSpec, enqueue, enqueue_many
from jobs.ops.sweep import SWEEP_GRACE, sweep
from jobs.transport.redis import reset_redis
from tests.sample_tasks import runs

pytestmark = pytest.mark.django_db(transaction=True)


def dead_redis_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"  # nothing listens here once the socket closes


def soon():
    return timezone.now() + SWEEP_GRACE + dt.timedelta(seconds=1)


def test_redis_down_at_enqueue_then_back_runs_once(settings, run_worker):
    real_url = settings.REDIS_URL
    settings.REDIS_URL = dead_redis_url()
    reset_redis()
    job = enqueue("test.count", kwargs={"key": "outage"})  # no exception for the caller
    bulk = enqueue_many([JobSpec("test.count", kwargs={"key": "outage-bulk"}) for _ in range(3)])
    assert set(JobRecord.objects.values_list("state", flat=True)) == {State.PENDING}
    assert sweep(now=soon()) == {"pending": 0, "due": 0, "lost": 0, "rescued": 0}  # still down: nothing moves

    settings.REDIS_URL = real_url
    reset_redis()
    assert sweep(now=soon())["pending"] == 4
    run_worker("default")
    assert runs("outage") == 1 and runs("outage-bulk") == 3
    assert set(JobRecord.objects.values_list("state", flat=True)) == {State.SUCCEEDED}
    sweep(now=soon())
    run_worker("default")
    assert runs("outage") == 1  # nothing ran again
    assert job.pk and len(bulk) == 3


def test_fresh_pending_rows_are_left_to_their_own_commit_hook():
    JobRecord.objects.create(task_name="test.count", queue="default", timeout=5)
    assert sweep()["pending"] == 0
    assert sweep(now=soon())["pending"] == 1


def test_redis_flush_redispatches_waiting_jobs_and_never_finished_ones(redis_db, run_worker):
    done = enqueue("test.count", kwargs={"key": "done"})
    run_worker("default")
    waiting = [enqueue("test.count", kwargs={"key": "lost"}) for _ in range(3)]
    redis_db.flushdb()  # Redis restarted without persistence

    counts = sweep(now=soon())
    assert counts["lost"] == 3 and counts["pending"] == 3
    run_worker("default")
    assert runs("lost") == 3 and runs("done") == 0  # the counter was flushed too: "done" never ran again
    assert JobRecord.objects.filter(pk__in=[w.pk for w in waiting], state=State.SUCCEEDED).count() == 3
    done.refresh_from_db()
    assert done.state == State.SUCCEEDED and done.total_attempts == 1


def test_queued_jobs_still_in_redis_are_left_alone(redis_db):
    enqueue("test.count")
    assert sweep(now=soon()) == {"pending": 0, "due": 0, "lost": 0, "rescued": 0}
