"""ENQUEUE_PUSH=background: the push after an enqueue's commit runs on the process's hand-off
thread. The caller never waits on Redis; nothing handed over is lost (pushed, handed back to
pending when Redis refuses, drained at exit, or re-sent by the sweep after a kill)."""

import signal
import subprocess
import sys
import threading
import time

import pytest
from django.db import connections
from rq import Queue

import jobs.ops.sweep as sweeping
from jobs.core.states import State
from jobs.models import JobRecord
from jobs.ops.enqueue import JobSpec, enqueue, enqueue_many
from jobs.ops.sweep import sweep
from jobs.transport import handoff
from jobs.transport.redis import reset_redis
from tests.jobs.test_dispatch import dead_redis_url, soon
from tests.reliability.procs import ROOT, Processes
from tests.sample_tasks import runs

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def background(settings):
    settings.ENQUEUE_PUSH = "background"
    yield
    assert handoff.flush(10), "the hand-off thread did not drain"


def test_jobs_reach_redis_in_order_after_the_commit(background, redis_db, run_worker):
    jobs = [enqueue("test.count", kwargs={"key": "bg"}) for _ in range(20)]
    jobs += enqueue_many([JobSpec("test.count", kwargs={"key": "bg"}) for _ in range(30)])
    assert handoff.flush(10)
    assert Queue("default", connection=redis_db).job_ids == [str(j.pk) for j in jobs]
    run_worker("default")
    assert runs("bg") == 50
    assert set(JobRecord.objects.values_list("state", flat=True)) == {State.SUCCEEDED}


def test_many_threads_enqueueing_at_once_lose_nothing(background, redis_db):
    def produce():
        try:
            for _ in range(25):
                enqueue("test.count", kwargs={"key": "threads"})
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=produce) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert handoff.flush(10)
    assert sorted(Queue("default", connection=redis_db).job_ids) == sorted(str(pk) for pk in JobRecord.objects.values_list("pk", flat=True))
    assert JobRecord.objects.count() == 100


def test_redis_down_the_caller_does_not_wait_and_the_rows_go_back_to_pending(background, settings, run_worker):
    real_url = settings.REDIS_URL
    settings.REDIS_URL = dead_redis_url()
    reset_redis()
    started = time.monotonic()
    job = enqueue("test.count", kwargs={"key": "down"})
    assert time.monotonic() - started < 0.5  # the commit, not a connection attempt
    assert handoff.flush(30)
    assert JobRecord.objects.get(pk=job.pk).state == State.PENDING  # handed back, for the sweep

    settings.REDIS_URL = real_url
    reset_redis()
    assert sweep(now=soon())["pending"] == 1
    run_worker("default")
    assert runs("down") == 1


def test_a_failing_push_does_not_stop_the_thread():
    pushed, calls = [], []

    def push(records):
        calls.append(len(records))
        if len(calls) == 1:
            raise RuntimeError("boom")
        pushed.extend(records)

    h = handoff.Handoff(push)
    h.submit(["a"])
    assert h.flush(5)
    h.submit(["b", "c"])
    assert h.flush(5)
    assert pushed == ["b", "c"]


def test_back_pressure_when_redis_does_not_keep_up(monkeypatch):
    gate, inline = threading.Event(), []

    def push(records):
        if threading.current_thread().name == "conveyor-handoff":
            gate.wait(5)
        else:
            inline.extend(records)

    monkeypatch.setattr(handoff, "HANDOFF_MAX_WAITING", 3)
    h = handoff.Handoff(push)
    h.submit(["first"])  # taken by the thread, which now hangs
    time.sleep(0.1)
    h.submit(["a", "b", "c"])  # waiting: 3
    h.submit(["d"])  # over the bound: pushed by the caller
    assert inline == ["d"]
    gate.set()
    assert h.flush(5)


def test_a_forked_child_starts_its_own_thread():
    h = handoff.Handoff(lambda records: None)
    h.submit(["x"])
    assert h.flush(5) and h._thread is not None
    h._reset()  # what os.register_at_fork runs in the child
    assert h._thread is None and not h._waiting
    h.submit(["y"])
    assert h.flush(5)


def test_a_process_that_exits_at_once_pushes_what_it_enqueued(redis_db):
    procs = Processes(ENQUEUE_PUSH="background")
    out = subprocess.run(
        [sys.executable, "manage.py", "enqueue_job", "test.count", "--count", "40"],
        cwd=ROOT,
        env=procs.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert JobRecord.objects.count() == 40
    assert sorted(Queue("default", connection=redis_db).job_ids) == sorted(str(pk) for pk in JobRecord.objects.values_list("pk", flat=True))


KILLED_BEFORE_PUSH = """
import os, sys, time
import django
django.setup()
from jobs.transport import dispatch
dispatch.push = lambda rows, fresh=False: time.sleep(3600)  # Redis never hears of them
from jobs.ops.enqueue import enqueue
for _ in range(5):
    enqueue("test.count", kwargs={"key": "killed"})
print("committed", flush=True)
time.sleep(3600)
"""


def test_rows_of_a_process_killed_before_its_push_are_sent_by_the_sweep(redis_db, run_worker):
    procs = Processes(ENQUEUE_PUSH="background", CONVEYOR_TASK_MODULES="tests.sample_tasks")
    proc = subprocess.Popen([sys.executable, "-c", KILLED_BEFORE_PUSH], cwd=ROOT, env=procs.env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "committed"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert JobRecord.objects.filter(state=State.QUEUED).count() == 5
    assert Queue("default", connection=redis_db).count == 0
    assert sweep(now=soon())["lost"] == 5
    run_worker("default")
    assert runs("killed") == 5


def test_rows_lost_behind_a_long_backlog_are_found_at_once(redis_db, monkeypatch):
    """The sweep's lost check reads the oldest batch of queued rows past the grace period and,
    when that batch is full, the newest too: a row lost in the last seconds is not left until
    the backlog ahead of it drains."""
    monkeypatch.setattr(sweeping, "SWEEP_BATCH", 5)
    sweep()  # the epoch key: from here on only the batches are checked
    backlog = [enqueue("test.count", kwargs={"key": "backlog"}) for _ in range(12)]  # in Redis, waiting
    lost = enqueue("test.count", kwargs={"key": "lost"})
    redis_db.delete(f"rq:job:{lost.pk}")  # as if its process died before the push
    redis_db.lrem("rq:queue:default", 0, str(lost.pk))
    assert sweep(now=soon())["lost"] == 1
    assert JobRecord.objects.get(pk=lost.pk).state == State.QUEUED and redis_db.exists(f"rq:job:{lost.pk}")
    assert all(JobRecord.objects.get(pk=j.pk).state == State.QUEUED for j in backlog)


def test_rows_arriving_back_to_back_share_a_push_and_a_row_after_a_quiet_spell_waits_for_nothing():
    """ENQUEUE_PUSH_LINGER: a row that comes within the linger of the thread's last push waits
    the linger for company; one after a quiet spell (or the first) is pushed at once."""
    batches = []
    h = handoff.Handoff(lambda records: batches.append(list(records)), linger=0.5)
    h.submit(["first"])
    assert h.flush(0.25), "the first row waited for the linger"
    h.submit(["a"])  # well within the linger of the last push: waits, and the next two join it
    h.submit(["b"])
    h.submit(["c"])
    assert h.flush(2)
    assert batches == [["first"], ["a", "b", "c"]]
    time.sleep(0.6)  # a quiet spell longer than the linger
    h.submit(["late"])
    assert h.flush(0.25), "a row after a quiet spell waited for the linger"
    assert batches[-1] == ["late"]
