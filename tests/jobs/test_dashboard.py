"""The operations dashboard: staff only, one card per queue, workers, failures with retry,
pause and resume, the live fragment and the chart data."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEntry
from jobs.core.states import State
from jobs.models import JobRecord, QueueState, WorkerHeartbeat
from jobs.ops import metrics
from jobs.ops.enqueue import enqueue
from tests.perms import grant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return user


def test_the_dashboard_shows_queues_workers_and_failures(client, staff):
    enqueue("test.count")
    dead = enqueue("test.fail")
    JobRecord.objects.filter(pk=dead.pk).update(state=State.DEAD, finished_at=timezone.now(), last_error="RuntimeError: boom")
    WorkerHeartbeat.objects.create(
        name="w1", hostname="h", pid=1, queues=["default"], started_at=timezone.now(), last_seen=timezone.now(), jobs_done=7
    )
    page = client.get("/admin/dashboard/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-queue="default"' in html and 'data-queue="payouts"' in html
    assert "RuntimeError: boom" in html and f"/admin/dashboard/jobs/{dead.pk}/retry/" in html
    assert "w1" in html and "/admin/django_rq/dashboard/" in html and "dead-letter queue: 1" in html
    assert client.get("/admin/dashboard/live/").content.decode().count("cv-card") >= len(QueueState.objects.all())


def test_pause_resume_and_retry_from_the_dashboard_are_audited(client, staff, run_worker):
    client.post("/admin/dashboard/queues/reports/pause/")
    assert QueueState.objects.get(name="reports").paused
    assert "Resume" in client.get("/admin/dashboard/live/").content.decode()
    client.post("/admin/dashboard/queues/reports/resume/")
    assert not QueueState.objects.get(name="reports").paused
    job = enqueue("test.count", kwargs={"key": "x"})
    JobRecord.objects.filter(pk=job.pk).update(state=State.DEAD, finished_at=timezone.now())
    response = client.post(f"/admin/dashboard/jobs/{job.pk}/retry/", follow=True)
    assert any("queued again" in str(m) for m in response.context["messages"])
    run_worker("default")
    assert JobRecord.objects.get(pk=job.pk).state == State.SUCCEEDED
    assert set(AuditEntry.objects.values_list("action", flat=True)) >= {"queue.pause", "queue.resume", "job.retry"}
    assert client.post("/admin/dashboard/queues/nope/pause/").status_code == 404
    assert client.get("/admin/dashboard/queues/reports/pause/").status_code == 405


def test_chart_data_from_the_rollups(client, staff):
    job = enqueue("test.count")
    now = timezone.now()
    JobRecord.objects.filter(pk=job.pk).update(state=State.SUCCEEDED, started_at=now - timedelta(seconds=1), finished_at=now)
    metrics.rollup()
    hour = client.get("/admin/dashboard/series/").json()
    assert len(hour["labels"]) == 60 and sum(hour["queues"]["default"]["succeeded"]) == 1
    assert len(client.get("/admin/dashboard/series/?range=day").json()["labels"]) == 144


def test_non_staff_are_sent_to_the_login_and_actions_need_permissions(client, django_user_model):
    user = django_user_model.objects.create_user("ann", "ann@example.com", "pw")
    client.force_login(user)
    for url in ("/admin/dashboard/", "/admin/dashboard/live/", "/admin/dashboard/series/"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.post("/admin/dashboard/queues/reports/pause/").status_code == 302
    user.is_staff = True
    user.save()
    assert client.get("/admin/dashboard/").status_code == 403  # staff status alone grants nothing
    grant(user, "jobs.view_queuestate")
    assert client.get("/admin/dashboard/").status_code == 200
    assert "Pause" not in client.get("/admin/dashboard/live/").content.decode()  # no permission, no button
    assert client.post("/admin/dashboard/queues/reports/pause/").status_code == 403
    grant(user, "jobs.pause_queue")
    assert client.post("/admin/dashboard/queues/reports/pause/").status_code == 302
    assert QueueState.objects.get(name="reports").paused
