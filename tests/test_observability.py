"""Correlation ids from request to job to log line; structured logs; health endpoints."""

import json
import logging

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from jobs.core import keys
from jobs.core.context import current_correlation_id
from jobs.core.logs import ContextFilter, JsonFormatter
from jobs.models import JobRecord, WorkerHeartbeat
from jobs.ops.enqueue import enqueue

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("ops", "o@example.com", "pw"))
    return client


def test_a_valid_incoming_id_is_kept_returned_and_stored_on_the_jobs_of_the_request(staff_client, django_user_model):
    user = django_user_model.objects.create_user("someone")
    response = staff_client.post(
        "/admin/auth/user/", {"action": "run_analytics", "_selected_action": [user.pk]}, headers={"X-Correlation-ID": "req-42.abc"}
    )
    assert response["X-Correlation-ID"] == "req-42.abc"
    assert set(JobRecord.objects.values_list("correlation_id", flat=True)) == {"req-42.abc"}


@pytest.mark.parametrize("incoming", ["x" * 65, "has space", "<script>", "", "ünïcode"])
def test_an_invalid_incoming_id_is_replaced(client, incoming):
    response = client.get("/health/live", headers={"X-Correlation-ID": incoming} if incoming else {})
    returned = response["X-Correlation-ID"]
    assert returned != incoming and len(returned) == 32


def test_the_switch_turns_correlation_ids_off(client, settings):
    settings.ENABLE_CORRELATION_IDS = False
    assert "X-Correlation-ID" not in client.get("/health/live")


def test_the_worker_restores_the_id_and_passes_it_to_jobs_the_job_enqueues(run_worker):
    token = current_correlation_id.set("flow-7")
    try:
        producer = enqueue("analytics.fan_out")
    finally:
        current_correlation_id.reset(token)
    get_user_model().objects.create_user("u1")
    run_worker("analytics")
    assert set(JobRecord.objects.values_list("correlation_id", flat=True)) == {"flow-7"}
    assert JobRecord.objects.filter(task_name="analytics.user").exists() and producer.correlation_id == "flow-7"


def test_json_log_lines_carry_the_job_and_correlation_context(run_worker, caplog):
    job = enqueue("test.count", kwargs={"key": "log"}, correlation_id="trace-1")
    with caplog.at_level(logging.INFO, logger="jobs.ops.runtime"):
        run_worker("default")
    record = next(r for r in caplog.records if "succeeded" in r.getMessage())
    line = json.loads(JsonFormatter().format(record))
    assert line["correlation_id"] == "trace-1" and line["job_id"] == str(job.pk) and line["task"] == "test.count"
    assert line["queue"] == "default" and line["attempt"] == 1 and line["duration_ms"] >= 0 and line["level"] == "INFO"


def test_the_filter_adds_the_current_correlation_id_to_any_line():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    token = current_correlation_id.set("abc")
    try:
        ContextFilter().filter(record)
    finally:
        current_correlation_id.reset(token)
    assert json.loads(JsonFormatter().format(record))["correlation_id"] == "abc"


def test_health_live_and_ready(client, redis_db):
    assert client.get(reverse("health-live")).json() == {"status": "ok"}
    ready = client.get(reverse("health-ready"))
    assert ready.status_code == 503 and ready.json()["checks"] == {"database": True, "redis": True, "workers": False, "scheduler": False}
    WorkerHeartbeat.objects.create(name="w1", hostname="h", pid=1, queues=["default"], started_at=timezone.now(), last_seen=timezone.now())
    redis_db.set(keys.SCHEDULER_ALIVE_KEY, "host:1", ex=30)
    ready = client.get(reverse("health-ready"))
    assert ready.status_code == 200 and ready.json()["status"] == "ok" and ready.json()["scheduler"] == "host:1"
    assert client.post(reverse("health-ready")).status_code == 405


def test_route_groups_give_each_kind_of_request_only_its_middleware(client, settings):
    health = client.get("/health/live")
    assert health.wsgi_request.route_group == "health"
    assert not hasattr(health.wsgi_request, "session") and not hasattr(health.wsgi_request, "user")  # no session read
    assert "sessionid" not in health.cookies and health["X-Correlation-ID"] and health["X-Frame-Options"] == "DENY"
    admin = client.get("/admin/login/")
    assert admin.wsgi_request.route_group == "default" and admin["X-Frame-Options"] == "DENY" and "csrftoken" in admin.cookies
    api = client.get("/api/v1/nothing-here", headers={"Authorization": "Token abc"})
    assert api.wsgi_request.route_group == "api-token" and api.status_code == 404
    assert client.get("/api/v1/nothing-here").wsgi_request.route_group == "default"  # a browser session: the full stack


def test_the_default_group_has_what_the_admin_needs(settings):
    default = dict((name, chain) for name, _, _, chain in settings.MIDDLEWARE_GROUPS)["default"]
    for needed in ("SessionMiddleware", "AuthenticationMiddleware", "MessageMiddleware"):
        assert any(path.endswith(needed) for path in default), needed
    for everywhere in ("SecurityMiddleware", "CommonMiddleware", "CsrfViewMiddleware", "XFrameOptionsMiddleware"):
        assert any(path.endswith(everywhere) for path in settings.MIDDLEWARE), everywhere
    assert settings.MIDDLEWARE_GROUPS[-1][1] == ["/"]  # the last row catches everything
