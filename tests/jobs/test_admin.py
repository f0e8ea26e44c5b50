import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from audit.models import AuditEntry
from jobs.admin import CappedCountPaginator
from jobs.core.states import State
from jobs.models import JobRecord
from jobs.ops.enqueue import enqueue

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "admin:jobs_jobrecord_changelist"


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")


@pytest.fixture
def dead_job(run_worker):
    job = enqueue("test.fail", retry={"kind": "fixed", "retries": 0, "delay": 0}, subject=("user", 42))
    run_worker("default")
    return JobRecord.objects.get(pk=job.pk)


def test_staff_see_the_list_the_detail_with_attempts_and_the_dead_letter_queue(client, superuser, dead_job):
    client.force_login(superuser)
    page = client.get(reverse(CHANGELIST))
    assert page.status_code == 200 and b"test.fail" in page.content and b"<progress" in page.content
    detail = client.get(reverse("admin:jobs_jobrecord_change", args=[dead_job.pk]))
    assert detail.status_code == 200 and b"ValueError" in detail.content and b"boom 1" in detail.content
    dlq = client.get(reverse("admin:jobs_deadletterjob_changelist"))
    assert dlq.status_code == 200 and str(dead_job.pk)[:8].encode() in dlq.content


@pytest.mark.parametrize("term", ["{id}", "{corr}", "42", "not-a-uuid"])
def test_search_by_id_correlation_and_subject(client, superuser, dead_job, term):
    client.force_login(superuser)
    q = term.format(id=dead_job.pk, corr=dead_job.correlation_id)
    page = client.get(reverse(CHANGELIST), {"q": q})
    assert page.status_code == 200
    assert (str(dead_job.pk)[:8].encode() in page.content) == (term != "not-a-uuid")


def test_filters_work(client, superuser, dead_job):
    client.force_login(superuser)
    for params in (
        {"state__exact": "dead"},
        {"queue": "default"},
        {"task_name": "test.fail"},
        {"created_at__gte": "2020-01-01 00:00:00+00:00"},
    ):
        assert client.get(reverse(CHANGELIST), params).status_code == 200


def test_requeue_action_runs_the_service_and_audits(client, superuser, dead_job, run_worker):
    client.force_login(superuser)
    response = client.post(reverse(CHANGELIST), {"action": "requeue_jobs", "_selected_action": [dead_job.pk]}, follow=True)
    assert response.status_code == 200 and b"Requeued: 1 job(s)" in response.content
    dead_job.refresh_from_db()
    assert dead_job.state == State.QUEUED
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.object_id) == (superuser, "job.requeue", str(dead_job.pk))


def test_cancel_and_retry_actions_report_refusals(client, superuser, dead_job):
    client.force_login(superuser)
    waiting = enqueue("test.count", delay=600)
    response = client.post(reverse(CHANGELIST), {"action": "cancel_jobs", "_selected_action": [waiting.pk, dead_job.pk]}, follow=True)
    assert b"Cancelled: 1 job(s)" in response.content and b"can be cancelled" in response.content
    response = client.post(reverse(CHANGELIST), {"action": "retry_jobs", "_selected_action": [waiting.pk]}, follow=True)
    assert b"Retried: 1 job(s)" in response.content
    assert JobRecord.objects.get(pk=waiting.pk).state == State.QUEUED
    assert list(AuditEntry.objects.order_by("created_at").values_list("action", flat=True)) == ["job.cancel", "job.retry"]


@pytest.mark.parametrize("url", [reverse(CHANGELIST), "/admin/django_rq/dashboard/", "/admin/jobs/deadletterjob/"])
def test_anonymous_and_non_staff_get_nothing(client, django_user_model, url):
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(django_user_model.objects.create_user("plain", password="pw"))
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_without_job_permissions_cannot_act(client, django_user_model, dead_job):
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    client.force_login(viewer)
    assert client.get(reverse(CHANGELIST)).status_code == 403
    viewer.user_permissions.add(Permission.objects.get(codename="view_jobrecord"))
    page = client.get(reverse(CHANGELIST))
    assert page.status_code == 200 and b"requeue_jobs" not in page.content  # view-only: no actions
    response = client.post(reverse(CHANGELIST), {"action": "requeue_jobs", "_selected_action": [dead_job.pk]})
    assert JobRecord.objects.get(pk=dead_job.pk).state == State.DEAD and AuditEntry.objects.count() == 0
    assert response.status_code in (200, 302, 403)


def test_staff_see_the_rq_dashboard(client, superuser):
    client.force_login(superuser)
    page = client.get("/admin/django_rq/dashboard/")  # one row per queue
    assert page.status_code == 200 and b"<td>payouts</td>" in page.content and b"payouts.critical" not in page.content
    every_list = client.get("/admin/django_rq/dashboard/all-lists/")  # django-rq's own page, every tier list
    assert every_list.status_code == 200 and b"payouts.critical" in every_list.content


def test_jobs_cannot_be_added_or_deleted_in_the_admin(client, superuser, dead_job):
    client.force_login(superuser)
    assert client.get(reverse("admin:jobs_jobrecord_add")).status_code == 403
    assert client.get(reverse("admin:jobs_jobrecord_delete", args=[dead_job.pk])).status_code == 403


def test_the_task_filter_comes_from_the_registry_and_counts_are_capped(client, superuser, dead_job, monkeypatch):
    client.force_login(superuser)
    assert str(dead_job.pk)[:8].encode() in client.get(reverse(CHANGELIST), {"task_name": "test.fail"}).content
    assert str(dead_job.pk)[:8].encode() not in client.get(reverse(CHANGELIST), {"task_name": "test.count"}).content
    assert b"?task_name=demo.noop" in client.get(reverse(CHANGELIST)).content  # a registered task nobody ran yet
    for _ in range(4):
        enqueue("test.count")
    monkeypatch.setattr(CappedCountPaginator, "CAP", 3)
    page = client.get(reverse(CHANGELIST))
    assert page.context["cl"].result_count == 3
