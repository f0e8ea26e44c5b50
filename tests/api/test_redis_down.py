"""Redis stopped: the HTTP side keeps working. An API client's enqueue is accepted (the row
waits as pending) and runs once Redis is back; staff keep their admin session, and a new one
can start; DRF's throttles and the token-failure count let requests through meanwhile."""

import pytest
from django.test import Client
from rest_framework.test import APIClient
from rq import Queue

from api.auth import token_create
from jobs.core.states import State
from jobs.models import JobRecord
from jobs.ops.sweep import SWEEP_GRACE, sweep
from jobs.transport.redis import get_redis, reset_redis
from jobs.worker import ConveyorWorker
from tests.reliability.procs import PrivateRedis
from tests.sample_tasks import runs

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def private_redis(settings):
    """Every Redis client of this process (transport, cache, sessions, throttles) on a Redis
    server of the test's own, which it may stop."""
    private = PrivateRedis()
    private.start()
    settings.REDIS_URL = private.url
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": private.url}}
    reset_redis()
    try:
        yield private
    finally:
        reset_redis()
        private.close()


def test_with_redis_stopped_the_api_accepts_jobs_and_the_admin_keeps_working(people, private_redis):
    staff = people["staff"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_create(staff, 'test')[1]}")
    admin = Client()
    admin.force_login(staff)  # a session made while Redis was up
    assert admin.get("/admin/").status_code == 200

    private_redis.stop()
    created = api.post("/api/v1/jobs/", {"task": "test.count", "kwargs": {"key": "redis-down"}}, format="json")
    assert created.status_code == 201, created.content
    job = JobRecord.objects.get(pk=created.json()["id"])
    assert job.state == State.PENDING  # kept for the dispatcher
    assert api.get(f"/api/v1/jobs/{job.pk}/").status_code == 200
    assert admin.get("/admin/").status_code == 200  # the session is read from the database
    assert admin.get("/admin/jobs/jobrecord/").status_code == 200
    fresh = Client()
    fresh.force_login(staff)  # a session started while Redis is away
    assert fresh.get("/admin/").status_code == 200
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert bad.get("/api/v1/jobs/").status_code == 401  # refused, not a 500

    private_redis.start()  # back, empty
    JobRecord.objects.filter(pk=job.pk).update(created_at=job.created_at - SWEEP_GRACE * 2)  # the dispatcher's next pass
    sweep()
    connection = get_redis()
    ConveyorWorker([Queue("default", connection=connection)], connection=connection, slots=1).work(burst=True)
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED and runs("redis-down") == 1
