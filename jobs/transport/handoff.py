"""The push that follows an enqueue's commit, off the caller's thread.

An enqueue is durable once its INSERT commits; handing the job to Redis is delivery, not
durability. With ``ENQUEUE_PUSH=background`` (the default) the commit hook hands the committed
rows to one thread per process, which pushes everything waiting in one call
(``dispatch.dispatch_new``: one script call per RQ list, a pipeline when several), so the caller
returns after its commit and never waits on Redis, however slow Redis is or whether it answers.

What can happen to a row handed over, and who repairs it:

* pushed: the normal case, within a fraction of a millisecond of the commit (plus up to
  ``ENQUEUE_PUSH_LINGER``, 1 ms, when enqueues arrive back to back, so that they share a push);
* Redis refused it: ``dispatch_new`` sets it back to ``pending`` (this thread opens a database
  connection only then, and closes it after) and the dispatcher sends it within
  ``SWEEP_GRACE`` + ``DISPATCH_INTERVAL`` of Redis answering;
* the process died first (kill -9, OOM): the row is ``queued`` with no RQ job, which the
  dispatcher's sweep finds past ``SWEEP_GRACE`` and sends again (``jobs.ops.sweep``), as it
  does for a crash between commit and push with the inline hand-off.

At interpreter exit (a management command, a script) the thread is drained first, for up to
HANDOFF_EXIT_WAIT seconds. More than HANDOFF_MAX_WAITING rows waiting (Redis hanging) and
the caller pushes its own, inline, so memory stays bounded and the back-pressure is felt.
``ENQUEUE_PUSH=inline`` pushes in the commit hook itself, as before.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time

from django.conf import settings
from django.db import connections

from jobs.models import JobRecord
from jobs.transport import dispatch

log = logging.getLogger(__name__)

HANDOFF_MAX_WAITING = 20_000  # rows; beyond this the caller pushes inline
HANDOFF_EXIT_WAIT = 10.0  # seconds the interpreter's exit waits for rows still waiting


class Handoff:
    """One pushing thread per process, started on first use (and again in a forked child)."""

    def __init__(self, push, linger: float | None = None) -> None:
        self._push = push  # list[JobRecord] -> None; failures are its business (hand back)
        self._linger = settings.ENQUEUE_PUSH_LINGER if linger is None else linger  # seconds
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._waiting: list[JobRecord] = []
        self._busy = False
        self._thread: threading.Thread | None = None

    def submit(self, records: list[JobRecord]) -> None:
        with self._cond:
            if len(self._waiting) < HANDOFF_MAX_WAITING:
                self._waiting.extend(records)
                if self._thread is None:
                    self._start()
                self._cond.notify()
                return
        self._push(records)  # back-pressure: Redis is not keeping up

    def flush(self, timeout: float = HANDOFF_EXIT_WAIT) -> bool:
        """Wait until every row handed over has been pushed (or handed back); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._waiting or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None or not self._thread.is_alive():
                    return not (self._waiting or self._busy)
                self._cond.wait(left)
        return True

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="conveyor-handoff", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last_push = float("-inf")  # when the last push ended (monotonic seconds); none yet
        while True:
            with self._cond:
                while not self._waiting:
                    self._cond.wait()
            if self._linger and time.monotonic() - last_push < self._linger:
                # Enqueues are arriving back to back (this row came within the linger of the last
                # push): the next few join this push, one Redis call for several rows, which
                # leaves the callers more of the machine. After a quiet spell a row goes at once:
                # an idle enqueue, or one every few milliseconds, waits for nothing.
                time.sleep(self._linger)
            with self._cond:
                batch, self._waiting = self._waiting, []
                self._busy = True
            try:
                self._push(batch)
            except Exception:  # never let the thread die: the sweep repairs what was not pushed
                log.exception("could not hand %d job(s) to Redis; the dispatcher will send them", len(batch))
            finally:
                last_push = time.monotonic()
                # A failed push hands the rows back through this thread's own connection.
                connections[JobRecord.objects.db].close()
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


_handoff: Handoff | None = None
_creating = threading.Lock()


def hand_off(records: list[JobRecord]) -> None:
    """The enqueue's commit hook: push ``records`` now (inline) or on the hand-off thread."""
    if settings.ENQUEUE_PUSH == "inline":
        dispatch.dispatch_new(records)
        return
    global _handoff
    if _handoff is None:
        with _creating:  # two threads' first enqueues: one hand-off, not two
            if _handoff is None:
                _handoff = Handoff(dispatch.dispatch_new)
    _handoff.submit(records)


def flush(timeout: float = HANDOFF_EXIT_WAIT) -> bool:
    """Wait for this process's hand-off thread to push what it holds (tests, shutdown)."""
    return _handoff.flush(timeout) if _handoff is not None else True


def _after_fork_in_child() -> None:
    global _creating
    _creating = threading.Lock()
    if _handoff is not None:
        _handoff._reset()  # the parent's thread and lock do not exist here; rows are the parent's to push


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(flush)
