"""ConveyorWorker: the RQ worker class behind ``manage.py rqworker``.

Selected by settings.RQ["WORKER_CLASS"]; run as

    python manage.py rqworker payouts notifications default

It listens to every priority tier of the named queues, tier-major, and runs
each job in-process (no fork per job; see docs/decisions.md), in one of its
WORKER_CONCURRENCY slots (threads, jobs.worker.slots; with one slot, in the main
thread as stock RQ does). The main thread is the dequeue loop: it takes a job
only when a slot is free and hands it over. The database row,
not RQ's job hash, holds the job's state: ``jobs.ops.runtime.execute`` claims it,
runs the task under its timeout and records the outcome, retry or dead-letter.
RQ is told every delivered job finished, so its registries only ever describe
transport, and results are not duplicated into Redis.

Stock RQ spends ~26 Redis round trips per job; most are bookkeeping that this
worker batches: standalone heartbeats are sent at most every HEARTBEAT_EVERY
seconds (the worker key lives for worker_ttl, minutes), unchanged worker states
are not rewritten, and a finished job's transport keys go in one pipeline.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import worker_registration
from rq.exceptions import NoSuchJobError
from rq.job import JobStatus
from rq.registry import (
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ReadyJobRegistry,
    StartedJobRegistry,
    clean_registries,
)
from rq.timeouts import JobTimeoutException
from rq.utils import now
from rq.worker import SimpleWorker, WorkerStatus

from jobs.core.queues import logical_queue_name, tiered_rq_names
from jobs.models import JobAttempt, WorkerHeartbeat
from jobs.ops import runtime
from jobs.store import transitions
from jobs.transport import flow
from jobs.worker import timeouts
from jobs.worker.recorder import Outcome, Recorder
from jobs.worker.slots import SlotPool, Work
from jobs.worker.timeouts import ThreadDeathPenalty

log = logging.getLogger(__name__)


HEARTBEAT_EVERY = 5.0
# While idle, how often a worker re-checks paused, capped and rate-limited queues.
FLOW_RECHECK = 1.0
# How soon it looks again when jobs wait behind a concurrency cap or rate limit.
HELD_RECHECK = 0.02
# While Redis does not answer, the dequeue loop retries after MIN_BACKOFF, doubling up to
# MAX_BACKOFF seconds: it resumes within a second of Redis coming back.
MIN_BACKOFF = 0.1
MAX_BACKOFF = 1.0
# Successes that may wait to be recorded at once, per slot (jobs.worker.recorder): the slots
# go on while the recorder commits, and the more that wait, the more each commit carries. Also
# how many completed bodies at most a kill -9 can make run again (for about two commits).
RECORD_BACKLOG_PER_SLOT = 4
# How often the dequeue loop asks Redis whether `rq suspend` is in force (RQ asks before every
# job): a suspension is noticed within this many seconds.
SUSPENSION_CHECK_EVERY = 1.0


# The registries rq.registry.clean_registries cleans, whose keys tell whether there is anything to clean.
CLEANED_REGISTRIES = (FinishedJobRegistry, StartedJobRegistry, FailedJobRegistry, DeferredJobRegistry, ReadyJobRegistry)


def _wait_for_redis(connection) -> None:
    """A worker started while Redis is down waits for it (django-rq's command would exit 1 at
    the first connection error, and a process manager restart-loop it), then starts within a
    second of Redis answering."""
    waiting = False
    while True:
        try:
            connection.ping()
        except (RedisConnectionError, RedisTimeoutError) as exc:
            if not waiting:
                log.error("worker: Redis unavailable at start (%s); waiting for it", exc)
                waiting = True
            time.sleep(MAX_BACKOFF)
            continue
        if waiting:
            log.warning("worker: Redis answers; starting")
        return


def _slots_for(queue: str, slots: int) -> int:
    """How many of a worker's slots one queue's jobs may hold at once (QUEUE_OVERRIDES "slots")."""
    limit = settings.CONVEYOR_QUEUES.get(queue, {}).get("slots")
    return slots if limit is None else min(limit, slots)


class ConveyorWorker(SimpleWorker):
    log_job_description = False
    _last_beat = float("-inf")
    _current_job = None
    _jobs_done = 0
    _outage_logged = float("-inf")
    _suspension_checked = float("-inf")
    _lists_for = None
    _registry_keys = None

    def __init__(self, queues, *args, slots: int | None = None, **kwargs):
        if queues and kwargs.get("connection") is not None:  # a worker to run, not django-rq's statistics reader
            _wait_for_redis(kwargs["connection"])
        super().__init__(queues, *args, **kwargs)
        self.queues = self._tiered(self.queues)
        self._ordered_queues = self.queues[:]
        self._queue_by_key = {q.key: q for q in self.queues}
        self._flow = flow.FlowControl(self.connection, self.name)
        self._owed_hand_backs: set[str] = set()
        self._current_queue = None
        self.slots = settings.WORKER_CONCURRENCY if slots is None else slots
        self._pool: SlotPool | None = None
        self._done_lock = threading.Lock()
        self._claims: dict[str, tuple] = {}  # job id -> (claimed row, start) of each job in a slot
        self._max_jobs = None

    def _tiered(self, queues):
        """Replace each logical queue by its four tier lists, tier-major; keep explicit tier lists as given."""
        if not queues:  # django-rq builds one with no queues to read worker statistics
            return []
        logical = [q.name for q in queues if q.name in settings.CONVEYOR_QUEUES]
        extra = [q for q in queues if q.name not in settings.CONVEYOR_QUEUES]
        names = tiered_rq_names(list(dict.fromkeys(logical)))
        connection = queues[0].connection
        tiered = [self.queue_class(name, connection=connection, job_class=self.job_class, serializer=self.serializer) for name in names]
        return tiered + [q for q in extra if logical_queue_name(q.name) not in logical]

    def work(self, *args, logging_level=None, **kwargs):
        """RQ's command line sets its logger to INFO whatever LOGGING says (a line per queue per
        maintenance pass: 60 at start); RQ_LOG_LEVEL decides. Per-job lines are jobs.ops.runtime's."""
        self._max_jobs = kwargs.get("max_jobs")
        if not kwargs.get("burst"):
            # What start-up loaded (Django's apps, every module, the task registry: ~90,000
            # objects) lives as long as the process. Frozen, the collector stops walking it, so
            # a full collection takes well under a millisecond instead of tens, which showed as
            # enqueue->start outliers. A burst worker is short-lived and runs inside tests.
            gc.collect()
            gc.freeze()
        return super().work(*args, logging_level=settings.RQ_LOG_LEVEL, **kwargs)

    # --- Database heartbeat (crash detection; see jobs/recovery.py) ---------------

    def bootstrap(self, *args, **kwargs):
        self._bootstrap_rq(*args, **kwargs)
        self._started_stamp = timezone.now()
        self._register_heartbeat()
        self._beating = threading.Event()
        self._beat_thread = threading.Thread(target=self._beat_loop, name="conveyor-heartbeat", daemon=True)
        self._beat_thread.start()
        if self.slots > 1:
            self._recorder = Recorder(self.name, self._settle_many, backlog=self.slots * RECORD_BACKLOG_PER_SLOT)
            self._pool = SlotPool(self.slots, self._run_in_slot, name=f"conveyor-slot-{os.getpid()}")
        log.info("worker %s started with concurrency: %d (queues: %s)", self.name, self.slots, ", ".join(self._logical_names()))

    def _bootstrap_rq(self, *args, **kwargs) -> None:
        """RQ's start-up (its worker key, the worker registry, the pubsub channel), again until
        it completes: Redis going away in the middle of it (after _wait_for_redis saw it answer)
        would otherwise end the process with django-rq's exit code 1. What a failed try left (its
        worker key, which the next register_birth would take for another live worker of the
        same name, and a pubsub connection) is undone first."""
        while True:
            try:
                super().bootstrap(*args, **kwargs)
                return
            except (RedisConnectionError, RedisTimeoutError) as exc:
                log.error("worker %s: Redis went away during start-up (%s); starting again when it answers", self.name, exc)
            self._undo_subscribe()
            while True:
                time.sleep(MAX_BACKOFF)
                _wait_for_redis(self.connection)
                try:
                    self.connection.delete(self.key)  # this process's own half-registered key
                    break
                except (RedisConnectionError, RedisTimeoutError):
                    continue

    def _undo_subscribe(self) -> None:
        """Close the pubsub connection a failed start-up left (RQ's subscribe fails in its
        SUBSCRIBE, before it starts its thread), or stop its thread if it got that far (the thread
        closes the connection as it ends: at the unsubscribe's reply, or at its next read)."""
        pubsub, self.pubsub = self.pubsub, None
        thread, self.pubsub_thread = self.pubsub_thread, None
        if thread is None:
            if pubsub is not None:
                pubsub.close()
            return
        thread.stop()
        try:
            pubsub.unsubscribe()  # its reply wakes the thread's read
        except RedisError:
            pass
        thread.join(timeout=1)

    def _register_heartbeat(self) -> None:
        stamp = timezone.now()
        WorkerHeartbeat.objects.update_or_create(
            name=self.name,
            defaults={
                "hostname": socket.gethostname()[:255],
                "pid": os.getpid(),
                "queues": self.queue_names(),
                "started_at": self._started_stamp,
                "last_seen": stamp,
                "current_job": None,
                "jobs_done": self._jobs_done,
            },
        )

    def _logical_names(self) -> list[str]:
        return list(dict.fromkeys(logical_queue_name(q.name) for q in self.queues))

    def _held(self) -> list[tuple[str, str]]:
        """(queue, job id) of every job this process is running or about to run."""
        if self._pool is not None:
            return self._pool.job_ids()
        job_id, queue = self._current_job, self._current_queue
        return [] if job_id is None else [(queue, str(job_id))]

    def _beat_loop(self) -> None:
        try:
            while not self._beating.wait(settings.WORKER_HEARTBEAT_INTERVAL):
                self._beat()
        finally:
            connection.close()  # this thread's own connection

    def _beat(self) -> None:
        try:
            held = self._held()
            beat = {"last_seen": timezone.now(), "current_job": held[0][1] if held else None, "jobs_done": self._jobs_done}
            if not WorkerHeartbeat.objects.filter(name=self.name).update(**beat):
                # Silent long enough to be taken for dead (the database was down): the rescue
                # forgot this worker. It registers again, or it would be rescued forever.
                log.warning("worker %s: was taken for lost; registering again", self.name)
                self._register_heartbeat()
                worker_registration.register(self)
            for queue, job_id in held:
                self._flow.refresh(queue, job_id)  # keep these jobs' concurrency slots
        except Exception:
            log.exception("worker %s: heartbeat failed", self.name)
            close_old_connections()

    def teardown(self):
        if self._pool is not None:
            try:
                if not self._pool.drain(settings.WORKER_SHUTDOWN_GRACE):
                    log.warning("worker %s: jobs still running after %gs; stopping them", self.name, settings.WORKER_SHUTDOWN_GRACE)
                    self._stop_slots()
            finally:
                self._pool.close()
                self._recorder.close()
        beating = getattr(self, "_beating", None)
        if beating is not None:
            beating.set()
            self._beat_thread.join(timeout=5)
            try:
                WorkerHeartbeat.objects.filter(name=self.name).delete()
            except Exception:
                log.exception("worker %s: could not remove its heartbeat row", self.name)
        super().teardown()

    def request_stop(self, signum, frame):
        """Warm shutdown: finish the running job, but for at most WORKER_SHUTDOWN_GRACE seconds."""
        if self.get_state() == WorkerStatus.BUSY:
            # RQ ignores a repeated signal within one second of the first.
            deadline = threading.Timer(max(settings.WORKER_SHUTDOWN_GRACE, 1.1), os.kill, (os.getpid(), signal.SIGTERM))
            deadline.daemon = True
            deadline.start()
        super().request_stop(signum, frame)

    def request_force_stop(self, signum, frame):
        """Cold shutdown. Jobs in slot threads are stopped too, each recording its attempt as cut
        short (retried by its policy at once, not after the heartbeat rescue)."""
        requested = self._shutdown_requested_date
        if self._pool is not None and not (requested and now() - requested < timedelta(seconds=1)):
            self._stop_slots()
        super().request_force_stop(signum, frame)

    def _stop_slots(self) -> None:
        """Stop the jobs in the slots: each is told to stop (SystemExit in its thread: it records its
        attempt as cut short); one blocked in a C call cannot hear it, so after a second its attempt
        is recorded from here. Either way the job is retried at once by its policy."""
        self._pool.interrupt(SystemExit, wait=1.0)
        for job_id, (record, started) in list(self._claims.items()):
            try:
                runtime.record_failure(
                    record, started, self.name, JobAttempt.Outcome.WORKER_LOST, runtime.WorkerLost("the worker was stopped during the job")
                )
            except Exception:
                log.exception("job %s: could not record it as stopped; the heartbeat rescue will", job_id)

    # --- Dequeue with flow control (jobs/flow.py) -----------------------------

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        """Take the next job this worker may run: priority order, skipping paused, capped and
        rate-limited queues (their jobs wait in Redis, untouched). Blocks on the open lists when idle."""
        pool = self._pool
        if pool is None or not pool.busy():
            self.set_state(WorkerStatus.IDLE)
        self.procline("Listening on " + ",".join(self.queue_names()))
        idle_since = time.monotonic()
        backoff = MIN_BACKOFF
        while True:
            self.heartbeat()
            if self._owed_hand_backs:
                self._settle_hand_backs()
            if self.should_run_maintenance_tasks:
                self.run_maintenance_tasks()
            if pool is not None:
                if self._stop_requested:
                    return None
                if not pool.wait_for_free(FLOW_RECHECK):
                    idle_since = time.monotonic()
                    continue
            # Read before the pop: a job of this process's releasing its cap lease between the
            # pop (which found the cap full) and the check below must not end a burst run.
            was_busy = pool is not None and pool.busy()
            if pool is not None and not was_busy:
                self.set_state(WorkerStatus.IDLE)
            lists = self._lists_with_room()
            if not lists and pool is not None:  # every queue has this process's slots for it full
                pool.wait_for_change(FLOW_RECHECK)
                continue
            try:
                want, room = self._batch_size(pool)
                popped, open_keys = self._flow.pop(lists, want, room)
                if not popped and timeout is not None and self._flow.held:
                    # Jobs held back by a cap or rate limit may go as soon as a slot or the window
                    # frees: look again soon, not after a full second. Not with a blocking pop,
                    # whose timeout Redis keeps only to its timer (100 ms at its default hz), and
                    # woken early when this process's own jobs release their slots.
                    wait = HELD_RECHECK if max_idle_time is None else min(HELD_RECHECK, max_idle_time)
                    if pool is not None:
                        pool.wait_for_change(wait)
                    else:
                        time.sleep(wait)
                elif not popped and timeout is not None:
                    wait = FLOW_RECHECK if max_idle_time is None else max(0.1, min(FLOW_RECHECK, max_idle_time))
                    if open_keys:
                        one = self._flow.wait(open_keys, wait, dict(lists))
                        popped = [one] if one is not None else []
                    else:
                        time.sleep(wait)
                if backoff > MIN_BACKOFF:
                    log.warning("worker %s: Redis answers again; resuming", self.name)
                backoff = MIN_BACKOFF
            except (RedisConnectionError, RedisTimeoutError) as exc:
                if backoff == MIN_BACKOFF or time.monotonic() - self._outage_logged >= 30:
                    self._outage_logged = time.monotonic()
                    log.error("worker %s: Redis unavailable (%s); retrying every %gs", self.name, exc, MAX_BACKOFF)
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            if popped:
                popped = self._drop_foreign(popped)
                if not popped:
                    continue
            if popped and pool is not None:
                batch = self._take(popped)
                if not batch:
                    continue
                return batch[0]  # for RQ's loop's count (--max-jobs); it is in its slot already
            if popped:
                key, job_id = popped[0]
                queue = self._queue_by_key[key]
                try:
                    job = self.job_class.fetch(job_id, connection=self.connection, serializer=self.serializer)
                except NoSuchJobError:
                    # Cancelled, or its hash was lost: the row decides; the dispatcher re-sends if needed.
                    self._release(queue, job_id)
                    continue
                except RedisError as exc:
                    self._hand_back(queue, job_id, exc)
                    time.sleep(backoff)
                    continue
                self._current_queue = logical_queue_name(queue.name)
                return job, queue
            busy = pool is not None and pool.busy()
            if was_busy or busy:
                idle_since = time.monotonic()
                if timeout is None:  # burst mode: what the running jobs lead to, or release, is run too
                    if busy:
                        pool.wait_for_change(FLOW_RECHECK)
                    continue
            if timeout is None:
                return None  # burst mode: nothing this worker may run now
            if max_idle_time is not None and time.monotonic() - idle_since >= max_idle_time:
                return None

    def _batch_size(self, pool) -> tuple[int, dict]:
        """How many jobs to take in one pop (the free slots; one without slots or with --max-jobs,
        which counts jobs exactly), and how many more of each slot-limited queue fit."""
        if pool is None or self._max_jobs is not None:
            return 1, {}
        limited = {name: config["slots"] for name, config in settings.CONVEYOR_QUEUES.items() if config.get("slots")}
        held = pool.per_queue() if limited else {}
        room = {}
        for name, limit in limited.items():
            left = min(limit, self.slots) - held[name]
            room[name] = left if left > 0 else -1  # for the pop script 0 means "no limit"; -1 takes none
        return pool.free(), room

    def _take(self, popped: list[tuple[str, str]]) -> list:
        """A popped batch: a slot reserved for each job, the batch's rows claimed in one statement,
        then each job handed to its slot thread with its row. A batch of one job (the idle case)
        is handed over before its claim: the thread's wake-up, about a third of a millisecond,
        overlaps the claim's round trip instead of following it. A larger batch is handed over
        after it: slot threads waking during the claim cost about a fifth of the throughput of
        no-op jobs (decisions 56). Returns (job, queue) pairs; if the claim fails they are
        handed back and their slots end without running them.

        The slots do not fetch RQ's job hashes nor write RQ's per-job execution records (the
        started registry, the execution hash, the job's status and heartbeat): the row is the
        job, claimed here, and the hash is only its transport, deleted when it ends. That was
        over a third of a no-op job's worker CPU (docs/decisions.md 44). A row that cannot be
        claimed (cancelled, finished, claimed elsewhere) is skipped by runtime.execute."""
        batch = [(Taken(job_id, self.job_class.key_for(job_id)), self._queue_by_key[key]) for key, job_id in popped]
        ids = [uuid.UUID(job.id) for job, _ in batch]  # valid: _drop_foreign ran
        reserved = []  # (slot work, its pending claim), one per job reserved so far
        early = len(batch) == 1  # handed to its slot before the claim; a larger batch after it
        try:
            for job, queue in batch:
                job.started_at = now()
                claim = PendingClaim()
                reserved.append((self._pool.reserve(job.id, logical_queue_name(queue.name), (job, queue, claim)), claim))
            if early:
                self._pool.start(reserved[0][0])
            claims, started = runtime.claim_batch(ids, self.name)
        except Exception as exc:
            # The claim failed, or a slot could not be reserved: the whole batch goes back, and
            # every slot reserved so far is told, so none waits for a claim that never comes.
            log.exception("worker %s: could not claim a batch of %d job(s); handing them back", self.name, len(batch))
            close_old_connections()
            for index, (job, queue) in enumerate(batch):
                if index < len(reserved):
                    work, claim = reserved[index]
                    claim.set(PendingClaim.HANDED_BACK)
                    if not early:
                        self._pool.start(work)  # the slot ends at once, which frees it
                self._hand_back(queue, job.id, exc)
            return []
        for pk, (work, claim) in zip(ids, reserved):
            claim.set((claims.get(pk), started))
            if not early:
                self._pool.start(work)
        self.set_state(WorkerStatus.BUSY)
        return batch

    def _drop_foreign(self, popped: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Entries of the lists that cannot name a job (pushed with plain RQ and an id of its own,
        say): logged once and let go here, before they reach a claim they would fail, and with
        it the jobs popped beside them. Any RQ hash they have is left for whoever pushed them."""
        kept = []
        for key, job_id in popped:
            try:
                uuid.UUID(job_id)
            except ValueError:
                queue = self._queue_by_key[key]
                log.warning(
                    "queue %s: %r is not a Conveyor job id (enqueued with plain RQ?); dropped", logical_queue_name(queue.name), job_id
                )
                self._release(queue, job_id)
                continue
            kept.append((key, job_id))
        return kept

    def _lists_with_room(self) -> list:
        """The lists to take from, with their flow limits: all of them, less the queues whose
        per-process slot limit (QUEUE_OVERRIDES "slots") is reached."""
        every = self._every_list()
        held = self._pool.per_queue() if self._pool is not None else {}
        if not held:
            return every
        return [(key, limits) for key, limits in every if held[limits.queue] < _slots_for(limits.queue, self.slots)]

    def _every_list(self) -> list:
        """(key, flow limits) of every list, in order: computed once per settings (the queues'
        limits are settings, fixed while a worker runs; a test may swap them)."""
        queues = settings.CONVEYOR_QUEUES
        if self._lists_for is not queues:
            self._every = [(q.key, flow.limits_for(q.name)) for q in self.queues]
            self._lists_for = queues
        return self._every

    def _hand_back(self, queue, job_id, exc) -> None:
        """A job popped from Redis that Redis then failed to start: its id is off the list, so
        nothing would deliver it again. Put its row back to pending (usually the database is up
        when Redis is not; if not, _settle_hand_backs retries); the dispatcher sends it again. A copy that is still delivered
        somewhere is harmless: only one worker can claim the row."""
        log.warning("job %s: Redis failed before the job started (%s); handed back to the dispatcher", job_id, exc)
        self._owed_hand_backs.add(job_id)
        self._settle_hand_backs()
        self._release(queue, job_id)

    def _settle_hand_backs(self) -> None:
        """Hand-backs the database refused (it was down too) are retried on every dequeue
        pass until it answers, so a double fault delays the job instead of stranding it."""
        for job_id in list(self._owed_hand_backs):
            try:
                transitions.hand_back([job_id])
            except Exception:
                log.exception("job %s: could not hand it back (database unavailable too); retrying", job_id)
                close_old_connections()
                return
            self._owed_hand_backs.discard(job_id)

    def execute_job(self, job, queue):
        if self._pool is not None:  # taken, handed to its slot and claimed with its batch (_take)
            return
        try:
            execution = self.prepare_execution(job)
        except RedisError as exc:
            self._hand_back(queue, job.id, exc)
            self.set_state(WorkerStatus.IDLE)
            return
        self.perform_job(job, queue, execution)
        self.set_state(WorkerStatus.IDLE)

    # --- Slots (jobs.worker.slots) ------------------------------------------------------

    def _run_in_slot(self, work: Work) -> None:
        """One job in a slot thread: what perform_job does after RQ's bookkeeping."""
        job, queue, claim = work.payload
        settled = []

        def record_success(record, started, finished, worker_name, result, then) -> None:
            # Recorded with the other jobs finishing about now, and settled in Redis with them,
            # by the recorder thread: this slot goes on to its next job meanwhile.
            settled.append(True)
            self._pool.settling(1)
            self._recorder.submit(Outcome(record, started, finished, result, (job, queue), then))

        close_old_connections()  # a lone job's claim may still be in flight (_take)
        claimed = claim.get()
        if claimed is PendingClaim.HANDED_BACK:
            return
        try:
            runtime.execute(
                job.id,
                worker_name=self.name,
                death_penalty_class=partial(self._slot_penalty, job, queue),
                claimed=claimed,
                record_success=record_success,
            )
            self._count_done()
            if not settled:  # failed, retried, cancelled or skipped: settled alone
                self._settle_alone(job, queue, idle=False)
        except Exception:
            # Infrastructure trouble (database or Redis), not the task's own failure: the row
            # stays as it was and the recovery sweep takes over; the transport is let go.
            log.exception("job %s: could not be run or recorded", job.id)
            if not settled:  # a success handed to the recorder is settled by it
                self._settle_alone(job, queue, idle=False)
        finally:
            self._claims.pop(str(job.id), None)
            close_old_connections()

    def _slot_penalty(self, job, queue, timeout, exception, *, record=None, started=None, **kwargs):
        if record is not None:
            self._claims[str(job.id)] = (record, started)
        on_stuck = partial(self._abandon, job, queue, record, started, timeout) if record is not None else None
        return ThreadDeathPenalty(timeout, exception, on_stuck=on_stuck, **kwargs)

    def _abandon(self, job, queue, record, started, timeout) -> None:
        """A job still running timeouts.STUCK_AFTER seconds after its timeout (blocked in a C call): its
        attempt is recorded as timed out, its slot goes to a fresh thread and its concurrency
        lease is released. The stuck thread is left to end by itself; the store refuses what it records."""
        error = JobTimeoutException(
            f"Task exceeded maximum timeout value ({timeout} seconds) and did not stop within {timeouts.STUCK_AFTER:g}s; its thread was abandoned"
        )
        try:
            runtime.record_failure(record, started, self.name, JobAttempt.Outcome.TIMED_OUT, error)
        except Exception:
            log.exception("job %s: could not record its timeout; the heartbeat rescue will", job.id)
        finally:
            connection.close()  # this stuck-job thread's own connection
        self._pool.abandon(job.id)
        self._release(queue, job.id)
        log.error("job %s: did not stop after its %ss timeout; its slot thread was abandoned", job.id, timeout)
        if self._pool.stuck_threads() >= self.slots:
            log.error("worker %s: %d slot threads are stuck in jobs that will not stop; restarting the worker", self.name, self.slots)
            os.kill(os.getpid(), signal.SIGTERM)

    def _count_done(self) -> None:
        with self._done_lock:
            self._jobs_done += 1

    def _release(self, queue, job_id) -> None:
        try:
            with self.connection.pipeline() as pipe:
                self._flow.release(pipe, logical_queue_name(queue.name), job_id)
                pipe.execute()
        except RedisError as exc:
            log.warning("job %s: could not release its slot (%s); the lease expires by itself", job_id, exc)

    # --- Lean RQ bookkeeping --------------------------------------------------

    # Redis going away must not end the worker: RQ's loop quits on any unexpected
    # error, so its standalone Redis calls swallow connection errors here. The
    # dequeue loop already waits and reconnects; the database keeps the jobs.

    def heartbeat(self, timeout=None, pipeline=None):
        if pipeline is None and timeout is None and time.monotonic() - self._last_beat < HEARTBEAT_EVERY:
            return
        self._last_beat = time.monotonic()
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline)
        try:
            super().heartbeat(timeout, pipeline)
        except RedisError as exc:
            log.warning("worker %s: Redis unavailable for its heartbeat (%s)", self.name, exc)

    def set_state(self, state, pipeline=None):
        if pipeline is None and state == self._state:
            return
        if pipeline is not None:
            return super().set_state(state, pipeline)
        try:
            super().set_state(state, pipeline)
        except RedisError:
            self._state = state

    def check_for_suspension(self, burst):
        if time.monotonic() - self._suspension_checked < SUSPENSION_CHECK_EVERY:
            return
        self._suspension_checked = time.monotonic()
        try:
            super().check_for_suspension(burst)
        except RedisError as exc:
            log.warning("worker %s: Redis unavailable (%s); waiting", self.name, exc)
            time.sleep(1)

    def run_maintenance_tasks(self):
        try:
            super().run_maintenance_tasks()
        except RedisError as exc:
            log.warning("worker %s: maintenance skipped, Redis unavailable (%s)", self.name, exc)

    def clean_registries(self):
        """RQ's registry cleaning, only for the lists that have something to clean: one pipeline
        first asks which of their registries exist. RQ cleans every registry of every list, about
        seven round trips each: for the 60 lists of 15 queues 70 ms at every start and every
        maintenance pass, for registries that are nearly always empty (slots write none). Dead
        workers leave the per-queue worker sets through the rescue (jobs.ops.recovery)."""
        if self._registry_keys is None:
            self._registry_keys = [
                [cls(name=q.name, connection=self.connection).key for cls in CLEANED_REGISTRIES] + [q.intermediate_queue_key]
                for q in self.queues
            ]
        with self.connection.pipeline(transaction=False) as pipe:
            for keys in self._registry_keys:
                pipe.exists(*keys)
            found = pipe.execute()
        for queue, count in zip(self.queues, found):
            if count and queue.acquire_maintenance_lock():
                log.debug("worker %s: cleaning registries for queue: %s", self.name, queue.name)
                clean_registries(queue, self._exc_handlers)
                worker_registration.clean_worker_registry(queue)
                queue.intermediate_queue.cleanup(self, queue)
                queue.release_maintenance_lock()
        self.last_cleaned_at = now()

    def perform_job(self, job, queue, execution) -> bool:
        close_old_connections()
        try:
            try:
                self.prepare_job_execution(job, remove_from_intermediate_queue=len(self.queues) == 1)
            except RedisError as exc:
                self._hand_back(queue, job.id, exc)  # not run, not claimed
                return False
            job.started_at = now()
            self._current_job = job.id
            runtime.execute(job.id, worker_name=self.name, death_penalty_class=self.death_penalty_class)
            self._count_done()
            self._settle_alone(job, queue, execution)
        except Exception:
            # Infrastructure trouble (database or Redis), not the task's own failure:
            # RQ records it; the row stays as it was and the recovery sweep takes over.
            log.exception("job %s: could not be run or recorded", job.id)
            self._release(queue, job.id)
            self._finalize_failure(job, queue, execution, sys.exc_info())
            return False
        finally:
            self._current_job = self._current_queue = None
            close_old_connections()
        return True

    def _settle_alone(self, job, queue, execution=None, idle: bool = True) -> None:
        job.ended_at = now()
        job._status = JobStatus.FINISHED
        try:
            self._finish_transport(job, queue, execution, idle)
        except RedisError as exc:
            log.warning("job %s: recorded, but Redis bookkeeping failed (%s)", job.id, exc)

    def _finish_transport(self, job, queue, execution, idle: bool = True) -> None:
        """What RQ's handle_job_success does for a result_ttl=0 job without dependents, plus
        releasing the concurrency slot, in one round trip."""
        with self.connection.pipeline() as pipe:
            self._settle_one(pipe, job, queue, execution)
            self._count_in_rq(pipe, 1, job.ended_at - job.started_at)
            if idle:
                self.set_state(WorkerStatus.IDLE, pipeline=pipe)
            pipe.execute()

    def _settle_many(self, transports) -> None:
        """_finish_transport for slot jobs that finished together (jobs.worker.recorder), one pipeline."""
        try:
            with self.connection.pipeline() as pipe:
                worked = timedelta()
                for job, queue in transports:
                    job.ended_at = now()
                    self._settle_one(pipe, job, queue)
                    worked += job.ended_at - job.started_at
                self._count_in_rq(pipe, len(transports), worked)
                pipe.execute()
        finally:
            self._pool.settling(-len(transports))

    def _settle_one(self, pipe, job, queue, execution=None) -> None:
        """Release the job's concurrency slot and delete its transport keys. A job run in a slot
        (jobs.worker.Taken) has only its hash; one run the stock way also has RQ's execution."""
        self._flow.release(pipe, logical_queue_name(queue.name), job.id)
        if execution is None:
            pipe.delete(job.key)
            return
        execution.delete(job=job, pipeline=pipe)
        pipe.delete(job.key, job.dependents_key, job.dependencies_key, job.execution_registry.key)

    def _count_in_rq(self, pipe, jobs: int, worked: timedelta) -> None:
        """The worker's counters RQ's dashboard shows (successful jobs, working time), once per batch."""
        pipe.hincrby(self.key, "successful_job_count", jobs)
        pipe.hincrbyfloat(self.key, "total_working_time", worked.total_seconds())


class PendingClaim:
    """A slot job's claim, filled in by the dequeue loop once the batch is claimed (a lone job is
    in its slot before that, and its thread waits here for its row)."""

    HANDED_BACK = object()  # the claim failed: the job went back to the dispatcher
    __slots__ = ("_done", "_value")

    def __init__(self):
        self._done = threading.Event()
        self._value = None

    def set(self, value) -> None:
        self._value = value
        self._done.set()

    def get(self):
        # Short waits, so that a forced stop (an exception raised in this thread) is heard.
        while not self._done.wait(0.1):
            pass
        return self._value


class Taken:
    """A job id a slot worker took off a queue list: what the slots need of it, without its RQ
    hash (see ConveyorWorker._take)."""

    __slots__ = ("_status", "ended_at", "id", "key", "started_at")

    def __init__(self, job_id: str, key: bytes):
        self.id = job_id
        self.key = key
        self.started_at = self.ended_at = None
        self._status = None
