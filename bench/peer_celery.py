"""Celery's side of bench/engine.py: the same no-op and 50 ms I/O jobs, no Django.

Redis is the broker (the bench server, CELERY_BROKER_URL: its own db number), results are off
(``task_ignore_result``); otherwise Celery's defaults (a message is acknowledged as its task
starts, prefetch multiplier 4). The worker adds itself to the set ``bench:ready`` once it takes
jobs (the signal ``worker_ready``). With early acknowledgement Redis cannot tell what is done,
so each finished task appends one byte to BENCH_DONE_FILE (a write to a local file, no Redis
command): the file's size is the number of jobs done.
"""

from __future__ import annotations

import os
import socket
import threading
import time

import redis
from celery import Celery
from celery.signals import task_postrun, worker_ready

BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
DONE_FILE = os.environ.get("BENCH_DONE_FILE", "")
READY_KEY = "bench:ready"

app = Celery("bench_peer", broker=BROKER_URL)
app.conf.update(
    task_ignore_result=True,
    task_default_queue="celery",
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    accept_content=["json"],
)


@app.task(name="bench.noop")
def noop():
    return None


@app.task(name="bench.sleep")
def sleep(seconds):
    time.sleep(seconds)


@worker_ready.connect
def _ready(sender=None, **kwargs):
    client = redis.Redis.from_url(BROKER_URL)
    client.sadd(READY_KEY, f"{socket.gethostname()}:{os.getpid()}")
    client.close()


_done = {"fd": None, "pid": None}
_done_lock = threading.Lock()


@task_postrun.connect
def _count_done(**kwargs):
    if not DONE_FILE:
        return
    if _done["pid"] != os.getpid():  # opened in this process (prefork children are forked)
        with _done_lock:
            if _done["pid"] != os.getpid():
                _done["fd"] = os.open(DONE_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                _done["pid"] = os.getpid()
    os.write(_done["fd"], b".")
