"""What the jobs app does after every ``migrate`` (connected in JobsConfig.ready)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError

from jobs.models import QueueState
from jobs.scheduling.defaults import sync_default_schedules

log = logging.getLogger(__name__)


def ensure_queue_rows(sender, **kwargs) -> None:
    """One QueueState row per configured queue, so the admin lists them all."""
    QueueState.objects.bulk_create([QueueState(name=name) for name in settings.CONVEYOR_QUEUES], ignore_conflicts=True)


def sync_schedules(sender, **kwargs) -> None:
    """The schedules the apps declare in code (their schedules.py), after every migrate."""
    try:
        sync_default_schedules()
    except DatabaseError as exc:  # migrated back to before the schedules table had its columns
        log.warning("default schedules not synced: %s", exc)
