"""Concurrency slots: one worker process running several jobs at once, in threads, each with
its own database connection, its timeout, progress and cancellation; the fleet-wide caps and
the per-queue slot limit still hold. Real Redis, real database, in-process worker."""

import threading
import time

import pytest
from django.db import OperationalError, connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rq import Queue
from rq.registry import StartedJobRegistry
from rq.suspension import resume, suspend

import jobs.worker as worker_module
from jobs.core.queues import queue_names
from jobs.core.states import State
from jobs.models import JobAttempt, JobRecord
from jobs.ops.enqueue import enqueue
from jobs.store import transitions
from jobs.transport import flow
from jobs.worker import ConveyorWorker, timeouts
from jobs.worker.recorder import Outcome, Recorder
from jobs.worker.slots import SlotPool
from tests.sample_tasks import runs

pytestmark = pytest.mark.django_db(transaction=True)


def max_overlap(jobs) -> int:
    """The most attempts of these jobs that were running at the same moment."""
    edges = []
    for attempt in JobAttempt.objects.filter(job__in=jobs):
        edges += [(attempt.started_at, 1), (attempt.finished_at, -1)]
    running = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
        running += step
        peak = max(peak, running)
    return peak


def test_a_worker_runs_jobs_at_once_in_its_slots(run_worker):
    jobs = [enqueue("test.nap", kwargs={"seconds": 0.4}) for _ in range(8)]
    run_worker("default", slots=4)
    rows = list(JobRecord.objects.filter(pk__in=[j.pk for j in jobs]))
    assert {row.state for row in rows} == {State.SUCCEEDED}
    assert max_overlap(jobs) == 4  # never more than its slots, and all of them used
    assert len({row.result["thread"] for row in rows}) == 4
    assert threading.get_ident() not in {row.result["thread"] for row in rows}


def test_each_slot_has_its_own_database_connection():
    seen = {}
    done = threading.Event()

    def handler(work):
        connection.ensure_connection()
        seen[work.job_id] = id(connection.connection)
        if len(seen) == 3:
            done.set()
        done.wait(5)  # all three hold their connection at once

    pool = SlotPool(3, handler)
    for i in range(3):
        pool.submit(str(i), "default", ())
    assert pool.drain(10)
    pool.close()
    assert len(set(seen.values())) == 3


def test_a_timeout_is_enforced_in_each_slot(run_worker):
    spinning = [enqueue("test.spin", kwargs={"seconds": 30}) for _ in range(2)]
    quick = enqueue("test.nap", kwargs={"seconds": 0.1})
    started = time.monotonic()
    run_worker("default", slots=4)
    assert time.monotonic() - started < 10  # not the 30 s the bodies asked for
    for job in spinning:
        job.refresh_from_db()
        assert job.state == State.DEAD
        assert job.attempt_set.get().outcome == JobAttempt.Outcome.TIMED_OUT
        assert "timeout" in job.last_error
    quick.refresh_from_db()
    assert quick.state == State.SUCCEEDED


def test_a_body_that_ignores_its_timeout_is_abandoned_and_its_slot_reused(run_worker, monkeypatch):
    monkeypatch.setattr(timeouts, "STUCK_AFTER", 0.3)
    stuck = enqueue("test.slow", kwargs={"seconds": 3})  # one C-level sleep: the timeout exception waits for it
    after = [enqueue("test.nap", kwargs={"seconds": 0.1}) for _ in range(2)]
    before = set(threading.enumerate())
    started = time.monotonic()
    worker = run_worker("default", slots=2)
    assert time.monotonic() - started < 2.9  # the worker did not wait for the stuck body
    stuck.refresh_from_db()
    assert stuck.state == State.DEAD
    attempt = stuck.attempt_set.get()
    assert attempt.outcome == JobAttempt.Outcome.TIMED_OUT and "abandoned" in attempt.exc_message
    assert all(JobRecord.objects.get(pk=j.pk).state == State.SUCCEEDED for j in after)
    assert worker._pool.abandoned_total == 1
    # The abandoned thread ends when its sleep does; what it then records is refused.
    for thread in set(threading.enumerate()) - before:
        thread.join(10)
    stuck.refresh_from_db()
    assert stuck.state == State.DEAD and stuck.attempt_set.count() == 1


def test_progress_and_cancellation_work_in_slots(run_worker):
    progress = enqueue("test.progress")
    cancelled = enqueue("test.cancel_me")
    run_worker("default", slots=4)
    progress.refresh_from_db()
    cancelled.refresh_from_db()
    assert progress.state == State.SUCCEEDED and progress.result == "done"
    assert cancelled.state == State.CANCELLED


def test_a_fleet_wide_cap_holds_across_slots(run_worker):
    jobs = [enqueue("test.nap_capped", kwargs={"seconds": 0.2}) for _ in range(4)]
    run_worker("maintenance", slots=4)
    assert {JobRecord.objects.get(pk=j.pk).state for j in jobs} == {State.SUCCEEDED}
    assert max_overlap(jobs) == 1


def test_a_burst_run_outlasts_a_cap_released_while_it_pops(run_worker, monkeypatch):
    """The pop finds the queue at its cap (this process's running job holds the lease); the job
    ends and its lease is released before the loop looks whether the slots are busy. The run must
    pop again, not quit with the capped queue's jobs still queued."""
    jobs = [enqueue("test.nap_capped", kwargs={"seconds": 0.05}) for _ in range(3)]
    pop = flow.FlowControl.pop

    def slow_pop(self, *args, **kwargs):
        popped, open_keys = pop(self, *args, **kwargs)
        if not popped and self.held:
            time.sleep(0.3)  # the running job ends and its lease is released meanwhile
        return popped, open_keys

    monkeypatch.setattr(flow.FlowControl, "pop", slow_pop)
    run_worker("maintenance", slots=4)
    assert {JobRecord.objects.get(pk=j.pk).state for j in jobs} == {State.SUCCEEDED}


def test_a_queue_may_use_fewer_of_a_workers_slots(run_worker, settings):
    queues = {name: dict(config) for name, config in settings.CONVEYOR_QUEUES.items()}
    queues["default"]["slots"] = 2
    with override_settings(CONVEYOR_QUEUES=queues):
        jobs = [enqueue("test.nap", kwargs={"seconds": 0.3}) for _ in range(6)]
        run_worker("default", slots=4)
    assert max_overlap(jobs) == 2


def test_a_pool_refuses_work_beyond_its_slots():
    release = threading.Event()
    pool = SlotPool(1, lambda work: release.wait(5))
    pool.submit("a", "default", ())
    assert pool.free() == 0 and not pool.wait_for_free(0.05)
    with pytest.raises(RuntimeError):
        pool.submit("b", "default", ())
    release.set()
    assert pool.drain(5) and pool.free() == 1
    pool.close()


def test_a_reserved_slot_counts_as_taken_and_runs_nothing_until_started():
    ran = threading.Event()
    pool = SlotPool(1, lambda work: ran.set())
    work = pool.reserve("a", "default", ())
    assert pool.free() == 0 and pool.busy() == 1
    with pytest.raises(RuntimeError):
        pool.reserve("b", "default", ())
    assert not ran.wait(0.2)
    pool.start(work)
    assert ran.wait(5) and pool.drain(5) and pool.free() == 1
    pool.close()


def test_a_worker_takes_a_batch_for_its_free_slots_and_claims_it_in_one_statement(run_worker):
    jobs = [enqueue("test.nap", kwargs={"seconds": 0.2}) for _ in range(4)]
    run_worker("default", slots=4)
    rows = list(JobRecord.objects.filter(pk__in=[j.pk for j in jobs]))
    assert {row.state for row in rows} == {State.SUCCEEDED}
    assert len({row.started_at for row in rows}) == 1  # one claim: one start for the batch


def test_claim_many_takes_only_waiting_due_rows():
    due = enqueue("test.count")
    later = enqueue("test.count", delay=3600)
    done = enqueue("test.count")
    JobRecord.objects.filter(pk=done.pk).update(state=State.SUCCEEDED)
    now = timezone.now()
    claimed = transitions.claim_many([due.pk, later.pk, done.pk], "w", now, now)
    assert list(claimed) == [due.pk]
    assert claimed[due.pk].task_name == "test.count" and claimed[due.pk].attempts == 1
    assert JobRecord.objects.get(pk=due.pk).state == State.RUNNING
    assert transitions.claim_many([due.pk], "w2", now, now) == {}  # claimed once only


@pytest.mark.skipif(connection.vendor != "postgresql", reason="synchronous_commit is PostgreSQL's")
def test_a_claim_of_its_own_skips_the_wal_flush_and_nothing_else_does():
    """Decision 55: the claim's own transaction commits without waiting for its WAL flush; the
    setting stays in that transaction (the connection's next ones flush as before), and a claim
    inside a caller's transaction leaves the caller's durability alone."""
    alone, inside = enqueue("test.count"), enqueue("test.count")
    now = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        assert list(transitions.claim_many([alone.pk], "w", now, now)) == [alone.pk]
    assert "synchronous_commit" in queries[-1]["sql"]
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert list(transitions.claim_many([inside.pk], "w", now, now)) == [inside.pk]
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone() == ("on",)
    assert not any("synchronous_commit" in q["sql"] for q in queries[:-1])


def test_successes_finishing_together_are_recorded_in_one_transaction():
    jobs = [enqueue("test.count") for _ in range(3)]
    now = timezone.now()
    claimed = transitions.claim_many([j.pk for j in jobs], "w", now, now)
    taken_over = claimed[jobs[2].pk]
    JobRecord.objects.filter(pk=taken_over.pk).update(state=State.CANCELLED)  # cancelled meanwhile
    outcomes = [(claimed[j.pk], now, timezone.now(), {"n": i}) for i, j in enumerate(jobs)]
    recorded = transitions.record_successes(outcomes, "w")
    assert recorded == {jobs[0].pk, jobs[1].pk}
    for i, job in enumerate(jobs[:2]):
        row = JobRecord.objects.get(pk=job.pk)
        assert (row.state, row.result, row.progress) == (State.SUCCEEDED, {"n": i}, 100)
        assert row.attempt_set.get().outcome == JobAttempt.Outcome.SUCCEEDED
    assert JobRecord.objects.get(pk=taken_over.pk).state == State.CANCELLED
    assert not JobAttempt.objects.filter(job_id=taken_over.pk).exists()


def test_the_recorder_answers_each_slot_after_the_commit_and_settles_their_transport_once():
    jobs = [enqueue("test.count") for _ in range(4)]
    now = timezone.now()
    claimed = transitions.claim_many([j.pk for j in jobs], "w", now, now)
    JobRecord.objects.filter(pk=jobs[3].pk).update(state=State.CANCELLED)  # taken over meanwhile
    settled, answers = [], {}
    recorder = Recorder("w", settled.extend, backlog=2)

    def then(job):
        def answer(recorded):
            # called after the commit: the row is already what the answer says
            answers[job.pk] = (recorded, JobRecord.objects.get(pk=job.pk).state)

        return answer

    def finish(job):
        recorder.submit(Outcome(claimed[job.pk], now, timezone.now(), None, (job.pk,), then(job)))

    threads = [threading.Thread(target=finish, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    recorder.close()
    assert answers == {**{job.pk: (True, State.SUCCEEDED) for job in jobs[:3]}, jobs[3].pk: (False, State.CANCELLED)}
    assert sorted(settled) == sorted((job.pk,) for job in jobs)


def test_the_recorder_waits_out_a_database_outage_instead_of_dropping_successes(monkeypatch):
    job = enqueue("test.count")
    now = timezone.now()
    claimed = transitions.claim_many([job.pk], "w", now, now)
    real, failures = transitions.record_successes, []

    def flaky(*args, **kwargs):
        if len(failures) < 2:
            failures.append(1)
            raise OperationalError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(transitions, "record_successes", flaky)
    monkeypatch.setattr("jobs.worker.recorder.RETRY_MIN", 0.01)
    answers = []
    recorder = Recorder("w", lambda transports: None, backlog=1)
    recorder.submit(Outcome(claimed[job.pk], now, timezone.now(), None, (job.pk,), answers.append))
    recorder.close()
    assert failures == [1, 1] and answers == [True]
    assert JobRecord.objects.get(pk=job.pk).state == State.SUCCEEDED


def test_a_full_backlog_holds_the_slot_until_there_is_room():
    jobs = [enqueue("test.count") for _ in range(2)]
    now = timezone.now()
    claimed = transitions.claim_many([j.pk for j in jobs], "w", now, now)
    gate = threading.Event()
    recorder = Recorder("w", lambda transports: gate.wait(5), backlog=1)
    recorder.submit(Outcome(claimed[jobs[0].pk], now, timezone.now(), None, ()))  # the backlog's one place
    handed = threading.Event()
    second = Outcome(claimed[jobs[1].pk], now, timezone.now(), None, ())
    thread = threading.Thread(target=lambda: (recorder.submit(second), handed.set()))
    thread.start()
    assert not handed.wait(0.3)  # the first is still being settled
    gate.set()
    assert handed.wait(5)
    recorder.close()
    assert set(JobRecord.objects.filter(pk__in=[j.pk for j in jobs]).values_list("state", flat=True)) == {State.SUCCEEDED}


def test_rq_suspend_stops_a_slot_worker_taking_jobs(run_worker, redis_db):
    """`rq suspend` holds workers (checked at most every SUSPENSION_CHECK_EVERY seconds, not
    before every job); `rq resume` lets them take jobs again."""
    job = enqueue("test.count", kwargs={"key": "suspended"})
    suspend(redis_db)
    try:
        run_worker("default", slots=4)  # burst mode: a suspended worker exits without a job
        job.refresh_from_db()
        assert job.state == State.QUEUED and runs("suspended") == 0
    finally:
        resume(redis_db)
    run_worker("default", slots=4)
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED and runs("suspended") == 1


def test_slot_jobs_leave_no_rq_records_and_count_in_rqs_worker_stats(run_worker, redis_db):
    """The slots write no RQ execution records and delete each job's hash; RQ's worker counters
    (what its dashboard shows) still count every job."""
    jobs = [enqueue("test.count", kwargs={"key": f"lean-{i}"}) for i in range(6)]
    worker = run_worker("default", slots=4)
    assert all(JobRecord.objects.get(pk=j.pk).state == State.SUCCEEDED for j in jobs)
    assert not redis_db.keys("rq:job:*") and not redis_db.keys("rq:execution*")
    assert not [k for k in redis_db.keys("rq:wip:*") if redis_db.zcard(k)]
    assert int(redis_db.hget(worker.key, "successful_job_count")) == 6
    assert float(redis_db.hget(worker.key, "total_working_time")) > 0


def test_registry_cleaning_visits_only_lists_with_registries(redis_db, monkeypatch):
    """RQ's maintenance cleans every registry of every list (60 lists: ~400 round trips);
    the worker first asks which exist and cleans only those, expired entries included."""
    worker = ConveyorWorker([Queue(n, connection=redis_db) for n in queue_names()], connection=redis_db, slots=2)
    started = StartedJobRegistry("default", connection=redis_db)
    redis_db.zadd(started.key, {"gone-job:exec-1": 1})  # expired long ago, its job long gone
    cleaned = []
    real = worker_module.clean_registries
    monkeypatch.setattr(worker_module, "clean_registries", lambda queue, handlers: (cleaned.append(queue.name), real(queue, handlers)))
    worker.clean_registries()
    assert cleaned == ["default"]
    assert redis_db.zcard(started.key) == 0
    worker.clean_registries()
    assert cleaned == ["default"]  # nothing left to clean


@pytest.mark.parametrize("slots", [1, 4])
def test_an_id_that_names_no_job_is_dropped_once_and_the_rest_runs(run_worker, redis_db, slots, caplog):
    """A list entry that is not a job id (pushed with plain RQ and an id of its own, say) is
    logged and dropped: it neither fails the jobs popped with it nor comes back on every pass."""
    jobs = [enqueue("test.count", kwargs={"key": f"beside-foreign-{i}"}) for i in range(3)]
    redis_db.lpush(Queue("default", connection=redis_db).key, "report-2026-12")  # popped first
    worker = run_worker("default", slots=slots)
    assert {JobRecord.objects.get(pk=j.pk).state for j in jobs} == {State.SUCCEEDED}
    assert not worker._owed_hand_backs
    assert not redis_db.exists(f"conveyor:taken:{worker.name}")
    assert not redis_db.lrange(Queue("default", connection=redis_db).key, 0, -1)
    assert [r.getMessage() for r in caplog.records if "report-2026-12" in r.getMessage()] == [
        "queue default: 'report-2026-12' is not a Conveyor job id (enqueued with plain RQ?); dropped"
    ]


@pytest.mark.timeout(30)
def test_a_batch_that_fails_while_it_is_handed_to_its_slots_goes_back_whole(run_worker, monkeypatch):
    """Anything failing between the first slot reservation and the claim (here the pool refusing
    the second job) hands the whole batch back: no slot waits for a claim that never comes, and
    the slot reserved for the first job is free again."""
    jobs = [enqueue("test.count", kwargs={"key": f"refused-{i}"}) for i in range(3)]
    reserve = SlotPool.reserve
    calls = []

    def refuse_the_second(self, *args):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("no free slot")
        return reserve(self, *args)

    monkeypatch.setattr(SlotPool, "reserve", refuse_the_second)
    worker = run_worker("default", slots=4)  # hung here before: the first slot waited forever
    assert worker._pool is None or worker._pool.busy() == 0
    # The batch went back to the dispatcher whole: nothing ran, nothing is stranded as queued.
    assert {JobRecord.objects.get(pk=j.pk).state for j in jobs} == {State.PENDING}
    assert not worker._owed_hand_backs
