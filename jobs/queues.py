"""The queue registry and how logical queues map onto RQ's Redis lists.

Each logical queue (``payouts``) has one Redis list per priority tier:
``payouts.critical``, ``payouts.high``, ``payouts`` (normal) and ``payouts.low``.
A worker listens tier-major (every critical list of its queues first, then every
high list, ...), and RQ's BLPOP takes the first non-empty list in that order, so
a waiting CRITICAL job always starts before a waiting HIGH one.

``rq_queue_settings`` is a pure function so that settings.py can call it.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


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


def rq_queue_settings(queues: dict, redis_url: str, default_timeout: int) -> dict:
    return {
        name: {"URL": redis_url, "DEFAULT_TIMEOUT": default_timeout}
        for name in tiered_rq_names(list(queues))
    }


@dataclass(frozen=True)
class QueueConfig:
    name: str
    concurrency: int
    rate_limit: tuple[int, int] | None
    retry: dict


def get_queue_config(name: str) -> QueueConfig:
    from django.conf import settings

    try:
        raw = settings.CONVEYOR_QUEUES[name]
    except KeyError:
        known = ", ".join(sorted(settings.CONVEYOR_QUEUES))
        raise UnknownQueue(f"Unknown queue {name!r}. Known queues: {known}.") from None
    return QueueConfig(name=name, concurrency=raw["concurrency"], rate_limit=raw["rate_limit"], retry=raw["retry"])


def queue_names() -> list[str]:
    from django.conf import settings

    return list(settings.CONVEYOR_QUEUES)
