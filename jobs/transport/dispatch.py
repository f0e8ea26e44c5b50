"""Handing jobs to Redis, and putting back what Redis lost.

Rows are marked ``queued`` *before* their ids are pushed, in one conditional
UPDATE; if the push fails they go back to ``pending``. Either way the database
says what happened, and the sweep repairs the rest:

* pending rows (Redis was down, or the process died before its on-commit hook);
* scheduled and retrying rows whose time has come;
* queued rows whose RQ job no longer exists in Redis (FLUSHALL, a restart
  without persistence, a crash between marking and pushing).

The sweep itself (which rows to send, when) is ``jobs.ops.sweep``; this module only moves
rows between waiting and queued and talks to Redis.

Pushing a job twice is harmless: a worker claims a row only from a waiting
state, so the second delivery finds it running or finished and skips it.
"""

from __future__ import annotations

import logging
import zlib
from collections import defaultdict

from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job, JobStatus
from rq.serializers import DefaultSerializer
from rq.utils import now as utcnow
from rq.utils import utcformat

from jobs.core.queues import rq_queue_name
from jobs.core.states import State
from jobs.models import JobRecord, QueueState
from jobs.store import transitions
from jobs.transport import flow
from jobs.transport.redis import get_redis

log = logging.getLogger(__name__)

# The worker runs the row, whatever function name the RQ job carries; this one is for RQ's dashboard.
RUN_FUNC = "jobs.ops.runtime.run_job"
# RQ's own timeout only sizes its registries; the worker enforces JobRecord.timeout itself.
RQ_TIMEOUT_GRACE = 60

_FIELDS = ("id", "queue", "priority", "timeout", "task_name")


def dispatch_new(records: list[JobRecord]) -> int:
    """Push freshly committed rows, inserted as queued (the on-commit hook of enqueue).
    If Redis refuses them they go back to pending, for the sweep to send later."""
    rows = [(r.pk, r.queue, r.priority, r.timeout, r.task_name) for r in records]
    try:
        push(rows, fresh=True)
    except RedisError as exc:
        stamps = {r.enqueued_at for r in records}
        reverted = transitions.hand_back([r.pk for r in records], stamps=stamps)
        log.warning("Redis unavailable (%s): %d job(s) left pending; the dispatcher will send them later", exc, reverted)
        return 0
    return len(rows)


def dispatch_due(ids) -> int:
    """Dispatch these rows if they are waiting and due."""
    return dispatch(list(ids), {State.PENDING, State.SCHEDULED, State.RETRYING})


def dispatch(ids: list, sources: set, now=None) -> int:
    """Mark these rows queued (those in ``sources`` and due by ``now``) and push them."""
    if not ids:
        return 0
    stamp = timezone.now()
    cutoff = max(stamp, now) if now else stamp
    if not transitions.mark_queued(ids, sources, stamp, due_by=cutoff):
        return 0
    rows = list(JobRecord.objects.filter(id__in=ids, state=State.QUEUED, enqueued_at=stamp).values_list(*_FIELDS))
    try:
        push(rows)
    except RedisError as exc:
        reverted = transitions.hand_back([r[0] for r in rows], stamps=[stamp])
        log.warning("Redis unavailable (%s): %d job(s) left pending; the dispatcher will send them later", exc, reverted)
        return 0
    return len(rows)


# Writes one RQ job hash per job (the list's template fields plus the job's own) and pushes
# the ids, server-side: the client sends four values per job instead of the ~37 of a full
# HSET, which is most of the cost of a 10,000-job fan-out.
# KEYS: the RQ list, RQ's set of queues. ARGV: job key prefix, fresh (1/0), number of
# template values, the template's field/value pairs, then (id, data, description, timeout)
# for each job.
PUSH = """
local prefix, fresh, n = ARGV[1], ARGV[2] == '1', tonumber(ARGV[3])
local ids = {}
for i = 4 + n, #ARGV, 4 do
  local key = prefix .. ARGV[i]
  if not fresh then redis.call('DEL', key) end
  local fields = {'data', ARGV[i + 1], 'description', ARGV[i + 2], 'timeout', ARGV[i + 3]}
  for j = 4, 3 + n do fields[#fields + 1] = ARGV[j] end
  redis.call('HSET', key, unpack(fields))
  ids[#ids + 1] = ARGV[i]
end
if #ids > 0 then
  redis.call('RPUSH', KEYS[1], unpack(ids))
  redis.call('SADD', KEYS[2], KEYS[1])
end
return #ids
"""
PUSH_CHUNK = 1000  # jobs per script call: keeps Lua's unpack() in bounds and Redis responsive
_PER_JOB = ("data", "description", "timeout")


def push(rows, fresh: bool = False) -> None:
    """Push (id, queue, priority, timeout, task_name) rows to their RQ lists: one script call per
    list (EVALSHA), several in one pipeline.

    RQ builds one template job per list; each job's hash is that template with its
    own id, data, description and timeout. The hash is what RQ's enqueue writes, at a
    fraction of the cost of building 10,000 Job objects (see docs/decisions.md).
    """
    connection = get_redis()
    script = connection.register_script(PUSH)
    by_list = defaultdict(list)
    for row in rows:
        by_list[rq_queue_name(row[1], row[2])].append(row)
    stamp = utcformat(utcnow())
    calls = []
    for list_name, group in by_list.items():
        queue_key, queues_key, base = _template(list_name)
        base = [*base, "created_at", stamp, "enqueued_at", stamp]
        head = [Job.redis_job_namespace_prefix, "1" if fresh else "0", len(base), *base]
        for start in range(0, len(group), PUSH_CHUNK):
            args = list(head)
            for job_id, _, _, timeout, task_name in group[start : start + PUSH_CHUNK]:
                job_id = str(job_id)
                args += (job_id, zlib.compress(_dumps((RUN_FUNC, None, (job_id,), {}))), task_name, timeout + RQ_TIMEOUT_GRACE)
            calls.append(([queue_key, queues_key], args))
    if len(calls) == 1:  # the common case (one enqueue): one round trip, no MULTI/EXEC, no SCRIPT EXISTS
        keys, args = calls[0]
        script(keys=keys, args=args)
        return
    with connection.pipeline() as pipe:
        for keys, args in calls:
            script(keys=keys, args=args, client=pipe)
        pipe.execute()


_templates: dict[tuple, tuple] = {}
_SERIALIZER = DefaultSerializer  # what RQ's jobs use unless told otherwise


def _template(list_name: str) -> tuple:
    """(list key, RQ's set of queues, the template hash's fields but the per-job ones and the
    timestamps) for one RQ list, built once per process from a job RQ itself creates."""
    cache_key = (list_name, settings.FAILED_JOB_RETENTION)
    if cache_key not in _templates:
        queue = Queue(list_name, connection=get_redis())
        template = queue.create_job(
            RUN_FUNC,
            args=("",),
            result_ttl=0,
            failure_ttl=settings.FAILED_JOB_RETENTION,
            status=JobStatus.QUEUED,
        )
        skip = {*_PER_JOB, "created_at", "enqueued_at"}
        base = [v for field, value in template.to_dict().items() if field not in skip for v in (field, value)]
        _templates[cache_key] = (queue.key, queue.redis_queues_keys, tuple(base))
    return _templates[cache_key]


def _dumps(value) -> bytes:
    return _SERIALIZER.dumps(value)


def sync_paused() -> None:
    """Mirror the paused queues from the database to Redis, where workers read them.
    Run by every sweep, so a Redis that lost its data is paused again within a second."""
    try:
        flow.sync_paused(get_redis(), list(QueueState.objects.filter(paused=True).values_list("name", flat=True)))
    except RedisError as exc:
        log.info("could not mirror paused queues to Redis (%s)", exc)


def forget(records: list[JobRecord]) -> None:
    """Best effort: drop cancelled jobs from Redis (workers would skip them anyway)."""
    connection = get_redis()
    try:
        with connection.pipeline() as pipe:
            for record in records:
                queue = Queue(rq_queue_name(record.queue, record.priority), connection=connection)
                pipe.lrem(queue.key, 0, str(record.pk))
                pipe.delete(Job.key_for(str(record.pk)))
            pipe.execute()
    except RedisError as exc:
        log.info("could not remove cancelled jobs from Redis (%s); workers will skip them", exc)
