"""The job store: every change of a job row's state goes through one of these functions.

Each one is a compare-and-set: a single conditional UPDATE whose WHERE clause names the
states (and, for a running job, the attempt) it moves from, checked against the table in
``jobs.core.states``. It returns how many rows moved, so a caller that lost a race (the row
was claimed, rescued, cancelled or finished meanwhile) sees 0 and does nothing further.
The statements that are faster written by hand (claim, success, bulk insert) are the back
ends in ``jobs.store.sql``, one for PostgreSQL and one for SQLite.

Callers: ``jobs.transport.dispatch`` (mark queued, hand back), ``jobs.ops.sweep`` (lost),
``jobs.ops.runtime`` and ``jobs.ops.recovery`` (claim, outcome, progress),
``jobs.ops.control`` (staff actions) and ``jobs.worker`` (hand back). Nothing else writes
``JobRecord.state`` (ruff's banned-api rule keeps ``transition`` inside this package).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from jobs.core.states import WAITING, State, transition
from jobs.models import JobAttempt, JobRecord
from jobs.store import sql

# --- Dispatch: waiting <-> queued -------------------------------------------------------


def mark_queued(ids, sources, stamp, due_by) -> int:
    """Rows in ``sources`` whose run_at has come by ``due_by`` become queued, stamped ``stamp``
    (the push then sends exactly the rows carrying that stamp)."""
    due = JobRecord.objects.filter(id__in=ids).filter(Q(run_at__isnull=True) | Q(run_at__lte=due_by))
    return transition(due, sources, State.QUEUED, enqueued_at=stamp)


def hand_back(ids, *, stamps=None) -> int:
    """Queued rows go back to pending for the sweep to send again: the push was refused, Redis
    lost them, or a worker could not start them. With ``stamps``, only rows still carrying one of
    those enqueue stamps (a newer dispatch of the same row is left alone)."""
    rows = JobRecord.objects.filter(id__in=ids)
    if stamps is not None:
        rows = rows.filter(enqueued_at__in=stamps)
    return transition(rows, {State.QUEUED}, State.PENDING, enqueued_at=None)


# --- The worker: running and its outcome ------------------------------------------------

claim = sql.claim  # waiting and due -> running, returning what the worker needs (one statement)
claim_many = sql.claim_many  # the same for a worker's batch, still one statement
record_success = sql.record_success  # running (this attempt) -> succeeded, with its attempt row
record_successes = sql.record_successes  # the same for jobs that finished together, one transaction


def report_progress(record, percent: int, message: str) -> bool:
    """Store a running attempt's progress. False if the row is no longer running this attempt
    or staff asked it to stop: the task is then told to stop."""
    return bool(
        JobRecord.objects.filter(pk=record.pk, state=State.RUNNING, attempts=record.attempts, cancel_requested=False).update(
            progress=percent, progress_message=message[:255]
        )
    )


def close_attempt(record, target: str, *, attempt: dict, uncount: bool = False, **fields) -> bool:
    """Running (this attempt) -> ``target`` (retrying, dead or cancelled) and the attempt's
    JobAttempt row, in one transaction. False, and nothing written, if the row was taken over.
    ``uncount``: the attempt does not count against the retries (a deferral): the row's attempt
    count goes back down (its total, which numbers the attempt rows, stays)."""
    if uncount:
        fields["attempts"] = F("attempts") - 1
    with transaction.atomic():
        moved = transition(JobRecord.objects.filter(pk=record.pk, attempts=record.attempts), {State.RUNNING}, target, **fields)
        if not moved:
            return False
        JobAttempt.objects.create(job_id=record.pk, number=record.total_attempts, **attempt)
    return True


# --- Staff actions ---------------------------------------------------------------------


def retry_now(job_id) -> int:
    """A retrying job skips the rest of its backoff (its attempt count stays)."""
    return JobRecord.objects.filter(pk=job_id, state=State.RETRYING).update(run_at=timezone.now())


def restart_chain(job_id, from_state: str) -> int:
    """Dead or cancelled -> pending with a fresh attempt chain (the history stays). Raises
    IntegrityError when another active job holds the same dedup key."""
    return transition(
        JobRecord.objects.filter(pk=job_id),
        {from_state},
        State.PENDING,
        attempts=0,
        run_at=None,
        enqueued_at=None,
        started_at=None,
        finished_at=None,
        progress=0,
        progress_message="",
        result=None,
        cancel_requested=False,
    )


def request_cancel(job_id) -> int:
    """Ask a running job to stop at its next progress report."""
    return JobRecord.objects.filter(pk=job_id, state=State.RUNNING).update(cancel_requested=True)


def cancel_waiting(job_id) -> int:
    """A job that has not started is cancelled at once."""
    return transition(JobRecord.objects.filter(pk=job_id), WAITING, State.CANCELLED, finished_at=timezone.now())
