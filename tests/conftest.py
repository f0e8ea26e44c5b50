"""Shared fixtures. Tests use the real Redis at REDIS_URL (flushing only its own db) and the real database."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test.utils import override_settings
from rq import Queue

import tests.sample_tasks  # noqa: F401  (registers the test.* tasks)
from jobs.core.queues import queue_names
from jobs.transport.redis import get_redis, reset_redis
from jobs.worker import ConveyorWorker


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing():
    """The test users' passwords hashed with MD5 instead of 1,000,000 rounds of PBKDF2 (about
    0.3 s a user on this machine, most of many tests' setup), as Django's testing docs advise.
    The processes tests start prefer the real hashers and accept MD5 under DJANGO_ENV=test
    (config/settings/security.py), so a user made here logs in to them."""
    md5 = "django.contrib.auth.hashers.MD5PasswordHasher"
    with override_settings(PASSWORD_HASHERS=[md5, *(h for h in settings.PASSWORD_HASHERS if h != md5)]):
        yield


@pytest.fixture(autouse=True)
def redis_db():
    reset_redis()
    connection = get_redis()
    connection.flushdb()
    yield connection
    reset_redis()


@pytest.fixture
def worker_slots():
    """Slots of the in-process worker: 1 runs jobs in the test's own thread (its transaction
    sees them); modules with transactional tests override this to run them in slot threads too."""
    return 1


@pytest.fixture
def run_worker(redis_db, worker_slots):
    """Run an in-process ConveyorWorker in burst mode over the given (default: all) queues."""

    def run(*queues: str, max_jobs: int | None = None, slots: int | None = None) -> ConveyorWorker:
        names = list(queues) or queue_names()
        worker = ConveyorWorker([Queue(n, connection=redis_db) for n in names], connection=redis_db, slots=slots or worker_slots)
        worker.work(burst=True, max_jobs=max_jobs)
        return worker

    return run
