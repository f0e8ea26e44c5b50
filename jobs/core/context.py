"""What a running job knows about itself, and the correlation id of the current unit of work."""

from __future__ import annotations

import contextvars
import re
import uuid
from dataclasses import dataclass, field
from types import MappingProxyType


class JobCancelled(Exception):
    """Raised by ctx.progress() when staff asked this running job to stop."""


current_correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("conveyor_correlation_id", default="")
# The job this thread is running, for log lines: {"job_id", "queue", "task", "attempt"}.
current_job: contextvars.ContextVar[dict] = contextvars.ContextVar("conveyor_current_job", default=MappingProxyType({}))

CORRELATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def valid_correlation_id(value) -> bool:
    """An incoming id is trusted only if short and plain (it ends up in logs and headers)."""
    return isinstance(value, str) and bool(CORRELATION_ID.match(value))


def new_correlation_id() -> str:
    return uuid.uuid4().hex


@dataclass
class JobContext:
    """Passed to every task body as its first argument."""

    job_id: uuid.UUID
    task_name: str
    attempt: int  # 1-based, within the current attempt chain
    max_attempts: int
    correlation_id: str
    _reporter: callable = field(repr=False, default=None)

    def progress(self, percent: int, message: str = "") -> None:
        """Record progress (0-100) and an optional message on the job row.

        Raises JobCancelled if the job was asked to stop (or was taken over): let it
        propagate, after cleaning up if the task must.
        """
        if not 0 <= percent <= 100:
            raise ValueError("progress percent must be between 0 and 100")
        if self._reporter is not None:
            self._reporter(percent, message)

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts
