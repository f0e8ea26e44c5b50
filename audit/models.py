"""The audit trail: who did what to which object, when and why. Written only by
``audit.services.audit``, called by the service that acts, in its transaction."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from jobs.fields import SafeJSONDecoder


class AuditEntry(models.Model):
    """Who did what to which job (or payout, schedule, import...), when and why."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=150, help_text="Username, or system:<process> for automatic actions.")
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, db_index=True)
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True, decoder=SafeJSONDecoder)

    class Meta:
        db_table = "jobs_auditentry"  # the table it had in the jobs app (moved by state only, decision 42)
        ordering = ["-created_at"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.object_type}:{self.object_id}"
