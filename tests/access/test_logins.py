"""Guessing is slowed down: admin logins by django-axes, API tokens by a failure count per
client address; and a token never carries more than its user may do."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory, override_settings
from rest_framework.test import APIClient

from access.clients import client_ip
from api.auth import token_create
from api.models import ApiToken
from tests.perms import grant

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


def test_failed_token_attempts_are_throttled_per_address(django_user_model, settings, redis_db):
    settings.API_TOKEN_FAILURE_LIMIT = 3
    user = django_user_model.objects.create_user("ann")
    key = token_create(user, "good")[1]
    client = APIClient(REMOTE_ADDR="10.0.0.9")
    for _ in range(3):
        client.credentials(HTTP_AUTHORIZATION="Token cvy_guess")
        assert client.get("/api/v1/jobs/").status_code == 401
    throttled = client.get("/api/v1/jobs/")
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0 and "failed token" in throttled.json()["detail"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/jobs/").status_code == 429  # the address is held off, whatever it sends
    other = APIClient(REMOTE_ADDR="10.0.0.10")
    other.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert other.get("/api/v1/jobs/").status_code == 200


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


def test_a_token_carries_exactly_its_users_permissions_at_each_request(django_user_model):
    user = grant(django_user_model.objects.create_user("ops", is_staff=True), "jobs.view_queuestate")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user, 'ops')[1]}")
    assert client.get("/api/v1/queues/").status_code == 200
    user.user_permissions.clear()
    assert client.get("/api/v1/queues/").status_code == 403
    user.is_superuser = True
    user.is_active = False
    user.save()
    assert client.get("/api/v1/queues/").status_code == 401


def test_only_a_superuser_makes_a_token_for_someone_else(django_user_model):
    ann = django_user_model.objects.create_user("ann")
    ops = grant(django_user_model.objects.create_user("ops", is_staff=True), "api.add_apitoken", "api.view_apitoken")
    client = Client()
    client.force_login(ops)
    theirs = client.post("/admin/api/apitoken/add/", {"user": ann.pk, "name": "theirs"})
    assert theirs.status_code == 200 and b"Select a valid choice" in theirs.content and not ApiToken.objects.exists()
    mine = client.post("/admin/api/apitoken/add/", {"user": ops.pk, "name": "mine"})
    assert mine.status_code == 200 and b"cvy_" in mine.content and ApiToken.objects.get().user == ops
    root = django_user_model.objects.create_superuser("root", "root@example.com", None)
    client.force_login(root)
    assert client.post("/admin/api/apitoken/add/", {"user": ann.pk, "name": "for ann"}).status_code == 200
    assert ApiToken.objects.filter(user=ann).exists()
