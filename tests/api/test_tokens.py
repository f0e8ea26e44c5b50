"""API tokens: stored hashed, the key shown once (by the API, the admin and the api_token
command), revocable; a token acts with exactly its user's permissions at each request; only a
superuser makes one for someone else; failed token attempts are throttled per client address."""

import re

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from api.auth import token_create, token_revoke
from api.models import ApiToken
from audit.models import AuditEntry
from tests.perms import grant

pytestmark = pytest.mark.django_db(transaction=True)


def test_tokens_are_stored_hashed_shown_once_and_revocable(people):
    token, key = token_create(people["user"], "billing")
    assert key.startswith("cvy_") and token.prefix == key[:12]
    assert not ApiToken.objects.filter(key_hash__contains=key[4:]).exists() and key not in str(ApiToken.objects.values().get())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/jobs/").status_code == 200
    token_revoke(token.pk, actor=people["staff"])
    assert client.get("/api/v1/jobs/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Token nonsense")
    assert client.get("/api/v1/jobs/").status_code == 401
    assert AuditEntry.objects.filter(action="token.revoke").exists()


def test_staff_create_a_token_in_the_admin_and_see_the_key_once(client, people):
    client.force_login(people["superuser"])
    response = client.post(reverse("admin:api_apitoken_add"), {"user": people["user"].pk, "name": "ci"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    key = re.search(r'value="(cvy_[^"]+)"', response.content.decode()).group(1)
    token = ApiToken.objects.get()
    assert key.startswith(token.prefix) and token.user == people["user"]
    assert key not in str(response.cookies) and not list(response.wsgi_request._messages)  # on the page only, never in a message
    assert client.get(reverse("admin:api_apitoken_change", args=[token.pk])).content.count(key.encode()) == 0
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/jobs/").status_code == 200


def test_api_token_command_shows_the_key_once_and_revokes(capsys, django_user_model):
    django_user_model.objects.create_user("ci")
    call_command("api_token", "create", "ci", "--name", "deploy")
    key = capsys.readouterr().out.strip()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/jobs/").status_code == 200
    call_command("api_token", "list", "ci")
    listed = capsys.readouterr().out
    assert "deploy" in listed and key not in listed
    call_command("api_token", "revoke", str(ApiToken.objects.get().pk))
    assert client.get("/api/v1/jobs/").status_code == 401
    for argv, message in [(["create", "nobody"], "no active user"), (["revoke", "x"], "no token"), (["create"], "needs a username")]:
        with pytest.raises(CommandError, match=message):
            call_command("api_token", *argv)


# These three need no transaction=True: each runs in the plain test transaction, rolled back.
@pytest.mark.django_db
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


@pytest.mark.django_db
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


@pytest.mark.django_db
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
