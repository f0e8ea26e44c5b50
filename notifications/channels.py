"""The channels that carry SMS, WhatsApp and push messages (NOTIFICATION_CHANNELS).

A channel is a class made with its name ("sms", "whatsapp", "push") whose ``send(notification,
subject, body)`` delivers one message and returns the provider's id for it. How it fails says
what happens next (jobs.core.outcomes):

- ``PermanentFailure``: the provider refused this message (a bad or unsubscribed number, a
  template that does not exist, any 4xx but those below): not retried, the notification fails.
- ``RetryLater``: HTTP 429; the next attempt waits for its Retry-After (or the policy's delay).
- any other exception (``ChannelError``, timeouts, refused connections, 5xx, 401/403 while
  credentials are being fixed): temporary, retried by the queue's policy.

Shipped: ``SandboxChannel`` (logs; the default for ``make run`` and tests), ``TwilioChannel``
(SMS and WhatsApp through Twilio's Messages API with the official client) and
``WebhookPushChannel`` (push through your push service or gateway: a signed HTTP POST).
docs/deploy.md ("Notification providers") lists their settings.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid

from django.conf import settings

from jobs.core.outcomes import TemporaryFailure, classify_http
from jobs.core.signing import sign

log = logging.getLogger(__name__)


class ChannelError(TemporaryFailure):
    """The channel could not deliver now (temporary); the job retries by its queue's policy."""


class SandboxChannel:
    """Stands in for an SMS/WhatsApp/push provider: logs the message, returns an id, and fails
    at SANDBOX_CHANNEL_ERROR_RATE (0..1) so retries can be seen."""

    def __init__(self, name: str):
        self.name = name

    def send(self, notification, subject: str, body: str) -> str:
        if random.random() < settings.SANDBOX_CHANNEL_ERROR_RATE:
            raise ChannelError(f"{self.name} sandbox: gateway unavailable (injected)")
        message_id = f"{self.name}-{uuid.uuid4().hex[:16]}"
        recipient = notification.recipient
        log.info("%s to %s…%s: %s (%s)", self.name, recipient[:4], recipient[-2:], subject, message_id)
        return message_id


class TwilioChannel:
    """SMS and WhatsApp through Twilio's Messages API (the ``twilio`` package).

    SMS goes from TWILIO_SMS_FROM (or the TWILIO_MESSAGING_SERVICE_SID's pool), WhatsApp from
    TWILIO_WHATSAPP_FROM. A WhatsApp notification whose template is in TWILIO_WHATSAPP_TEMPLATES
    is sent as that approved template (its Content SID, the notification's context values as
    its numbered variables), which is what reaches a person outside WhatsApp's 24-hour window;
    any other is sent as text. With TWILIO_STATUS_CALLBACK_URL set, Twilio reports each
    message's delivery there (notifications.views.twilio_status)."""

    def __init__(self, name: str):
        if name not in ("sms", "whatsapp"):
            raise ValueError(f"TwilioChannel carries sms and whatsapp, not {name!r}")
        self.name = name
        self._local = threading.local()  # one client (and its HTTP session) per worker slot

    def client(self):
        client = getattr(self._local, "client", None)
        if client is None:
            from twilio.http.http_client import TwilioHttpClient  # noqa: PLC0415  (loaded on first use: worker memory)
            from twilio.rest import Client  # noqa: PLC0415

            http = TwilioHttpClient(timeout=settings.TWILIO_TIMEOUT)
            client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http)
            client.api.base_url = settings.TWILIO_API_BASE_URL
            self._local.client = client
        return client

    def message(self, notification, body: str) -> dict:
        """The Messages API parameters for ``notification`` (without credentials)."""
        body = body.strip()
        params: dict = {}
        if self.name == "whatsapp":
            params["to"] = f"whatsapp:{notification.recipient}"
            params["from_"] = f"whatsapp:{settings.TWILIO_WHATSAPP_FROM}"
            template = settings.TWILIO_WHATSAPP_TEMPLATES.get(notification.template)
            if template:
                params["content_sid"] = template["content_sid"]
                params["content_variables"] = json.dumps(template_variables(template, notification.context))
            else:
                params["body"] = body
        else:
            params["to"] = notification.recipient
            if settings.TWILIO_MESSAGING_SERVICE_SID:
                params["messaging_service_sid"] = settings.TWILIO_MESSAGING_SERVICE_SID
            else:
                params["from_"] = settings.TWILIO_SMS_FROM
            params["body"] = body
        if settings.TWILIO_STATUS_CALLBACK_URL:
            params["status_callback"] = settings.TWILIO_STATUS_CALLBACK_URL
        return params

    def send(self, notification, subject: str, body: str) -> str:
        from twilio.base.exceptions import TwilioRestException  # noqa: PLC0415  (loaded on first use)

        client = self.client()
        try:
            message = client.messages.create(**self.message(notification, body))
        except TwilioRestException as exc:
            last = client.http_client._test_only_last_response  # the client keeps no other handle on the answer's headers
            headers = (last.headers if last is not None else None) or {}
            raise classify_http(exc.status, f"Twilio {exc.code or exc.status}: {exc.msg}", headers.get("Retry-After")) from None
        return message.sid


def template_variables(template: dict, context: dict) -> dict:
    """A WhatsApp template's numbered variables ({"1": ..., "2": ...}) from a notification's
    context, in the order TWILIO_WHATSAPP_TEMPLATES names them."""
    return {str(i): str(context[name]) for i, name in enumerate(template["variables"], start=1)}


class WebhookPushChannel:
    """Push through an HTTP endpoint you run or your push service offers (PUSH_WEBHOOK_URL):
    one JSON POST per message, signed like Conveyor's other webhooks (HMAC-SHA256 over the
    timestamp and body, PUSH_WEBHOOK_SECRET) with an Idempotency-Key that stays the same across
    retries. The endpoint answers 2xx (optionally {"id": "<its message id>"}); its error
    answers are classified as any provider's (classify_http)."""

    def __init__(self, name: str):
        self.name = name
        self._local = threading.local()

    def session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            import requests  # noqa: PLC0415  (loaded on first use)

            session = self._local.session = requests.Session()
        return session

    def send(self, notification, subject: str, body: str) -> str:
        import requests  # noqa: PLC0415  (loaded on first use)

        payload = json.dumps(
            {"notification": notification.pk, "token": notification.recipient, "title": subject, "body": body.strip()},
            separators=(",", ":"),
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": f"conveyor-notification-{notification.pk}",
            "Conveyor-Signature": sign(settings.PUSH_WEBHOOK_SECRET, payload),
        }
        try:
            response = self.session().post(settings.PUSH_WEBHOOK_URL, data=payload, headers=headers, timeout=settings.PUSH_WEBHOOK_TIMEOUT)
        except requests.RequestException as exc:
            raise ChannelError(f"push webhook: {type(exc).__name__}") from None
        if response.status_code >= 300:
            raise classify_http(response.status_code, f"push webhook answered {response.reason}", response.headers.get("Retry-After"))
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        given = answer.get("id") if isinstance(answer, dict) else None
        return str(given)[:100] if given else f"push-{uuid.uuid4().hex[:16]}"
