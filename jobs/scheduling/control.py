"""Staff changes to schedules: save (add or edit), enable, disable. Each one is written and
audited in one transaction; the admin only calls these (running one now is
``jobs.scheduling.firing.fire_now``)."""

from __future__ import annotations

from django.db import transaction

from audit.services import audit
from jobs.models import Schedule


def schedule_save(schedule: Schedule, *, actor, changed=(), reason: str = "") -> Schedule:
    """Store a validated schedule (``full_clean`` is the caller's form's) and audit which fields changed."""
    created = schedule.pk is None
    with transaction.atomic():
        schedule.save()
        audit(actor, "schedule.add" if created else "schedule.change", "schedule", schedule.pk, reason, fields=list(changed))
    return schedule


def schedule_set_enabled(schedule_id, enabled: bool, *, actor, reason: str = "") -> Schedule:
    """Switch a schedule on (its next fire time is computed from now) or off; audited."""
    with transaction.atomic():
        schedule = Schedule.objects.select_for_update().get(pk=schedule_id)
        schedule.enabled = enabled
        schedule.save()
        audit(actor, "schedule.enable" if enabled else "schedule.disable", "schedule", schedule.pk, reason)
    return schedule
