"""The job event stream (jobs.transport.events, jobs.ops.events): one event per attempt,
relayed from the attempt rows, once however often or by how many relays; progress and system
events as they happen; following and resuming from a position; trimming."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.core.keys import EVENTS_STREAM_KEY
from jobs.models import JobAttempt
from jobs.ops import events as relay
from jobs.ops.enqueue import enqueue
from jobs.transport import events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def started(redis_db):
    relay.relay()  # the first pass sets the cursor at the newest attempt: history is not replayed
    return redis_db


def test_each_attempt_is_one_event_with_what_a_follower_needs(started, run_worker):
    ok = enqueue("test.count", ["ev"])
    bad = enqueue("test.fail", ["ev-fail"])
    run_worker("default")
    assert relay.relay() == 2
    by_job = {e.job_id: e for e in events.read("0")}
    done, failed = by_job[str(ok.pk)], by_job[str(bad.pk)]
    assert (done.type, done.data["task"], done.data["queue"], done.data["attempt"], done.data["final"]) == (
        "completed",
        "test.count",
        "default",
        1,
        True,
    )
    assert done.data["state"] == "succeeded"
    assert (failed.type, failed.data["will_retry"], failed.data["final"]) == ("failed", True, False)
    assert failed.data["error"] == "ValueError: boom 1"


def test_relaying_again_or_twice_at_once_writes_nothing_twice(started, run_worker):
    for n in range(5):
        enqueue("test.count", [f"twice-{n}"])
    run_worker("default")
    assert relay.relay() == 5
    assert relay.relay() == 0
    # A second scheduler that read the same rows before the cursor moved: the dedupe holds.
    events.write_relayed([(a.pk, {"type": "completed"}) for a in JobAttempt.objects.all()], 0)
    assert len(events.read("0")) == 5


def test_a_gap_holds_the_cursor_until_it_settles_and_a_late_commit_is_still_relayed(started, run_worker):
    first = enqueue("test.count", ["gap-a"])
    run_worker("default")
    relay.relay()
    cursor = events.relay_cursor()
    # An attempt committed with an id above a hole (a lower id still in an open transaction).
    job = enqueue("test.count", ["gap-b"])
    run_worker("default")
    late = JobAttempt.objects.get(job=job)
    JobAttempt.objects.filter(pk=late.pk).update(id=late.pk + 5)
    assert relay.relay() == 1 and events.relay_cursor() == cursor  # written, but the cursor waits at the hole
    # The slow transaction commits its lower id now.
    JobAttempt.objects.create(id=late.pk + 2, job=first, number=2, started_at=timezone.now(), finished_at=timezone.now(), outcome="failed")
    assert relay.relay() == 1  # the late one; the one past the hole is not written twice
    assert len(events.read("0")) == 3
    # Once the rows past a hole are old enough, the hole is taken for a rollback and passed.
    assert relay.relay(now=timezone.now() + timedelta(seconds=10)) == 0 and events.relay_cursor() == late.pk + 5


def test_progress_and_system_events_are_published_as_they_happen(started, run_worker):
    events.publish("worker.lost", worker="w-1", unstarted_jobs=2)
    (event,) = events.read("0")
    assert (event.type, event.data) == ("worker.lost", {"worker": "w-1", "unstarted_jobs": 2})


def test_a_follower_resumes_after_its_last_position(started, run_worker):
    for n in range(3):
        enqueue("test.count", [f"resume-{n}"])
    run_worker("default")
    relay.relay()
    seen = events.read("0", count=2)
    position = seen[-1].stream_id  # saved by the follower, which then stops
    for n in range(2):
        enqueue("test.count", [f"resume-later-{n}"])
    run_worker("default")
    relay.relay()
    rest = list(_take(events.follow(position, block=0.1), 3))
    assert len(rest) == 3 and not {e.stream_id for e in rest} & {e.stream_id for e in seen}


def test_follow_from_now_sees_only_new_events(started):
    events.publish("schedule.failed", schedule="old")
    stream = events.follow("$", block=0.1)
    events.publish("schedule.failed", schedule="new")
    assert next(stream).data["schedule"] == "new"


def test_the_stream_is_trimmed_by_length(started, settings):
    settings.EVENT_STREAM_MAX_LENGTH = 100
    for n in range(400):
        events.publish("progress", n=n)
    assert started.xlen(EVENTS_STREAM_KEY) < 250  # approximate trimming: whole macro nodes


def _take(iterator, n):
    for _ in range(n):
        yield next(iterator)
