"""Staff actions on jobs and queues: retry, requeue, cancel, delete, pause, resume, clean.

Each one locks the row, checks the move is allowed (JobStateError, a 400 naming ``state``,
when it is not), changes it, and leaves an AuditEntry, in one transaction; Redis is told
after the commit.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit
from jobs.core import signals
from jobs.core.errors import InvalidJob, JobStateError
from jobs.core.queues import UnknownQueue, get_queue_config
from jobs.core.states import ACTIVE, TERMINAL, WAITING, State, check_transition
from jobs.models import JobRecord, QueueState
from jobs.store import transitions
from jobs.transport import dispatch

log = logging.getLogger(__name__)


def _audit(actor, action: str, job: JobRecord, reason: str = "", **details) -> None:
    audit(actor, action, "job", job.pk, reason, **details)


def _locked(job_id) -> JobRecord:
    return JobRecord.objects.select_for_update().get(pk=job_id)


def job_retry(job_id, *, actor, reason: str = "") -> JobRecord:
    """Run a job again now.

    retrying → run now, keeping its attempt count; dead or cancelled → a fresh
    attempt chain (as job_requeue). Succeeded jobs are never re-run from here:
    enqueue a new job if that is really wanted.
    """
    with transaction.atomic():
        _retry(_locked(job_id), actor, reason)
    return JobRecord.objects.get(pk=job_id)


def _retry(job: JobRecord, actor, reason: str) -> None:
    if job.state == State.RETRYING:
        # Skip the rest of the backoff; the attempt count stays, so the policy still caps it.
        transitions.retry_now(job.pk)
        _audit(actor, "job.retry", job, reason, from_state=job.state)
        transaction.on_commit(partial(dispatch.dispatch_due, [job.pk]), robust=True)
    elif job.state in (State.DEAD, State.CANCELLED):
        _restart_chain(job, actor, "job.retry", reason)
    else:
        raise JobStateError(f"job {job.pk} is {job.state}; only retrying, dead or cancelled jobs can be retried")


def job_requeue(job_id, *, actor, reason: str = "") -> JobRecord:
    """Take a job out of the dead-letter queue and start a fresh attempt chain."""
    with transaction.atomic():
        job = _locked(job_id)
        if job.state != State.DEAD:
            raise JobStateError(f"job {job.pk} is {job.state}; only dead jobs can be requeued")
        _restart_chain(job, actor, "job.requeue", reason)
    return JobRecord.objects.get(pk=job_id)


def _restart_chain(job: JobRecord, actor, action: str, reason: str) -> None:
    from_state = job.state
    check_transition({from_state}, State.PENDING)
    try:
        with transaction.atomic():
            transitions.restart_chain(job.pk, from_state)
    except IntegrityError:
        other = JobRecord.objects.filter(dedup_key=job.dedup_key, state__in=ACTIVE).values_list("pk", flat=True).first()
        raise JobStateError(f"job {job.pk} cannot restart: job {other} with the same dedup key {job.dedup_key!r} is active") from None
    _audit(actor, action, job, reason, from_state=from_state, previous_attempts=job.attempts)
    transaction.on_commit(partial(dispatch.dispatch_due, [job.pk]), robust=True)


def job_cancel(job_id, *, actor, reason: str = "") -> JobRecord:
    """Cancel a waiting job at once; ask a running one to stop at its next progress report."""
    with transaction.atomic():
        job = _locked(job_id)
        if job.state == State.RUNNING:
            if not job.cancel_requested:
                transitions.request_cancel(job.pk)
                _audit(actor, "job.cancel_requested", job, reason, from_state=job.state)
            return JobRecord.objects.get(pk=job_id)
        if job.state not in WAITING:
            raise JobStateError(f"job {job.pk} is {job.state}; only waiting or running jobs can be cancelled")
        transitions.cancel_waiting(job.pk)
        _audit(actor, "job.cancel", job, reason, from_state=job.state)
        transaction.on_commit(partial(dispatch.forget, [job]), robust=True)
        transaction.on_commit(
            partial(
                signals.job_cancelled.send,
                JobRecord,
                job_id=job.pk,
                task_name=job.task_name,
                queue=job.queue,
                attempt=job.attempts,
                while_running=False,
            ),
            robust=True,
        )
    return JobRecord.objects.get(pk=job_id)


# --- Queues -----------------------------------------------------------------


def queue_pause(name: str, *, actor, reason: str = "") -> QueueState:
    """Stop new starts in queue ``name`` (running jobs finish). Survives restarts; audited."""
    return _set_paused(name, True, actor, reason)


def queue_resume(name: str, *, actor, reason: str = "") -> QueueState:
    return _set_paused(name, False, actor, reason)


def _set_paused(name: str, paused: bool, actor, reason: str) -> QueueState:
    try:
        get_queue_config(name)
    except UnknownQueue as exc:
        raise InvalidJob("queue", str(exc)) from None
    with transaction.atomic():
        state, _ = QueueState.objects.select_for_update().get_or_create(name=name)
        state.paused = paused
        state.reason = reason[:255]
        state.changed_by = actor if getattr(actor, "is_authenticated", False) else None
        state.save()
        audit(actor, "queue.pause" if paused else "queue.resume", "queue", name, reason)
        transaction.on_commit(dispatch.sync_paused, robust=True)
    return state


CLEAN_BATCH = 500
CLEAN_MIN_AGE = 180  # seconds; see queue_clean


def queue_clean(name: str, *, state: str, grace: float, limit: int, actor, reason: str = "") -> list[str]:
    """Bull's ``clean(grace, limit, type)``: delete up to ``limit`` of the queue's jobs in the
    finished ``state`` (succeeded, cancelled or dead) that finished more than ``grace`` seconds
    ago (at least CLEAN_MIN_AGE), oldest first, with their attempts. Batches are short transactions that lock the rows
    they delete, so a job requeued meanwhile is skipped, never lost. One audit entry.
    Returns the deleted ids."""
    get_queue_config(name)  # UnknownQueue for a queue that does not exist
    if state not in TERMINAL:
        raise JobStateError(f"only finished jobs can be cleaned ({', '.join(sorted(TERMINAL))}), not {state!r}")
    # Never younger than a few minutes, whatever the grace: the metrics rollup counts a job in
    # the minutes after it finished (jobs/metrics.py), and a job deleted first would be missed.
    before = timezone.now() - timedelta(seconds=max(grace, CLEAN_MIN_AGE))
    deleted: list[str] = []
    while len(deleted) < limit:
        with transaction.atomic():
            batch = JobRecord.objects.filter(queue=name, state=state, finished_at__lt=before).order_by("finished_at", "pk")
            ids = list(batch.select_for_update(skip_locked=True).values_list("pk", flat=True)[: min(CLEAN_BATCH, limit - len(deleted))])
            if not ids:
                break
            JobRecord.objects.filter(pk__in=ids).delete()
        deleted.extend(str(pk) for pk in ids)
    audit(actor, "queue.clean", "queue", name, reason, state=state, grace=grace, limit=limit, deleted=len(deleted))
    return deleted


def job_delete(job_id, *, actor, reason: str = "") -> None:
    """Delete a finished job (succeeded, dead or cancelled) and its attempts; audited. A job that
    may still run must be cancelled first."""
    with transaction.atomic():
        job = _locked(job_id)
        if job.state not in TERMINAL:
            raise JobStateError(f"job {job.pk} is {job.state}; cancel it before deleting it")
        _audit(actor, "job.delete", job, reason, task=job.task_name, state=job.state)
        job.delete()
