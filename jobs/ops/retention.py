"""Retention: old finished jobs are deleted in small batches; dead-letter jobs never automatically.

Per queue, with defaults overridable by CONVEYOR_QUEUES[queue]["retention"]:

* succeeded jobs: the newest 100 are kept, and any that finished in the last 24 hours
  (whichever keeps more);
* failed jobs (cancelled ones: a job that failed for good is dead, and dead jobs stay):
  the newest 500 are kept, and any from the last FAILED_JOB_RETENTION seconds.

Each batch is its own short transaction, so the table is never locked for long.
RQ's own registries (started, failed, ...) are cleaned at the same time, and expired sessions
(written through to the database) are deleted.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Queue
from rq.registry import clean_registries

from jobs.core.queues import tiered_rq_names
from jobs.core.states import State
from jobs.models import JobRecord
from jobs.ops import metrics
from jobs.transport.redis import get_redis

log = logging.getLogger(__name__)

BATCH = 1000


def rules_for(queue: str) -> dict:
    rules = {
        "succeeded": {"keep": 100, "max_age": 24 * 3600},
        "failed": {"keep": 500, "max_age": settings.FAILED_JOB_RETENTION},
    }
    for kind, override in settings.CONVEYOR_QUEUES[queue].get("retention", {}).items():
        rules[kind] = {**rules[kind], **override}
    return rules


_STATES = {"succeeded": [State.SUCCEEDED], "failed": [State.CANCELLED]}


def cleanup(now=None) -> dict:
    now = now or timezone.now()
    deleted = {"succeeded": 0, "failed": 0}
    for queue in settings.CONVEYOR_QUEUES:
        for kind, rule in rules_for(queue).items():
            deleted[kind] += _trim(queue, _STATES[kind], rule["keep"], now - timedelta(seconds=rule["max_age"]))
    try:
        connection = get_redis()
        for name in tiered_rq_names(list(settings.CONVEYOR_QUEUES)):
            clean_registries(Queue(name, connection=connection))
    except RedisError as exc:
        log.warning("retention: RQ registries not cleaned, Redis unavailable (%s)", exc)

    deleted["metric_minutes"] = metrics.prune(now)
    deleted["sessions"] = _expired_sessions(now)
    if any(deleted.values()):
        log.info("retention: deleted %s", deleted)
    return deleted


def _trim(queue: str, states, keep: int, older_than) -> int:
    finished = JobRecord.objects.filter(queue=queue, state__in=states)
    kept = list(finished.order_by("-finished_at", "-pk").values_list("pk", flat=True)[:keep])
    expired = finished.filter(finished_at__lt=older_than).exclude(pk__in=kept)
    deleted = 0
    while True:
        ids = list(expired.order_by("finished_at").values_list("pk", flat=True)[:BATCH])
        if not ids:
            return deleted
        JobRecord.objects.filter(pk__in=ids, state__in=states).delete()
        deleted += len(ids)


def _expired_sessions(now) -> int:
    """Sessions are written through to the database (config/settings/services.py): delete the
    expired rows, as `manage.py clearsessions` would."""
    count, _ = Session.objects.filter(expire_date__lt=now).delete()
    return count
