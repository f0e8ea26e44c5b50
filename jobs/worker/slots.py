"""A worker process's slots: N threads that run jobs the dequeue loop hands them.

The dequeue loop (the worker's main thread) takes a job only when a slot is free, so a
job never waits in the process for a thread. Each slot thread keeps its own database
connection for its lifetime (Django's connections are per thread) and closes it when it
ends. A slot whose job would not stop after its timeout is abandoned: the job is counted
out, a fresh thread takes the slot, and the old thread ends when (if) its body returns.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection

from jobs.worker.timeouts import raise_in_thread

log = logging.getLogger(__name__)

_STOP = object()


@dataclass
class Work:
    job_id: str
    queue: str  # the logical queue
    payload: tuple
    thread: threading.Thread | None = field(default=None, repr=False)


class SlotPool:
    def __init__(self, size: int, handler: Callable[[Work], None], name: str = "conveyor-slot"):
        if size < 1:
            raise ValueError("a slot pool needs at least one slot")
        self.size = size
        self._handler = handler
        self._name = name
        self._numbers = itertools.count(1)
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._changed = threading.Condition()
        self._work: dict[str, Work] = {}  # handed over and not finished (nor abandoned)
        self._threads: set[threading.Thread] = set()
        self._abandoned: set[threading.Thread] = set()
        self.abandoned_total = 0
        self._settling = 0  # bodies ended whose outcome is still being recorded (jobs.worker.recorder)
        for _ in range(size):
            self._spawn()

    def _spawn(self) -> None:
        thread = threading.Thread(target=self._loop, name=f"{self._name}-{next(self._numbers)}", daemon=True)
        self._threads.add(thread)
        thread.start()

    # --- What the dequeue loop asks -------------------------------------------------

    def free(self) -> int:
        with self._changed:
            return self.size - len(self._work)

    def busy(self) -> int:
        """Jobs running in the slots, and ended ones whose success is not recorded yet (their
        slots are free, but the process still has work to finish)."""
        with self._changed:
            return len(self._work) + self._settling

    def settling(self, count: int) -> None:
        """``count`` more (or, negative, fewer) ended jobs wait for their success to be recorded."""
        with self._changed:
            self._settling += count
            self._changed.notify_all()

    def per_queue(self) -> Counter:
        with self._changed:
            return Counter(work.queue for work in self._work.values())

    def job_ids(self) -> list[tuple[str, str]]:
        """(queue, job id) of every job this process holds now."""
        with self._changed:
            return [(work.queue, work.job_id) for work in self._work.values()]

    def wait_for_free(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self._work) < self.size, timeout)

    def wait_for_change(self, timeout: float) -> None:
        with self._changed:
            self._changed.wait(timeout)

    def submit(self, job_id: str, queue_name: str, payload: tuple) -> None:
        self.start(self.reserve(job_id, queue_name, payload))

    def reserve(self, job_id: str, queue_name: str, payload: tuple) -> Work:
        """Hold a slot for a job (it counts as running from now on) without waking a thread yet:
        ``start`` does. Raises if no slot is free."""
        work = Work(str(job_id), queue_name, payload)
        with self._changed:
            if len(self._work) >= self.size:
                raise RuntimeError("no free slot")  # the dequeue loop takes a job only for a free slot
            self._work[work.job_id] = work
        return work

    def start(self, work: Work) -> None:
        """Hand a reserved job to a slot thread."""
        self._inbox.put(work)

    # --- The slot threads ---------------------------------------------------------------

    def _loop(self) -> None:
        me = threading.current_thread()
        try:
            while True:
                work = self._inbox.get()
                if work is _STOP:
                    return
                with self._changed:
                    if self._work.get(work.job_id) is not work:
                        continue  # abandoned before it started
                    work.thread = me
                try:
                    self._handler(work)
                except SystemExit:
                    log.warning("job %s: its slot was stopped with the worker", work.job_id)
                    return
                except BaseException:
                    log.exception("job %s: its slot failed outside the job", work.job_id)
                finally:
                    with self._changed:
                        if self._work.get(work.job_id) is work:
                            del self._work[work.job_id]
                        self._changed.notify_all()
                if me in self._abandoned:
                    return
        finally:
            with self._changed:
                self._threads.discard(me)
                self._abandoned.discard(me)
                self._changed.notify_all()
            connection.close()  # this thread's own connection

    def abandon(self, job_id: str) -> bool:
        """Count a job that will not stop out of its slot, and give the slot a fresh thread."""
        with self._changed:
            work = self._work.pop(str(job_id), None)
            if work is None:
                return False
            if work.thread is not None:
                self._abandoned.add(work.thread)
            self.abandoned_total += 1
            self._spawn()
            self._changed.notify_all()
        return True

    def stuck_threads(self) -> int:
        with self._changed:
            return len(self._abandoned)

    # --- Stopping -----------------------------------------------------------------------

    def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the jobs handed over to finish. True if they did."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._work:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.5))  # short waits: the main thread handles signals between them
        return True

    def interrupt(self, exception: type[BaseException] = SystemExit, wait: float = 5.0) -> None:
        """Raise ``exception`` in every busy slot (a forced stop: each job records its attempt as
        cut short) and wait up to ``wait`` seconds for them to do so."""
        with self._changed:
            threads = [work.thread for work in self._work.values() if work.thread is not None]
        for thread in threads:
            raise_in_thread(thread, exception)
        self.drain(wait)

    def close(self, wait: float = 1.0) -> None:
        with self._changed:
            threads = list(self._threads)
        for _ in threads:
            self._inbox.put(_STOP)
        for thread in threads:
            thread.join(wait / max(1, len(threads)))
