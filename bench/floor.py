"""The memory floor of a Django worker on this stack: Django with two contrib apps, one
PostgreSQL (or SQLite) connection, redis-py and RQ imported, nothing of Conveyor's. The bench
measures this process's idle RSS beside Conveyor's worker, so the worker's figure can be read
against what its dependencies cost before any of its own code loads.

Run: python bench/floor.py  (DATABASE_URL and REDIS_URL from the environment); it prints
"ready" and sleeps until killed."""

import os
import sys
import time

import django
import environ
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
    DATABASES={"default": environ.Env.db_url_config(os.environ.get("DATABASE_URL", "sqlite:////tmp/conveyor-floor.sqlite3"))},
)
django.setup()

import redis  # noqa: E402
import rq  # noqa: E402,F401
from django.db import connection  # noqa: E402

connection.ensure_connection()
redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")).ping()
print("ready", flush=True)
sys.stdout.close()
while True:
    time.sleep(60)
