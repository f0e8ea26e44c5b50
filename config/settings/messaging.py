"""Email and the notification channels (docs/reports.md)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from config.settings.environment import env

# --- Email (payout notices; console in development) ---------------------------
# A real server: EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and the rest
# (docs/deploy.md, "Email"). STARTTLS (EMAIL_USE_TLS, port 587) or TLS from the first byte
# (EMAIL_USE_SSL, port 465), not both.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", "localhost")
EMAIL_PORT = env.int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are both true: use one (TLS for STARTTLS on 587, SSL on 465).")
# How long a connection to the mail server may block (connect and each reply): an SMTP server
# that stops answering fails the attempt, which is retried, instead of holding a worker slot.
EMAIL_TIMEOUT = env.duration("EMAIL_TIMEOUT", 10, minimum=1, maximum=300)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "conveyor@localhost")

# --- Notifications (notifications/services.py, notifications/channels.py) ------------------
# Channel classes for SMS, WhatsApp and push; email uses EMAIL_BACKEND. The sandbox logs and
# fails at SANDBOX_CHANNEL_ERROR_RATE (0..1), to show retries. Real ones:
# notifications.channels.TwilioChannel (sms, whatsapp) and .WebhookPushChannel (push).
SANDBOX = "notifications.channels.SandboxChannel"
NOTIFICATION_CHANNELS = {
    "sms": env.str("NOTIFICATION_SMS_CHANNEL", SANDBOX),
    "whatsapp": env.str("NOTIFICATION_WHATSAPP_CHANNEL", SANDBOX),
    "push": env.str("NOTIFICATION_PUSH_CHANNEL", SANDBOX),
}
SANDBOX_CHANNEL_ERROR_RATE = env.float("SANDBOX_CHANNEL_ERROR_RATE", 0.0, minimum=0)
# At most this many messages of one channel to one recipient in the window ("20/1h"; "off"):
# past it a message waits (its job is deferred, not failed) until the recipient has room.
NOTIFICATION_RECIPIENT_RATE_LIMIT = env.rate("NOTIFICATION_RECIPIENT_RATE_LIMIT", (20, 3600))

# Twilio (TwilioChannel): the account, the senders, and where it reports delivery.
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", "")  # also verifies the status callbacks' signatures
TWILIO_SMS_FROM = env.str("TWILIO_SMS_FROM", "")  # an E.164 number of the account's
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", "")  # instead of TWILIO_SMS_FROM: the service's sender pool
TWILIO_WHATSAPP_FROM = env.str("TWILIO_WHATSAPP_FROM", "")  # the WhatsApp sender's E.164 number
# Approved WhatsApp templates by notification template: {"payouts/payout_paid": {"content_sid":
# "HX...", "variables": ["amount", "reference"]}} (the context's values become {{1}}, {{2}}...).
TWILIO_WHATSAPP_TEMPLATES = env.json("TWILIO_WHATSAPP_TEMPLATES", {})
# The public URL of notifications' status callback (https://<host>/notifications/twilio/status/),
# sent with each message; Twilio signs its reports against exactly this URL. Empty: no reports.
TWILIO_STATUS_CALLBACK_URL = env.str("TWILIO_STATUS_CALLBACK_URL", "")
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", "https://api.twilio.com")  # another only for a simulator
TWILIO_TIMEOUT = env.duration("TWILIO_TIMEOUT", 10, minimum=1, maximum=120)

# Push through a signed webhook (WebhookPushChannel): your push service or gateway.
PUSH_WEBHOOK_URL = env.str("PUSH_WEBHOOK_URL", "")
PUSH_WEBHOOK_SECRET = env.str("PUSH_WEBHOOK_SECRET", "")
PUSH_WEBHOOK_TIMEOUT = env.duration("PUSH_WEBHOOK_TIMEOUT", 10, minimum=1, maximum=120)


def _channel_problems() -> list[str]:
    """What a chosen real channel lacks, one sentence naming the variable (empty: nothing)."""
    problems = []
    twilio = [name for name, path in NOTIFICATION_CHANNELS.items() if path.endswith(".TwilioChannel")]
    if twilio:
        for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
            if not globals()[name]:
                problems.append(f"{name} must be set: NOTIFICATION_{twilio[0].upper()}_CHANNEL is Twilio's")
        if "push" in twilio:
            problems.append("NOTIFICATION_PUSH_CHANNEL: TwilioChannel carries sms and whatsapp only")
    if "sms" in twilio and not (TWILIO_SMS_FROM or TWILIO_MESSAGING_SERVICE_SID):
        problems.append("TWILIO_SMS_FROM or TWILIO_MESSAGING_SERVICE_SID must be set: NOTIFICATION_SMS_CHANNEL is Twilio's")
    if "whatsapp" in twilio and not TWILIO_WHATSAPP_FROM:
        problems.append("TWILIO_WHATSAPP_FROM must be set: NOTIFICATION_WHATSAPP_CHANNEL is Twilio's")
    for template, spec in TWILIO_WHATSAPP_TEMPLATES.items():
        if not (
            isinstance(spec, dict)
            and isinstance(spec.get("content_sid"), str)
            and spec["content_sid"]
            and isinstance(spec.get("variables", []), list)
            and all(isinstance(v, str) for v in spec.get("variables", []))
        ):
            problems.append(f'TWILIO_WHATSAPP_TEMPLATES[{template!r}] must be {{"content_sid": "HX...", "variables": ["name", ...]}}')
        else:
            spec.setdefault("variables", [])
    if NOTIFICATION_CHANNELS["push"].endswith(".WebhookPushChannel"):
        for name in ("PUSH_WEBHOOK_URL", "PUSH_WEBHOOK_SECRET"):
            if not globals()[name]:
                problems.append(f"{name} must be set: NOTIFICATION_PUSH_CHANNEL is the push webhook")
    return problems


if _channel_problems():
    raise ImproperlyConfigured("; ".join(_channel_problems()))
