"""GET /api/v1/jobs/<id>/events/: one job's progress and end as Server-Sent Events, with the
job detail endpoint's authorisation (own jobs; any with jobs.view_jobrecord; staff status alone
grants nothing)."""

import json
import threading

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client

from api.auth import token_create
from jobs.core.states import State
from jobs.models import JobRecord
from jobs.ops.enqueue import enqueue

pytestmark = pytest.mark.django_db(transaction=True)


def messages(body: str) -> list[tuple[str, dict]]:
    found = []
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in fields:
            found.append((fields["event"], json.loads(fields["data"])))
    return found


def stream(client, job, **headers):
    response = client.get(f"/api/v1/jobs/{job.pk}/events/", HTTP_ACCEPT="text/event-stream", **headers)
    body = b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()
    return response, body


def test_a_finished_job_streams_its_state_and_end_then_closes(django_user_model, run_worker, settings):
    settings.SSE_POLL_INTERVAL = 0.1
    owner = django_user_model.objects.create_user("own", password="pw")
    job = enqueue("test.count", ["sse"], created_by=owner)
    run_worker("default")
    client = Client()
    client.force_login(owner)
    response, body = stream(client, job)
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    assert body.startswith("retry: 2000")
    assert messages(body) == [
        ("state", {"state": "succeeded", "progress": 100, "message": "", "attempt": 1}),
        ("end", {"state": "succeeded", "finished_at": messages(body)[1][1]["finished_at"], "result": {"attempt": 1}}),
    ]


def test_progress_and_the_end_arrive_while_the_job_runs(django_user_model, settings):
    settings.SSE_POLL_INTERVAL = 0.05
    owner = django_user_model.objects.create_user("watcher", password="pw")
    job = enqueue("test.count", ["sse-live"], created_by=owner)
    _, key = token_create(owner, "sse")

    def work():
        JobRecord.objects.filter(pk=job.pk).update(state=State.RUNNING)
        for percent in (30, 60):
            threading.Event().wait(0.3)
            JobRecord.objects.filter(pk=job.pk).update(progress=percent, progress_message=f"{percent}%")
        threading.Event().wait(0.3)
        JobRecord.objects.filter(pk=job.pk).update(state=State.DEAD, last_error="ValueError: no")
        connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    _, body = stream(Client(), job, HTTP_AUTHORIZATION=f"Token {key}")
    worker.join()
    kinds = [(event, data.get("state") or data.get("progress")) for event, data in messages(body)]
    assert kinds[-1] == ("end", "dead") and ("progress", 30) in kinds and ("progress", 60) in kinds
    assert messages(body)[-1][1]["error"] == "ValueError: no"


def _user(django_user_model, name, *, staff=False, perms=()):
    user = django_user_model.objects.create_user(name, password="pw", is_staff=staff)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="jobs", codename__in=perms))
    return user


@pytest.mark.parametrize(
    "role, expected",
    [
        ("anonymous", 401),
        ("other user", 404),
        ("staff without the permission", 404),
        ("staff with jobs.view_jobrecord", 200),
        ("superuser", 200),
    ],
)
def test_the_stream_is_authorised_like_the_job(django_user_model, run_worker, role, expected):
    owner = django_user_model.objects.create_user("owner", password="pw")
    job = enqueue("test.count", ["sse-auth"], created_by=owner)
    run_worker("default")
    users = {
        "other user": lambda: _user(django_user_model, "other"),
        "staff without the permission": lambda: _user(django_user_model, "staff", staff=True),
        "staff with jobs.view_jobrecord": lambda: _user(django_user_model, "viewer", staff=True, perms=["view_jobrecord"]),
        "superuser": lambda: django_user_model.objects.create_superuser("root", "r@example.com", "pw"),
    }
    headers = {}
    if role != "anonymous":
        _, key = token_create(users[role](), "sse")
        headers["HTTP_AUTHORIZATION"] = f"Token {key}"
    response, body = stream(Client(), job, **headers)
    assert response.status_code == expected, body[:200]
    if expected == 200:
        assert messages(body)[-1][0] == "end"
