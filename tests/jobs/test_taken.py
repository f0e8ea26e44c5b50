"""What a worker took off Redis and has not finished: recorded by the pop itself (its taken
hash), released with the job, and handed back by the rescue when the worker died holding it;
a queued job in no list and held by no one is found by the sweep."""

import datetime as dt

import pytest
from django.utils import timezone
from rq import Queue

from jobs.core.keys import RUNNING_KEY, TAKEN_KEY
from jobs.core.states import State
from jobs.models import JobRecord, WorkerHeartbeat
from jobs.ops import sweep as sweep_module
from jobs.ops.enqueue import enqueue
from jobs.ops.sweep import sweep
from jobs.transport import flow
from jobs.worker import ConveyorWorker

pytestmark = pytest.mark.django_db(transaction=True)


def list_key(job):
    return f"rq:queue:{job.queue}"


def test_the_pop_records_the_job_as_taken_and_its_end_releases_it(redis_db):
    job = enqueue("test.nap_capped", kwargs={"seconds": 0})
    control = flow.FlowControl(redis_db, "w1")
    [(key, job_id)], _ = control.pop([(list_key(job), flow.limits_for("maintenance"))])
    assert job_id == str(job.pk)
    assert redis_db.hget(TAKEN_KEY.format("w1"), job_id) == b"maintenance"
    assert redis_db.zscore(RUNNING_KEY.format("maintenance"), job_id) is not None
    with redis_db.pipeline() as pipe:
        control.release(pipe, "maintenance", job_id)
        pipe.execute()
    assert not redis_db.exists(TAKEN_KEY.format("w1")) and not redis_db.zcard(RUNNING_KEY.format("maintenance"))


def test_a_job_taken_by_a_worker_later_lost_is_handed_back_and_its_slot_freed(redis_db, settings):
    job = enqueue("test.nap_capped", kwargs={"seconds": 0})
    flow.FlowControl(redis_db, "corpse").pop([(list_key(job), flow.limits_for("maintenance"))])
    long_ago = timezone.now() - dt.timedelta(seconds=settings.WORKER_LOST_AFTER + 5)
    WorkerHeartbeat.objects.create(name="corpse", hostname="h", pid=1, started_at=long_ago, last_seen=long_ago, queues=["maintenance"])
    redis_db.sadd("rq:workers", "rq:worker:corpse")

    counts = sweep()
    assert counts["rescued"] == 1  # handed back, then sent again in the same pass
    job.refresh_from_db()
    assert job.state == State.QUEUED and redis_db.lpos(list_key(job), str(job.pk)) is not None
    assert not redis_db.zcard(RUNNING_KEY.format("maintenance"))
    assert not redis_db.exists(TAKEN_KEY.format("corpse"))
    assert not WorkerHeartbeat.objects.filter(name="corpse").exists()  # dashboards list live workers only
    assert not redis_db.sismember("rq:workers", "rq:worker:corpse")


def test_a_live_workers_taken_jobs_are_left_alone(redis_db):
    job = enqueue("test.count")
    flow.FlowControl(redis_db, "alive").pop([(list_key(job), flow.limits_for("default"))])
    WorkerHeartbeat.objects.create(name="alive", hostname="h", pid=1, started_at=timezone.now(), last_seen=timezone.now())
    sweep()
    assert redis_db.hexists(TAKEN_KEY.format("alive"), str(job.pk))
    assert JobRecord.objects.get(pk=job.pk).state == State.QUEUED
    assert redis_db.lpos(list_key(job), str(job.pk)) is None  # not sent twice


def test_a_worker_taken_for_lost_registers_again(redis_db):
    """A live worker whose heartbeat row the rescue removed (the database was down long enough)
    writes it again instead of being rescued forever."""
    worker = ConveyorWorker([Queue("default", connection=redis_db)], connection=redis_db, slots=1)
    worker._started_stamp = timezone.now()
    worker._register_heartbeat()
    WorkerHeartbeat.objects.filter(name=worker.name).delete()
    worker._beat()
    assert WorkerHeartbeat.objects.filter(name=worker.name).exists()
    assert redis_db.sismember("rq:workers", worker.key)


def test_a_queued_job_in_no_list_and_held_by_no_one_is_sent_again(redis_db, monkeypatch):
    monkeypatch.setattr(sweep_module, "_last_stranded_check", float("-inf"))
    job = enqueue("test.count")
    redis_db.lrem(list_key(job), 0, str(job.pk))  # as if popped by a worker that died at once
    JobRecord.objects.filter(pk=job.pk).update(enqueued_at=timezone.now() - dt.timedelta(minutes=5))
    assert sweep()["lost"] == 1
    assert redis_db.lpos(list_key(job), str(job.pk)) is not None
    monkeypatch.setattr(sweep_module, "_last_stranded_check", float("-inf"))
    assert sweep()["lost"] == 0  # listed again: not stranded
