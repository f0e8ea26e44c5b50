"""The rescue's bounds with the default heartbeat settings (2 s heartbeats, lost after 8 s):
a killed worker's jobs are retried within about ten seconds, and killing the workers that hold
a capped queue's slots faster than their leases expire neither breaks the cap nor stalls it."""

import os
import signal
import time

import pytest

from jobs.core.states import State
from jobs.models import JobAttempt, JobRecord, WorkerHeartbeat
from jobs.ops.enqueue import JobSpec, enqueue, enqueue_many
from tests.reliability.procs import Processes, finished, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

RETRY_AT_ONCE = {"kind": "fixed", "retries": 5, "delay": 0}  # the maintenance queue's own waits 60 s
DEFAULT_RECOVERY = {"WORKER_HEARTBEAT_INTERVAL": "2", "WORKER_LOST_AFTER": "8", "DISPATCH_INTERVAL": "1"}


def overlap(attempts) -> int:
    """The most of these attempts running at the same moment."""
    edges = sorted([(a.started_at, 1) for a in attempts] + [(a.finished_at, -1) for a in attempts], key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def busy_worker_pid(queue: str | None = None):
    running = JobRecord.objects.filter(state=State.RUNNING)
    if queue:
        running = running.filter(queue=queue)
    return WorkerHeartbeat.objects.filter(name__in=running.values("worker_name")).exclude(pid=0).values_list("pid", flat=True).first()


def test_a_killed_workers_job_is_retried_within_ten_seconds():
    procs = Processes(**DEFAULT_RECOVERY)
    try:
        job = enqueue("test.chaos", kwargs={"seconds": 60})
        procs.scheduler()
        procs.worker()
        victim = wait_for(busy_worker_pid, timeout=60, message="the job to start")
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        wait_for(
            lambda: JobAttempt.objects.filter(job_id=job.pk, outcome=JobAttempt.Outcome.WORKER_LOST).exists(),
            timeout=30,
            interval=0.1,
            message="the rescue",
        )
        rescued_after = time.monotonic() - killed
        print(f"rescued {rescued_after:.1f} s after the kill")
        assert rescued_after < 12  # WORKER_LOST_AFTER (8 s) after the last heartbeat, plus a sweep
    finally:
        procs.stop_all()


def test_kills_faster_than_the_slot_lease_keep_the_cap_and_do_not_stall_it():
    procs = Processes(**DEFAULT_RECOVERY)
    try:
        jobs = enqueue_many(
            [JobSpec("test.nap_capped", kwargs={"seconds": 0.5}, retry=RETRY_AT_ONCE) for _ in range(6)]
        )  # maintenance: cap 1
        procs.scheduler()
        for _ in range(2):
            procs.worker("maintenance")
        for _ in range(2):  # a kill every ~2 s, well inside the 8 s lease
            victim = wait_for(lambda: busy_worker_pid("maintenance"), timeout=60, message="a busy worker")
            os.kill(victim, signal.SIGKILL)
            WorkerHeartbeat.objects.filter(pid=victim).update(pid=0)
            procs.worker("maintenance")
            time.sleep(2)
        wait_for(lambda: finished(jobs), timeout=120, interval=0.2, message="every job to finish")
        assert set(JobRecord.objects.filter(pk__in=[j.pk for j in jobs]).values_list("state", flat=True)) == {State.SUCCEEDED}
        succeeded = JobAttempt.objects.filter(job__in=[j.pk for j in jobs], outcome=JobAttempt.Outcome.SUCCEEDED)
        assert succeeded.count() == len(jobs)
        # The cap held: no two successful runs overlapped (killed runs are cut short, not overlapping).
        assert overlap(list(succeeded)) == 1
    finally:
        procs.stop_all()
