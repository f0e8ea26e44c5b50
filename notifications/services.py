"""Notifications: validated at creation, rendered from templates, sent by a job per message.

    notify("email", "ann@example.com", "payouts/payout_paid", {"amount": "10.00"}, dedup_key="payout 7 paid")

Email goes through Django's email backend on the `emails` queue; SMS, WhatsApp and push go
through a channel (NOTIFICATION_CHANNELS; sandbox ones by default) on the `notifications`
queue, limited to 100 per minute with 3 retries at 2 s, 4 s, 8 s (the seeds' policy).
A recipient that cannot be valid is refused when the notification is created.
"""

from __future__ import annotations

import logging
import random
import re
import uuid
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template import TemplateDoesNotExist
from django.template.loader import get_template, render_to_string
from django.utils import timezone
from django.utils.module_loading import import_string

from audit.services import audit
from jobs.core.errors import FieldError, InvalidJob, JobStateError
from jobs.ops.enqueue import _check_json, enqueue, enqueue_for
from notifications.models import Notification

log = logging.getLogger(__name__)

E164 = re.compile(r"^\+[1-9]\d{7,14}$")
QUEUES = {"email": "emails"}  # every other channel: "notifications"


class NotificationError(FieldError):
    """Bad notification input; ``field`` names what is wrong."""


class ChannelError(Exception):
    """The channel could not deliver now; the job retries."""


def check_recipient(channel: str, recipient) -> str:
    if not isinstance(recipient, str) or not recipient.strip():
        raise NotificationError("recipient", "is required")
    recipient = recipient.strip()
    if channel == Notification.Channel.EMAIL:
        try:
            validate_email(recipient)
        except ValidationError:
            raise NotificationError("recipient", f"{recipient!r} is not a valid email address") from None
    elif channel in (Notification.Channel.SMS, Notification.Channel.WHATSAPP):
        if not E164.match(recipient):
            raise NotificationError("recipient", f"{recipient!r} is not a phone number in E.164 form, like +9779800000000")
    elif channel == Notification.Channel.PUSH:
        if len(recipient) > 255 or any(c.isspace() for c in recipient):
            raise NotificationError("recipient", "must be a device token without spaces, at most 255 characters")
    else:
        raise NotificationError("channel", f"must be one of {', '.join(Notification.Channel.values)}")
    return recipient


def notify(channel: str, recipient: str, template: str, context: dict | None = None, *, dedup_key: str | None = None) -> Notification:
    """Create a notification and enqueue its sending (after commit). With ``dedup_key``, a second
    call with the same key returns the first notification instead of sending again."""
    recipient = check_recipient(channel, recipient)
    try:
        get_template(f"notifications/{template}.txt")
    except TemplateDoesNotExist:
        raise NotificationError("template", f"no template notifications/{template}.txt") from None
    context = context or {}
    try:
        _check_json(context, "context")
    except InvalidJob as exc:
        raise NotificationError(exc.field, exc.message) from None
    if dedup_key:
        existing = Notification.objects.filter(dedup_key=dedup_key).first()
        if existing:
            return existing
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                channel=channel, recipient=recipient, template=template, context=context, dedup_key=dedup_key or None
            )
            enqueue_for(notification, "notifications.send", [notification.pk], queue=QUEUES.get(channel, "notifications"))
    except IntegrityError:  # the same key, concurrently
        return Notification.objects.get(dedup_key=dedup_key)
    return notification


def render(notification: Notification) -> tuple[str, str]:
    """(subject, body): the template's first line is the subject."""
    text = render_to_string(f"notifications/{notification.template}.txt", notification.context).strip()
    subject, _, body = text.partition("\n")
    return subject.strip(), body.strip() + "\n"


def render_html(notification: Notification) -> str | None:
    """The email's HTML part, from notifications/<template>.html when there is one (autoescaped:
    the context's values are text), else None (a plain-text email)."""
    try:
        template = get_template(f"notifications/{notification.template}.html")
    except TemplateDoesNotExist:
        return None
    return template.render(notification.context)


def send_email(notification: Notification, subject: str, body: str) -> None:
    """Through Django's email backend (SMTP in production: EMAIL_HOST, EMAIL_USE_SSL,
    EMAIL_TIMEOUT ...): text, and HTML beside it when the template has an HTML part."""
    message = EmailMultiAlternatives(subject, body, settings.DEFAULT_FROM_EMAIL, [notification.recipient])
    html = render_html(notification)
    if html is not None:
        message.attach_alternative(html, "text/html")
    message.send()


def send(notification_id: int, *, last_attempt: bool = False) -> str:
    """Deliver one notification; safe to run again (a sent one is not sent twice)."""
    notification = Notification.objects.filter(pk=notification_id).first()
    if notification is None or notification.state == Notification.State.SENT:
        return notification.state if notification else "missing"
    Notification.objects.filter(pk=notification.pk).update(attempts=notification.attempts + 1)
    subject, body = render(notification)
    try:
        if notification.channel == Notification.Channel.EMAIL:
            send_email(notification, subject, body)
            message_id = f"email-{uuid.uuid4().hex[:16]}"
        else:
            message_id = channel(notification.channel).send(notification.recipient, subject, body)
    except Exception as exc:
        Notification.objects.filter(pk=notification.pk).update(error=f"{type(exc).__name__}: {exc}"[:2000])
        if last_attempt:
            Notification.STATES.move(
                Notification.objects.filter(pk=notification.pk),
                Notification.STATES.sources_of(Notification.State.FAILED),
                Notification.State.FAILED,
            )
        raise
    Notification.STATES.move(
        Notification.objects.filter(pk=notification.pk),
        Notification.STATES.sources_of(Notification.State.SENT),
        Notification.State.SENT,
        sent_at=timezone.now(),
        provider_message_id=message_id[:100],
        error="",
    )
    return Notification.State.SENT


class SandboxChannel:
    """Stands in for an SMS/WhatsApp/push provider: logs the message, returns an id, and fails
    at SANDBOX_CHANNEL_ERROR_RATE (0..1) so retries can be seen."""

    def __init__(self, name: str):
        self.name = name

    def send(self, recipient: str, subject: str, body: str) -> str:
        if random.random() < settings.SANDBOX_CHANNEL_ERROR_RATE:
            raise ChannelError(f"{self.name} sandbox: gateway unavailable (injected)")
        message_id = f"{self.name}-{uuid.uuid4().hex[:16]}"
        log.info("%s to %s…%s: %s (%s)", self.name, recipient[:4], recipient[-2:], subject, message_id)
        return message_id


@cache
def channel(name: str):
    path = settings.NOTIFICATION_CHANNELS[name]
    return import_string(path)(name)


def notification_retry(notification_id, *, actor, reason: str = "") -> Notification:
    """Send a failed notification again (staff action); audited."""
    with transaction.atomic():
        notification = Notification.objects.select_for_update().filter(pk=notification_id).first()
        if notification is None:
            raise JobStateError(f"no notification {notification_id}")
        if notification.state != Notification.State.FAILED:
            raise JobStateError(f"only failed notifications are sent again; this one is {notification.state}")
        job = enqueue(
            "notifications.send", [notification.pk], queue=QUEUES.get(notification.channel, "notifications"), subject=notification
        )
        Notification.STATES.move(
            Notification.objects.filter(pk=notification.pk), {Notification.State.FAILED}, Notification.State.PENDING, job=job, error=""
        )
        audit(actor, "notification.retry", "notification", notification.pk, reason)
    return notification
