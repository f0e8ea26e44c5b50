"""Handing jobs to Redis, and putting back what Redis lost.

Rows are marked ``queued`` *before* their ids are pushed, in one conditional
UPDATE; if the push fails they go back to ``pending``. Either way the database
says what happened, and the sweep repairs the rest:

* pending rows (Redis was down, or the process died before its on-commit hook);
* scheduled and retrying rows whose time has come;
* queued rows whose RQ job no longer exists in Redis (FLUSHALL, a restart
  without persistence, a crash between marking and pushing).

Pushing a job twice is harmless: a worker claims a row only from a waiting
state, so the second delivery finds it running or finished and skips it.
"""
from __future__ import annotations

import logging
import time
import zlib
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job, JobStatus
from rq.utils import now as utcnow
from rq.utils import utcformat

from jobs import flow
from jobs.models import JobRecord, QueueState
from jobs.queues import rq_queue_name
from jobs.redis import get_redis
from jobs.states import State, transition

log = logging.getLogger(__name__)

RUN_FUNC = "jobs.runtime.run_job"
# Present while Redis keeps its data. When it is missing (first start, FLUSHALL, restart
# without persistence), the next sweep checks *every* queued row against Redis at once.
EPOCH_KEY = "conveyor:epoch"
# A sweep keeps sending batches for at most this long, so a large backlog is restored quickly.
SWEEP_BUDGET = 10.0
# RQ's own timeout only sizes its registries; the worker enforces JobRecord.timeout itself.
RQ_TIMEOUT_GRACE = 60
SWEEP_GRACE = timedelta(seconds=5)
SCHEDULER_ALIVE_KEY = "conveyor:scheduler:alive"
SCHEDULE_WAKE_FLOOR = 0.05  # seconds: the shortest sleep before a schedule's fire time
SWEEP_BATCH = 1000

_FIELDS = ("id", "queue", "priority", "timeout", "task_name")


def dispatch_new(records: list[JobRecord]) -> int:
    """Push freshly committed rows, inserted as queued (the on-commit hook of enqueue).
    If Redis refuses them they go back to pending, for the sweep to send later."""
    rows = [(r.pk, r.queue, r.priority, r.timeout, r.task_name) for r in records]
    try:
        push(rows, fresh=True)
    except RedisError as exc:
        stamps = {r.enqueued_at for r in records}
        reverted = transition(
            JobRecord.objects.filter(id__in=[r.pk for r in records], enqueued_at__in=stamps), {State.QUEUED}, State.PENDING, enqueued_at=None
        )
        log.warning("Redis unavailable (%s): %d job(s) left pending; the dispatcher will send them later", exc, reverted)
        return 0
    return len(rows)


def dispatch_due(ids) -> int:
    """Dispatch these rows if they are waiting and due."""
    return _dispatch(list(ids), {State.PENDING, State.SCHEDULED, State.RETRYING})


def _dispatch(ids: list, sources: set, now=None) -> int:
    if not ids:
        return 0
    stamp = timezone.now()
    cutoff = max(stamp, now) if now else stamp
    due = JobRecord.objects.filter(id__in=ids).filter(Q(run_at__isnull=True) | Q(run_at__lte=cutoff))
    moved = transition(due, sources, State.QUEUED, enqueued_at=stamp)
    if not moved:
        return 0
    rows = list(JobRecord.objects.filter(id__in=ids, state=State.QUEUED, enqueued_at=stamp).values_list(*_FIELDS))
    try:
        push(rows)
    except RedisError as exc:
        reverted = transition(
            JobRecord.objects.filter(id__in=[r[0] for r in rows], enqueued_at=stamp), {State.QUEUED}, State.PENDING, enqueued_at=None
        )
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
    """Push (id, queue, priority, timeout, task_name) rows to their RQ lists in one pipeline.

    RQ builds one template job per list; each job's hash is that template with its
    own id, data, description and timeout. The hash is what RQ's enqueue writes, at a
    fraction of the cost of building 10,000 Job objects (see docs/decisions.md).
    """
    connection = get_redis()
    script = connection.register_script(PUSH)
    by_list = defaultdict(list)
    for row in rows:
        by_list[rq_queue_name(row[1], row[2])].append(row)
    enqueued_at = utcformat(utcnow())
    with connection.pipeline() as pipe:
        for list_name, group in by_list.items():
            queue = Queue(list_name, connection=connection)
            template = queue.create_job(
                RUN_FUNC, args=("",), result_ttl=0, failure_ttl=settings.FAILED_JOB_RETENTION, status=JobStatus.QUEUED,
            )
            base = [v for field, value in {**template.to_dict(), "enqueued_at": enqueued_at}.items()
                    if field not in _PER_JOB for v in (field, value)]
            head = [Job.redis_job_namespace_prefix, "1" if fresh else "0", len(base), *base]
            dumps = template.serializer.dumps
            for start in range(0, len(group), PUSH_CHUNK):
                args = list(head)
                for job_id, _, _, timeout, task_name in group[start:start + PUSH_CHUNK]:
                    job_id = str(job_id)
                    args += (job_id, zlib.compress(dumps((RUN_FUNC, None, (job_id,), {}))), task_name, timeout + RQ_TIMEOUT_GRACE)
                script(keys=[queue.key, queue.redis_queues_keys], args=args, client=pipe)
        pipe.execute()


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


def sweep(now=None) -> dict:
    """One pass of the dispatcher: rescue jobs of dead workers, re-send what Redis lost, send
    pending rows, start due retries and scheduled jobs. Safe to run from any number of processes."""
    from jobs.recovery import rescue_lost_jobs

    now = now or timezone.now()
    sync_paused()
    counts = {"pending": 0, "due": 0, "lost": 0, "rescued": rescue_lost_jobs(now)}
    deadline = time.monotonic() + SWEEP_BUDGET
    lost = _queued_missing_from_redis(now)
    for chunk in _chunks(lost, SWEEP_BATCH):
        counts["lost"] += transition(JobRecord.objects.filter(id__in=chunk), {State.QUEUED}, State.PENDING, enqueued_at=None)
        counts["pending"] += _dispatch(chunk, {State.PENDING}, now=now)
    if counts["lost"]:  # candidates that finished meanwhile (their RQ job deleted) are not lost
        log.warning("%d queued job(s) were missing from Redis; re-dispatched", counts["lost"])
    while time.monotonic() < deadline:
        pending = list(
            JobRecord.objects.filter(state=State.PENDING, created_at__lte=now - SWEEP_GRACE)
            .order_by("created_at").values_list("id", flat=True)[:SWEEP_BATCH]
        )
        sent = _dispatch(pending, {State.PENDING}, now=now)
        counts["pending"] += sent
        if len(pending) < SWEEP_BATCH or not sent:
            break
    while time.monotonic() < deadline:
        due = list(
            JobRecord.objects.filter(state__in=(State.SCHEDULED, State.RETRYING), run_at__lte=now)
            .order_by("run_at").values_list("id", flat=True)[:SWEEP_BATCH]
        )
        sent = _dispatch(due, {State.SCHEDULED, State.RETRYING}, now=now)
        counts["due"] += sent
        if len(due) < SWEEP_BATCH or not sent:
            break
    return counts


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _queued_missing_from_redis(now) -> list:
    """Queued rows whose RQ job is gone. Normally the oldest batch past the grace period;
    after Redis lost its data (no epoch key), every queued row, with no grace."""
    connection = get_redis()
    try:
        everything = connection.set(EPOCH_KEY, timezone.now().isoformat(), nx=True)
    except RedisError:
        return []
    queued = JobRecord.objects.filter(state=State.QUEUED)
    if everything:
        candidates = list(queued.values_list("id", flat=True))
    else:
        candidates = list(queued.filter(enqueued_at__lte=now - SWEEP_GRACE).order_by("enqueued_at").values_list("id", flat=True)[:SWEEP_BATCH])
    missing = []
    try:
        for chunk in _chunks(candidates, 5000):
            with connection.pipeline(transaction=False) as pipe:
                for job_id in chunk:
                    pipe.exists(Job.key_for(str(job_id)))
                missing += [job_id for job_id, there in zip(chunk, pipe.execute()) if not there]
    except RedisError:
        return []
    return missing


def run_forever(interval: float, stop=lambda: False) -> None:
    """The scheduler process's loop: a dispatcher sweep every ``interval``, and due schedules
    then and whenever the earliest schedule falls due in between (no sooner than SCHEDULE_WAKE_FLOOR)."""
    from jobs import metrics, scheduling

    mode = scheduling.SchedulerMode()
    next_sweep = 0.0
    while not stop():
        sweep_due = time.monotonic() >= next_sweep
        if sweep_due:
            next_sweep = time.monotonic() + interval
        wake = next_sweep
        try:
            if sweep_due:
                counts = sweep()
                if any(counts.values()):
                    log.info("dispatcher: %s", counts)
                metrics.note_scheduler(get_redis(), mode.identity)
            if mode.may_fire():
                scheduling.tick(still_allowed=None if settings.USE_DISTRIBUTED_SCHEDULER else mode.may_fire)
                # Readiness: a scheduler that fires schedules is present (/health/ready checks it).
                get_redis().set(SCHEDULER_ALIVE_KEY, mode.identity, ex=max(10, int(5 * interval)))
                metrics.maybe_rollup()
                due = scheduling.seconds_to_next_fire()
                if due is not None:
                    wake = min(next_sweep, time.monotonic() + max(due, SCHEDULE_WAKE_FLOOR))
        except RedisError as exc:
            log.warning("scheduler: Redis unavailable (%s)", exc)
        except Exception:
            log.exception("scheduler: pass failed")
        time.sleep(max(0.0, wake - time.monotonic()))
    try:
        mode.release()
    except RedisError as exc:
        log.warning("scheduler: could not release the single-instance lock (%s); it expires by itself", exc)
