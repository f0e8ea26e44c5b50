import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone
from rq import Queue
from rq.job import Job

from jobs.core.errors import InvalidJob
from jobs.core.queues import Priority
from jobs.core.states import State
from jobs.models import JobRecord
from jobs.ops.enqueue import JobSpec, enqueue, enqueue_for, enqueue_many
from jobs.ops.sweep import sweep
from jobs.store import sql
from reports.models import Report

pytestmark = pytest.mark.django_db(transaction=True)


def in_redis(redis_db, job) -> bool:
    queue = job.queue + {1: ".critical", 2: ".high", 3: "", 4: ".low"}[job.priority]
    return str(job.pk) in Queue(queue, connection=redis_db).job_ids


def test_enqueue_outside_a_transaction_dispatches_at_once(redis_db):
    job = enqueue("test.count", kwargs={"key": "a"})
    job.refresh_from_db()
    assert job.state == State.QUEUED and job.enqueued_at is not None
    assert in_redis(redis_db, job)


def test_rolled_back_transaction_enqueues_nothing(redis_db):
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            enqueue("test.count")
            raise RuntimeError("request failed")
    assert JobRecord.objects.count() == 0
    assert Queue("default", connection=redis_db).count == 0


def test_job_reaches_redis_only_after_commit(redis_db):
    with transaction.atomic():
        job = enqueue("test.count")
        assert Queue("default", connection=redis_db).count == 0  # invisible to everyone until commit
    job.refresh_from_db()
    assert job.state == State.QUEUED and in_redis(redis_db, job)


def test_task_defaults_and_overrides(redis_db):
    job = enqueue("test.fail_fixed")
    assert (job.queue, job.priority, job.max_attempts) == ("payout_expiry", Priority.NORMAL, 3)
    job = enqueue(
        "test.count",
        queue="payouts",
        priority=Priority.CRITICAL,
        retry={"kind": "fixed", "retries": 5, "delay": 1},
        timeout=9,
        subject=("user", 42),
    )
    job.refresh_from_db()
    assert (job.queue, job.priority, job.max_attempts, job.timeout) == ("payouts", 1, 6, 9)
    assert (job.subject_type, job.subject_id) == ("user", "42")
    assert in_redis(redis_db, job)


def test_delayed_job_is_scheduled_and_not_in_redis_yet(redis_db):
    job = enqueue("test.count", delay=60)
    job.refresh_from_db()
    assert job.state == State.SCHEDULED and job.run_at > timezone.now() + dt.timedelta(seconds=55)
    assert not in_redis(redis_db, job)


def test_bulk_enqueue_writes_and_dispatches_all(redis_db):
    jobs = enqueue_many([JobSpec("test.count", kwargs={"key": str(i)}, subject=("user", i)) for i in range(250)])
    assert len(jobs) == 250
    assert JobRecord.objects.filter(state=State.QUEUED).count() == 250
    assert Queue("default", connection=redis_db).count == 250
    assert len({j.correlation_id for j in jobs}) == 1  # one call, one correlation id


def test_several_bulk_enqueues_in_one_transaction_each_insert_their_own_rows(redis_db):
    with transaction.atomic():
        first = enqueue_many([JobSpec("test.count", kwargs={"key": str(i)}) for i in range(30)])
        second = enqueue_many([JobSpec("test.per_user", [i]) for i in range(20)])  # the dedup path
        third = enqueue_many([JobSpec("test.per_user", [i]) for i in range(10, 25)])
    assert JobRecord.objects.count() == 30 + 20 + 5
    assert {j.pk for j in third[:10]} <= {j.pk for j in second}
    assert all(j.deduplicated for j in third[:10]) and not any(getattr(j, "deduplicated", False) for j in third[10:])
    assert Queue("default", connection=redis_db).count == 30
    assert Queue("analytics", connection=redis_db).count == 25
    assert len(first) == 30


def test_small_and_large_inserts_store_the_same_rows(redis_db):
    """PostgreSQL inserts a few rows with one INSERT ... VALUES and many through COPY; SQLite
    with executemany. Every path must store every field the same way."""
    when = timezone.now() + dt.timedelta(hours=1)
    spec = dict(kwargs={"amount": "1.50", "nested": {"a": [1, None]}}, subject=("user", 7), run_at=when, timeout=9)
    small = enqueue_many([JobSpec("test.anything", **spec)])
    large = enqueue_many([JobSpec("test.anything", **spec) for _ in range(sql.SMALL_INSERT + 1)])
    fields = [f.attname for f in JobRecord._meta.concrete_fields if f.attname not in ("id", "correlation_id", "created_at", "updated_at")]
    rows = JobRecord.objects.filter(pk__in=[small[0].pk, large[0].pk]).values_list(*fields)
    assert len(rows) == 2 and rows[0] == rows[1]
    assert JobRecord.objects.get(pk=small[0].pk).kwargs == spec["kwargs"]


def test_pushed_jobs_are_complete_rq_jobs(redis_db):
    jobs = enqueue_many([JobSpec("test.count", kwargs={"key": "x"}, timeout=7) for _ in range(3)])
    queue = Queue("default", connection=redis_db)
    assert queue.job_ids == [str(j.pk) for j in jobs]  # in order
    rq_job = Job.fetch(str(jobs[1].pk), connection=redis_db)
    assert rq_job.func_name == "jobs.ops.runtime.run_job" and rq_job.args == (str(jobs[1].pk),)
    assert rq_job.description == "test.count" and rq_job.timeout == 7 + 60
    assert rq_job.origin == "default" and rq_job.get_status() == "queued" and rq_job.enqueued_at is not None


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: enqueue("no.such.task"), "task"),
        (lambda: enqueue("test.count", queue="nope"), "queue"),
        (lambda: enqueue("test.count", kwargs={"amount": Decimal("1.5")}), "kwargs.amount"),
        (lambda: enqueue("test.count", args=[1, {2, 3}]), "args[1]"),
        (lambda: enqueue("test.count", args=[float("nan")]), "args[0]"),
        (lambda: enqueue("test.count", kwargs={"when": timezone.now()}), "kwargs.when"),
        (lambda: enqueue("test.count", args="abc"), "args"),
        (lambda: enqueue("test.count", priority=9), "priority"),
        (lambda: enqueue("test.count", retry={"kind": "sometimes"}), "retry"),
        (lambda: enqueue("test.count", timeout=0), "timeout"),
        (lambda: enqueue("test.count", delay=-1), "delay"),
        (lambda: enqueue("test.count", subject="user 4"), "subject"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(redis_db, call, field):
    with pytest.raises(InvalidJob) as info:
        call()
    assert info.value.field == field
    assert JobRecord.objects.count() == 0
    assert not redis_db.keys("rq:queue:*")


def test_one_bad_spec_in_a_bulk_call_writes_none(redis_db):
    with pytest.raises(InvalidJob):
        enqueue_many([JobSpec("test.count"), JobSpec("test.count", args=[object()])])
    assert JobRecord.objects.count() == 0


def test_a_committed_job_whose_push_never_happened_is_sent_by_the_sweep(redis_db):
    """The process died between commit and push: the row says queued, Redis has nothing."""
    JobRecord.objects.create(
        task_name="test.count", queue="default", state=State.QUEUED, timeout=5, enqueued_at=timezone.now() - dt.timedelta(seconds=30)
    )
    sweep()  # first sweep sets the epoch and checks everything
    assert sweep(now=timezone.now() + dt.timedelta(seconds=10))["lost"] == 0
    redis_db.delete("rq:queue:default")
    job = JobRecord.objects.create(
        task_name="test.count", queue="default", state=State.QUEUED, timeout=5, enqueued_at=timezone.now() - dt.timedelta(seconds=30)
    )
    assert sweep()["lost"] == 1
    assert str(job.pk) in Queue("default", connection=redis_db).job_ids


def test_enqueue_for_links_the_row_and_its_job_both_ways(redis_db):
    """A job-backed row (a report here) gets its job, and the job names the row as its subject."""
    report = Report.objects.create(kind=Report.Kind.PAYOUT_SUMMARY, parameters={})
    job = enqueue_for(report, "test.count", queue="reports")
    report.refresh_from_db()
    assert report.job_id == job.pk
    assert (job.subject_type, job.subject_id) == ("report", str(report.pk))


def test_an_enqueue_on_a_connection_the_server_dropped_reconnects_like_djangos_own_queries():
    """The one-row INSERT uses its own server-binding cursor; like Django's cursor() it runs the
    health check first (CONN_HEALTH_CHECKS), so a persistent connection PostgreSQL closed between
    requests is replaced rather than failing the first enqueue of the next request."""
    if connection.vendor != "postgresql" or not connection.settings_dict.get("CONN_HEALTH_CHECKS"):
        pytest.skip("PostgreSQL with persistent, health-checked connections")
    enqueue("test.count")
    pid = connection.connection.info.backend_pid

    def terminate():  # a second connection (another thread's) ends ours
        with connections["default"].cursor() as other:
            other.execute("SELECT pg_terminate_backend(%s)", [pid])
        connections["default"].close()

    killer = threading.Thread(target=terminate)
    killer.start()
    killer.join()
    connection.health_check_done = False  # what the start of the next request does (close_old_connections)
    job = enqueue("test.count")
    assert JobRecord.objects.filter(pk=job.pk).exists() and connection.connection.info.backend_pid != pid
