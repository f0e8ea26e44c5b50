"""Successes of jobs that finish together, recorded in one transaction and settled in Redis
in one pipeline, while the slots go on with their next jobs.

A slot thread whose body succeeded hands its outcome to the recorder thread and is free at
once. The recorder takes whatever has arrived meanwhile, with no added delay: under load,
outcomes pile up while one batch commits and the next batch takes them all; at idle each
success is committed alone. After the commit it settles the batch's Redis bookkeeping
(concurrency slots released, job hashes deleted) and calls each outcome's ``then`` with
whether its row was recorded (the success signal and log line, which so follow the commit).

Bounded: at most ``backlog`` successes wait to be durable (a slot whose body ends with the
backlog full waits for room), so the window in which a completed body could run again (the
worker killed before its success is committed) covers at most that many jobs, for about two
commits. The database going away meanwhile does not drop them: the recorder retries the
batch until the database answers (slots stop at the full backlog), and a worker stopped
meanwhile leaves them to the heartbeat rescue like any running job.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import InterfaceError, OperationalError, close_old_connections, connection
from redis.exceptions import RedisError

from jobs.store import transitions

log = logging.getLogger(__name__)

MAX_BATCH = 100
# While the database does not answer, the recorder retries after this many seconds, doubling.
RETRY_MIN, RETRY_MAX = 0.1, 1.0
_STOP = object()


@dataclass
class Outcome:
    record: object  # jobs.store.sql.Claimed
    started: object
    finished: object
    result: object
    transport: tuple  # (job, queue): what the worker settles in Redis
    then: Callable[[bool], object] | None = None  # called after the commit: recorded or not


class Recorder:
    def __init__(self, worker_name: str, settle, backlog: int):
        """``settle(transports)``: the Redis bookkeeping of finished jobs, in one pipeline.
        ``backlog``: how many successes may wait to be durable at once."""
        self._worker_name = worker_name
        self._settle = settle
        self._room = threading.BoundedSemaphore(backlog)
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="conveyor-recorder", daemon=True)
        self._thread.start()

    def submit(self, outcome: Outcome) -> None:
        """Called by a slot thread: returns at once, unless ``backlog`` successes already wait."""
        self._room.acquire()
        self._inbox.put(outcome)

    def _loop(self) -> None:
        try:
            while True:
                first = self._inbox.get()
                if first is _STOP:
                    return
                batch = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        more = self._inbox.get_nowait()
                    except queue.Empty:
                        break
                    if more is _STOP:
                        self._inbox.put(_STOP)  # after this batch
                        break
                    batch.append(more)
                try:
                    self._write(batch)
                finally:
                    for _ in batch:
                        self._room.release()
        finally:
            connection.close()  # this thread's own connection

    def _commit(self, batch: list[Outcome]) -> set | None:
        """The batch's rows recorded in one transaction: the ids recorded, or None if it failed
        for another reason than the database being unreachable (logged; left to the rescue)."""
        outcomes = [(o.record, o.started, o.finished, o.result) for o in batch]
        wait = RETRY_MIN
        while True:
            try:
                return transitions.record_successes(outcomes, self._worker_name[:255])
            except (OperationalError, InterfaceError) as exc:
                connection.close()  # a fresh one on the next try
                log.error("%d success(es) not recorded yet, the database is unavailable (%s); retrying", len(batch), exc)
                time.sleep(wait)
                wait = min(wait * 2, RETRY_MAX)
            except Exception:
                close_old_connections()
                log.exception("%d success(es) could not be recorded; their rows are left to the rescue", len(batch))
                return None

    def _write(self, batch: list[Outcome]) -> None:
        recorded = self._commit(batch)
        try:
            self._settle([o.transport for o in batch])
        except RedisError as exc:
            log.warning("%d job(s) recorded, but their Redis bookkeeping failed (%s)", len(batch), exc)
        if recorded is None:
            return
        for outcome in batch:
            if outcome.then is None:
                continue
            try:
                outcome.then(outcome.record.pk in recorded)
            except Exception:
                log.exception("job %s: what follows its recorded success failed", outcome.record.pk)

    def close(self, wait: float = 5.0) -> None:
        """Write what has arrived, then stop (``wait`` seconds at most)."""
        self._inbox.put(_STOP)
        self._thread.join(wait)
