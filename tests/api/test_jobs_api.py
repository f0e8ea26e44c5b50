"""REST API for queues and jobs: who may do what, bad input as 400s naming the field (tokens:
tests/api/test_tokens.py)."""

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from api.auth import token_create
from audit.models import AuditEntry
from jobs.core.states import State
from jobs.models import JobRecord, QueueState
from jobs.ops.enqueue import enqueue

pytestmark = pytest.mark.django_db(transaction=True)


def as_(person=None) -> APIClient:
    client = APIClient()
    if person is not None:
        _, key = token_create(person, "test")
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def jobs(people):
    mine = enqueue("test.count", kwargs={"key": "ann"}, created_by=people["user"])
    theirs = enqueue("test.count", kwargs={"key": "bob"}, created_by=people["other"])
    return mine, theirs


STAFF_ONLY = [
    ("get", "/api/v1/queues/"),
    ("get", "/api/v1/queues/payouts/"),
    ("post", "/api/v1/queues/payouts/pause/"),
    ("post", "/api/v1/queues/payouts/resume/"),
    ("post", "/api/v1/queues/payouts/clean/"),
    ("post", "/api/v1/jobs/{mine}/retry/"),
    ("post", "/api/v1/jobs/{mine}/cancel/"),
]


@pytest.mark.parametrize(
    "who, expected", [(None, {401}), ("user", {403}), ("other", {403}), ("staff", {200, 400}), ("superuser", {200, 400})]
)
@pytest.mark.parametrize("method, url", STAFF_ONLY)
def test_ops_endpoints_are_for_operators_only(people, jobs, who, expected, method, url):
    client = as_(people[who] if who else None)
    response = getattr(client, method)(url.format(mine=jobs[0].pk))
    assert response.status_code in expected, response.content


@pytest.mark.parametrize("who, sees", [("user", {"ann"}), ("other", {"bob"}), ("staff", {"ann", "bob"}), ("superuser", {"ann", "bob"})])
def test_everyone_sees_only_their_own_jobs_operators_see_all(people, jobs, who, sees):
    client = as_(people[who])
    listed = client.get("/api/v1/jobs/").json()["results"]
    assert {j["kwargs"]["key"] for j in listed} == sees
    mine = client.get(f"/api/v1/jobs/{jobs[0].pk}/")
    assert mine.status_code == (200 if "ann" in sees else 404)


def test_anonymous_requests_are_refused(jobs):
    assert as_().get("/api/v1/jobs/").status_code == 401
    assert as_().get(f"/api/v1/jobs/{jobs[0].pk}/").status_code == 401


def test_staff_add_a_job_and_bad_input_names_the_field(people):
    client = as_(people["staff"])
    created = client.post("/api/v1/jobs/", {"task": "test.count", "kwargs": {"key": "x"}, "priority": "high"}, format="json")
    assert created.status_code == 201 and created.json()["priority"] == 2
    assert JobRecord.objects.get(pk=created.json()["id"]).created_by == people["staff"]
    for body, field in [
        ({"task": "no.such"}, "task"),
        ({"task": "test.count", "queue": "nope"}, "queue"),
        ({"task": "test.count", "priority": "urgent"}, "priority"),
        ({"task": "test.count", "delay": -1}, "delay"),
        ({"task": "test.count", "args": "abc"}, "args"),
        ({}, "task"),
    ]:
        response = client.post("/api/v1/jobs/", body, format="json")
        assert response.status_code == 400 and field in response.json(), (body, response.content)
    assert as_(people["user"]).post("/api/v1/jobs/", {"task": "test.count"}, format="json").status_code == 403
    assert JobRecord.objects.count() == 1


def test_filters_cursor_pages_and_bounded_limits(people):
    for i in range(7):
        enqueue("test.count", kwargs={"key": str(i)}, created_by=people["staff"])
    client = as_(people["staff"])
    first = client.get("/api/v1/jobs/", {"page_size": 3, "task": "test.count", "state": "queued"}).json()
    second = client.get(first["next"]).json()
    assert len(first["results"]) == 3 and len(second["results"]) == 3
    assert not {j["id"] for j in first["results"]} & {j["id"] for j in second["results"]}
    assert len(client.get("/api/v1/jobs/recent/", {"limit": 5}).json()) == 5
    for params, field in [({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"limit": "x"}, "limit")]:
        response = client.get("/api/v1/jobs/recent/", params)
        assert response.status_code == 400 and field in response.json()
    for params, field in [
        ({"state": "sleeping"}, "state"),
        ({"queue": "nope"}, "queue"),
        ({"created_after": "yesterday"}, "created_after"),
    ]:
        response = client.get("/api/v1/jobs/", params)
        assert response.status_code == 400 and field in response.json()
    assert client.get("/api/v1/jobs/failed/", {"limit": 10}).json() == []


def test_retry_cancel_and_delete(people, run_worker):
    client = as_(people["staff"])
    job = enqueue("test.fail", retry={"kind": "fixed", "retries": 0, "delay": 0})
    run_worker("default")
    assert client.get("/api/v1/jobs/failed/").json()[0]["id"] == str(job.pk)
    detail = client.get(f"/api/v1/jobs/{job.pk}/").json()
    assert detail["state"] == "dead" and detail["attempt_list"][0]["outcome"] == "failed"
    assert client.post(f"/api/v1/jobs/{job.pk}/requeue/").json()["state"] == State.QUEUED
    assert client.delete(f"/api/v1/jobs/{job.pk}/").status_code == 400  # still waiting: cancel first
    assert client.post(f"/api/v1/jobs/{job.pk}/cancel/", {"reason": "not needed"}, format="json").json()["state"] == "cancelled"
    assert client.post(f"/api/v1/jobs/{job.pk}/cancel/").status_code == 400
    assert client.delete(f"/api/v1/jobs/{job.pk}/").status_code == 204 and not JobRecord.objects.filter(pk=job.pk).exists()
    assert client.get(f"/api/v1/jobs/{uuid.uuid4()}/").status_code == 404
    assert AuditEntry.objects.filter(action="job.delete", actor=people["staff"]).exists()


def test_pause_and_resume_a_queue(people):
    client = as_(people["staff"])
    assert client.post("/api/v1/queues/reports/pause/", {"reason": "maintenance"}, format="json").json()["paused"] is True
    assert client.get("/api/v1/queues/reports/").json()["paused"] is True
    assert client.post("/api/v1/queues/reports/resume/").json()["paused"] is False
    assert client.get("/api/v1/queues/nope/").status_code == 404
    assert {q["name"] for q in client.get("/api/v1/queues/").json()} >= {"payouts", "reports"}


def test_per_user_status_and_the_dead_letter_queue(people, run_worker):
    about_ann = enqueue("test.count", kwargs={"key": "a"}, subject=("user", people["user"].pk))
    assert [j["id"] for j in as_(people["user"]).get(f"/api/v1/users/{people['user'].pk}/jobs/").json()] == [str(about_ann.pk)]
    assert as_(people["other"]).get(f"/api/v1/users/{people['user'].pk}/jobs/").status_code == 403
    assert as_(people["staff"]).get(f"/api/v1/users/{people['user'].pk}/jobs/", {"limit": 9999}).status_code == 400
    dead = [enqueue("test.fail", retry={"kind": "fixed", "retries": 0, "delay": 0}) for _ in range(2)]
    run_worker("default")
    staff = as_(people["staff"])
    assert {j["id"] for j in staff.get("/api/v1/dead-letter/").json()["results"]} == {str(j.pk) for j in dead}
    assert as_(people["user"]).get("/api/v1/dead-letter/").status_code == 403
    missing = str(uuid.uuid4())
    result = staff.post("/api/v1/dead-letter/requeue/", {"ids": [str(dead[0].pk), str(dead[1].pk), missing]}, format="json").json()
    assert set(result["requeued"]) == {str(j.pk) for j in dead} and missing in result["refused"]
    assert staff.post("/api/v1/dead-letter/requeue/", {"ids": ["not-a-uuid"]}, format="json").status_code == 400
    assert staff.post("/api/v1/dead-letter/requeue/", {}, format="json").json().keys() == {"ids"}


def test_clean_deletes_old_finished_jobs_of_one_queue_oldest_first(people):
    now = timezone.now()
    old = [enqueue("test.count", kwargs={"key": str(i)}) for i in range(3)]
    recent, waiting, other_queue = enqueue("test.count"), enqueue("test.count"), enqueue("test.count", queue="reports")
    for n, job in enumerate(old):
        JobRecord.objects.filter(pk=job.pk).update(state=State.SUCCEEDED, finished_at=now - timedelta(hours=3, minutes=n))
    JobRecord.objects.filter(pk=recent.pk).update(state=State.SUCCEEDED, finished_at=now - timedelta(minutes=5))
    JobRecord.objects.filter(pk=other_queue.pk).update(state=State.SUCCEEDED, finished_at=now - timedelta(hours=3))
    staff = as_(people["staff"])
    first = staff.post("/api/v1/queues/default/clean/", {"grace": 3600, "limit": 2, "reason": "tidy"}, format="json").json()
    assert first["deleted"] == 2 and first["ids"] == [str(old[2].pk), str(old[1].pk)]  # oldest first
    rest = staff.post("/api/v1/queues/default/clean/", {}, format="json").json()  # defaults: succeeded, 1 hour, 1000
    assert rest["ids"] == [str(old[0].pk)]
    assert set(JobRecord.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk, other_queue.pk}
    entry = AuditEntry.objects.filter(action="queue.clean").first()
    assert entry.object_id == "default" and entry.actor == people["staff"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"state": "queued"}, "state"),
        ({"state": "running"}, "state"),
        ({"grace": -1}, "grace"),
        ({"limit": 0}, "limit"),
        ({"limit": 10_001}, "limit"),
        ({"grace": "soon"}, "grace"),
    ],
)
def test_clean_refuses_bad_input_and_changes_nothing(people, body, field):
    job = enqueue("test.count")
    JobRecord.objects.filter(pk=job.pk).update(state=State.SUCCEEDED, finished_at="2020-01-01T00:00:00Z")
    response = as_(people["staff"]).post("/api/v1/queues/default/clean/", body, format="json")
    assert response.status_code == 400 and field in response.json(), response.content
    assert JobRecord.objects.filter(pk=job.pk).exists() and not AuditEntry.objects.filter(action="queue.clean").exists()
    assert as_(people["staff"]).post("/api/v1/queues/nope/clean/", {}, format="json").status_code == 404


def test_clean_from_the_admin(client, people):
    job = enqueue("test.count")
    JobRecord.objects.filter(pk=job.pk).update(state=State.SUCCEEDED, finished_at="2020-01-01T00:00:00Z")
    client.force_login(people["superuser"])
    queue = QueueState.objects.get_or_create(name="default")[0]
    response = client.post(
        reverse("admin:jobs_queuestate_changelist"), {"action": "clean_succeeded", "_selected_action": [queue.pk]}, follow=True
    )
    assert [str(m) for m in response.context["messages"]] == ["default: deleted 1 succeeded jobs."]
    assert not JobRecord.objects.filter(pk=job.pk).exists()


def test_clean_leaves_jobs_that_just_finished_for_the_metrics(people):
    job = enqueue("test.count")
    JobRecord.objects.filter(pk=job.pk).update(state=State.DEAD, finished_at=timezone.now())
    assert as_(people["staff"]).post("/api/v1/queues/default/clean/", {"state": "dead", "grace": 0}, format="json").json()["deleted"] == 0
    assert JobRecord.objects.filter(pk=job.pk).exists()
