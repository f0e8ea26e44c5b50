"""The functions bare RQ runs in the benchmarks (no Django, no tracking)."""

import time

from rq import get_current_job

# bench/engine.py's latency samples: the moment a body starts (bench.bench_tasks.STARTED_KEY).
STARTED_KEY = "bench:started"


def noop():
    return None


def sleep(seconds):
    time.sleep(seconds)


def stamp():
    get_current_job().connection.rpush(STARTED_KEY, repr(time.time()))
