"""Dramatiq's side of bench/engine.py: the same no-op and 50 ms I/O jobs, no Django.

Its RedisBroker on the bench server (DRAMATIQ_REDIS_URL: its own db number), the default
middleware. A message stays in ``dramatiq:<queue>.msgs`` until it is acknowledged after its
body, so that hash's length is what remains. Each worker process adds itself to the set
``bench:ready`` when its worker has booted (a middleware's ``after_worker_boot``).
"""

from __future__ import annotations

import os
import time

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware

REDIS_URL = os.environ.get("DRAMATIQ_REDIS_URL", "redis://127.0.0.1:6379/13")
READY_KEY = "bench:ready"
MESSAGES_KEY = "dramatiq:default.msgs"


class Ready(Middleware):
    def after_worker_boot(self, broker, worker):
        broker.client.sadd(READY_KEY, str(os.getpid()))


broker = RedisBroker(url=REDIS_URL)
broker.add_middleware(Ready())
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name="default", max_retries=0)
def noop():
    return None


@dramatiq.actor(queue_name="default", max_retries=0)
def sleep(seconds):
    time.sleep(seconds)
