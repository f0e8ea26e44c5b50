"""The one Redis client the job platform uses for transport (pooled, thread-safe)."""

from __future__ import annotations

import redis
from django.conf import settings

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
