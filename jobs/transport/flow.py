"""Flow control at dequeue time: pause, concurrency caps and rate limits, global across workers.

A worker pops with one Lua script: it walks its lists in priority order, skips
queues that are paused, at their concurrency cap or out of rate budget, pops
the first ids it may run (as many as it has free slots), and for each takes a concurrency slot (a lease
in ``conveyor:running:<queue>``) and a rate-window entry
(``conveyor:rate:<queue>``). Held-back jobs stay in their list: they wait, they
do not fail and use no attempt. When nothing may run, the script returns the
lists that are open but empty, and the worker blocks on those only.

Slots are leases: the worker refreshes its slot from the heartbeat thread and
releases it when the job ends; a dead worker's slot is released by the rescue (and
expires after WORKER_LOST_AFTER anyway). Times come from Redis (TIME), so hosts with
skewed clocks agree.

The pop also records the job in the worker's taken hash (``conveyor:taken:<worker>``, in
the same script), and the job's end removes it in the pipeline that releases the slot.
What a dead worker took and never claimed is therefore known: the rescue hands it back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property

from django.conf import settings
from redis.exceptions import DataError, NoScriptError

from jobs.core.keys import PAUSED_KEY, RUNNING_KEY, TAKEN_KEY
from jobs.core.queues import logical_queue_name

_CHECK = """
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
-- 'run', or why not: 'paused', or 'held' (at its concurrency cap or out of rate budget)
local function may_run(q, cap, rn, rw, t)
  if redis.call('SISMEMBER', 'conveyor:paused', q) == 1 then return 'paused' end
  if cap > 0 then
    local running = 'conveyor:running:' .. q
    redis.call('ZREMRANGEBYSCORE', running, '-inf', t)
    if redis.call('ZCARD', running) >= cap then return 'held' end
  end
  if rn > 0 then
    local rate = 'conveyor:rate:' .. q
    redis.call('ZREMRANGEBYSCORE', rate, '-inf', t - rw)
    if redis.call('ZCARD', rate) >= rn then return 'held' end
  end
  return 'run'
end
local function take(q, id, cap, rn, rw, t, lease)
  if cap > 0 then redis.call('ZADD', 'conveyor:running:' .. q, t + lease, id) end
  if rn > 0 then
    redis.call('ZADD', 'conveyor:rate:' .. q, t, id .. '@' .. t)
    redis.call('EXPIRE', 'conveyor:rate:' .. q, math.ceil(rw) + 1)
  end
end
"""

# Takes up to ``want`` jobs in priority order, at most ``room`` of one queue (0: no limit but
# ``want``), rechecking the queue's cap and rate before each one. An empty list costs one LLEN:
# the checks run only where there is something to take, once per queue until it takes; a run
# of 8 empty lists costs one EXISTS.
# KEYS: the worker's taken hash. ARGV: lease, want, the number of queues n, then per queue:
# name, cap, rate jobs, rate window, room; then per list: key, its queue's number (1..n).
# Returns key, id pairs; when it took nothing, a marker ('' or, when jobs wait behind a cap or
# rate limit that may free any moment, '+') and the empty lists (a blocking wait on one of
# them gives a job back if its queue may not run: ACQUIRE).
POP = (
    _CHECK
    + """
local t = now()
local lease, want, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local got, open, per_queue, verdict, held = {}, {}, {}, {}, false
local function visit(i)
  local key = ARGV[i]
  if redis.call('LLEN', key) == 0 then
    table.insert(open, key)
    return
  end
  local c = 4 + 5 * (tonumber(ARGV[i + 1]) - 1)
  local q, cap, rn, rw, room = ARGV[c], tonumber(ARGV[c + 1]), tonumber(ARGV[c + 2]), tonumber(ARGV[c + 3]), tonumber(ARGV[c + 4])
  while #got < 2 * want and (room == 0 or (per_queue[q] or 0) < room) do
    if verdict[q] == nil then verdict[q] = may_run(q, cap, rn, rw, t) end
    if verdict[q] ~= 'run' then
      if verdict[q] == 'held' then held = true end
      return
    end
    local id = redis.call('LPOP', key)
    if not id then return end
    take(q, id, cap, rn, rw, t, lease)
    redis.call('HSET', KEYS[1], id, q)
    per_queue[q] = (per_queue[q] or 0) + 1
    if cap > 0 or rn > 0 then verdict[q] = nil end
    table.insert(got, key)
    table.insert(got, id)
  end
end
-- Lists in runs of 8: one EXISTS tells a run is all empty (Redis deletes an empty list), so
-- 60 mostly empty lists cost a few calls, not 60.
local i = 4 + 5 * n
while i <= #ARGV and #got < 2 * want do
  local last = math.min(i + 14, #ARGV - 1)
  local keys = {}
  for j = i, last, 2 do keys[#keys + 1] = ARGV[j] end
  if redis.call('EXISTS', unpack(keys)) == 0 then
    for _, key in ipairs(keys) do table.insert(open, key) end
  else
    for j = i, last, 2 do
      visit(j)
      if #got >= 2 * want then break end
    end
  end
  i = last + 2
end
if #got > 0 then return got end
table.insert(open, 1, held and '+' or '')
return open
"""
)


def pop_args(lists: list[tuple[str, Limits]], room: dict[str, int]) -> list:
    """The pop script's arguments after lease and want: each queue's limits once, then each list
    with its queue's number (60 lists of 15 queues: 196 arguments, not 360)."""
    numbers: dict[str, int] = {}
    queues: list = []
    keys: list = []
    for key, limits in lists:
        number = numbers.get(limits.queue)
        if number is None:
            number = numbers[limits.queue] = len(numbers) + 1
            queues += (*limits.argv, room.get(limits.queue, 0))
        keys += (key, number)
    return [len(numbers), *queues, *keys]


def _resp_bulk(value) -> bytes:
    """One argument in Redis's protocol, encoded as redis-py's default encoder does."""
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, str):
        data = value.encode()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        data = repr(value).encode()
    else:
        raise DataError(f"{type(value).__name__} is not a Redis argument")
    return b"$%d\r\n%s\r\n" % (len(data), data)


class PackedArgs:
    """A script call's trailing arguments, packed into Redis's protocol once.

    redis-py packs every argument of every call in Python. The pop script gets the same 20-250
    arguments (the lists of every queue a worker listens to, with their limits) on every pop;
    packing them, and redis-py's path around a command, were half of a pop's client CPU on 18
    queues (docs/decisions.md 59)."""

    __slots__ = ("count", "data")

    def __init__(self, args) -> None:
        self.count = len(args)
        self.data = b"".join(_resp_bulk(a) for a in args)


def evalsha_packed(connection, script, key: str, args: list, tail: PackedArgs):
    """``script(keys=[key], args=[*args, *tail])`` with ``tail`` packed already, on one of the
    client's pooled connections. A script Redis does not know (it restarted) is loaded and the
    call made again, as redis-py's Script does. Errors are redis-py's own: a connection error
    disconnects the connection (the pool makes a new one next time) and is raised, not retried."""
    pool = connection.connection_pool
    conn = pool.get_connection()
    try:
        for attempt in (1, 2):
            head = [b"EVALSHA", script.sha.encode(), b"1", key, *args]
            command = b"*%d\r\n" % (len(head) + tail.count) + b"".join(_resp_bulk(a) for a in head) + tail.data
            conn.send_packed_command([command])  # one write: the command whole
            try:
                return conn.read_response()
            except NoScriptError:
                if attempt == 2:
                    raise
                script.sha = connection.script_load(script.script)
    finally:
        pool.release(conn)


# A job popped by BLPOP: take its slot, or put it back at the front.
# KEYS: the worker's taken hash. ARGV: lease, key, queue, cap, rn, rw, id
ACQUIRE = (
    _CHECK
    + """
local t = now()
local q, cap, rn, rw, id = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
if may_run(q, cap, rn, rw, t) == 'run' then
  take(q, id, cap, rn, rw, t, tonumber(ARGV[1]))
  redis.call('HSET', KEYS[1], id, q)
  return 1
end
redis.call('LPUSH', ARGV[2], id)
return 0
"""
)

REFRESH = """
local t = redis.call('TIME')
return redis.call('ZADD', KEYS[1], 'XX', tonumber(t[1]) + tonumber(ARGV[2]), ARGV[1])
"""


@dataclass(frozen=True)
class Limits:
    queue: str
    concurrency: int  # 0: unlimited
    rate_jobs: int  # 0: unlimited
    rate_window: float

    @cached_property
    def argv(self) -> tuple:
        """What the pop and acquire scripts get for the queue (made once: the pop script gets
        them for every list on every pass)."""
        return (self.queue, self.concurrency, self.rate_jobs, self.rate_window)


def limits_for(rq_list_name: str) -> Limits:
    queue = logical_queue_name(rq_list_name)
    config = settings.CONVEYOR_QUEUES.get(queue, {"concurrency": 0, "rate_limit": None})
    rate = config["rate_limit"] or (0, 0)
    return Limits(queue, int(config["concurrency"]), int(rate[0]), float(rate[1]))


def lease_seconds() -> float:
    return settings.WORKER_LOST_AFTER


class FlowControl:
    def __init__(self, connection, holder: str):
        """``holder``: the worker's name; what it takes is recorded under it."""
        self.connection = connection
        self.taken_key = TAKEN_KEY.format(holder)
        self.held = False
        self._pop = connection.register_script(POP)
        self._acquire = connection.register_script(ACQUIRE)
        self._refresh = connection.register_script(REFRESH)
        self._args_for = self._args_lists = None
        self._packed: PackedArgs | None = None

    def pop(self, lists: list[tuple[str, Limits]], want: int = 1, room: dict[str, int] | None = None):
        """Pop up to ``want`` jobs that may run now, in priority order, at most ``room[queue]`` of
        a queue. Returns ([(key, job_id), ...], []) or ([], empty_keys); ``self.held`` says
        whether jobs wait behind a cap or rate limit (worth a prompt second look)."""
        room = room or {}
        # The same lists and room as last time (the usual case: no per-queue slot limit
        # reached): the same arguments.
        signature = tuple(sorted(room.items()))
        if self._args_lists is not lists or self._args_for != signature:
            self._packed = PackedArgs(pop_args(lists, room))
            self._args_for, self._args_lists = signature, lists
        reply = evalsha_packed(self.connection, self._pop, self.taken_key, [lease_seconds(), want], self._packed)
        self.held = reply[0] == b"+"
        if reply[0] not in (b"", b"+"):
            return [(reply[i].decode(), reply[i + 1].decode()) for i in range(0, len(reply), 2)], []
        return [], [k.decode() for k in reply[1:]]

    def wait(self, keys: list[str], timeout: float, limits_by_key: dict[str, Limits]):
        """Block on open, empty lists; take the slot for what arrives, or give it back."""
        reply = self.connection.blpop(keys, timeout=timeout)
        if reply is None:
            return None
        key, job_id = reply[0].decode(), reply[1].decode()
        if self._acquire(keys=[self.taken_key], args=[lease_seconds(), key, *limits_by_key[key].argv, job_id]):
            return key, job_id
        return None

    def refresh(self, queue: str, job_id: str) -> None:
        self._refresh(keys=[RUNNING_KEY.format(queue)], args=[job_id, lease_seconds()])

    def release(self, pipeline, queue: str, job_id: str) -> None:
        """In ``pipeline``: the job's concurrency slot is free and it is no longer this worker's."""
        pipeline.zrem(RUNNING_KEY.format(queue), job_id)
        pipeline.hdel(self.taken_key, job_id)


def settle_dead_worker(connection, holder: str) -> dict[str, str]:
    """A dead worker's jobs: release their concurrency slots and forget what it took.
    Returns job id -> queue of what it held (the caller hands back those never claimed)."""
    key = TAKEN_KEY.format(holder)
    held = {job_id.decode(): queue.decode() for job_id, queue in connection.hgetall(key).items()}
    with connection.pipeline() as pipe:
        for job_id, queue in held.items():
            pipe.zrem(RUNNING_KEY.format(queue), job_id)
        pipe.delete(key)
        pipe.execute()
    return held


def sync_paused(connection, paused: list[str]) -> None:
    """Make the Redis mirror of paused queues equal to the database's list."""
    with connection.pipeline() as pipe:
        pipe.delete(PAUSED_KEY)
        if paused:
            pipe.sadd(PAUSED_KEY, *paused)
        pipe.execute()


def running_counts(connection, queues: list[str]) -> dict[str, int]:
    """Jobs holding a concurrency slot, per queue (expired leases excluded)."""
    now = time.time()
    with connection.pipeline(transaction=False) as pipe:
        for queue in queues:
            pipe.zcount(RUNNING_KEY.format(queue), now, "+inf")
        return dict(zip(queues, pipe.execute()))
