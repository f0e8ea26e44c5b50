"""Logging: JSON lines in production, plain text for people (docs/operations.md)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from config.settings.environment import PRODUCTION, env

# json: one JSON object per line with correlation id, job id, queue, task, attempt and duration
# (for log shippers); plain: for people (make run). docs/operations.md
LOG_FORMAT = env.str("LOG_FORMAT", "json" if PRODUCTION else "plain")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be json or plain.")
# RQ's own worker lines (maintenance, connection trouble); the per-job lines are INFO of jobs.ops.runtime.
RQ_LOG_LEVEL = env.str("RQ_LOG_LEVEL", "WARNING").upper()
if RQ_LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured(f"RQ_LOG_LEVEL={RQ_LOG_LEVEL!r} must be DEBUG, INFO, WARNING, ERROR or CRITICAL.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "jobs.core.logs.ContextFilter"}, "cache_outage": {"()": "jobs.core.logs.CacheOutage"}},
    "formatters": {
        "plain": {"()": "jobs.core.logs.PlainFormatter", "format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "jobs.core.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", "INFO")},
    "loggers": {
        "rq.worker": {"level": RQ_LOG_LEVEL},
        "axes": {"level": "WARNING"},
        # Twilio's client logs every request's and answer's headers at INFO: a line per header.
        "twilio.http_client": {"level": "WARNING"},
        # A cache call made while Redis is away (config/settings/services.py): a line every 30 s.
        "django_redis.cache": {"filters": ["cache_outage"]},
    },
}
