"""The job platform: timeouts, retries, workers, schedulers, metrics and the queues."""

from __future__ import annotations

import json

from django.core.exceptions import ImproperlyConfigured

from config.settings.environment import DJANGO_ENV, PRODUCTION, env
from config.settings.services import REDIS_URL
from jobs.core.queues import resolve_queues, rq_queue_settings  # pure: no Django models, no Redis

# --- Job platform knobs. Durations take a unit (30s, 5000ms, 2h; a bare number is seconds, and one
# too large for seconds is refused: the seeds gave these in milliseconds) ---
JOB_TIMEOUT = env.duration("JOB_TIMEOUT", 300, minimum=1, maximum=86400, bare_maximum=3600, whole=True)
# The largest arguments a job may carry, in bytes of JSON: jobs take ids, not data.
JOB_ARGS_MAX_BYTES = env.int("JOB_ARGS_MAX_BYTES", 64 * 1024, minimum=1024, maximum=16 * 2**20, unit="bytes")
JOB_RETRY_ATTEMPTS = env.int("JOB_RETRY_ATTEMPTS", 3, minimum=0)  # retries after the first try
JOB_RETRY_DELAY = env.duration("JOB_RETRY_DELAY", 5, maximum=3600, bare_maximum=600)
MAX_QUEUE_CONCURRENCY = env.int("MAX_QUEUE_CONCURRENCY", env.int("QUEUE_CONCURRENCY", 5, minimum=1), minimum=1)
# Jobs one worker process runs at once (its slots: threads, each with its own database
# connection); a queue may allow fewer with QUEUE_OVERRIDES {"reports": {"slots": 1}}.
WORKER_CONCURRENCY = env.int("WORKER_CONCURRENCY", 4, minimum=1, maximum=256, unit="slots")
# Worker processes `make run` starts (a Procfile deploy scales its `worker` process instead).
WORKER_INSTANCES = env.int("WORKER_INSTANCES", 1, minimum=1, maximum=64, unit="processes")
FAILED_JOB_RETENTION = env.duration("FAILED_JOB_RETENTION", 7 * 86400, maximum=366 * 86400, whole=True)
QUEUE_CLEANUP_INTERVAL = env.duration("QUEUE_CLEANUP_INTERVAL", 3600, minimum=1, maximum=7 * 86400, whole=True)
ENABLE_CORRELATION_IDS = env.bool("ENABLE_CORRELATION_IDS", True)
# Per-minute rollups for the dashboard and /metrics (jobs/metrics.py): made by the scheduler
# every METRICS_ROLLUP_INTERVAL seconds, kept METRICS_RETENTION seconds.
METRICS_ROLLUP_INTERVAL = env.duration("METRICS_ROLLUP_INTERVAL", 15, minimum=1, maximum=3600)
METRICS_RETENTION = env.duration("METRICS_RETENTION", 7 * 86400, minimum=3600, maximum=366 * 86400, whole=True)
# /metrics (Prometheus): a scraper sends "Authorization: Bearer <METRICS_TOKEN>"; the API token
# ("Authorization: Token <key>") of a user with jobs.view_queuestate also works. Empty: tokens only.
METRICS_TOKEN = env.str("METRICS_TOKEN", "")
USE_DISTRIBUTED_SCHEDULER = env.bool("USE_DISTRIBUTED_SCHEDULER", True)
# After an enqueue commits, its jobs are pushed to Redis on a thread of the process's own
# ("background": the caller waits for its commit, not for Redis) or in the commit hook itself
# ("inline": the default under DJANGO_ENV=test, so a test finds the job in Redis when enqueue
# returns). Either way a row Redis never got is sent by the dispatcher (jobs/transport/handoff.py).
ENQUEUE_PUSH = env.str("ENQUEUE_PUSH", "inline" if DJANGO_ENV == "test" else "background")
if ENQUEUE_PUSH not in ("background", "inline"):
    raise ImproperlyConfigured(f"ENQUEUE_PUSH={ENQUEUE_PUSH!r} must be background or inline.")
# With ENQUEUE_PUSH=background: a row that reaches the hand-off thread within this time (seconds;
# "1ms") of its last push (enqueues arriving back to back) waits this long for more to share the
# push. A row after a quiet spell is pushed at once, so an idle enqueue's latency is unchanged. 0: off.
ENQUEUE_PUSH_LINGER = env.duration("ENQUEUE_PUSH_LINGER", 0.001, maximum=0.05)
DISPATCH_INTERVAL = env.duration("DISPATCH_INTERVAL", 1, minimum=0.05, maximum=60)
# The job event stream (jobs.transport.events; docs/events.md): relayed by the schedulers every
# DISPATCH_INTERVAL, kept to this many entries and this age.
EVENT_STREAM = env.bool("EVENT_STREAM", True)
EVENT_STREAM_MAX_LENGTH = env.int("EVENT_STREAM_MAX_LENGTH", 100_000, minimum=100, maximum=10_000_000, unit="entries")
# Outbound webhooks (jobs/ops/webhooks.py): how long one delivery's POST may take.
WEBHOOK_TIMEOUT = env.duration("WEBHOOK_TIMEOUT", 10, minimum=1, maximum=120)
# Server-Sent Events for one job (GET /api/v1/jobs/<id>/events/): how often the web process reads
# the job, and how long one stream lasts before the client reconnects.
SSE_POLL_INTERVAL = env.duration("SSE_POLL_INTERVAL", 0.5, minimum=0.1, maximum=10)
SSE_MAX_DURATION = env.duration("SSE_MAX_DURATION", 300, minimum=5, maximum=3600)
EVENT_STREAM_MAX_AGE = env.duration("EVENT_STREAM_MAX_AGE", 24 * 3600, minimum=60, maximum=30 * 86400)
# A worker writes a heartbeat every WORKER_HEARTBEAT_INTERVAL; one silent for WORKER_LOST_AFTER
# is dead, and its running job is rescued (recorded as "worker lost" and retried by its policy).
WORKER_HEARTBEAT_INTERVAL = env.duration("WORKER_HEARTBEAT_INTERVAL", 2, minimum=0.1, maximum=60)
WORKER_LOST_AFTER = env.duration("WORKER_LOST_AFTER", 8, minimum=0.5, maximum=600)
if WORKER_LOST_AFTER < 2 * WORKER_HEARTBEAT_INTERVAL:
    raise ImproperlyConfigured("WORKER_LOST_AFTER must be at least twice WORKER_HEARTBEAT_INTERVAL.")
# A job whose worker is lost (kill -9, OOM, a deploy's grace ran out) runs again at once, and
# its first WORKER_LOST_RETRIES such losses do not count against its attempts (BullMQ's
# maxStalledCount): the worker's death is not the job's failure. A job that keeps losing its
# worker (one that crashes it) then counts its losses like failures. A count of losses.
WORKER_LOST_RETRIES = env.int("WORKER_LOST_RETRIES", 3, minimum=0, maximum=100, unit="losses")
# After SIGTERM a busy worker finishes its job for up to this long, then stops (the job is retried).
WORKER_SHUTDOWN_GRACE = env.duration("WORKER_SHUTDOWN_GRACE", 25, maximum=3600)
# Tests only (refused in production): run the schedulers' clock at a different place and speed,
# "START,ANCHOR,SPEED" (simulated epoch seconds at real epoch ANCHOR, SPEED simulated seconds per real second).
SCHEDULER_CLOCK = env.str("SCHEDULER_CLOCK", "")
if SCHEDULER_CLOCK and PRODUCTION:
    raise ImproperlyConfigured("SCHEDULER_CLOCK is for tests: it is refused when DJANGO_ENV=production.")
if SCHEDULER_CLOCK:
    try:
        _start, _anchor, _speed = (float(v) for v in SCHEDULER_CLOCK.split(","))
        assert _speed > 0
    except (ValueError, AssertionError):
        raise ImproperlyConfigured(f"SCHEDULER_CLOCK={SCHEDULER_CLOCK!r} must be START,ANCHOR,SPEED (epoch seconds, speed > 0).") from None
# Extra modules whose tasks to register at start-up (the reliability tests use tests.sample_tasks).
CONVEYOR_TASK_MODULES = env.list("CONVEYOR_TASK_MODULES", [])
# Django's standard Tasks API (django.tasks in Django 6; the django-tasks backport here): code
# written with its @task runs on Conveyor (jobs/standard_tasks.py, docs/migrating.md).
TASKS = {"default": {"BACKEND": "jobs.standard_tasks.ConveyorBackend"}}

# The queues are declared in code (jobs/queues.py: names, caps, rate limits, retry policies);
# a deploy tunes them here without a code change, as JSON, e.g.
# QUEUE_OVERRIDES='{"reports": {"concurrency": 2, "rate_limit": [5, 1]}}'
try:
    CONVEYOR_QUEUES = resolve_queues(
        default_concurrency=MAX_QUEUE_CONCURRENCY,
        default_retry={"kind": "exponential", "retries": JOB_RETRY_ATTEMPTS, "delay": JOB_RETRY_DELAY},
        overrides=json.loads(env.str("QUEUE_OVERRIDES", "") or "{}"),
    )
except ValueError as exc:  # json's errors are ValueErrors too
    raise ImproperlyConfigured(f"QUEUE_OVERRIDES{'' if str(exc).startswith('[') else ' '}{exc}.") from None

# Every logical queue has four Redis lists, one per priority tier (jobs/queues.py). The worker
# class is named once, here: the Procfile's `conveyor_worker` and `rqworker` both use it.
RQ_QUEUES = rq_queue_settings(CONVEYOR_QUEUES, REDIS_URL, JOB_TIMEOUT)
RQ = {"WORKER_CLASS": "jobs.worker.ConveyorWorker"}
RQ_SHOW_ADMIN_LINK = True
