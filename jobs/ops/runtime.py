"""Running one job: claim the row, run the task body under its timeout, record the outcome.

Called by ConveyorWorker for every job it takes from Redis. Each state change
is one conditional UPDATE, so a stale or duplicate delivery changes nothing.
The two statements every job runs (claim, success) are in jobs/sql.py.
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.utils import timezone
from rq.timeouts import JobTimeoutException, UnixSignalDeathPenalty

from jobs.core import signals
from jobs.core.context import JobCancelled, JobContext, current_correlation_id, current_job
from jobs.core.inputs import has_surrogate, scrub
from jobs.core.outcomes import Defer, PermanentFailure, RetryLater
from jobs.core.policies import policy_from_dict
from jobs.core.registry import UnknownTask, get_task
from jobs.core.states import State
from jobs.models import ERROR_LIMIT, TRACEBACK_LIMIT, JobAttempt, JobRecord
from jobs.store import transitions
from jobs.transport import events

log = logging.getLogger(__name__)

RESULT_LIMIT = 64_000
# A row pushed slightly before its run_at (clock skew between hosts) still runs.
EARLY_TOLERANCE = timedelta(seconds=2)

SKIPPED = "skipped"


class WorkerLost(Exception):
    """The attempt's worker stopped (killed, host lost, or shut down mid-job)."""


def run_job(job_id: str) -> str:
    """The function RQ's job hash names. Only ConveyorWorker may run Conveyor jobs: a stock
    worker has no heartbeat, so its attempt would be rescued and run twice."""
    raise RuntimeError(f"job {job_id}: Conveyor jobs must be run by jobs.worker.ConveyorWorker (see settings.RQ)")


def claim_batch(job_ids, worker_name: str) -> tuple[dict, object]:
    """Claim a worker's batch in one statement: (claimed rows by id, the start they share).
    Each is then run by ``execute(..., claimed=(row or None, started))``."""
    started = timezone.now()
    return transitions.claim_many(job_ids, worker_name[:255], started, started + EARLY_TOLERANCE), started


def execute(job_id: str, worker_name: str, death_penalty_class=UnixSignalDeathPenalty, *, claimed=None, record_success=None) -> str:
    """Run the job ``job_id`` once, if it is still waiting. Returns its new state, or "skipped".
    ``claimed``: (row, start) when the row was claimed already, with a batch (row None: not claimed).
    ``record_success``: how a success is written, when not at once in this thread (the worker's
    slots hand it to their recorder): called with jobs.store.transitions.record_success's
    arguments and ``then``, which it calls once the success is durable with whether the row was
    recorded (the signal and log line of a success follow its commit). The state returned is
    then "succeeded" as soon as the body has."""
    if claimed is None:
        started = timezone.now()
        record = transitions.claim(job_id, worker_name[:255], started, started + EARLY_TOLERANCE)
    else:
        record, started = claimed
    if record is None:
        log.info("job %s: not waiting, not due, or claimed elsewhere; delivery skipped", job_id)
        return SKIPPED
    attempt = record.attempts
    ctx = JobContext(
        job_id=record.pk,
        task_name=record.task_name,
        attempt=attempt,
        max_attempts=record.max_attempts,
        correlation_id=record.correlation_id,
        _reporter=partial(_report_progress, record),
    )
    token = current_correlation_id.set(record.correlation_id)
    job_token = current_job.set({"job_id": str(record.pk), "queue": record.queue, "task": record.task_name, "attempt": attempt})
    error = task = None
    try:
        task = get_task(record.task_name)
        with death_penalty_class(record.timeout, JobTimeoutException, job_id=str(record.pk), record=record, started=started):
            result = task.func(ctx, *record.args, **record.kwargs)
    except UnknownTask as exc:
        error, outcome = exc, JobAttempt.Outcome.FAILED
    except JobTimeoutException as exc:
        error, outcome = exc, JobAttempt.Outcome.TIMED_OUT
    except JobCancelled as exc:
        current_correlation_id.reset(token)
        token = None
        return _record_cancelled(record, started, worker_name, exc)
    except Defer as exc:
        return _record_deferred(record, started, worker_name, exc)
    except Exception as exc:  # the task's own failure: recorded, then retried or dead-lettered
        error, outcome = exc, JobAttempt.Outcome.FAILED
    except (SystemExit, KeyboardInterrupt):
        # The worker is being stopped mid-job (second signal, or the shutdown grace ran out):
        # record the attempt now so the job is retried without waiting for the heartbeat rescue.
        record_failure(record, started, worker_name, JobAttempt.Outcome.WORKER_LOST, WorkerLost("the worker was stopped during the job"))
        raise
    finally:
        if token is not None:
            current_correlation_id.reset(token)
        current_job.reset(job_token)

    if error is None:
        result = _json_result(result)
        finished = timezone.now()
        then = partial(_succeeded, record, started, finished, result)
        if record_success is None:
            return then(transitions.record_success(record, started, finished, worker_name[:255], result))
        record_success(record, started, finished, worker_name[:255], result, then)
        return State.SUCCEEDED
    return record_failure(
        record, started, worker_name, outcome, error, retry_allowed=task is not None and not isinstance(error, PermanentFailure)
    )


def _succeeded(record, started, finished, result, recorded: bool) -> str:
    """What follows a success once it is durable: its signal and log line (or, if its row was
    taken over meanwhile, the note that it was)."""
    if not recorded:
        return _taken_over(record)
    signals.job_succeeded.send(JobRecord, result=result, **_event(record))
    if log.isEnabledFor(logging.INFO):  # the hot path: build the line's context only if it is written
        log.info(
            "job %s (%s) attempt %d succeeded",
            record.pk,
            record.task_name,
            record.attempts,
            extra=_log_fields(record, started, finished),
        )
    return State.SUCCEEDED


def _log_fields(record, started, finished) -> dict:
    """The structured fields of an attempt's log line."""
    return {
        "correlation_id": record.correlation_id,
        "job_id": str(record.pk),
        "queue": record.queue,
        "task": record.task_name,
        "attempt": record.attempts,
        "duration_ms": int((finished - started).total_seconds() * 1000),
    }


def _event(record) -> dict:
    return {"job_id": record.pk, "task_name": record.task_name, "queue": record.queue, "attempt": record.attempts}


def _report_progress(record, percent: int, message: str) -> None:
    if not transitions.report_progress(record, percent, message):
        raise JobCancelled("the job was asked to stop")
    signals.job_progress.send(JobRecord, percent=percent, message=message, **_event(record))
    if settings.EVENT_STREAM:
        events.publish("progress", job_id=str(record.pk), task=record.task_name, queue=record.queue, percent=percent, message=message)


def _record_cancelled(record, started, worker_name: str, error: JobCancelled) -> str:
    finished = timezone.now()
    attempt = _attempt(started, finished, worker_name, JobAttempt.Outcome.CANCELLED, "JobCancelled", str(error))
    if not transitions.close_attempt(
        record, State.CANCELLED, attempt=attempt, finished_at=finished, run_at=None, last_error="cancelled while running"
    ):
        return _taken_over(record)
    signals.job_cancelled.send(JobRecord, while_running=True, **_event(record))
    return State.CANCELLED


def _record_deferred(record, started, worker_name: str, deferral: Defer) -> str:
    """Not a failure: the row waits ``deferral.after`` seconds as retrying and its attempt count
    goes back down, so the deferral costs none of its retries (the attempt row says deferred)."""
    finished = timezone.now()
    run_at = finished + timedelta(seconds=deferral.after)
    attempt = _attempt(started, finished, worker_name, JobAttempt.Outcome.DEFERRED, "Defer", str(deferral))
    if not transitions.close_attempt(record, State.RETRYING, attempt=attempt, run_at=run_at, uncount=True):
        return _taken_over(record)
    log.info(
        "job %s (%s) deferred %.1f s: %s",
        record.pk,
        record.task_name,
        deferral.after,
        deferral,
        extra=_log_fields(record, started, finished),
    )
    signals.job_retrying.send(JobRecord, run_at=run_at, deferred=True, **_event(record))
    return State.RETRYING


def _attempt(started, finished, worker_name: str, outcome: str, exc_type: str, exc_message: str) -> dict:
    """The attempt row a closing outcome writes (transitions.close_attempt), its text bounded and scrubbed."""
    return {
        "started_at": started,
        "finished_at": finished,
        "outcome": outcome,
        "worker_name": worker_name[:255],
        "exc_type": exc_type[:255],
        "exc_message": scrub(exc_message[:ERROR_LIMIT]),
    }


def _json_result(result):
    try:
        encoded = json.dumps(result, ensure_ascii=False)
    except (TypeError, ValueError):
        return {"repr": scrub(repr(result)[:1000]), "note": "result was not JSON-serialisable"}
    if len(encoded) > RESULT_LIMIT:
        return {"note": f"result of {len(encoded)} bytes was too large to keep"}
    return scrub(result) if has_surrogate(encoded) else result


def record_failure(record, started, worker_name: str, outcome: str, error: BaseException, *, retry_allowed: bool = True) -> str:
    """Close a running attempt as failed, then retry it by its policy or move it to the dead-letter queue.

    ``record`` is a jobs.store.sql.Claimed (or anything with its fields). Lands only on the
    row still running that attempt; returns the new state, or "skipped" if it was not.
    """
    finished = timezone.now()
    retry = free_loss = False
    if retry_allowed and outcome == JobAttempt.Outcome.WORKER_LOST:
        # The worker died, the job did not fail: it runs again at once, uncounted, within its
        # budget of such losses (a job that keeps killing its worker then counts them).
        losses = JobAttempt.objects.filter(job_id=record.pk, outcome=JobAttempt.Outcome.WORKER_LOST).count()
        free_loss = retry = losses < settings.WORKER_LOST_RETRIES
    if retry_allowed and not free_loss:
        if record.retry_policy:
            policy = policy_from_dict(record.retry_policy)
        else:
            try:
                policy = get_task(record.task_name).retry_policy()
            except UnknownTask:
                policy = None  # the code for this task is gone; retrying cannot help
        retry = policy is not None and policy.should_retry(record.attempts)
    # Text columns cannot hold an unpaired surrogate (the database driver refuses to encode it),
    # and an exception's message may carry one from anywhere: replaced, so the outcome is recorded.
    message = scrub(f"{type(error).__name__}: {error}"[:ERROR_LIMIT])
    fields = {"finished_at": finished, "last_error": message, "run_at": None}
    target = State.DEAD
    if free_loss:
        target = State.RETRYING
        fields["run_at"] = finished
    elif retry:
        target = State.RETRYING
        delay = policy.delay_after(record.attempts)
        if isinstance(error, RetryLater):  # the task (a provider's Retry-After) asks for at least this
            delay = max(delay, error.after)
        fields["run_at"] = finished + timedelta(seconds=delay)
    attempt = _attempt(started, finished, worker_name, outcome, type(error).__qualname__, str(error))
    attempt["traceback"] = scrub("".join(traceback.format_exception(error))[-TRACEBACK_LIMIT:]) if error.__traceback__ else ""
    if not transitions.close_attempt(record, target, attempt=attempt, uncount=free_loss, **fields):
        return _taken_over(record)
    log.warning(
        "job %s (%s) attempt %d %s: %s -> %s",
        record.pk,
        record.task_name,
        record.attempts,
        outcome,
        message,
        target,
        extra=_log_fields(record, started, finished),
    )
    event = _event(record)
    signals.job_failed.send(JobRecord, error=message, will_retry=retry, **event)
    if retry:
        signals.job_retrying.send(JobRecord, run_at=fields["run_at"], deferred=False, **event)
    else:
        signals.job_dead.send(JobRecord, error=message, **event)
    return target


def _taken_over(record) -> str:
    log.warning("job %s: outcome discarded, the row was taken over (rescued or cancelled) meanwhile", record.pk)
    return SKIPPED
