"""Per-key rate limits: at most N uses of one key (a recipient, an account, a tenant) in any
window, across every worker. A queue's rate limit (jobs.transport.flow) spaces out a whole
queue; this spaces out one key's share of it, so one busy recipient cannot use up a channel.

    from jobs.transport.keylimits import limit_per_key

    limit_per_key("sms", recipient, (5, 3600))  # raises Defer(after=...) past 5 an hour

A task calls it before the work the limit guards. Over the limit it raises
jobs.core.outcomes.Defer: the job runs again when the key has room, and the deferral does not
count as an attempt. The key is hashed before it reaches Redis (a phone number is personal data).
Redis keeps one sorted set per key (its uses in the window), expiring with the window.
"""

from __future__ import annotations

import hashlib
import uuid

from jobs.core.outcomes import Defer
from jobs.transport.redis import get_redis

KEY = "conveyor:keylimit:{}:{}"

# KEYS: the key's sorted set. ARGV: count, window seconds, a unique member. Returns "0" when the
# use is counted, else the seconds until the oldest use in the window leaves it.
TAKE = """
local key, count, window = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < count then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, math.ceil(window * 1000))
  return '0'
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return tostring(math.max(tonumber(oldest[2]) + window - now, 0.001))
"""


def _redis_key(name: str, key: str) -> str:
    return KEY.format(name, hashlib.sha256(key.encode()).hexdigest()[:32])


def take(name: str, key: str, limit: tuple[int, float]) -> float:
    """Count one use of ``key`` under ``name`` if ``limit`` (count, window seconds) allows it:
    0.0 when it does, else the seconds until it will (nothing counted)."""
    count, window = limit
    script = get_redis().register_script(TAKE)
    return float(script(keys=[_redis_key(name, key)], args=[int(count), float(window), uuid.uuid4().hex]))


def limit_per_key(name: str, key: str, limit: tuple[int, float] | None) -> None:
    """Raise Defer until ``key`` has room under ``limit``; no limit (None): return at once."""
    if not limit:
        return
    wait = take(name, key, limit)
    if wait > 0:
        count, window = limit
        raise Defer(f"{name}: this key's limit of {count} per {window:g} s is reached", after=wait)


def reset(name: str, key: str) -> None:
    """Forget the uses counted for ``key`` (staff, tests)."""
    get_redis().delete(_redis_key(name, key))
