"""The job event stream in Redis (a Stream, ``conveyor:events``), and following it.

Any process can follow what jobs do, BullMQ's QueueEvents for Conveyor:

    from jobs.transport.events import follow

    position = load_saved_position() or "$"          # "$": from now; "0": from the oldest kept
    for event in follow(position):
        handle(event)                                 # event.type, event.job_id, event.data
        save_position(event.stream_id)                # resume from here after a restart

Job events (``completed``, ``failed``, ``cancelled``, ``deferred``; ``final`` says whether the
job ended with it) are relayed from the attempt rows the database already holds
(jobs.ops.events.relay, a scheduler duty), so a worker killed right after committing loses
none; each attempt is written once (a sorted set of relayed attempt ids guards the stream
against a second relay of the same row). ``progress`` events and system events
(``worker.lost``, ``schedule.failed``, ``redis.recovered``) are published as they happen, best
effort. The stream is trimmed to EVENT_STREAM_MAX_LENGTH entries and EVENT_STREAM_MAX_AGE.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from redis.exceptions import RedisError

from jobs.core.keys import EVENTS_CURSOR_KEY, EVENTS_RELAYED_KEY, EVENTS_STREAM_KEY
from jobs.transport.redis import get_redis

RELAYED_KEPT = 200_000  # attempt ids the dedupe set remembers below the relay's cursor

# KEYS: stream, relayed ids (sorted set), cursor. ARGV: max length, min id (ms), new cursor, then
# (attempt id, event JSON) pairs. An attempt already relayed is not written again.
RELAY = """
local added = 0
for i = 4, #ARGV, 2 do
  if redis.call('ZADD', KEYS[2], 'NX', ARGV[i], ARGV[i]) == 1 then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'event', ARGV[i + 1])
    added = added + 1
  end
end
redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[2])
local current = redis.call('GET', KEYS[3])
local cursor = tonumber(current or '0')
if not current or tonumber(ARGV[3]) > cursor then
  redis.call('SET', KEYS[3], ARGV[3])
  cursor = tonumber(ARGV[3])
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', cursor - RELAYED_KEPT)
return added
""".replace("RELAYED_KEPT", str(RELAYED_KEPT))


@dataclass(frozen=True)
class Event:
    stream_id: str  # where it is in the stream: resume after it
    type: str
    data: dict = field(default_factory=dict)

    @property
    def job_id(self) -> str | None:
        return self.data.get("job_id")


def _min_id() -> int:
    return int((time.time() - settings.EVENT_STREAM_MAX_AGE) * 1000)


def write_relayed(events: list[tuple[int, dict]], new_cursor: int) -> int:
    """Write attempt events not written before, move the relay's cursor; returns how many."""
    connection = get_redis()
    args: list = [settings.EVENT_STREAM_MAX_LENGTH, _min_id(), new_cursor]
    for attempt_id, event in events:
        args += (attempt_id, json.dumps(event, separators=(",", ":"), default=str))
    script = connection.register_script(RELAY)
    return int(script(keys=[EVENTS_STREAM_KEY, EVENTS_RELAYED_KEY, EVENTS_CURSOR_KEY], args=args))


def relay_cursor() -> int | None:
    value = get_redis().get(EVENTS_CURSOR_KEY)
    return int(value) if value is not None else None


def publish(event_type: str, **data) -> None:
    """An event as it happens (progress, system events), best effort: a Redis error is swallowed,
    the caller's work goes on."""
    try:
        get_redis().xadd(
            EVENTS_STREAM_KEY,
            {"event": json.dumps({"type": event_type, **data}, separators=(",", ":"), default=str)},
            maxlen=settings.EVENT_STREAM_MAX_LENGTH,
            approximate=True,
        )
    except RedisError:
        pass


def read(after: str = "0", count: int = 100, block: float | None = None) -> list[Event]:
    """Up to ``count`` events after ``after`` (a stream id, "0" for the oldest kept, "$" for new
    ones only); ``block`` seconds to wait for the first."""
    reply = get_redis().xread({EVENTS_STREAM_KEY: after}, count=count, block=None if block is None else int(block * 1000))
    events = []
    for _, entries in reply or []:
        for stream_id, fields in entries:
            payload = json.loads(fields[b"event"])
            events.append(Event(stream_id.decode(), payload.pop("type"), payload))
    return events


def position_now() -> str:
    """The stream's newest id: following from it sees only what comes next."""
    connection = get_redis()
    if not connection.exists(EVENTS_STREAM_KEY):
        return "0-0"
    last = connection.xinfo_stream(EVENTS_STREAM_KEY)["last-generated-id"]
    return last.decode() if isinstance(last, bytes) else str(last)


def follow(after: str = "$", *, block: float = 5.0, count: int = 100, stop=lambda: False) -> Iterator[Event]:
    """Every event after ``after``, as they come (blocking reads), until ``stop()`` is true.
    "$" is pinned to the stream's newest id when follow() is called, so nothing published
    after that call is missed."""
    return _follow(position_now() if after == "$" else after, block, count, stop)


def _follow(after: str, block: float, count: int, stop) -> Iterator[Event]:
    while not stop():
        for event in read(after, count=count, block=block):
            after = event.stream_id
            yield event
