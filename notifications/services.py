"""Notifications: validated at creation, rendered from templates, sent by a job per message.

    notify("email", "ann@example.com", "payouts/payout_paid", {"amount": "10.00"}, dedup_key="payout 7 paid")

Email goes through Django's email backend on the `emails` queue; SMS, WhatsApp and push go
through a channel (NOTIFICATION_CHANNELS, notifications.channels; sandbox ones by default),
each on its own queue with its own rate limit (`sms`, `whatsapp` at the seeds' 100 a minute,
`push`), 3 retries at 2 s, 4 s, 8 s (the seeds' policy). One recipient gets at most
NOTIFICATION_RECIPIENT_RATE_LIMIT messages of a channel in its window: past it the job is
deferred, not failed. A provider's permanent refusal (a bad or unsubscribed number, a mailbox
that does not exist) fails the notification at once; temporary errors are retried.
A recipient that cannot be valid is refused when the notification is created.
"""

from __future__ import annotations

import logging
import re
import smtplib
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
from jobs.core.outcomes import PermanentFailure
from jobs.ops.enqueue import _check_json, enqueue, enqueue_for
from jobs.transport.keylimits import limit_per_key
from notifications.channels import ChannelError, SandboxChannel  # noqa: F401  (their old home: settings may name it)
from notifications.models import Notification

log = logging.getLogger(__name__)

E164 = re.compile(r"^\+[1-9]\d{7,14}$")
# Each channel's queue (jobs.core.queues.DECLARED): its own rate limit and concurrency cap.
QUEUES = {"email": "emails", "sms": "sms", "whatsapp": "whatsapp", "push": "push"}


class NotificationError(FieldError):
    """Bad notification input; ``field`` names what is wrong."""


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
    if channel == Notification.Channel.WHATSAPP and not isinstance(context, dict):
        raise NotificationError("context", "must be an object")
    whatsapp_template = settings.TWILIO_WHATSAPP_TEMPLATES.get(template) if channel == Notification.Channel.WHATSAPP else None
    if whatsapp_template:
        missing = [name for name in whatsapp_template["variables"] if name not in context]
        if missing:
            raise NotificationError(
                f"context.{missing[0]}", f"is required: the approved WhatsApp template for {template!r} uses {', '.join(missing)}"
            )
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
    try:
        message.send()
    except smtplib.SMTPException as exc:
        raise classify_smtp(exc) from None


def classify_smtp(exc: smtplib.SMTPException) -> Exception:
    """A mail server's refusal: 5xx about this message (no such mailbox, sender or content
    refused) is permanent; 4xx, a lost connection, or refused credentials (to be fixed by an
    operator, the message itself is fine) are temporary."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{code} {_text(reply)}" for code, reply in exc.recipients.values())
        if codes and all(code >= 500 for code in codes):
            return PermanentFailure(f"the mail server refused the recipient: {detail}")
        return ChannelError(f"the mail server refused the recipient for now: {detail}")
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return ChannelError(f"the mail server refused our credentials ({exc.smtp_code}): check EMAIL_HOST_USER/EMAIL_HOST_PASSWORD")
    if isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500:
        return PermanentFailure(f"the mail server refused the message: {exc.smtp_code} {_text(exc.smtp_error)}")
    return ChannelError(f"{type(exc).__name__}: {exc}")


def _text(reply) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def send(notification_id: int, *, last_attempt: bool = False) -> str:
    """Deliver one notification; safe to run again (a sent one is not sent twice)."""
    notification = Notification.objects.filter(pk=notification_id).first()
    if notification is None or notification.state == Notification.State.SENT:
        return notification.state if notification else "missing"
    # Past the recipient's allowance the job is deferred (jobs.core.outcomes.Defer): not an attempt.
    limit_per_key(f"notify-{notification.channel}", notification.recipient, settings.NOTIFICATION_RECIPIENT_RATE_LIMIT)
    Notification.objects.filter(pk=notification.pk).update(attempts=notification.attempts + 1)
    subject, body = render(notification)
    try:
        if notification.channel == Notification.Channel.EMAIL:
            send_email(notification, subject, body)
            message_id = f"email-{uuid.uuid4().hex[:16]}"
        else:
            message_id = channel(notification.channel).send(notification, subject, body)
    except Exception as exc:
        Notification.objects.filter(pk=notification.pk).update(error=f"{type(exc).__name__}: {exc}"[:2000])
        if last_attempt or isinstance(exc, PermanentFailure):
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
