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
"""

from __future__ import annotations

import ctypes
import threading

from rq.timeouts import BaseDeathPenalty, JobTimeoutException

# Seconds a body may keep running after its timeout exception was raised in its thread.
STUCK_AFTER = 5.0


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
        self._timers: list[threading.Timer] = []

    def _start(self, delay: float, action) -> None:
        timer = threading.Timer(delay, action)
        timer.daemon = True
        timer.name = f"conveyor-timeout-{self._thread_id}"
        self._timers.append(timer)
        timer.start()

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
        self._on_stuck()

    def cancel_death_penalty(self):
        with self._lock:
            self._done = True
            for timer in self._timers:
                timer.cancel()
            if self._fired:
                # The body ended (or raised) as the timer fired: an exception not yet raised
                # must not surface later in the code recording the outcome.
                _raise_in(self._thread_id, None)
