"""The event stream under kill -9: real workers killed mid-job, a real scheduler relaying, a
follower that stops and resumes from its saved position. Every attempt the database recorded
reaches the follower exactly once (none lost, none twice), and every job's end is there."""

import os
import random
import signal

import pytest

from jobs.core.states import State
from jobs.models import JobAttempt, JobRecord, WorkerHeartbeat
from jobs.ops import events as relay
from jobs.ops.enqueue import JobSpec, enqueue_many
from jobs.transport import events
from tests.reliability.procs import finished, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
KILLS = 6


@pytest.mark.parametrize("processes", [4], indirect=True, ids=["4-slots"])
def test_no_event_lost_or_doubled_when_workers_die_and_the_follower_resumes(processes):
    relay.relay()  # the cursor starts at now
    start = events.relay_cursor()
    jobs = enqueue_many([JobSpec("test.chaos", kwargs={"seconds": 0.2}) for _ in range(120)])
    processes.scheduler()
    for _ in range(2):
        processes.worker()
    rng = random.Random(7)
    received, position = [], "0"

    def catch_up():
        nonlocal position
        for _ in range(rng.randint(1, 3)):  # a few reads, then the follower "restarts" from its position
            batch = events.read(position, count=rng.randint(5, 40), block=0.05)
            if batch:
                received.extend(batch)
                position = batch[-1].stream_id

    kills = 0
    while kills < KILLS:
        victim = wait_for(
            lambda: (
                WorkerHeartbeat.objects.filter(name__in=JobRecord.objects.filter(state=State.RUNNING).values("worker_name"))
                .exclude(pid=0)
                .values_list("pid", flat=True)
                .first()
            ),
            timeout=30,
            message="a busy worker",
        )
        os.kill(victim, signal.SIGKILL)
        WorkerHeartbeat.objects.filter(pid=victim).update(pid=0)
        kills += 1
        processes.worker()
        catch_up()
    wait_for(lambda: finished(jobs), timeout=180, interval=0.2, message="every job to finish")
    attempts = set(JobAttempt.objects.filter(id__gt=start).values_list("job_id", "number"))

    def all_received():
        catch_up()
        return {(e.job_id, e.data.get("attempt")) for e in received if e.job_id} >= {(str(j), n) for j, n in attempts}

    wait_for(all_received, timeout=60, interval=0.3, message="the follower to receive every attempt's event")
    job_events = [e for e in received if e.job_id]
    pairs = [(e.job_id, e.data["attempt"]) for e in job_events]
    assert len(pairs) == len(set(pairs)) == len(attempts), "an attempt's event was lost or doubled"
    assert len({e.stream_id for e in received}) == len(received)
    completed = {e.job_id for e in job_events if e.type == "completed" and e.data["final"]}
    assert completed == {str(j.pk) for j in jobs}
    assert sum(1 for e in job_events if e.data["outcome"] == "worker_lost") >= KILLS // 2
