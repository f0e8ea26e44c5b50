#!/bin/sh
# `make bench`, inside with_services.py. Results go to bench/results/.
set -e
python bench/throughput.py
# Caps and a rate limit on the benchmark queue that never bind: the cost of checking them.
QUEUE_OVERRIDES='{"default": {"concurrency": 1000, "rate_limit": [1000000, 60]}}' \
  python bench/throughput.py --label flow-configured --enqueue 10 --bulk 10
# The worker engine beside RQ, Celery and Dramatiq (requirements-bench.txt), all in one run.
python bench/engine.py
python bench/flow.py
python bench/payouts.py
python bench/exports.py
python bench/imports.py
python bench/middleware.py
python bench/million.py
python bench/load.py
python bench/scale.py
python bench/scheduling.py
