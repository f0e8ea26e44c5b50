"""A bad environment stops start-up with a message naming the variable."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import Env, parse_duration

ROOT = Path(__file__).resolve().parent.parent


def manage_check(**env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DJANGO_ENV", "DEBUG", "ALLOWED_HOSTS")}
    env["DJANGO_ENV"] = "test"
    env.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"JOB_TIMEOUT": "abc"}, "JOB_TIMEOUT='abc' is not a valid duration"),
        ({"JOB_TIMEOUT": "0"}, "JOB_TIMEOUT='0' is not a valid duration: must be at least 1 s"),
        # The seeds' milliseconds, given bare: refused, saying what they would mean and how to write them.
        ({"JOB_TIMEOUT": "30000"}, "30000 seconds is 8.33 hours (at most 1 hour without a unit); for milliseconds write 30000ms"),
        ({"JOB_RETRY_DELAY": "5000"}, "JOB_RETRY_DELAY='5000' is not a valid duration: a bare number is seconds here"),
        ({"FAILED_JOB_RETENTION": "604800000"}, "FAILED_JOB_RETENTION='604800000' is not a valid duration"),
        ({"JOB_TIMEOUT": "1500ms"}, "JOB_TIMEOUT='1500ms' is not a valid duration: must be whole seconds (1.5 s given)"),
        ({"JOB_TIMEOUT": "30x"}, "unknown unit 'x'"),
        ({"EMAIL_USE_TLS": "true", "EMAIL_USE_SSL": "true"}, "EMAIL_USE_TLS and EMAIL_USE_SSL are both true"),
        ({"EMAIL_TIMEOUT": "10000"}, "EMAIL_TIMEOUT='10000' is not a valid duration"),
        ({"JOB_TIMEOUT": "2d"}, "2 days is more than the 1 day allowed"),
        (
            {"QUEUE_OVERRIDES": '{"payouts": {"retry": {"kind": "exponential", "retries": 3, "delay": 5000}}}'},
            'for milliseconds write "5000ms"',
        ),
        (
            {"QUEUE_OVERRIDES": '{"payouts": {"retry": {"kind": "exponential", "retries": 3, "delay": "2h"}}}'},
            "max_delay must be at least delay",
        ),
        ({"QUEUE_OVERRIDES": '{"reports": {"retry": {"kind": "sometimes", "retries": 3, "delay": 1}}}'}, "retry kind must be one of"),
        ({"ENABLE_CORRELATION_IDS": "maybe"}, "ENABLE_CORRELATION_IDS='maybe' is not a valid boolean"),
        ({"REDIS_URL": "http://localhost"}, "REDIS_URL='http://localhost' is not a valid Redis URL"),
        ({"DATABASE_URL": "nosuchdb://x"}, "DATABASE_URL='nosuchdb://x' is not a valid database URL"),
        ({"DJANGO_ENV": "staging"}, "DJANGO_ENV='staging' must be local, test or production"),
        ({"DJANGO_ENV": "production", "ALLOWED_HOSTS": "example.com"}, "SECRET_KEY must be set"),
        ({"SCHEDULER_CLOCK": "soon"}, "SCHEDULER_CLOCK='soon' must be START,ANCHOR,SPEED"),
        ({"ENQUEUE_PUSH": "later"}, "ENQUEUE_PUSH='later' must be background or inline"),
        # Milliseconds given bare would be seconds: refused, with how to write them.
        ({"ENQUEUE_PUSH_LINGER": "1"}, "ENQUEUE_PUSH_LINGER='1' is not a valid duration: a bare number is seconds here"),
        (
            {"DJANGO_ENV": "production", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "example.com", "SCHEDULER_CLOCK": "0,0,1"},
            "SCHEDULER_CLOCK is for tests",
        ),
        ({"QUEUE_OVERRIDES": '{"nope": {}}'}, "QUEUE_OVERRIDES names unknown queue 'nope'"),
        ({"QUEUE_OVERRIDES": '{"reports": {"concurrency": -2}}'}, "QUEUE_OVERRIDES queue 'reports': concurrency must be a whole number"),
        ({"QUEUE_OVERRIDES": "[1"}, "QUEUE_OVERRIDES"),
        ({"WORKER_LOST_AFTER": "1", "WORKER_HEARTBEAT_INTERVAL": "5"}, "WORKER_LOST_AFTER must be at least twice"),
        ({"WORKER_LOST_RETRIES": "-1"}, "WORKER_LOST_RETRIES"),
        ({"WORKER_LOST_RETRIES": "many"}, "WORKER_LOST_RETRIES"),
        ({"QUEUE_OVERRIDES": '{"payouts": {"colour": 1}}'}, "QUEUE_OVERRIDES['payouts'] has unknown keys"),
        ({"NOTIFICATION_RECIPIENT_RATE_LIMIT": "lots"}, "NOTIFICATION_RECIPIENT_RATE_LIMIT='lots' is not a valid rate"),
        ({"NOTIFICATION_RECIPIENT_RATE_LIMIT": "5/30d"}, "the window must be more than 0 and at most 1 day"),
        ({"NOTIFICATION_SMS_CHANNEL": "notifications.channels.TwilioChannel"}, "TWILIO_ACCOUNT_SID must be set"),
        (
            {
                "NOTIFICATION_WHATSAPP_CHANNEL": "notifications.channels.TwilioChannel",
                "TWILIO_ACCOUNT_SID": "AC1",
                "TWILIO_AUTH_TOKEN": "t",
            },
            "TWILIO_WHATSAPP_FROM must be set",
        ),
        ({"NOTIFICATION_PUSH_CHANNEL": "notifications.channels.WebhookPushChannel"}, "PUSH_WEBHOOK_URL must be set"),
        ({"TWILIO_WHATSAPP_TEMPLATES": "[]"}, "TWILIO_WHATSAPP_TEMPLATES='[]' is not a valid JSON value: must be a JSON object"),
        ({"TWILIO_WHATSAPP_TEMPLATES": '{"payout_paid": {"variables": ["amount"]}}'}, "TWILIO_WHATSAPP_TEMPLATES['payout_paid'] must be"),
        ({"TWILIO_TIMEOUT": "10000"}, "TWILIO_TIMEOUT='10000' is not a valid duration"),
        ({"WISE_API_TOKEN": "t"}, "WISE_PROFILE_ID must be the paying profile's number"),
        ({"WISE_WEBHOOK_PUBLIC_KEY": "abc"}, "WISE_WEBHOOK_PUBLIC_KEY must be a PEM public key"),
        ({"PAYOUT_RECONCILIATION_WINDOW": "30m"}, "PAYOUT_RECONCILIATION_WINDOW='30m' is not a valid duration: must be at least 1 hour"),
    ],
)
def test_bad_values_fail_naming_the_variable(overrides, expected):
    result = manage_check(**overrides)
    assert result.returncode != 0
    assert expected in result.stderr


def test_good_environment_passes():
    result = manage_check(JOB_TIMEOUT="30", ENABLE_CORRELATION_IDS="off")
    assert result.returncode == 0, result.stderr


def test_real_providers_configured_in_full_pass():
    result = manage_check(
        NOTIFICATION_SMS_CHANNEL="notifications.channels.TwilioChannel",
        NOTIFICATION_WHATSAPP_CHANNEL="notifications.channels.TwilioChannel",
        NOTIFICATION_PUSH_CHANNEL="notifications.channels.WebhookPushChannel",
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN="token",
        TWILIO_MESSAGING_SERVICE_SID="MG" + "0" * 32,
        TWILIO_WHATSAPP_FROM="+14155238886",
        TWILIO_WHATSAPP_TEMPLATES='{"payout_paid": {"content_sid": "HX1", "variables": ["amount"]}}',
        PUSH_WEBHOOK_URL="https://push.example/send",
        PUSH_WEBHOOK_SECRET="s",
        NOTIFICATION_RECIPIENT_RATE_LIMIT="5/10m",
        WISE_API_TOKEN="token",
        WISE_PROFILE_ID="101",
        PAYOUT_PRIMARY_PROVIDER="wise",  # registered by the token
        WISE_WEBHOOK_PUBLIC_KEY="-----BEGIN PUBLIC KEY-----\\nMIIB\\n-----END PUBLIC KEY-----",
        PAYOUT_RECONCILIATION_WINDOW="3d",
    )
    assert result.returncode == 0, result.stderr


def test_durations_with_units_pass():
    result = manage_check(
        JOB_TIMEOUT="30000ms",
        JOB_RETRY_DELAY="5000ms",
        FAILED_JOB_RETENTION="7d",
        WORKER_LOST_AFTER="8s",
        WORKER_SHUTDOWN_GRACE="1m30s",
        QUEUE_OVERRIDES='{"payouts": {"retry": {"kind": "fixed", "retries": 2, "delay": "5000ms"}}, "reports": {"rate_limit": [5, "1m"]}}',
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "text, seconds, with_unit",
    [
        ("30", 30, False),
        ("30s", 30, True),
        ("5000ms", 5, True),
        ("1.5m", 90, True),
        ("5min", 300, True),
        ("2h", 7200, True),
        ("1h30m", 5400, True),
        ("1d", 86400, True),
        (" 30 s ", 30, True),
        ("2H", 7200, True),
    ],
)
def test_durations_are_read_with_their_unit(text, seconds, with_unit):
    assert parse_duration(text) == (seconds, with_unit)


@pytest.mark.parametrize("text", ["", "abc", "-5", "1h30", "30x", "5mins", "ms"])
def test_a_malformed_duration_is_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_env_duration_returns_whole_seconds_as_int_and_keeps_fractions(monkeypatch):
    env = Env()
    monkeypatch.setenv("X_GRACE", "1500ms")
    monkeypatch.setenv("X_TIMEOUT", "2m")
    assert env.duration("X_GRACE", 25, maximum=60) == 1.5
    timeout = env.duration("X_TIMEOUT", 300, maximum=3600, whole=True)
    assert timeout == 120 and isinstance(timeout, int)
    assert env.duration("X_UNSET", 25, maximum=60) == 25
    monkeypatch.setenv("X_GRACE", "61")
    with pytest.raises(ImproperlyConfigured, match="X_GRACE='61'.*for milliseconds write 61ms"):
        env.duration("X_GRACE", 25, maximum=60)


def test_secret_value_is_not_echoed_for_production_checks():
    result = manage_check(DJANGO_ENV="production", SECRET_KEY="s3cr3t-value-xyz", ALLOWED_HOSTS="example.com", SESSION_TTL="x")
    assert "SESSION_TTL='x'" in result.stderr and "s3cr3t-value-xyz" not in result.stderr + result.stdout


def test_env_example_lists_every_variable_the_settings_read():
    """.env.example is where a deploy learns the variables: each one config/settings reads is in
    it (set, or shown in a comment), but the test-only clock."""
    settings_dir = ROOT / "config" / "settings"
    read = set()
    for module in settings_dir.glob("*.py"):
        read |= set(re.findall(r'env\.\w+\(\s*"([A-Z0-9_]+)"', module.read_text()))
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.M))
    assert read - listed - {"SCHEDULER_CLOCK"} == set()
