"""Real providers' client code against local servers that speak their protocols
(tests/notifications/simulators.py): SMS and WhatsApp through Twilio's official client, push
through the signed webhook; permanent errors not retried, temporary ones retried (429 after its
Retry-After); Twilio's signed delivery reports shown on the notification; one recipient's limit."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from twilio.request_validator import RequestValidator

from jobs.core.signing import BadSignature, sign, verify
from jobs.core.states import State
from jobs.models import JobAttempt, JobRecord
from jobs.ops.sweep import sweep
from notifications import services
from notifications.models import Notification
from notifications.services import NotificationError, notify
from tests.notifications.simulators import PushReceiver, TwilioSimulator

pytestmark = pytest.mark.django_db(transaction=True)
SID, TOKEN = "AC" + "0" * 32, "test-auth-token"
CALLBACK = "https://conveyor.example/webhooks/twilio/status/"
MESSAGE = {"subject": "Your code", "text": "It is 123456"}
PAID = {"name": "Ann", "amount": "10.00", "currency": "EUR", "destination": "IBAN …3000", "reference": "ref-1", "payout": 7}


@pytest.fixture
def twilio(settings):
    settings.NOTIFICATION_CHANNELS = {
        **settings.NOTIFICATION_CHANNELS,
        "sms": "notifications.channels.TwilioChannel",
        "whatsapp": "notifications.channels.TwilioChannel",
    }
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = SID, TOKEN
    settings.TWILIO_SMS_FROM, settings.TWILIO_WHATSAPP_FROM = "+15017122661", "+14155238886"
    settings.TWILIO_STATUS_CALLBACK_URL = CALLBACK
    settings.TWILIO_WHATSAPP_TEMPLATES = {"payout_paid": {"content_sid": "HX" + "1" * 32, "variables": ["amount", "reference"]}}
    services.channel.cache_clear()
    with TwilioSimulator(SID, TOKEN) as simulator:
        settings.TWILIO_API_BASE_URL = simulator.url
        yield simulator
    services.channel.cache_clear()


@pytest.fixture
def push(settings):
    settings.NOTIFICATION_CHANNELS = {**settings.NOTIFICATION_CHANNELS, "push": "notifications.channels.WebhookPushChannel"}
    settings.PUSH_WEBHOOK_SECRET = "push-secret"
    services.channel.cache_clear()
    with PushReceiver("push-secret") as receiver:
        settings.PUSH_WEBHOOK_URL = receiver.url + "/push"
        yield receiver
    services.channel.cache_clear()


def _state(notification):
    notification.refresh_from_db()
    job = JobRecord.objects.get(pk=notification.job_id)
    return notification.state, job.state, job.attempts


def _run_retries(run_worker, queue):
    JobRecord.objects.filter(state=State.RETRYING).update(run_at=timezone.now())
    sweep()
    run_worker(queue)


def test_an_sms_goes_through_twilio_with_the_sender_and_the_status_callback(run_worker, twilio):
    notification = notify("sms", "+9779800000000", "message", MESSAGE)
    run_worker("sms")
    notification.refresh_from_db()
    assert notification.state == "sent" and notification.provider_message_id.startswith("SM")
    (request,) = twilio.requests
    assert request["form"] == {"To": "+9779800000000", "From": "+15017122661", "Body": "It is 123456", "StatusCallback": CALLBACK}


def test_an_sms_can_go_from_a_messaging_service_instead(run_worker, twilio, settings):
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "2" * 32
    notify("sms", "+9779800000000", "message", MESSAGE)
    run_worker("sms")
    assert twilio.requests[0]["form"]["MessagingServiceSid"] == "MG" + "2" * 32 and "From" not in twilio.requests[0]["form"]


def test_a_whatsapp_template_is_sent_with_its_parameters(run_worker, twilio):
    notification = notify("whatsapp", "+447700900123", "payout_paid", PAID)
    run_worker("whatsapp")
    assert notification.job.queue == "whatsapp" and _state(notification)[0] == "sent"
    form = twilio.requests[0]["form"]
    assert (form["To"], form["From"], form["ContentSid"]) == ("whatsapp:+447700900123", "whatsapp:+14155238886", "HX" + "1" * 32)
    assert form["ContentVariables"] == '{"1": "10.00", "2": "ref-1"}' and "Body" not in form


def test_a_whatsapp_message_without_an_approved_template_is_sent_as_text(run_worker, twilio):
    notify("whatsapp", "+447700900123", "message", MESSAGE)
    run_worker("whatsapp")
    assert twilio.requests[0]["form"]["Body"] == "It is 123456" and "ContentSid" not in twilio.requests[0]["form"]


def test_a_whatsapp_template_missing_a_parameter_is_refused_at_creation(twilio):
    with pytest.raises(NotificationError) as info:
        notify("whatsapp", "+447700900123", "payout_paid", {"amount": "1"})
    assert info.value.field == "context.reference" and not Notification.objects.exists()


@pytest.mark.parametrize("number, code", [("+15005550001", "21211"), ("+15005550009", "21610")])
def test_a_permanent_refusal_fails_at_once_without_a_retry(run_worker, twilio, number, code):
    notification = notify("sms", number, "message", MESSAGE)
    run_worker("sms")
    assert _state(notification) == ("failed", State.DEAD, 1)  # the queue's policy would retry 3 times
    assert f"Twilio {code}" in notification.error and len(twilio.requests) == 1


def test_a_429_is_retried_after_its_retry_after(run_worker, twilio):
    notification = notify("sms", "+15005550429", "message", MESSAGE)
    before = timezone.now()
    run_worker("sms")
    assert _state(notification) == ("pending", State.RETRYING, 1)
    job = JobRecord.objects.get(pk=notification.job_id)
    assert job.run_at >= before + timedelta(seconds=7)  # the policy alone: 2 s
    assert "HTTP 429" in notification.error


def test_a_5xx_is_retried_by_the_policy_and_fails_when_they_run_out(run_worker, twilio):
    notification = notify("sms", "+15005550500", "message", MESSAGE)
    run_worker("sms")
    assert _state(notification) == ("pending", State.RETRYING, 1)
    for _ in range(3):
        _run_retries(run_worker, "sms")
    assert _state(notification) == ("failed", State.DEAD, 4) and len(twilio.requests) == 4


def test_wrong_credentials_are_temporary(run_worker, twilio, settings):
    settings.TWILIO_AUTH_TOKEN = "not-the-token"
    services.channel.cache_clear()
    notification = notify("sms", "+9779800000000", "message", MESSAGE)
    run_worker("sms")
    assert _state(notification) == ("pending", State.RETRYING, 1) and "HTTP 401" in notification.error
    assert TOKEN not in notification.error and "not-the-token" not in notification.error


# --- delivery reports -------------------------------------------------------------------


def _report(sid: str, status: str, *, token: str = TOKEN, **extra):
    form = {"MessageSid": sid, "MessageStatus": status, "AccountSid": SID, **extra}
    signature = RequestValidator(token).compute_signature(CALLBACK, form)
    return Client().post("/webhooks/twilio/status/", form, HTTP_X_TWILIO_SIGNATURE=signature)


def _sent_sms(run_worker, twilio):
    notification = notify("sms", "+9779800000000", "message", MESSAGE)
    run_worker("sms")
    notification.refresh_from_db()
    return notification


def test_a_signed_delivery_report_is_shown_on_the_notification(run_worker, twilio):
    notification = _sent_sms(run_worker, twilio)
    assert _report(notification.provider_message_id, "delivered").status_code == 204
    notification.refresh_from_db()
    assert notification.delivery_status == "delivered" and notification.delivery_updated_at is not None


def test_reports_only_move_forward(run_worker, twilio):
    notification = _sent_sms(run_worker, twilio)
    _report(notification.provider_message_id, "delivered")
    _report(notification.provider_message_id, "sent")  # late
    notification.refresh_from_db()
    assert notification.delivery_status == "delivered"


def test_an_undelivered_report_keeps_the_providers_error_code(run_worker, twilio):
    notification = _sent_sms(run_worker, twilio)
    _report(notification.provider_message_id, "undelivered", ErrorCode="30003")
    notification.refresh_from_db()
    assert (notification.delivery_status, notification.delivery_error) == ("undelivered", "30003")


@pytest.mark.parametrize("token, header", [("another-token", True), (TOKEN, False)])
def test_an_unsigned_or_wrongly_signed_report_is_refused_and_changes_nothing(run_worker, twilio, token, header):
    notification = _sent_sms(run_worker, twilio)
    form = {"MessageSid": notification.provider_message_id, "MessageStatus": "failed"}
    headers = {"HTTP_X_TWILIO_SIGNATURE": RequestValidator(token).compute_signature(CALLBACK, form)} if header else {}
    assert Client().post("/webhooks/twilio/status/", form, **headers).status_code == 403
    notification.refresh_from_db()
    assert notification.delivery_status == ""


def test_a_report_for_an_unknown_message_is_acknowledged(twilio):
    assert _report("SM" + "f" * 32, "delivered").status_code == 204


def test_a_report_with_an_unknown_status_is_a_400(twilio):
    assert _report("SM" + "f" * 32, "teleported").status_code == 400


def test_the_admin_shows_the_delivery_status(client, django_user_model, run_worker, twilio):
    notification = _sent_sms(run_worker, twilio)
    _report(notification.provider_message_id, "delivered")
    client.force_login(django_user_model.objects.create_superuser("ops", "o@example.com", "pw"))
    page = client.get(f"/admin/notifications/notification/{notification.pk}/change/").content.decode()
    assert "Delivery status" in page and "delivered" in page


# --- push through the signed webhook ------------------------------------------------------


def test_push_is_posted_signed_with_an_idempotency_key(run_worker, push):
    notification = notify("push", "device-1", "message", MESSAGE)
    run_worker("push")
    notification.refresh_from_db()
    assert notification.state == "sent" and notification.provider_message_id == "push-1"
    (request,) = push.requests
    assert request["payload"] == {"notification": notification.pk, "token": "device-1", "title": "Your code", "body": "It is 123456"}
    assert request["idempotency_key"] == f"conveyor-notification-{notification.pk}"


def test_a_gone_device_is_permanent_and_a_busy_gateway_temporary(run_worker, push):
    gone, busy = notify("push", "gone", "message", MESSAGE), notify("push", "busy", "message", MESSAGE)
    run_worker("push")
    assert _state(gone) == ("failed", State.DEAD, 1)
    assert _state(busy) == ("pending", State.RETRYING, 1)
    _run_retries(run_worker, "push")
    keys = {r["idempotency_key"] for r in push.requests if r["payload"]["token"] == "busy"}
    assert len(keys) == 1  # the same key on every retry: the receiver can drop duplicates


def test_push_with_the_wrong_secret_is_refused_by_the_receiver(run_worker, push, settings):
    settings.PUSH_WEBHOOK_SECRET = "wrong"
    notification = notify("push", "device-1", "message", MESSAGE)
    run_worker("push")
    assert _state(notification) == ("pending", State.RETRYING, 1)  # 401: credentials, temporary
    assert push.requests == [{"refused": "the signature does not match"}]


def test_signatures_expire_and_must_match():
    body = b'{"a":1}'
    header = sign("s", body, timestamp=1_000_000)
    verify("s", body, header, now=1_000_100)
    for secret, payload, now in [("t", body, 1_000_100), ("s", b"{}", 1_000_100), ("s", body, 1_000_400)]:
        with pytest.raises(BadSignature):
            verify(secret, payload, header, now=now)


# --- one recipient's limit ------------------------------------------------------------------


def test_past_a_recipients_limit_messages_wait_without_failing(run_worker, settings):
    settings.NOTIFICATION_RECIPIENT_RATE_LIMIT = (2, 60)
    ann = [notify("sms", "+9779800000000", "message", MESSAGE) for _ in range(3)]
    bob = notify("sms", "+9779811111111", "message", MESSAGE)
    run_worker("sms")
    states = sorted(_state(n) for n in ann)
    assert states == [("pending", State.RETRYING, 0), ("sent", State.SUCCEEDED, 1), ("sent", State.SUCCEEDED, 1)]
    assert _state(bob) == ("sent", State.SUCCEEDED, 1)  # another recipient is not held back
    waiting = JobRecord.objects.get(state=State.RETRYING)
    assert timezone.now() + timedelta(seconds=50) <= waiting.run_at <= timezone.now() + timedelta(seconds=61)
    assert JobAttempt.objects.get(job=waiting).outcome == JobAttempt.Outcome.DEFERRED
    deferred = Notification.objects.get(job_id=waiting.pk)
    assert deferred.attempts == 0 and deferred.error == ""
