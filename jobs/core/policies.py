"""Retry policies: small pure objects, tested on their own.

A policy answers two questions about a job whose attempt number ``attempt``
(1-based) just failed: may it run again, and after how many seconds.

``retries`` counts the runs after the first one. The seeds' "3 attempts,
exponential 2 s, 4 s, 8 s" lists three delays, so it is ``Exponential(retries=3,
delay=2)``: four runs in all, waiting 2, 4 and 8 seconds between them.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass


class InvalidPolicy(ValueError):
    pass


@dataclass(frozen=True)
class _Policy:
    retries: int
    delay: float

    kind = ""

    def __post_init__(self):
        _check(self.retries, self.delay)

    @property
    def max_attempts(self) -> int:
        return self.retries + 1

    def should_retry(self, attempt: int) -> bool:
        return attempt < self.max_attempts

    def to_dict(self) -> dict:
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True)
class Fixed(_Policy):
    kind = "fixed"

    def delay_after(self, attempt: int, rng: random.Random | None = None) -> float:
        return float(self.delay)


@dataclass(frozen=True)
class Exponential(_Policy):
    factor: float = 2.0
    max_delay: float = 3600.0
    jitter: float = 0.0  # 0.2 = each delay drawn uniformly within ±20%

    kind = "exponential"

    def __post_init__(self):
        super().__post_init__()
        if self.factor < 1:
            raise InvalidPolicy("factor must be at least 1")
        if self.max_delay < self.delay:
            raise InvalidPolicy("max_delay must be at least delay")
        if not 0 <= self.jitter <= 1:
            raise InvalidPolicy("jitter must be between 0 and 1")

    def delay_after(self, attempt: int, rng: random.Random | None = None) -> float:
        base = min(self.delay * self.factor ** (attempt - 1), self.max_delay)
        if self.jitter:
            spread = base * self.jitter
            base = (rng or random).uniform(base - spread, base + spread)
        return max(0.0, base)


_KINDS = {"fixed": Fixed, "exponential": Exponential}
Policy = Fixed | Exponential


def _check(retries, delay) -> None:
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise InvalidPolicy("retries must be a whole number, 0 or more")
    if not isinstance(delay, (int, float)) or isinstance(delay, bool) or delay < 0:
        raise InvalidPolicy("delay must be a number of seconds, 0 or more")


def policy_from_dict(data: dict) -> Policy:
    """Build a policy from its settings/JSON form, e.g. {"kind": "fixed", "retries": 2, "delay": 5}."""
    if not isinstance(data, dict):
        raise InvalidPolicy("a retry policy must be an object with 'kind', 'retries' and 'delay'")
    fields = dict(data)
    kind = fields.pop("kind", None)
    if kind not in _KINDS:
        raise InvalidPolicy(f"retry kind must be one of {sorted(_KINDS)}, not {kind!r}")
    try:
        return _KINDS[kind](**fields)
    except TypeError as exc:
        raise InvalidPolicy(f"bad retry policy fields: {exc}") from None
