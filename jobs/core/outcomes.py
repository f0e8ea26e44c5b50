"""How a task body says more than "it failed": raise one of these (pure: no Django imports).

    from jobs.core.outcomes import Defer, PermanentFailure, RetryLater

    raise PermanentFailure("the number is not a mobile number")  # dead-lettered now, no retry
    raise RetryLater("the provider is throttling us", after=30)   # an attempt; the next one in >= 30 s
    raise Defer("over this recipient's limit", after=12)          # not an attempt: runs again in 12 s

Any other exception is a failure that the job's retry policy retries (timeouts, 5xx answers,
refused connections: the temporary kind). docs/flow-control.md ("Failures") has the table.
"""

from __future__ import annotations

import math

# A wait asked for by a task (or a provider's Retry-After) is kept within this: a provider
# asking for a day is obeyed by the dead-letter queue and the staff's "retry", not by a timer.
MAXIMUM_WAIT = 6 * 3600  # seconds


def _wait(after) -> float:
    if isinstance(after, bool) or not isinstance(after, (int, float)) or math.isnan(after) or after < 0:
        raise ValueError(f"after must be a number of seconds, 0 or more (got {after!r})")
    return min(float(after), MAXIMUM_WAIT)


class PermanentFailure(Exception):
    """Retrying cannot help: a bad phone number, an unsubscribed recipient, a closed account.
    The attempt is recorded as failed and the job goes to the dead-letter queue at once,
    whatever its retry policy; staff can still retry it from there."""


class RetryLater(Exception):
    """A temporary failure whose next attempt must wait at least ``after`` seconds (an HTTP
    429's Retry-After). It counts as an attempt: the policy decides whether there is another
    one, and the policy's own delay applies when it is the longer."""

    def __init__(self, message: str, *, after: float):
        super().__init__(message)
        self.after = _wait(after)


class Defer(Exception):
    """Not now, and not a failure (a per-key rate limit is reached): the job waits ``after``
    seconds and runs again. The attempt is logged as deferred and does not count against the
    job's retries."""

    def __init__(self, message: str, *, after: float):
        super().__init__(message)
        self.after = _wait(after)


class TemporaryFailure(Exception):
    """A failure worth retrying by the policy (a 5xx, a timeout); any exception is, this one
    only names it."""


def retry_after_seconds(value) -> float | None:
    """An HTTP Retry-After header in seconds (its delta-seconds form; a date or nonsense: None)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 and not math.isnan(seconds) else None


def classify_http(status: int, detail: str, retry_after=None) -> Exception:
    """The exception for a remote service's HTTP error answer: 429 is RetryLater (its
    Retry-After), 401/403 (credentials being fixed), 408 and 5xx are temporary, any other 4xx
    is permanent (the request itself is refused)."""
    if status == 429:
        return RetryLater(f"{detail} (HTTP 429)", after=retry_after_seconds(retry_after) or 0)
    if status in (401, 403, 408) or status >= 500:
        return TemporaryFailure(f"{detail} (HTTP {status})")
    return PermanentFailure(f"{detail} (HTTP {status})")
