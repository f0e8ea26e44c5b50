"""Email through a real SMTP server (aiosmtpd, started by the test): Django's SMTP backend as
configured by EMAIL_* settings, plain and with TLS from the first byte (EMAIL_USE_SSL), text
with an HTML part beside it, and a server that does not answer failing the attempt within
EMAIL_TIMEOUT so the job is retried."""

import email
import email.policy
import socket
import ssl
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from notifications.models import Notification
from notifications.services import notify
from tests.certs import self_signed

pytestmark = pytest.mark.django_db(transaction=True)

PAID = {"name": "Ann <admin>", "amount": "10.00", "currency": "EUR", "destination": "IBAN …3000", "reference": "ref-1", "payout": 7}


class Inbox:
    def __init__(self, refuse: dict | None = None):
        self.messages = []
        self.refuse = refuse or {}  # recipient -> the server's reply to RCPT TO

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "localhost"
    settings.DEFAULT_FROM_EMAIL = "payouts@conveyor.example"
    started = []

    def start(refuse=None, **kwargs):
        inbox = Inbox(refuse)
        port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        started.append(controller)
        settings.EMAIL_PORT = port
        return inbox

    yield start
    for controller in started:
        controller.stop()


def test_an_email_goes_to_a_real_smtp_server_with_text_and_html(run_worker, smtp):
    inbox = smtp()
    notification = notify("email", "ann@example.com", "payout_paid", PAID)
    run_worker("emails")
    notification.refresh_from_db()
    assert notification.state == Notification.State.SENT
    ((rcpts, message),) = inbox.messages
    assert rcpts == ["ann@example.com"] and message["From"] == "payouts@conveyor.example"
    assert message["Subject"] == "Your payout of 10.00 EUR was paid"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Hello Ann <admin>," in text and "Reference: ref-1" in text
    assert "Hello Ann &lt;admin&gt;," in html and "<strong>10.00 EUR</strong>" in html  # values escaped, markup kept


def test_a_template_without_an_html_part_is_sent_as_text(run_worker, smtp):
    inbox = smtp()
    notify("email", "ann@example.com", "message", {"subject": "Your code", "text": "It is 123456"})
    run_worker("emails")
    ((_, message),) = inbox.messages
    assert message.get_content_type() == "text/plain" and message.get_content().strip() == "It is 123456"


def test_email_use_ssl_speaks_tls_from_the_first_byte(run_worker, smtp, settings, tmp_path, monkeypatch):
    cert_file, key_file = self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    inbox = smtp(ssl_context=server_context)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # the client trusts the test's certificate, and checks it
    settings.EMAIL_USE_SSL = True
    notification = notify("email", "ann@example.com", "payout_paid", PAID)
    run_worker("emails")
    notification.refresh_from_db()
    assert notification.state == Notification.State.SENT and len(inbox.messages) == 1


def test_a_server_that_does_not_answer_fails_the_attempt_within_email_timeout(run_worker, smtp, settings):
    """A listener that accepts and never greets: the attempt fails after EMAIL_TIMEOUT, not
    never, and the job is scheduled again by the emails queue's policy."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", silent.getsockname()[1], 1
    notification = notify("email", "ann@example.com", "message", {"subject": "Hi", "text": "there"})
    started = time.monotonic()
    try:
        run_worker("emails")
    finally:
        silent.close()
    assert time.monotonic() - started < 10
    notification.refresh_from_db()
    assert notification.state != Notification.State.SENT and notification.attempts == 1 and "timed out" in notification.error
    assert notification.job.state == "retrying"


@pytest.mark.parametrize(
    "reply, notification_state, job_state",
    [
        ("550 5.1.1 No such user here", Notification.State.FAILED, "dead"),  # permanent: not retried
        ("451 4.3.0 Mailbox temporarily unavailable", Notification.State.PENDING, "retrying"),  # temporary
    ],
)
def test_a_refused_recipient_is_permanent_on_5xx_and_temporary_on_4xx(run_worker, smtp, reply, notification_state, job_state):
    smtp(refuse={"gone@example.com": reply})
    notification = notify("email", "gone@example.com", "message", {"subject": "Hi", "text": "there"})
    run_worker("emails")
    notification.refresh_from_db()
    assert (notification.state, notification.job.state, notification.attempts) == (notification_state, job_state, 1)
    assert reply.split()[0] in notification.error


def test_refused_credentials_are_temporary_and_the_password_is_not_shown(run_worker, smtp, settings):
    smtp(auth_require_tls=False, authenticator=lambda *args: AuthResult(success=False, handled=False))  # 535
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "mailer", "s3cret-password"
    notification = notify("email", "ann@example.com", "message", {"subject": "Hi", "text": "there"})
    run_worker("emails")
    notification.refresh_from_db()
    assert (notification.state, notification.job.state) == (Notification.State.PENDING, "retrying")
    assert "refused our credentials" in notification.error and "s3cret-password" not in notification.error
