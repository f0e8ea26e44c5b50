"""Guessing is slowed down: admin logins by django-axes, per client address, which is what the
trusted proxies saw. (API tokens, their failure count per address and what a token may do:
tests/api/test_tokens.py.)"""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory, override_settings

from access.clients import client_ip

pytestmark = pytest.mark.django_db


def login(client, username, password, ip="10.0.0.1"):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_admin_logins_lock_out_after_repeated_failures(django_user_model, settings):
    django_user_model.objects.create_superuser("boss", "boss@example.com", "correct horse battery")
    client = Client()
    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
        assert login(client, "boss", "wrong").status_code == 200  # the form again, with its error
    locked = login(client, "boss", "wrong")
    assert locked.status_code == 429 and b"Too many failed logins" in locked.content
    assert login(client, "boss", "correct horse battery").status_code == 429  # even the right password, for now
    assert login(Client(), "boss", "correct horse battery", ip="10.0.0.2").status_code == 302  # from elsewhere: fine


@pytest.mark.parametrize(
    "count, forwarded, remote, expected",
    [
        (0, "1.1.1.1", "10.0.0.1", "10.0.0.1"),  # no trusted proxy: X-Forwarded-For is the client's own claim
        (1, "6.6.6.6, 1.1.1.1", "10.0.0.1", "1.1.1.1"),  # one proxy: the address it saw, not what the client wrote
        (2, "6.6.6.6, 1.1.1.1, 10.1.1.1", "10.0.0.1", "1.1.1.1"),
        (1, "", "10.0.0.1", "10.0.0.1"),
    ],
)
def test_the_client_address_is_what_the_trusted_proxies_saw(count, forwarded, remote, expected):
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR=remote)
    with override_settings(TRUSTED_PROXY_COUNT=count):
        assert client_ip(request) == expected
