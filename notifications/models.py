"""A message to a person, sent by a job on its channel's queue (notifications.services)."""

from __future__ import annotations

from django.db import models

from jobs.core.states import StateMachine
from jobs.fields import SafeJSONDecoder
from jobs.models import JobRecord


class Notification(models.Model):
    """A message to a person (email, SMS, WhatsApp or push), sent by a job on its channel's queue."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"
        WHATSAPP = "whatsapp", "WhatsApp"
        PUSH = "push", "Push"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    STATES = StateMachine(
        "notification",
        {State.PENDING: {State.SENT, State.FAILED}, State.FAILED: {State.PENDING, State.SENT, State.FAILED}, State.SENT: set()},
    )

    channel = models.CharField(max_length=16, choices=Channel.choices)
    recipient = models.CharField(max_length=255)
    template = models.CharField(max_length=100, help_text="Under templates/notifications/: <name>.txt (first line: subject).")
    context = models.JSONField(default=dict, blank=True, decoder=SafeJSONDecoder)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    provider_message_id = models.CharField(max_length=100, blank=True)
    # What the provider last reported about delivery (Twilio's status callbacks): sent means
    # handed to the provider; delivered, read, undelivered or failed come later, from it.
    delivery_status = models.CharField(max_length=16, blank=True, help_text="The provider's last delivery report.")
    delivery_error = models.CharField(max_length=255, blank=True, help_text="The provider's error code for an undelivered message.")
    delivery_updated_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    dedup_key = models.CharField(
        max_length=200,
        null=True,
        blank=True,
        unique=True,
        help_text="At most one notification per key (e.g. one notice per payout outcome).",
    )
    job = models.ForeignKey(JobRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["provider_message_id"], name="notification_provider_id")]
        db_table = "jobs_notification"  # the table it had in the jobs app (moved by state only, decision 42)
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient} ({self.state})"
