"""Creating jobs: ``enqueue`` and ``enqueue_many``.

Every job is a row written in the caller's transaction and handed to Redis only after that
transaction commits (``jobs.transport.handoff``: on a thread of its own by default, so the
caller waits for its commit, not for Redis); a row that never reaches Redis is sent by the
dispatcher's sweep.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from jobs.core import inputs
from jobs.core.context import current_correlation_id, new_correlation_id
from jobs.core.errors import FieldError, InvalidJob, JobStateError
from jobs.core.policies import InvalidPolicy, Policy, policy_from_dict
from jobs.core.queues import Priority, UnknownQueue, get_queue_config
from jobs.core.registry import UnknownTask, get_task
from jobs.core.states import ACTIVE, State
from jobs.models import JobRecord
from jobs.store import sql
from jobs.transport import handoff

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    """One job to create; ``enqueue_many`` takes a list of these."""

    task_name: str
    args: list | tuple = ()
    kwargs: dict | None = None
    queue: str | None = None
    priority: int | None = None
    run_at: datetime | None = None
    retry: Policy | dict | None = None
    timeout: int | None = None
    subject: Any = None
    dedup_key: str | None = None


def enqueue(
    task_name: str, args=(), kwargs=None, *, delay: float | None = None, created_by=None, correlation_id=None, **options
) -> JobRecord:
    """Create one job. Options: queue, priority, run_at, retry, timeout, subject.

    The row is written now, in the caller's transaction; Redis sees the job only
    once that transaction commits. Raises InvalidJob (nothing written) on bad input.
    """
    if delay is not None:
        if delay < 0:
            raise InvalidJob("delay", "must be 0 or more seconds")
        options["run_at"] = timezone.now() + timedelta(seconds=delay)
    return enqueue_many([JobSpec(task_name, args, kwargs, **options)], created_by=created_by, correlation_id=correlation_id)[0]


def enqueue_for(obj: Model, task_name: str, args=(), *, created_by=None, **options) -> JobRecord:
    """Enqueue the job that produces ``obj`` (a job-backed row: a report, an import, a
    notification) and link them: the job's subject is ``obj`` and ``obj.job`` the job. Call it in
    the transaction that created ``obj``, so both or neither exist."""
    job = enqueue(task_name, args, subject=obj, created_by=created_by, **options)
    type(obj).objects.filter(pk=obj.pk).update(job=job)
    obj.job = job
    return job


def enqueue_many(specs: Iterable[JobSpec], *, created_by=None, correlation_id=None) -> list[JobRecord]:
    """Create many jobs with one bulk INSERT and one pipelined Redis push after commit.

    A spec whose dedup key belongs to an active job yields that job instead (marked
    ``deduplicated = True``); the database's partial unique index decides races.
    """
    now = timezone.now()
    correlation_id = correlation_id or current_correlation_id.get() or new_correlation_id()
    records = [_build_record(spec, now, created_by, correlation_id) for spec in specs]
    if not records:
        return []
    if not any(r.dedup_key for r in records):
        sql.bulk_insert_jobs(records, ignore_conflicts=False)
        created = records
    else:
        records, created = _insert_deduplicated(records)
    ready = [r for r in created if r.state == State.QUEUED]
    if ready:
        transaction.on_commit(partial(handoff.hand_off, ready), robust=True)
    return records


def _insert_deduplicated(records: list[JobRecord]) -> tuple[list[JobRecord], list[JobRecord]]:
    """Insert, skipping rows whose dedup key is taken by an active job; return (result, created)."""
    seen: dict[str, JobRecord] = {}
    unique = []
    for record in records:  # the same key twice in one call: the first wins
        if record.dedup_key and record.dedup_key in seen:
            continue
        if record.dedup_key:
            seen[record.dedup_key] = record
        unique.append(record)
    result = {}
    pending = unique
    for _ in range(3):  # an existing job may finish between our conflict and our look-up: try again
        inserted = sql.bulk_insert_jobs(pending, ignore_conflicts=True)
        if inserted is None:
            inserted = set(JobRecord.objects.filter(pk__in=[r.pk for r in pending]).values_list("pk", flat=True))
        for record in pending:
            if record.pk in inserted:
                result[record.dedup_key or record.pk] = (record, True)
        lost = [r for r in pending if r.pk not in inserted]
        existing = {j.dedup_key: j for j in JobRecord.objects.filter(dedup_key__in=[r.dedup_key for r in lost], state__in=ACTIVE)}
        for record in lost:
            if record.dedup_key in existing:
                existing[record.dedup_key].deduplicated = True
                result[record.dedup_key] = (existing[record.dedup_key], False)
        pending = [r for r in lost if r.dedup_key not in existing]
        if not pending:
            break
    else:
        raise JobStateError("could not insert or find jobs for dedup keys " + ", ".join(r.dedup_key for r in pending))
    ordered = [result[r.dedup_key or r.pk][0] for r in records]
    return ordered, [record for record, created in result.values() if created]


def _build_record(spec: JobSpec, now: datetime, created_by, correlation_id: str) -> JobRecord:
    try:
        task = get_task(spec.task_name)
    except UnknownTask as exc:
        raise InvalidJob("task", str(exc)) from None
    queue = spec.queue or task.queue
    try:
        get_queue_config(queue)
    except UnknownQueue as exc:
        raise InvalidJob("queue", str(exc)) from None
    try:
        priority = Priority(task.priority if spec.priority is None else spec.priority)
    except ValueError:
        raise InvalidJob("priority", f"must be one of {[p.value for p in Priority]} ({', '.join(p.name for p in Priority)})") from None
    if not isinstance(spec.args, (list, tuple)):
        raise InvalidJob("args", "must be a list")
    kwargs = spec.kwargs or {}
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise InvalidJob("kwargs", "must be an object with string keys")
    _check_json(list(spec.args), "args")
    _check_json(kwargs, "kwargs")
    if task.signature is not None:
        try:
            task.signature.check(spec.args, kwargs)
        except FieldError as exc:
            raise InvalidJob(exc.field, exc.message) from None
    size = len(json.dumps([spec.args, kwargs], separators=(",", ":")))
    if size > settings.JOB_ARGS_MAX_BYTES:
        raise InvalidJob(
            "args" if not kwargs else "kwargs",
            f"the arguments take {size} bytes as JSON; the limit is {settings.JOB_ARGS_MAX_BYTES} (JOB_ARGS_MAX_BYTES): "
            "pass ids and let the task read the data",
        )
    policy = _policy(spec.retry, task)
    timeout = spec.timeout if spec.timeout is not None else (task.timeout or settings.JOB_TIMEOUT)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 1:
        raise InvalidJob("timeout", "must be a whole number of seconds, at least 1")
    if spec.run_at is not None and not isinstance(spec.run_at, datetime):
        raise InvalidJob("run_at", "must be a datetime")
    scheduled = spec.run_at is not None and spec.run_at > now
    subject_type, subject_id = _subject(spec.subject)
    dedup_key = spec.dedup_key if spec.dedup_key is not None else (task.dedup(*spec.args, **kwargs) if task.dedup else None)
    if dedup_key is not None and (not isinstance(dedup_key, str) or not 0 < len(dedup_key) <= 255):
        raise InvalidJob("dedup_key", "must be a non-empty string of at most 255 characters")
    return _new_record(
        dedup_key=dedup_key,
        task_name=task.name,
        queue=queue,
        args=list(spec.args),
        kwargs=kwargs,
        # Written as queued: nobody sees the row before the caller commits, and the push
        # follows the commit. A failed push sets it back to pending (docs/decisions.md 16).
        state=State.SCHEDULED if scheduled else State.QUEUED,
        created_at=now,
        enqueued_at=None if scheduled else now,
        run_at=spec.run_at if scheduled else None,
        priority=priority,
        max_attempts=policy.max_attempts,
        retry_policy=policy.to_dict() if spec.retry is not None else None,
        timeout=timeout,
        correlation_id=correlation_id,
        created_by_id=created_by.pk if created_by is not None and getattr(created_by, "is_authenticated", False) else None,
        subject_type=subject_type,
        subject_id=subject_id,
    )


def _new_record(**values) -> JobRecord:
    """JobRecord(**values), built the way Django builds rows it loads: positional values in field
    order skip the keyword handling that is most of a model's construction cost (a 10,000-job
    fan-out spends a third of its time there otherwise)."""
    return JobRecord(*[values[name] if name in values else default() for name, default in _record_defaults()])


@cache
def _record_defaults() -> list:
    return [(f.attname, f.get_default) for f in JobRecord._meta.concrete_fields]


def _policy(retry, task) -> Policy:
    if retry is None:
        return task.retry_policy()
    if isinstance(retry, dict):
        try:
            return policy_from_dict(retry)
        except InvalidPolicy as exc:
            raise InvalidJob("retry", str(exc)) from None
    return retry


def _subject(subject) -> tuple[str, str]:
    if subject is None:
        return "", ""
    if isinstance(subject, Model):
        return subject._meta.model_name, str(subject.pk)
    if isinstance(subject, (tuple, list)) and len(subject) == 2:
        return str(subject[0])[:32], str(subject[1])[:64]
    raise InvalidJob("subject", "must be a model instance or a (type, id) pair")


def _check_json(value, path: str) -> None:
    """Raise InvalidJob naming the first value inside ``value`` that is not plain JSON (jobs.core.inputs)."""
    try:
        inputs.check_json(value, path)
    except FieldError as exc:
        raise InvalidJob(exc.field, exc.message) from None
