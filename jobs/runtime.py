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

from django.db import transaction
from django.utils import timezone
from rq.timeouts import JobTimeoutException, UnixSignalDeathPenalty

from jobs import sql
from jobs.context import JobContext, current_correlation_id
from jobs.models import ERROR_LIMIT, TRACEBACK_LIMIT, JobAttempt, JobRecord
from jobs.policies import policy_from_dict
from jobs.registry import UnknownTask, get_task
from jobs.states import State, transition

log = logging.getLogger(__name__)

RESULT_LIMIT = 64_000
# A row pushed slightly before its run_at (clock skew between hosts) still runs.
EARLY_TOLERANCE = timedelta(seconds=2)

SKIPPED = "skipped"


def run_job(job_id: str) -> str:
    """RQ's entry point for a job; also what a stock RQ worker would call."""
    return execute(job_id, worker_name="rq")


def execute(job_id: str, worker_name: str, death_penalty_class=UnixSignalDeathPenalty) -> str:
    """Run the job ``job_id`` once, if it is still waiting. Returns its new state, or "skipped"."""
    started = timezone.now()
    record = sql.claim(job_id, worker_name[:255], started, started + EARLY_TOLERANCE)
    if record is None:
        log.info("job %s: not waiting, not due, or claimed elsewhere; delivery skipped", job_id)
        return SKIPPED
    attempt = record.attempts
    ctx = JobContext(
        job_id=record.pk, task_name=record.task_name, attempt=attempt, max_attempts=record.max_attempts,
        correlation_id=record.correlation_id, _reporter=partial(_report_progress, record.pk, attempt),
    )
    token = current_correlation_id.set(record.correlation_id)
    error = task = None
    try:
        task = get_task(record.task_name)
        with death_penalty_class(record.timeout, JobTimeoutException, job_id=str(record.pk)):
            result = task.func(ctx, *record.args, **record.kwargs)
    except UnknownTask as exc:
        error, outcome = exc, JobAttempt.Outcome.FAILED
    except JobTimeoutException as exc:
        error, outcome = exc, JobAttempt.Outcome.TIMED_OUT
    except Exception as exc:  # the task's own failure: recorded, then retried or dead-lettered
        error, outcome = exc, JobAttempt.Outcome.FAILED
    finally:
        current_correlation_id.reset(token)

    if error is None:
        if not sql.record_success(record, started, timezone.now(), worker_name[:255], _json_result(result)):
            return _taken_over(record)
        return State.SUCCEEDED
    return _record_failure(record, task, attempt, started, worker_name, outcome, error)


def _report_progress(job_id, attempt: int, percent: int, message: str) -> None:
    JobRecord.objects.filter(pk=job_id, state=State.RUNNING, attempts=attempt).update(
        progress=percent, progress_message=message[:255]
    )


def _json_result(result):
    try:
        encoded = json.dumps(result)
    except (TypeError, ValueError):
        return {"repr": repr(result)[:1000], "note": "result was not JSON-serialisable"}
    if len(encoded) > RESULT_LIMIT:
        return {"note": f"result of {len(encoded)} bytes was too large to keep"}
    return result


def _record_failure(record, task, attempt, started, worker_name, outcome, error) -> str:
    finished = timezone.now()
    if task is None:
        retry = False  # the code for this task is gone; retrying cannot help
    else:
        policy = policy_from_dict(record.retry_policy) if record.retry_policy else task.retry_policy()
        retry = policy.should_retry(attempt)
    message = f"{type(error).__name__}: {error}"[:ERROR_LIMIT]
    fields = {"finished_at": finished, "last_error": message}
    if retry:
        target = State.RETRYING
        fields["run_at"] = finished + timedelta(seconds=policy.delay_after(attempt))
    else:
        target = State.DEAD
        fields["run_at"] = None
    with transaction.atomic():
        moved = transition(JobRecord.objects.filter(pk=record.pk, attempts=attempt), {State.RUNNING}, target, **fields)
        if not moved:
            return _taken_over(record)
        JobAttempt.objects.create(
            job_id=record.pk, number=record.total_attempts, started_at=started, finished_at=finished,
            outcome=outcome, worker_name=worker_name[:255], exc_type=type(error).__qualname__[:255],
            exc_message=str(error)[:ERROR_LIMIT],
            traceback="".join(traceback.format_exception(error))[-TRACEBACK_LIMIT:],
        )
    log.warning("job %s (%s) attempt %d %s: %s -> %s", record.pk, record.task_name, attempt, outcome, message, target)
    return target


def _taken_over(record) -> str:
    log.warning("job %s: outcome discarded, the row was taken over (rescued or cancelled) meanwhile", record.pk)
    return SKIPPED
