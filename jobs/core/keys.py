"""Every Redis key Conveyor writes besides RQ's own, in one place (names only: no connection).

RQ's lists and job hashes are RQ's (``rq:queue:<name>``, ``rq:job:<id>``); the names of the
lists Conveyor uses per queue and priority tier come from ``jobs.core.queues.rq_queue_name``.
"""

from __future__ import annotations

# Present while Redis keeps its data. When it is missing (first start, FLUSHALL, restart
# without persistence), the next sweep checks *every* queued row against Redis at once.
EPOCH_KEY = "conveyor:epoch"
# Set by a scheduler that fires schedules, with a short expiry: /health/ready reads it.
SCHEDULER_ALIVE_KEY = "conveyor:scheduler:alive"
# The single-instance scheduler's lock (USE_DISTRIBUTED_SCHEDULER=false).
SINGLE_LOCK = "conveyor:scheduler:single"
# Hash: scheduler identity -> last seen (unix time), for the dashboard.
SCHEDULERS_KEY = "conveyor:schedulers"
# Flow control (jobs.transport.flow): the set of paused queues, and per queue the running
# leases (sorted set) and the rate-limit window (sorted set). The Lua scripts there spell
# the last two out as well, since a script cannot format a Python template.
PAUSED_KEY = "conveyor:paused"
RUNNING_KEY = "conveyor:running:{}"
RATE_KEY = "conveyor:rate:{}"
# Hash per worker: job id -> queue of every job the worker took off a list and has not
# finished (written by the pop itself, so a worker killed between taking a job and claiming
# its row leaves a trace); the rescue hands a dead worker's untouched jobs back.
TAKEN_KEY = "conveyor:taken:{}"
# The job event stream (jobs.transport.events): the Redis Stream, the attempt ids already
# written to it (sorted set, the relay's dedupe), and the relay's cursor (highest attempt id
# below which every attempt is written).
EVENTS_STREAM_KEY = "conveyor:events"
EVENTS_RELAYED_KEY = "conveyor:events:relayed"
EVENTS_CURSOR_KEY = "conveyor:events:cursor"
