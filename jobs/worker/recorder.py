"""Successes of jobs that finish together, recorded in one transaction and settled in Redis
in one pipeline.

A slot thread whose body succeeded hands its outcome to the recorder thread and waits for
it to be durable (so its signals and log line follow the commit, as with one slot). The
recorder takes whatever has arrived meanwhile, with no added delay: under load, outcomes
pile up while one batch commits and the next batch takes them all; at idle each success is
committed alone, as before. The window between a body's end and its durable record is one
batch's commit.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field

from django.db import close_old_connections, connection
from redis.exceptions import RedisError

from jobs.store import transitions

log = logging.getLogger(__name__)

MAX_BATCH = 100
_STOP = object()


@dataclass
class Outcome:
    record: object  # jobs.store.sql.Claimed
    started: object
    finished: object
    result: object
    transport: tuple  # (job, queue, execution): what the worker settles in Redis
    done: threading.Event = field(default_factory=threading.Event)
    recorded: bool = False
    error: BaseException | None = None


class Recorder:
    def __init__(self, worker_name: str, settle):
        """``settle(transports)``: the Redis bookkeeping of finished jobs, in one pipeline."""
        self._worker_name = worker_name
        self._settle = settle
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="conveyor-recorder", daemon=True)
        self._thread.start()

    def record(self, outcome: Outcome) -> bool:
        """Called by a slot thread: True once its success is committed, False if its row was taken
        over meanwhile (rescued or cancelled). Raises what the database raised."""
        self._inbox.put(outcome)
        outcome.done.wait()
        if outcome.error is not None:
            raise outcome.error
        return outcome.recorded

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
                self._write(batch)
        finally:
            connection.close()  # this thread's own connection

    def _write(self, batch: list[Outcome]) -> None:
        try:
            recorded = transitions.record_successes([(o.record, o.started, o.finished, o.result) for o in batch], self._worker_name[:255])
        except Exception as exc:
            close_old_connections()
            for outcome in batch:
                outcome.error = exc
                outcome.done.set()
            return
        for outcome in batch:
            outcome.recorded = outcome.record.pk in recorded
        try:
            self._settle([o.transport for o in batch])
        except RedisError as exc:
            log.warning("%d job(s) recorded, but their Redis bookkeeping failed (%s)", len(batch), exc)
        finally:
            for outcome in batch:
                outcome.done.set()

    def close(self, wait: float = 5.0) -> None:
        self._inbox.put(_STOP)
        self._thread.join(wait)
