"""Log lines that carry their context: correlation id, and the job being run (id, queue, task,
attempt). LOG_FORMAT=json writes one JSON object per line (production); plain is for people."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

from jobs.core.context import current_correlation_id, current_job

CONTEXT_FIELDS = ("correlation_id", "job_id", "queue", "task", "attempt", "duration_ms")


class ContextFilter(logging.Filter):
    """Adds the current correlation id and job to every record (without overriding explicit extras)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "correlation_id", None):
            record.correlation_id = current_correlation_id.get()
        for key, value in current_job.get().items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


class CacheOutage(logging.Filter):
    """django-redis logs a full traceback for every cache call it answers as a miss while Redis
    is away (DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS): one line instead, at most every EVERY seconds
    per process, saying how many were ignored meanwhile."""

    EVERY = 30.0

    def __init__(self, name: str = ""):
        super().__init__(name)
        self._last = float("-inf")
        self._ignored = 0

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        self._ignored += 1
        now = time.monotonic()
        if now - self._last < self.EVERY:
            return False
        record.msg, record.args = "Redis unavailable for the cache (%s): %d call(s) answered as a miss", (error, self._ignored)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        self._last, self._ignored = now, 0
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            value = getattr(record, key, None)
            if value not in (None, ""):
                line[key] = str(value) if key == "job_id" else value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class PlainFormatter(logging.Formatter):
    """The human format, with the correlation id and job when there are any."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        tags = [f"{key}={getattr(record, key)}" for key in ("correlation_id", "job_id", "task") if getattr(record, key, None)]
        return f"{text} [{' '.join(tags)}]" if tags else text
