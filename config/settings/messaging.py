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

# --- Notifications (notifications/services.py) --------------------------------------
# Channel classes for SMS, WhatsApp and push; email uses EMAIL_BACKEND. The sandbox fails at
# SANDBOX_CHANNEL_ERROR_RATE (0..1), to show retries.
NOTIFICATION_CHANNELS = {
    "sms": env.str("NOTIFICATION_SMS_CHANNEL", "notifications.services.SandboxChannel"),
    "whatsapp": env.str("NOTIFICATION_WHATSAPP_CHANNEL", "notifications.services.SandboxChannel"),
    "push": env.str("NOTIFICATION_PUSH_CHANNEL", "notifications.services.SandboxChannel"),
}
SANDBOX_CHANNEL_ERROR_RATE = env.float("SANDBOX_CHANNEL_ERROR_RATE", 0.0, minimum=0)
