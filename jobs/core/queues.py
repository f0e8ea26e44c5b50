"""The queue registry and how logical queues map onto RQ's Redis lists.

Each logical queue (``payouts``) has one Redis list per priority tier:
``payouts.critical``, ``payouts.high``, ``payouts`` (normal) and ``payouts.low``.
A worker listens tier-major (every critical list of its queues first, then every
high list, ...), and RQ's BLPOP takes the first non-empty list in that order, so
a waiting CRITICAL job always starts before a waiting HIGH one.

The queues themselves are declared here, in code (``DECLARED``: names and numbers from the
seeds, docs/architecture.md); a deploy tunes them with QUEUE_OVERRIDES, and settings hold the
resolved table (``settings.CONVEYOR_QUEUES``, from ``resolve_queues``). Pure: settings import
it, and the system check ``jobs.checks`` validates what settings ended with.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from django.conf import settings

from config.env import describe_seconds, parse_duration
from jobs.core.policies import InvalidPolicy, policy_from_dict


class Priority(IntEnum):
    CRITICAL = 1
    HIGH = 2
    NORMAL = 3
    LOW = 4


_TIER_SUFFIX = {Priority.CRITICAL: ".critical", Priority.HIGH: ".high", Priority.NORMAL: "", Priority.LOW: ".low"}


class UnknownQueue(ValueError):
    pass


def rq_queue_name(queue: str, priority: int) -> str:
    return queue + _TIER_SUFFIX[Priority(priority)]


def logical_queue_name(rq_name: str) -> str:
    for suffix in (".critical", ".high", ".low"):
        if rq_name.endswith(suffix):
            return rq_name[: -len(suffix)]
    return rq_name


def tiered_rq_names(queues: list[str]) -> list[str]:
    """Redis list names for ``queues``, tier-major, keeping the given queue order within a tier."""
    return [rq_queue_name(q, tier) for tier in Priority for q in queues]


def _exp(retries: int, delay: float) -> dict:
    return {"kind": "exponential", "retries": retries, "delay": delay}


def _fixed(retries: int, delay: float) -> dict:
    return {"kind": "fixed", "retries": retries, "delay": delay}


# concurrency: jobs at once across all workers (None: MAX_QUEUE_CONCURRENCY; 0: unlimited);
# rate_limit: (jobs, window seconds) or None; retry: the policy when neither the task nor the
# enqueue call gives one (None: the default, JOB_RETRY_ATTEMPTS retries from JOB_RETRY_DELAY).
# A deploy may also set "slots": how many of one worker process's WORKER_CONCURRENCY slots the
# queue's jobs may hold at once (default: all of them).
DECLARED: dict[str, dict] = {
    "payouts": {"concurrency": 5, "retry": _exp(3, 2), "rate_limit": None},
    "payout_expiry": {"concurrency": 3, "retry": _fixed(2, 5), "rate_limit": (50, 60)},
    "provider_fallback": {"concurrency": 2, "retry": _exp(3, 3), "rate_limit": (20, 60)},
    "reconciliation": {"concurrency": 2, "retry": _exp(3, 5), "rate_limit": (30, 60)},
    # One queue per notification channel: WhatsApp's limit (the seeds' 100 a minute) is not
    # shared with SMS or push. "notifications" is the seeds' queue for all of them; nothing is
    # sent to it now, it drains what was enqueued there before the channels had their own.
    "whatsapp": {"concurrency": 5, "retry": _exp(3, 2), "rate_limit": (100, 60)},
    "sms": {"concurrency": 5, "retry": _exp(3, 2), "rate_limit": (100, 60)},
    "push": {"concurrency": 10, "retry": _exp(3, 2), "rate_limit": (600, 60)},
    "notifications": {"concurrency": 5, "retry": _exp(3, 2), "rate_limit": (100, 60)},
    "emails": {"concurrency": None, "retry": _exp(3, 2), "rate_limit": None},
    "analytics": {"concurrency": None, "retry": None, "rate_limit": None},
    "daily_reports": {"concurrency": 1, "retry": _fixed(2, 10), "rate_limit": (10, 60)},
    "reports": {"concurrency": None, "retry": None, "rate_limit": None},
    "exports": {"concurrency": None, "retry": None, "rate_limit": None},
    "imports": {"concurrency": None, "retry": None, "rate_limit": None},
    "calculations": {"concurrency": None, "retry": None, "rate_limit": None},
    "integrations": {"concurrency": None, "retry": None, "rate_limit": None},
    "maintenance": {"concurrency": 1, "retry": _fixed(1, 60), "rate_limit": None},
    "default": {"concurrency": None, "retry": None, "rate_limit": None},
}
OVERRIDABLE = ("concurrency", "rate_limit", "retry", "slots")


def queue_problems(queues: dict) -> list[str]:
    """What is wrong with a resolved queue table, one sentence per problem (empty: nothing)."""
    problems = []
    for name, queue in queues.items():
        cap, rate, retry = queue.get("concurrency"), queue.get("rate_limit"), queue.get("retry")
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
            problems.append(f"queue {name!r}: concurrency must be a whole number, 0 meaning unlimited")
        if rate is not None and not (
            isinstance(rate, (list, tuple))
            and len(rate) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in rate)
        ):
            problems.append(f"queue {name!r}: rate_limit must be (jobs, window seconds), both positive")
        slots = queue.get("slots")
        if slots is not None and (isinstance(slots, bool) or not isinstance(slots, int) or slots < 1):
            problems.append(f"queue {name!r}: slots must be a whole number of at least 1 (or absent: all of a worker's slots)")
        if not isinstance(retry, dict):
            problems.append(f"queue {name!r}: retry must be a policy such as {{'kind': 'exponential', 'retries': 3, 'delay': 2}}")
            continue
        try:
            policy_from_dict(retry)
        except InvalidPolicy as exc:
            problems.append(f"queue {name!r}: retry {exc}")
    return problems


# A retry delay given as a bare number is seconds; one above this is taken for milliseconds
# (the seeds' unit) and refused, as JOB_RETRY_DELAY is.
BARE_DELAY_MAXIMUM = 600


def _seconds(queue: str, field: str, value, bare_maximum: float | None = None):
    """A duration from QUEUE_OVERRIDES: a number of seconds or a string with its unit ("5000ms")."""
    if isinstance(value, str):
        try:
            seconds, _ = parse_duration(value)
        except ValueError as exc:
            raise ValueError(f"queue {queue!r}: {field} {value!r}: {exc}") from None
        return int(seconds) if seconds == int(seconds) else seconds
    if bare_maximum is not None and isinstance(value, (int, float)) and not isinstance(value, bool) and value > bare_maximum:
        raise ValueError(
            f"queue {queue!r}: {field} {value:g} is {describe_seconds(value)} in seconds; for milliseconds write "
            f'"{value:g}ms", or give the unit ("2h")'
        )
    return value


def resolve_queues(*, default_concurrency: int, default_retry: dict, overrides: dict) -> dict:
    """The queue table settings hold: DECLARED, its defaults filled in, ``overrides`` applied
    (``{"reports": {"concurrency": 2, "rate_limit": [5, 1]}}``). Raises ValueError naming the
    queue and key at fault."""
    queues = {}
    for name, declared in DECLARED.items():
        queue = dict(declared)
        queue["concurrency"] = default_concurrency if queue["concurrency"] is None else queue["concurrency"]
        queue["retry"] = dict(default_retry) if queue["retry"] is None else dict(queue["retry"])
        queue.setdefault("slots", None)
        queues[name] = queue
    if not isinstance(overrides, dict):
        raise ValueError("must be a JSON object of queue name -> settings")
    for name, values in overrides.items():
        if name not in queues:
            raise ValueError(f"names unknown queue {name!r}; the queues are {', '.join(queues)}")
        if not isinstance(values, dict):
            raise ValueError(f"[{name!r}] must be an object of {', '.join(OVERRIDABLE)}")
        unknown = set(values) - set(OVERRIDABLE)
        if unknown:
            raise ValueError(f"[{name!r}] has unknown keys {sorted(unknown)}")
        if values.get("rate_limit") is not None:
            rate = values["rate_limit"]
            if isinstance(rate, list) and len(rate) == 2:
                rate = (rate[0], _seconds(name, "rate_limit window", rate[1]))
            values = {**values, "rate_limit": rate}
        if isinstance(values.get("retry"), dict):
            retry = dict(values["retry"])
            for field in ("delay", "max_delay"):
                if field in retry:
                    retry[field] = _seconds(name, f"retry {field}", retry[field], BARE_DELAY_MAXIMUM if field == "delay" else None)
            values = {**values, "retry": retry}
        queues[name].update(values)
    problems = queue_problems(queues)
    if problems:
        raise ValueError(problems[0])
    return queues


def rq_queue_settings(queues: dict, redis_url: str, default_timeout: int) -> dict:
    return {name: {"URL": redis_url, "DEFAULT_TIMEOUT": default_timeout} for name in tiered_rq_names(list(queues))}


@dataclass(frozen=True)
class QueueConfig:
    name: str
    concurrency: int
    rate_limit: tuple[int, int] | None
    retry: dict


def get_queue_config(name: str) -> QueueConfig:
    try:
        raw = settings.CONVEYOR_QUEUES[name]
    except KeyError:
        known = ", ".join(sorted(settings.CONVEYOR_QUEUES))
        raise UnknownQueue(f"Unknown queue {name!r}. Known queues: {known}.") from None
    return QueueConfig(name=name, concurrency=raw["concurrency"], rate_limit=raw["rate_limit"], retry=raw["retry"])


def queue_names() -> list[str]:
    return list(settings.CONVEYOR_QUEUES)
