"""The one Redis client the job platform uses for transport (pooled, thread-safe)."""

from __future__ import annotations

import redis
from django.conf import settings
from rq.worker import Worker
from rq.worker_registration import REDIS_WORKER_KEYS, WORKERS_BY_QUEUE_KEY

_client: redis.Redis | None = None


def get_redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=10, health_check_interval=30)
    return _client


def reset_redis() -> None:
    """Forget the client (after settings.REDIS_URL changed, e.g. in tests)."""
    global _client
    if _client is not None:
        _client.close()
    _client = None


def unregister_rq_worker(connection, name: str, rq_queue_names: list[str]) -> None:
    """Take a dead worker out of RQ's registries (its key and the sets RQ lists workers from),
    so RQ's dashboard stops listing it before its key would expire by itself."""
    key = Worker.redis_worker_namespace_prefix + name
    with connection.pipeline() as pipe:
        pipe.delete(key)
        pipe.srem(REDIS_WORKER_KEYS, key)
        for queue in rq_queue_names:
            pipe.srem(WORKERS_BY_QUEUE_KEY % queue, key)
        pipe.execute()
