#!/usr/bin/env python
"""`make bench`: tracked throughput against bare RQ, measured in the same run.

* Worker throughput: N no-op jobs through the full tracked path (JobRecord,
  ConveyorWorker via `manage.py rqworker`, attempts recorded) and N through bare
  RQ SimpleWorker (`rq worker`, no Django), each with the same number of worker
  processes. The queue is filled, the workers start, and they are timed from the
  moment all are registered until the last job is done. Redis commands per job from INFO commandstats.
* Enqueue throughput: single and bulk, tracked and bare.

Isolated from development data (bench/common.py). Results go to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import reset, setup  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--enqueue", type=int, default=1000, help="single enqueues to time")
    parser.add_argument("--bulk", type=int, default=10000, help="jobs in one bulk enqueue")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--label", default="", help="suffix for the result file name")
    opts = parser.parse_args()

    env = setup()
    from django.db import connection
    from rq import Queue

    from jobs.core.states import State
    from jobs.models import JobRecord
    from jobs.ops.enqueue import JobSpec, enqueue, enqueue_many
    from jobs.transport.redis import get_redis

    redis = get_redis()

    def commands() -> int:
        return sum(v["calls"] for k, v in redis.info("commandstats").items())

    def run_workers(argv_for, fill, remaining) -> dict:
        """Fill the queue, start the workers, and time from the moment all are registered
        until nothing remains, counting only the jobs still outstanding at that moment."""
        fill()
        procs = [subprocess.Popen(argv_for(i), cwd=ROOT, env=env, stdout=subprocess.DEVNULL) for i in range(opts.workers)]
        try:
            deadline = time.monotonic() + 60
            while redis.scard("rq:workers") < opts.workers:
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    raise SystemExit("benchmark workers did not start")
                time.sleep(0.01)
            started = time.perf_counter()
            before = commands()
            outstanding = remaining()
            while remaining():
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            used = commands() - before
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=30)
        return {
            "jobs_timed": outstanding,
            "seconds": round(elapsed, 3),
            "jobs_per_s": round(outstanding / elapsed, 1),
            "redis_commands_per_job": round(used / outstanding, 1),
        }

    results = {}

    # Tracked path
    reset()
    tracked = run_workers(
        lambda i: [sys.executable, "manage.py", "rqworker", "default", "--verbosity", "0", "--name", f"bench-tracked-{i}"],
        lambda: enqueue_many([JobSpec("bench.noop") for _ in range(opts.jobs)]),
        lambda: opts.jobs - JobRecord.objects.filter(state=State.SUCCEEDED).count(),
    )
    results["tracked_worker"] = tracked

    # Bare RQ, same Redis, same process count
    reset()
    queue = Queue("bare", connection=redis)
    bare = run_workers(
        lambda i: [
            sys.executable,
            "-m",
            "rq.cli",
            "worker",
            "--url",
            env["REDIS_URL"],
            "-w",
            "rq.worker.SimpleWorker",
            "--quiet",
            "--name",
            f"bench-bare-{i}",
            "bare",
        ],
        lambda: queue.enqueue_many([Queue.prepare_data("bench.bare_tasks.noop", result_ttl=0) for _ in range(opts.jobs)]),
        lambda: queue.count + queue.started_job_registry.count,
    )
    results["bare_rq_worker"] = bare
    results["worker_ratio_tracked_to_bare"] = round(tracked["jobs_per_s"] / bare["jobs_per_s"], 3)

    # Enqueue throughput
    reset()
    started = time.perf_counter()
    for _ in range(opts.enqueue):
        enqueue("bench.noop")
    results["tracked_enqueue_single_per_s"] = round(opts.enqueue / (time.perf_counter() - started), 1)
    reset()
    started = time.perf_counter()
    enqueue_many([JobSpec("bench.noop") for _ in range(opts.bulk)])
    results["tracked_enqueue_bulk_per_s"] = round(opts.bulk / (time.perf_counter() - started), 1)
    reset()
    started = time.perf_counter()
    for _ in range(opts.enqueue):
        queue.enqueue("bench.bare_tasks.noop", result_ttl=0)
    results["bare_enqueue_single_per_s"] = round(opts.enqueue / (time.perf_counter() - started), 1)
    reset()
    started = time.perf_counter()
    queue.enqueue_many([Queue.prepare_data("bench.bare_tasks.noop", result_ttl=0) for _ in range(opts.bulk)])
    results["bare_enqueue_bulk_per_s"] = round(opts.bulk / (time.perf_counter() - started), 1)
    reset()

    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "database": connection.vendor,
        "workers": opts.workers,
        "queue_overrides": os.environ.get("QUEUE_OVERRIDES", ""),
        **results,
    }
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"throughput-{connection.vendor}{'-' + opts.label if opts.label else ''}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
