"""Job timeouts for jobs run in a worker's slot threads.

RQ's SIGALRM penalty works only in the main thread, and its TimerDeathPenalty rewrites the
shared exception class's ``__init__`` (two slots with different timeouts would race). Here
each penalty raises its own subclass of ``JobTimeoutException`` in the job's thread
(``PyThreadState_SetAsyncExc``, as Dramatiq's time limit does). Such an exception lands
when the thread next runs Python code: a body blocked inside one C call (a socket read
without a timeout) does not see it. So a second deadline follows: if the body has not
ended ``STUCK_AFTER`` seconds after its timeout, ``on_stuck`` is called (the slot pool
records the attempt as timed out, frees the slot and starts a fresh thread; the stuck one
is abandoned, and whatever it records later is refused by the job store).

Every deadline of a process waits in one watchdog thread (a threading.Timer per job was a
thread started and stopped for every job run).
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import logging
import threading
import time

from rq.timeouts import BaseDeathPenalty, JobTimeoutException

log = logging.getLogger(__name__)

# Seconds a body may keep running after its timeout exception was raised in its thread.
STUCK_AFTER = 5.0


class Watchdog:
    """Deadlines in one thread: ``schedule(delay, action)`` calls ``action()`` in that thread
    ``delay`` seconds from now unless ``cancel(entry)`` came first. Actions must be quick."""

    # Cancelled entries are dropped as they come due, or all at once when they outnumber the
    # live ones (a job's timeout is minutes away when it ends: the heap would keep them).
    COMPACT_AT = 64

    def __init__(self, name: str = "conveyor-timeouts"):
        self._name = name
        self._cond = threading.Condition()
        self._heap: list[list] = []
        self._cancelled = 0
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, delay: float, action) -> list:
        entry = [time.monotonic() + delay, next(self._order), action]
        with self._cond:
            heapq.heappush(self._heap, entry)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            if self._heap[0] is entry:
                self._cond.notify()
        return entry

    def cancel(self, entry: list) -> None:
        with self._cond:
            if entry[2] is None:
                return
            entry[2] = None
            self._cancelled += 1
            if self._cancelled >= self.COMPACT_AT and self._cancelled * 2 > len(self._heap):
                self._heap = [e for e in self._heap if e[2] is not None]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def pending(self) -> int:
        with self._cond:
            return len(self._heap) - self._cancelled

    def _next_due(self):
        """Under the lock: the next action due now, waiting for it as long as needed."""
        while True:
            while self._heap and self._heap[0][2] is None:
                heapq.heappop(self._heap)
                self._cancelled -= 1
            if not self._heap:
                self._cond.wait()
                continue
            wait = self._heap[0][0] - time.monotonic()
            if wait <= 0:
                entry = heapq.heappop(self._heap)
                action, entry[2] = entry[2], None
                return action
            self._cond.wait(wait)

    def _loop(self) -> None:
        while True:
            with self._cond:
                action = self._next_due()
            try:
                action()
            except Exception:
                log.exception("a job deadline's action failed")


WATCHDOG = Watchdog()


def _raise_in(thread_id: int, exception: type[BaseException] | None) -> bool:
    """Raise ``exception`` in the thread ``thread_id`` when it next runs Python code (None: take
    back one not yet raised). True if the thread exists."""
    target = ctypes.py_object(exception) if exception is not None else None
    found = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), target)
    if found > 1:  # cannot happen for one id; undo as the C API asks
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)
    return found == 1


def raise_in_thread(thread: threading.Thread, exception: type[BaseException]) -> bool:
    return thread.ident is not None and _raise_in(thread.ident, exception)


class ThreadDeathPenalty(BaseDeathPenalty):
    """``with ThreadDeathPenalty(timeout, JobTimeoutException, on_stuck=f):`` in any thread."""

    def __init__(self, timeout, exception=JobTimeoutException, *, on_stuck=None, **kwargs):
        super().__init__(timeout, exception, **kwargs)
        message = f"Task exceeded maximum timeout value ({timeout} seconds)"
        # Async exceptions are raised from a class with no arguments: this one carries the message.
        self._exception = type(exception.__name__, (exception,), {"__init__": lambda self, *a: exception.__init__(self, message)})
        self._exception.__qualname__ = exception.__qualname__
        self._exception.__module__ = exception.__module__
        self._on_stuck = on_stuck
        self._thread_id = threading.get_ident()
        self._lock = threading.Lock()
        self._done = False
        self._fired = False
        self._timers: list[list] = []

    def _start(self, delay: float, action) -> None:
        self._timers.append(WATCHDOG.schedule(delay, action))

    def setup_death_penalty(self):
        if self._timeout and self._timeout > 0:
            self._start(self._timeout, self._fire)

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self._fired = True
            _raise_in(self._thread_id, self._exception)
            if self._on_stuck is not None:
                self._start(STUCK_AFTER, self._stuck)

    def _stuck(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
        # Recording the attempt takes the database: not in the watchdog's thread, which other
        # jobs' deadlines wait on.
        threading.Thread(target=self._on_stuck, name=f"conveyor-stuck-{self._thread_id}", daemon=True).start()

    def cancel_death_penalty(self):
        with self._lock:
            self._done = True
            for timer in self._timers:
                WATCHDOG.cancel(timer)
            if self._fired:
                # The body ended (or raised) as the timer fired: an exception not yet raised
                # must not surface later in the code recording the outcome.
                _raise_in(self._thread_id, None)
