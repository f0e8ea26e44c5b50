"""/metrics: protected; queue depths, outcome counters, the run-time histogram, retries, the
dead-letter size and worker heartbeats, in the Prometheus text format."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from api.auth import token_create
from jobs.core.states import State
from jobs.models import JobRecord, WorkerHeartbeat
from jobs.ops import metrics
from jobs.ops.enqueue import enqueue
from tests.perms import grant

pytestmark = pytest.mark.django_db(transaction=True)


def samples(text: str) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text) for s in f.samples}


def test_metrics_need_the_token_or_the_api_token_of_a_user_who_may_see_queues(settings, django_user_model):
    settings.METRICS_TOKEN = "s3cret-scrape"
    client = Client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape").status_code == 200
    user = django_user_model.objects.create_user("ann")
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Token {token_create(user, 't')[1]}").status_code == 401
    staff = django_user_model.objects.create_user("ops", is_staff=True)
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Token {token_create(staff, 't')[1]}").status_code == 401  # staff alone: no
    grant(staff, "jobs.view_queuestate")
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Token {token_create(staff, 't')[1]}").status_code == 200
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401  # no token configured: bearer never works


def test_metrics_content(settings):
    settings.METRICS_TOKEN = "t"
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=10)
    metrics.rollup(start)
    for runtime, state, attempts in ((0.03, State.SUCCEEDED, 1), (0.7, State.SUCCEEDED, 2), (4.0, State.DEAD, 4)):
        job = enqueue("test.count")
        JobRecord.objects.filter(pk=job.pk).update(
            state=state, attempts=attempts, started_at=start + timedelta(seconds=10 - runtime), finished_at=start + timedelta(seconds=10)
        )
    enqueue("test.count")
    metrics.rollup(start + timedelta(minutes=5))
    WorkerHeartbeat.objects.create(name="w1", hostname="h", pid=1, started_at=timezone.now(), last_seen=timezone.now(), jobs_done=3)
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer t")
    assert response["Content-Type"].startswith("text/plain")
    got = samples(response.content.decode())
    q = (("queue", "default"),)
    assert got[("conveyor_queue_jobs", (("queue", "default"), ("state", "waiting")))] == 1
    assert got[("conveyor_queue_jobs", (("queue", "default"), ("state", "dead")))] == 1
    assert got[("conveyor_jobs_finished_total", (("outcome", "succeeded"), ("queue", "default")))] == 2
    assert got[("conveyor_jobs_finished_total", (("outcome", "dead"), ("queue", "default")))] == 1
    assert got[("conveyor_job_retries_total", q)] == 4
    assert got[("conveyor_job_runtime_seconds_count", q)] == 3
    assert got[("conveyor_job_runtime_seconds_bucket", (("le", "0.05"), ("queue", "default")))] == 1
    assert got[("conveyor_job_runtime_seconds_bucket", (("le", "1.0"), ("queue", "default")))] == 2
    assert got[("conveyor_job_runtime_seconds_sum", q)] == pytest.approx(4.73)
    assert got[("conveyor_dead_letter_jobs", ())] == 1 and got[("conveyor_workers_alive", ())] == 1
    assert got[("conveyor_worker_jobs_done", (("worker", "w1"),))] == 3
