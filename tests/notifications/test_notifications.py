"""Notifications: validation at creation, channels and queues, retries, once per key."""

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from jobs.core.states import State
from jobs.models import JobRecord
from jobs.ops.sweep import sweep
from notifications.models import Notification
from notifications.services import NotificationError, notify

pytestmark = pytest.mark.django_db(transaction=True)
MESSAGE = {"subject": "Your code", "text": "It is 123456 <b>"}


def test_an_email_is_rendered_and_sent_on_the_emails_queue(run_worker):
    notification = notify("email", "ann@example.com", "message", MESSAGE)
    assert notification.job.queue == "emails"
    run_worker()
    notification.refresh_from_db()
    assert notification.state == "sent" and notification.attempts == 1 and notification.provider_message_id
    assert (
        mail.outbox[0].subject == "Your code" and mail.outbox[0].body == "It is 123456 <b>\n" and mail.outbox[0].to == ["ann@example.com"]
    )


@pytest.mark.parametrize("channel, recipient", [("sms", "+9779800000000"), ("whatsapp", "+447700900123"), ("push", "device-token-1")])
def test_other_channels_go_through_their_channel_on_its_own_queue(run_worker, settings, channel, recipient):
    notification = notify(channel, recipient, "message", MESSAGE)
    assert notification.job.queue == channel  # its own queue, its own rate limit
    assert settings.CONVEYOR_QUEUES[channel]["rate_limit"] == {"whatsapp": (100, 60), "sms": (100, 60), "push": (600, 60)}[channel]
    run_worker()
    notification.refresh_from_db()
    assert notification.state == "sent" and notification.provider_message_id.startswith(channel)


def test_a_failing_gateway_is_retried_and_finally_marked_failed(run_worker, settings):
    settings.SANDBOX_CHANNEL_ERROR_RATE = 1.0
    notification = notify("sms", "+9779800000000", "message", MESSAGE)
    for _ in range(4):  # 1 + 3 retries (the notifications queue's policy: 2 s, 4 s, 8 s)
        JobRecord.objects.filter(state=State.RETRYING).update(run_at=timezone.now())
        sweep()
        run_worker()
    notification.refresh_from_db()
    job = JobRecord.objects.get(pk=notification.job_id)
    assert (notification.state, notification.attempts, job.state, job.attempts) == ("failed", 4, State.DEAD, 4)
    assert "gateway unavailable" in notification.error


@pytest.mark.parametrize(
    "channel, recipient, template, field",
    [
        ("email", "not-an-address", "message", "recipient"),
        ("sms", "9800000000", "message", "recipient"),
        ("whatsapp", "+12", "message", "recipient"),
        ("push", "has spaces", "message", "recipient"),
        ("pigeon", "x", "message", "channel"),
        ("email", "ann@example.com", "no_such_template", "template"),
    ],
)
def test_invalid_notifications_are_refused_at_creation(channel, recipient, template, field):
    with pytest.raises(NotificationError) as info:
        notify(channel, recipient, template, MESSAGE)
    assert info.value.field == field
    assert not Notification.objects.exists() and not JobRecord.objects.exists()


def test_a_dedup_key_sends_once(run_worker):
    first = notify("email", "ann@example.com", "message", MESSAGE, dedup_key="welcome ann")
    second = notify("email", "ann@example.com", "message", MESSAGE, dedup_key="welcome ann")
    run_worker()
    assert first.pk == second.pk and len(mail.outbox) == 1


def test_staff_send_a_failed_one_again_from_the_admin(client, django_user_model, run_worker, settings):
    staff = django_user_model.objects.create_superuser("ops", "o@example.com", "pw")
    notification = notify("push", "device-1", "message", MESSAGE)
    Notification.objects.filter(pk=notification.pk).update(state="failed")
    JobRecord.objects.filter(pk=notification.job_id).update(state=State.DEAD)
    client.force_login(staff)
    assert client.get(reverse("admin:notifications_notification_changelist")).status_code == 200
    response = client.post(
        reverse("admin:notifications_notification_changelist"), {"action": "send_again", "_selected_action": [notification.pk]}, follow=True
    )
    assert b"Sent again: 1 notification(s)" in response.content
    run_worker()
    notification.refresh_from_db()
    assert notification.state == "sent" and AuditEntry.objects.filter(action="notification.retry", actor=staff).exists()
