"""Flow control at dequeue time, with an in-process worker: priorities, pause, caps, rate limits."""

import datetime as dt
import random
import time

import pytest
import redis
from django.core.management import call_command
from django.utils import timezone
from redis.exceptions import DataError

from audit.models import AuditEntry
from jobs.core import keys
from jobs.core.errors import InvalidJob
from jobs.core.queues import Priority, queue_names, tiered_rq_names
from jobs.core.states import State
from jobs.models import JobRecord, QueueState
from jobs.ops.control import queue_pause, queue_resume
from jobs.ops.enqueue import JobSpec, enqueue, enqueue_many
from jobs.ops.sweep import SWEEP_GRACE, sweep
from jobs.transport.flow import FlowControl, PackedArgs, _resp_bulk, limits_for, pop_args

pytestmark = pytest.mark.django_db(transaction=True)


def with_queue(settings, name, **changes):
    queues = dict(settings.CONVEYOR_QUEUES)
    queues[name] = {**queues[name], **changes}
    settings.CONVEYOR_QUEUES = queues


def test_thousand_mixed_jobs_start_in_tier_order(run_worker):
    queue_pause("default", actor="test")
    rng = random.Random(5)
    enqueue_many([JobSpec("test.count", kwargs={"key": "p"}, priority=rng.choice(list(Priority))) for _ in range(1000)])
    run_worker("default")
    assert JobRecord.objects.filter(state=State.QUEUED).count() == 1000  # paused: nothing started

    queue_resume("default", actor="test")
    run_worker("default")
    order = list(JobRecord.objects.order_by("started_at").values_list("priority", flat=True))
    assert len(order) == 1000 and order == sorted(order)
    assert set(JobRecord.objects.values_list("state", flat=True)) == {State.SUCCEEDED}


def test_pausing_one_queue_leaves_the_others_running_and_survives_redis_loss(run_worker, redis_db, django_user_model):
    staff = django_user_model.objects.create_user("ops", is_staff=True)
    queue_pause("payouts", actor=staff, reason="provider incident")
    held = enqueue("test.count", kwargs={"key": "held"}, queue="payouts")
    other = enqueue("test.count", kwargs={"key": "other"})
    run_worker("payouts", "default")
    assert JobRecord.objects.get(pk=other.pk).state == State.SUCCEEDED
    assert JobRecord.objects.get(pk=held.pk).state == State.QUEUED

    redis_db.flushdb()  # the paused flag is in the database: the sweep mirrors it back
    assert sweep(now=timezone.now() + SWEEP_GRACE + dt.timedelta(seconds=1))["lost"] == 1
    assert redis_db.sismember(keys.PAUSED_KEY, "payouts")
    run_worker("payouts", "default")
    assert JobRecord.objects.get(pk=held.pk).state == State.QUEUED

    queue_resume("payouts", actor=staff)
    run_worker("payouts", "default")
    assert JobRecord.objects.get(pk=held.pk).state == State.SUCCEEDED
    assert list(AuditEntry.objects.filter(object_type="queue").order_by("created_at").values_list("action", "actor")) == [
        ("queue.pause", staff.pk),
        ("queue.resume", staff.pk),
    ]
    assert QueueState.objects.get(name="payouts").paused is False


def test_unknown_queue_cannot_be_paused():
    with pytest.raises(InvalidJob) as info:
        queue_pause("nope", actor="test")
    assert info.value.field == "queue"


def test_rate_limited_jobs_wait_without_failing_or_using_attempts(settings, run_worker):
    with_queue(settings, "default", rate_limit=(3, 60))
    jobs = [enqueue("test.count") for _ in range(5)]
    run_worker("default")
    states = [JobRecord.objects.get(pk=j.pk) for j in jobs]
    assert [j.state for j in states].count(State.SUCCEEDED) == 3
    waiting = [j for j in states if j.state != State.SUCCEEDED]
    assert len(waiting) == 2 and all(j.state == State.QUEUED and j.attempts == 0 for j in waiting)


def test_rate_window_slides(settings, run_worker):
    with_queue(settings, "default", rate_limit=(2, 0.5))
    for _ in range(4):
        enqueue("test.count")
    run_worker("default")
    assert JobRecord.objects.filter(state=State.SUCCEEDED).count() == 2
    time.sleep(0.6)
    run_worker("default")
    assert JobRecord.objects.filter(state=State.SUCCEEDED).count() == 4


def test_capped_queue_makes_the_worker_take_other_work(settings, run_worker, redis_db):
    with_queue(settings, "payouts", concurrency=1)
    redis_db.zadd(keys.RUNNING_KEY.format("payouts"), {"job-on-another-worker": time.time() + 60})
    capped = enqueue("test.count", queue="payouts", priority=Priority.CRITICAL)
    other = enqueue("test.count", priority=Priority.LOW)
    run_worker("payouts", "default")
    assert JobRecord.objects.get(pk=other.pk).state == State.SUCCEEDED
    assert JobRecord.objects.get(pk=capped.pk).state == State.QUEUED

    redis_db.zrem(keys.RUNNING_KEY.format("payouts"), "job-on-another-worker")
    run_worker("payouts", "default")
    assert JobRecord.objects.get(pk=capped.pk).state == State.SUCCEEDED
    assert redis_db.zcard(keys.RUNNING_KEY.format("payouts")) == 0  # the slot was released


def test_expired_lease_of_a_dead_worker_frees_the_slot(settings, run_worker, redis_db):
    with_queue(settings, "payouts", concurrency=1)
    redis_db.zadd(keys.RUNNING_KEY.format("payouts"), {"dead-workers-job": time.time() - 1})
    job = enqueue("test.count", queue="payouts")
    run_worker("payouts")
    assert JobRecord.objects.get(pk=job.pk).state == State.SUCCEEDED


def test_queue_command_pauses_lists_and_resumes(capsys):
    call_command("conveyor_queue", "pause", "exports", "--reason", "maintenance window")
    call_command("conveyor_queue", "list")
    out = capsys.readouterr().out
    assert "queue exports paused" in out and any("exports" in line and "PAUSED" in line for line in out.splitlines())
    call_command("conveyor_queue", "resume", "exports")
    assert not QueueState.objects.get(name="exports").paused
    assert AuditEntry.objects.filter(object_id="exports", actor_label="system:manage.py").count() == 2


def test_admin_lists_queues_and_pauses_with_audit(client, django_user_model):
    boss = django_user_model.objects.create_superuser("boss", "b@example.com", "pw")
    client.force_login(boss)
    page = client.get("/admin/jobs/queuestate/")
    assert page.status_code == 200 and b"daily_reports" in page.content and b"10 per 60s" in page.content
    response = client.post("/admin/jobs/queuestate/", {"action": "pause_queues", "_selected_action": ["imports"]}, follow=True)
    assert b"Paused: imports" in response.content
    assert QueueState.objects.get(name="imports").paused
    assert AuditEntry.objects.get(action="queue.pause").actor == boss


def test_the_pop_script_gets_each_queues_limits_once():
    """Every declared queue's 4 lists: one limit group a queue and a (list, queue number) pair a list, not a copy of the limits per list."""
    names = tiered_rq_names(queue_names())
    lists = [(f"rq:queue:{n}", limits_for(n)) for n in names]
    args = pop_args(lists, {"reports": 1})
    count = args[0]
    assert count == len(queue_names())
    groups = [args[1 + 5 * i : 6 + 5 * i] for i in range(count)]
    assert [g[0] for g in groups] == list(dict.fromkeys(limits.queue for _, limits in lists))
    assert next(g for g in groups if g[0] == "reports")[4] == 1
    pairs = args[1 + 5 * count :]
    assert len(pairs) == 2 * len(lists)
    for (key, limits), (sent_key, number) in zip(lists, zip(pairs[::2], pairs[1::2])):
        assert sent_key == key and groups[number - 1][0] == limits.queue


def test_packed_arguments_are_what_redis_py_would_send(redis_db):
    """The pop's arguments, packed once (PackedArgs), are byte for byte what redis-py packs for the same call."""
    names = tiered_rq_names(queue_names())
    args = pop_args([(f"rq:queue:{n}", limits_for(n)) for n in names], {"reports": 1})
    connection = redis_db.connection_pool.get_connection()
    try:
        expected = b"".join(connection.pack_command("EVALSHA", "0" * 40, 1, "taken", 20.0, 4, *args))
    finally:
        redis_db.connection_pool.release(connection)
    head = [b"EVALSHA", b"0" * 40, b"1", b"taken", 20.0, 4]
    packed = b"*%d\r\n" % (len(head) + len(args)) + b"".join(_resp_bulk(a) for a in head) + PackedArgs(args).data
    assert packed == expected
    with pytest.raises(DataError):
        _resp_bulk(True)  # as redis-py refuses it
    with pytest.raises(DataError):
        _resp_bulk(None)


def test_a_pop_after_redis_forgot_its_scripts_loads_the_script_again(redis_db):
    """A restarted Redis knows no scripts: the pop loads its own and takes the job, as redis-py's Script does."""
    key = "rq:queue:default"
    redis_db.rpush(key, "job-1", "job-2")
    flow = FlowControl(redis_db, "test-holder")
    lists = [(key, limits_for("default"))]
    assert flow.pop(lists, 1) == ([(key, "job-1")], [])
    redis_db.script_flush()
    assert flow.pop(lists, 1) == ([(key, "job-2")], [])
    assert flow.pop(lists, 1) == ([], [key])
    assert redis_db.hgetall(flow.taken_key) == {b"job-1": b"default", b"job-2": b"default"}


def test_a_pop_after_redis_closed_its_connection_takes_a_new_one(redis_db):
    """A pooled connection Redis closed (a restart, an idle timeout, CLIENT KILL) is found dead as the pool hands
    it out (redis-py reconnects it): the pop takes its job as if nothing happened."""
    own = redis.Redis(connection_pool=redis.ConnectionPool(**redis_db.connection_pool.connection_kwargs))
    key = "rq:queue:default"
    redis_db.rpush(key, "job-1", "job-2")
    flow = FlowControl(own, "test-holder")
    lists = [(key, limits_for("default"))]
    assert flow.pop(lists, 1) == ([(key, "job-1")], [])
    first = own.client_id()
    assert redis_db.client_kill_filter(_id=first) == 1  # the pool's one connection, the pop's
    assert flow.pop(lists, 1) == ([(key, "job-2")], [])
    assert own.client_id() != first
    own.connection_pool.disconnect()
