"""Web-side platform behaviour: Redis-backed sessions, admin chrome, the RQ stats endpoints."""

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from rq import Queue

from jobs.worker import ConveyorWorker

pytestmark = pytest.mark.django_db(transaction=True)


def test_sessions_live_in_redis_and_expire_with_session_ttl(client, django_user_model, redis_db):
    django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    assert client.post("/admin/login/", {"username": "boss", "password": "pw", "next": "/admin/"}).status_code == 302
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    keys = [k.decode() for k in redis_db.keys(f"*{session_key}*")]
    assert len(keys) == 1
    assert 0 < redis_db.ttl(keys[0]) <= settings.SESSION_TTL
    # Written through to the database (decisions 46): losing Redis's copy keeps the user signed in.
    assert Session.objects.filter(session_key=session_key).exists()
    redis_db.delete(keys[0])
    assert client.get("/admin/").status_code == 200
    assert redis_db.keys(f"*{session_key}*")  # read back into Redis
    client.post("/admin/logout/")  # signing out ends both copies
    assert not Session.objects.filter(session_key=session_key).exists() and not redis_db.keys(f"*{session_key}*")


def test_admin_links_to_jobs_dead_letter_and_rq_dashboard(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("boss", "boss@example.com", "pw"))
    page = client.get("/admin/").content.decode()
    for href in ("/admin/jobs/jobrecord/", "/admin/jobs/deadletterjob/", "/admin/django_rq/dashboard/"):
        assert f'href="{href}"' in page


@pytest.mark.parametrize("url", ["/admin/django_rq/dashboard/stats.json", "/admin/django_rq/dashboard/stats.json/guess"])
def test_rq_stats_are_refused_without_the_rq_dashboard_permission(client, django_user_model, url):
    assert client.get(url).status_code == 401
    client.force_login(django_user_model.objects.create_user("plain", password="pw"))
    assert client.get(url).status_code == 403
    client.force_login(django_user_model.objects.create_user("ops", password="pw", is_staff=True))
    assert client.get(url).status_code == 403  # django-rq let any staff in


def test_the_rq_dashboards_metrics_answer_with_metrics(client, django_user_model, redis_db):
    """For each registered worker django-rq builds one with no queues, then reads its queues
    from Redis (it used to be an IndexError in ConveyorWorker, a 500 on the first hit)."""
    worker = ConveyorWorker([Queue("default", connection=redis_db)], connection=redis_db)
    worker.register_birth()
    client.force_login(django_user_model.objects.create_superuser("boss", "boss@example.com", "pw"))
    try:
        for _ in range(2):
            response = client.get("/admin/django_rq/dashboard/metrics/")
            assert response.status_code == 200 and b"rq_workers" in response.content
    finally:
        worker.register_death()


def test_the_site_root_is_a_page_or_the_way_in(client, django_user_model):
    page = client.get("/")
    assert page.status_code == 200 and b"/api/v1/docs/" in page.content and b"/admin/" in page.content
    client.force_login(django_user_model.objects.create_superuser("boss", "boss@example.com", "pw"))
    assert client.get("/")["Location"] == "/admin/dashboard/"


def test_the_docs_describe_what_exists():
    """Phrases that once announced work not yet done, and stayed after it was done."""
    root = Path(__file__).resolve().parent.parent
    for doc in [root / "README.md", *sorted((root / "docs").glob("*.md")), root / ".env.example"]:
        text = doc.read_text()
        for phrase in ("a later issue", "later the API", "later the REST API", "will expose", "## Not yet", "forks per job"):
            assert phrase not in text, f"{doc.name} still says {phrase!r}"
