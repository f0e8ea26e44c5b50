#!/usr/bin/env python
"""Quick probes of the worker engine while working on it: seconds, not bench/engine.py's minutes.

Not a benchmark of record: nothing is written to bench/results/ and no goal is judged (the
side-by-side figures README quotes come from bench/engine.py). Each probe alternates its
systems within one run, so compare figures from the same run only.

  python bench/quick.py latency [--samples 300] [--reps 2]
      enqueue->start at idle, one job at a time 30 ms apart: Conveyor's worker (the Procfile's
      command on queue default) and an RQ SimpleWorker, alternated --reps times; p50/p90/p99
      of the whole path and of the enqueue call alone.
  python bench/quick.py noop [--jobs 3000] [--reps 3] [--processes 2] [--all-queues]
      no-op jobs through N Conveyor worker processes on queue default, queue filled first:
      jobs/s per run and the median; --all-queues alternates each run with workers on every
      declared queue (the Procfile's command, no queue named) and prints the ratio. For an
      A/B, run it in two checkouts (git worktree) one after the other, or the same checkout
      with different settings in the environment.

Run inside the services as `make bench` does: DJANGO_ENV=local .venv/bin/python scripts/with_services.py
.venv/bin/python bench/quick.py latency (or with REDIS_URL and DATABASE_URL set).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import quantile, reset, setup, stop  # noqa: E402

UNLIMITED = '{"default": {"concurrency": 0}}'


def wait_for_workers(redis, count: int, procs) -> None:
    deadline = time.monotonic() + 90
    while redis.scard("rq:workers") < count:
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise SystemExit("the workers did not start (their stderr is in the temp dir printed above)")
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("probe", choices=["latency", "noop"])
    parser.add_argument("--samples", type=int, default=300, help="latency: samples per system and rep")
    parser.add_argument("--jobs", type=int, default=3000, help="noop: jobs per run")
    parser.add_argument("--processes", type=int, default=2, help="noop: worker processes")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (latency 2, noop 3)")
    parser.add_argument(
        "--all-queues", action="store_true", help="noop: also on every declared queue (no queue named), alternated with queue default"
    )
    opts = parser.parse_args()
    env = setup()

    from rq import Queue

    from bench.bare_tasks import STARTED_KEY
    from jobs.core.states import State
    from jobs.models import JobRecord
    from jobs.ops.enqueue import JobSpec, enqueue, enqueue_many
    from jobs.transport import handoff
    from jobs.transport.redis import get_redis

    redis = get_redis()
    py = sys.executable
    child_env = {**env, "PYTHONPATH": str(ROOT), "QUEUE_OVERRIDES": UNLIMITED}
    logdir = Path(os.environ.get("TMPDIR", "/tmp")) / "conveyor-quick-bench"
    logdir.mkdir(exist_ok=True)
    print(f"worker stderr in {logdir}", flush=True)

    def start(argv, label):
        return subprocess.Popen(argv, cwd=ROOT, env=child_env, stdout=subprocess.DEVNULL, stderr=open(logdir / f"{label}.err", "w"))

    def conveyor_worker(label, queues=("default",)):
        return start([py, "manage.py", "conveyor_worker", *queues, "--verbosity", "0", "--name", label], label)

    def latency(system: str) -> str:
        reset()
        if system == "conveyor":
            proc = conveyor_worker("quick-latency-conveyor")
            submit = lambda: enqueue("bench.stamp")  # noqa: E731
        else:
            bare = Queue("bare", connection=redis)
            argv = [py, "-m", "rq.cli", "worker", "--url", env["REDIS_URL"], "-w", "rq.worker.SimpleWorker", "--quiet"]
            proc = start([*argv, "--name", "quick-latency-rq", "bare"], "quick-latency-rq")
            submit = lambda: bare.enqueue("bench.bare_tasks.stamp", result_ttl=0)  # noqa: E731
        try:
            wait_for_workers(redis, 1, [proc])
            time.sleep(1.0)
            total, calls = [], []
            for i in range(10 + opts.samples):
                sent = time.time()
                submit()
                returned = time.time()
                reply = redis.blpop([STARTED_KEY], timeout=10)
                if reply is None:
                    raise SystemExit(f"{system}: sample {i} had not started after 10 s")
                if i >= 10:  # warm-up
                    total.append((float(reply[1]) - sent) * 1000)
                    calls.append((returned - sent) * 1000)
                time.sleep(0.03)
        finally:
            stop([proc])
        return (
            f"{system:9s} p50 {quantile(total, 0.5):5.2f}  p90 {quantile(total, 0.9):5.2f}  p99 {quantile(total, 0.99):5.2f}  "
            f"max {max(total):6.2f} ms | enqueue call p50 {quantile(calls, 0.5):4.2f}  p99 {quantile(calls, 0.99):4.2f}"
        )

    def noop(rep: int, queues: tuple) -> float:
        reset()
        enqueue_many([JobSpec("bench.noop")] * opts.jobs)
        handoff.flush()
        procs = [conveyor_worker(f"quick-noop-{rep}-{i}", queues) for i in range(opts.processes)]
        try:
            wait_for_workers(redis, opts.processes, procs)
            started = time.perf_counter()
            while JobRecord.objects.filter(state=State.SUCCEEDED).count() < opts.jobs:
                if time.perf_counter() - started > 120:
                    raise SystemExit("noop: not done after 120 s")
                time.sleep(0.02)
            return opts.jobs / (time.perf_counter() - started)
        finally:
            stop(procs)

    if opts.probe == "latency":
        for _ in range(opts.reps or 2):
            for system in ("conveyor", "rq"):
                print(latency(system), flush=True)
    else:
        variants = {"queue default": ("default",), **({"every declared queue": ()} if opts.all_queues else {})}
        rates: dict[str, list[float]] = {name: [] for name in variants}
        for rep in range(opts.reps or 3):
            for name, queues in variants.items():
                rates[name].append(noop(rep, queues))
                print(f"run {rep + 1}, {name}: {rates[name][-1]:,.0f} jobs/s", flush=True)
        for name, values in rates.items():
            print(f"{name}: median {quantile(values, 0.5):,.0f} jobs/s ({opts.processes} processes, {opts.jobs} no-op jobs)")
        if opts.all_queues:
            print(
                f"every declared queue / queue default: {quantile(rates['every declared queue'], 0.5) / quantile(rates['queue default'], 0.5):.2f}"
            )


if __name__ == "__main__":
    main()
