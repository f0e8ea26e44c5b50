#!/usr/bin/env python
"""`make bench`: the worker engine beside bare RQ, Celery and Dramatiq, all in one run.

* No-op jobs, 2 worker processes: Conveyor (`manage.py conveyor_worker default`, the Procfile's
  command, WORKER_CONCURRENCY slots, default 4), Conveyor on every declared queue
  (`manage.py conveyor_worker` with no queue named: every declared queue x 4 priority lists), RQ
  SimpleWorker x2, Celery prefork (one worker, 2 children) and Dramatiq (2 processes x 8
  threads). Also Conveyor with the stock queue cap (below), and for reference Conveyor with
  WORKER_CONCURRENCY=1 and =8.
* Jobs that wait 50 ms (time.sleep(0.05)), 2 processes: Conveyor 2x8 slots, Celery threads
  pool 2x8, Dramatiq 2x8, and Conveyor 2x1 slot for reference.
* Enqueue: one job per transaction (`enqueue()` outside atomic(), its INSERT committing by
  itself; and for reference inside the caller's atomic(), where BEGIN and COMMIT are round trips
  of their own) and enqueue_many, beside RQ's enqueue and enqueue_many (Celery's and Dramatiq's
  single send for context); and a single enqueue through Django's standard Tasks API
  (`task.enqueue()`, jobs/standard_tasks.py), against Conveyor's own.
* enqueue->start latency at idle (p50/p99): one job at a time to an idle worker, the task
  pushing time.time() to a Redis list as its first act; Conveyor beside bare RQ, interleaved
  over --rounds rounds, each keeping its round with the lowest p99.
* Idle worker memory (RSS and USS, MB) after a few jobs: Conveyor with 1 and 8 slots, RQ
  SimpleWorker, Celery prefork (main and child), Dramatiq (parent and worker process); for
  reference Conveyor under django-rq's `rqworker` (which runs every system check, the URL
  ones included, and so imports the views, the admin and the API schema tools), and the floor:
  bench/floor.py, bare Django (auth, contenttypes) with a database connection, redis-py and RQ.
* Per job, for every throughput run: CPU of the worker processes (user+sys, all their
  processes), of the Redis server (INFO cpu) and of Conveyor's PostgreSQL backends, Redis
  commands (INFO commandstats, commands run inside Lua scripts included) and, on
  PostgreSQL, transactions (pg_stat_database.xact_commit + xact_rollback).

The queue is filled, the workers start, and each system is timed from the moment all its
workers are ready until the last job is done, counting the jobs outstanding at that moment.
Systems are interleaved over --rounds rounds and each keeps its best round; the ratios the
issue sets as goals are computed within this run. The peers have no global concurrency cap,
so Conveyor's benchmark queue runs with QUEUE_OVERRIDES {"default": {"concurrency": 0}}
(unlimited); `conveyor_stock_cap` is the same no-op run with the declared default
(MAX_QUEUE_CONCURRENCY) instead, in every round like the others. What is done: Conveyor's succeeded rows, RQ's queue and
started registry, Dramatiq's unacknowledged messages, and for Celery (which acknowledges as a
task starts) a byte per finished task in a local file (bench/peer_celery.py).

Redis: the benchmark db (15) for Conveyor and RQ, db 14 for Celery's broker, db 13 for
Dramatiq's; every process this script starts is stopped at the end, even on failure.
Results: bench/results/engine-<database>.json, and a table on stdout.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import quantile, reset, setup, write_results  # noqa: E402

CELERY_DB, DRAMATIQ_DB = 14, 13
READY_KEY = "bench:ready"  # bench/peer_celery.py, bench/peer_dramatiq.py
STARTED_KEY = "bench:started"  # bench/bench_tasks.py, bench/bare_tasks.py
UNLIMITED = '{"default": {"concurrency": 0}}'
MB = 1024 * 1024


class Fleet:
    """Every process this script starts, each in its own process group, its output in a log file."""

    def __init__(self, logdir: Path):
        self.logdir = logdir
        self.procs: list[subprocess.Popen] = []

    def start(self, argv: list[str], env: dict, label: str) -> subprocess.Popen:
        log_path = self.logdir / f"{label}.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        proc.log_path = log_path
        proc.label = label
        self.procs.append(proc)
        return proc

    def stop(self, procs, grace: float = 30) -> None:
        """SIGTERM each (a warm shutdown), wait, then SIGKILL what is left of each one's group."""
        for proc in procs:
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # its group: children a leader left behind
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            if proc in self.procs:
                self.procs.remove(proc)

    def stop_all(self) -> None:
        self.stop(list(self.procs), grace=15)


def log_tail(proc, chars: int = 3000) -> str:
    try:
        return Path(proc.log_path).read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def log_problems(procs, limit: int = 8) -> list[str]:
    """Lines of the workers' output that say something went wrong."""
    found = []
    for proc in procs:
        try:
            lines = Path(proc.log_path).read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            if any(word in line for word in ("Traceback", "ERROR", "Error", "CRITICAL", "exception")):
                found.append(f"{proc.label}: {line.strip()[:300]}")
    return found[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=3000, help="no-op jobs per system and round")
    parser.add_argument("--io-jobs", type=int, default=800, help="50 ms jobs per 2x8 system and round")
    parser.add_argument("--io-jobs-1-slot", type=int, default=200, help="50 ms jobs for Conveyor 2x1")
    parser.add_argument("--stock-cap-jobs", type=int, default=3000, help="no-op jobs for Conveyor with the stock queue cap")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--enqueue", type=int, default=1000, help="single enqueues to time")
    parser.add_argument("--bulk", type=int, default=10000, help="jobs in one bulk enqueue")
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--deadline", type=float, default=120, help="seconds a throughput run may take")
    opts = parser.parse_args()

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    env = setup()
    logdir = Path(tempfile.mkdtemp(prefix="engine-bench-"))
    fleet = Fleet(logdir)
    problems: list[str] = []
    try:
        results = run_all(opts, env, fleet, problems)
    finally:
        fleet.stop_all()
    write_results("engine", results)
    print_table(results)
    if problems:
        print(f"\nworker output kept in {logdir}")
    else:
        shutil.rmtree(logdir, ignore_errors=True)


def run_all(opts, env: dict, fleet: Fleet, problems: list[str]) -> dict:
    import psutil
    import redis as redis_py
    from django.db import connection, transaction
    from rq import Queue

    from jobs.core.states import State
    from jobs.models import JobAttempt, JobRecord, WorkerHeartbeat
    from jobs.ops.enqueue import JobSpec, enqueue, enqueue_many
    from jobs.transport.redis import get_redis

    redis = get_redis()
    base = urlsplit(env["REDIS_URL"])
    celery_url = urlunsplit(base._replace(path=f"/{CELERY_DB}"))
    dramatiq_url = urlunsplit(base._replace(path=f"/{DRAMATIQ_DB}"))
    os.environ["CELERY_BROKER_URL"] = celery_url
    os.environ["DRAMATIQ_REDIS_URL"] = dramatiq_url
    from bench import peer_celery, peer_dramatiq

    celery_redis = redis_py.Redis.from_url(celery_url)
    dramatiq_redis = redis_py.Redis.from_url(dramatiq_url)
    postgres = connection.vendor == "postgresql"
    py = sys.executable
    celery_done = fleet.logdir / "celery-done"  # bench/peer_celery.py: one byte per finished task
    child_env = {
        **env,
        "CELERY_BROKER_URL": celery_url,
        "DRAMATIQ_REDIS_URL": dramatiq_url,
        "BENCH_DONE_FILE": str(celery_done),
        "PYTHONPATH": str(ROOT),
    }
    child_env.pop("QUEUE_OVERRIDES", None)
    child_env.pop("WORKER_CONCURRENCY", None)
    bare_queue = Queue("bare", connection=redis)
    loads = {"start": [round(v, 2) for v in os.getloadavg()]}

    # --- measuring helpers -------------------------------------------------------------

    def commands() -> dict:
        return {k: v["calls"] for k, v in redis.info("commandstats").items() if k != "cmdstat_info"}

    def redis_cpu() -> float:
        info = redis.info("cpu")
        return info["used_cpu_user"] + info["used_cpu_sys"]

    def tree_cpu(procs) -> dict:
        """pid -> user+sys seconds of every process of these workers (children included)."""
        out = {}
        for proc in procs:
            try:
                root = psutil.Process(proc.pid)
                members = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for member in members:
                try:
                    t = member.cpu_times()
                    out[member.pid] = t.user + t.system
                except psutil.NoSuchProcess:
                    pass
        return out

    own_backend = None
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            own_backend = cursor.fetchone()[0]

    def pg_cpu() -> dict:
        """pid -> CPU seconds of the PostgreSQL backends on the benchmark database (not this script's)."""
        if not postgres:
            return {}
        name = connection.settings_dict["NAME"]
        out = {}
        for proc in psutil.process_iter(["cmdline"]):
            try:
                line = " ".join(proc.info["cmdline"] or [])
                if line.startswith("postgres:") and f" {name} " in line and proc.pid != own_backend:
                    t = proc.cpu_times()
                    out[proc.pid] = t.user + t.system
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return out

    def pg_transactions() -> int | None:
        if not postgres:
            return None
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_force_next_flush()")
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
            return int(cursor.fetchone()[0])

    def delta(after: dict, before: dict) -> float:
        return sum(v - before.get(pid, 0.0) for pid, v in after.items())

    def vacuum() -> None:
        if postgres:
            with connection.cursor() as cursor:
                for model in (JobRecord, JobAttempt, WorkerHeartbeat):
                    cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")

    def clean() -> None:
        reset()
        vacuum()
        celery_redis.flushdb()
        celery_done.unlink(missing_ok=True)
        dramatiq_redis.flushdb()

    # --- one throughput run ------------------------------------------------------------

    def run_workers(label, argvs, worker_env, fill, remaining, ready, expected, deadline=None, sql=False) -> dict:
        clean()
        fill()
        filled = remaining()
        if filled != expected:
            return {"error": f"after filling, {filled} jobs outstanding, not {expected}"}

        def poll_cost() -> int:
            before = sum(commands().values())
            remaining()
            return sum(commands().values()) - before

        # What one poll below costs Redis: the least of a few, so a stray command (a heartbeat
        # of a process still stopping) is not subtracted once per poll.
        per_poll = min(poll_cost() for _ in range(5))
        procs = [fleet.start(argv, worker_env, f"{label}-{i}") for i, argv in enumerate(argvs)]
        deadline = deadline or opts.deadline
        figures: dict = {}
        try:
            wait_until = time.monotonic() + 90
            while not ready():
                if time.monotonic() > wait_until or any(p.poll() is not None for p in procs):
                    figures["error"] = "the workers did not start"
                    figures["log_tail"] = log_tail(procs[0])
                    return figures
                time.sleep(0.01)
            load = os.getloadavg()[0]
            cpu0, rcpu0, pg0 = tree_cpu(procs), redis_cpu(), pg_cpu()
            x0 = pg_transactions() if sql else None
            c0 = commands()
            started = time.perf_counter()
            outstanding = remaining()
            polls = 1
            left = outstanding
            while left > 0:
                if time.perf_counter() - started > deadline:
                    figures["error"] = f"{left} of {outstanding} jobs still outstanding after {deadline:g}s"
                    break
                if any(p.poll() is not None for p in procs):
                    figures["error"] = "a worker exited during the run"
                    break
                time.sleep(0.05 if left > 100 else 0.003)
                left = remaining()
                polls += 1
            elapsed = time.perf_counter() - started
            c1 = commands()
            cpu1, rcpu1, pg1 = tree_cpu(procs), redis_cpu(), pg_cpu()
        finally:
            fleet.stop(procs)
        done = outstanding - max(left, 0)
        if done <= 0:
            figures.setdefault("error", "no job finished")
            figures["log_tail"] = log_tail(procs[0])
            return figures
        used = {k: v - c0.get(k, 0) for k, v in c1.items() if v - c0.get(k, 0) > 0}
        total_used = sum(used.values()) - polls * per_poll
        worker_ms = delta(cpu1, cpu0) * 1000 / done
        redis_ms = (rcpu1 - rcpu0) * 1000 / done
        pg_ms = delta(pg1, pg0) * 1000 / done
        figures.update(
            {
                "jobs_timed": done,
                "seconds": round(elapsed, 3),
                "jobs_per_s": round(done / elapsed, 1),
                "worker_cpu_ms_per_job": round(worker_ms, 3),
                "redis_cpu_ms_per_job": round(redis_ms, 3),
                "postgres_cpu_ms_per_job": round(pg_ms, 3) if sql else None,
                "total_cpu_ms_per_job": round(worker_ms + redis_ms + (pg_ms if sql else 0), 3),
                "redis_commands_per_job": round(total_used / done, 1),
                "top_redis_commands_per_job": {
                    k.removeprefix("cmdstat_"): round(v / done, 2) for k, v in sorted(used.items(), key=lambda kv: -kv[1])[:8]
                },
                "load_1min": round(load, 2),
            }
        )
        if sql:
            time.sleep(0.3)  # the workers' backends flushed their statistics as they ended
            x1 = pg_transactions()
            figures["sql_transactions_per_job"] = round((x1 - x0 - polls - 1) / done, 2)
        bad = log_problems(procs)
        if bad:
            figures["worker_log_problems"] = bad
        if "error" in figures:
            figures["log_tail"] = log_tail(procs[0])
        return figures

    # --- the systems -------------------------------------------------------------------

    def conveyor_env(slots: int | None = None, overrides: str | None = UNLIMITED) -> dict:
        e = dict(child_env)
        if slots is not None:
            e["WORKER_CONCURRENCY"] = str(slots)
        if overrides is not None:
            e["QUEUE_OVERRIDES"] = overrides
        return e

    def conveyor_argv(i: int, label: str, all_queues: bool = False, command: str = "conveyor_worker") -> list[str]:
        """The Procfile's worker command (`conveyor_worker`): on queue default, or with no queue
        named on every declared queue. command="rqworker" is django-rq's, for reference."""
        queues = [] if all_queues else ["default"]
        return [py, "manage.py", command, *queues, "--verbosity", "0", "--name", f"bench-{label}-{i}"]

    def rq_argv(i: int, label: str) -> list[str]:
        return [
            py,
            "-m",
            "rq.cli",
            "worker",
            "--url",
            env["REDIS_URL"],
            "-w",
            "rq.worker.SimpleWorker",
            "--quiet",
            "--name",
            f"bench-{label}-{i}",
            "bare",
        ]

    def celery_argv(i: int, label: str, pool: str, concurrency: int) -> list[str]:
        return [
            *(py, "-m", "celery", "-A", "bench.peer_celery", "worker"),
            *("--pool", pool, "--concurrency", str(concurrency), "--loglevel", "WARNING", "-n", f"bench-{label}-{i}@%h"),
        ]

    def dramatiq_argv(processes: int, threads: int) -> list[str]:
        return [py, "-m", "dramatiq", "bench.peer_dramatiq", "--processes", str(processes), "--threads", str(threads)]

    def conveyor_remaining(total: int):
        return lambda: total - JobRecord.objects.filter(state=State.SUCCEEDED).count()

    def rq_remaining():
        return bare_queue.count + bare_queue.started_job_registry.count

    def celery_remaining(total: int):
        return lambda: total - (celery_done.stat().st_size if celery_done.exists() else 0)

    def celery_fill(task, args: tuple, total: int, check: bool = True):
        def fill():
            for _ in range(total):
                task.apply_async(args)
            if check and celery_redis.llen("celery") != total:  # filled before the workers start
                raise RuntimeError(f"{celery_redis.llen('celery')} messages in Celery's queue, not {total}")

        return fill

    def dramatiq_remaining():
        return dramatiq_redis.hlen(peer_dramatiq.MESSAGES_KEY)

    def rq_ready(n):
        return lambda: redis.scard("rq:workers") >= n

    def peer_ready(client, n):
        return lambda: client.scard(READY_KEY) >= n

    def conveyor_fill(spec: JobSpec, total: int):
        return lambda: enqueue_many([spec for _ in range(total)])

    def run_conveyor(label: str, spec: JobSpec, total: int, all_queues: bool = False, **env_options) -> dict:
        """Two Conveyor worker processes (the Procfile's command) over ``total`` jobs of ``spec``."""
        return run_workers(
            label,
            [conveyor_argv(i, label, all_queues=all_queues) for i in range(2)],
            conveyor_env(**env_options),
            conveyor_fill(spec, total),
            conveyor_remaining(total),
            rq_ready(2),
            total,
            sql=postgres,
        )

    n, m, c = opts.jobs, opts.io_jobs, opts.stock_cap_jobs
    noop_systems = {
        "conveyor_1_queue": lambda: run_conveyor("conveyor-noop", JobSpec("bench.noop"), n),
        "conveyor_all_queues": lambda: run_conveyor("conveyor-noop-all", JobSpec("bench.noop"), n, all_queues=True),
        "conveyor_stock_cap": lambda: run_conveyor("conveyor-noop-capped", JobSpec("bench.noop"), c, overrides=None),
        "conveyor_1_slot": lambda: run_conveyor("conveyor-noop-slots-1", JobSpec("bench.noop"), n, slots=1),
        "conveyor_8_slots": lambda: run_conveyor("conveyor-noop-slots-8", JobSpec("bench.noop"), n, slots=8),
        "rq_simpleworker_x2": lambda: run_workers(
            "rq-noop",
            [rq_argv(i, "rq-noop") for i in range(2)],
            child_env,
            lambda: bare_queue.enqueue_many([Queue.prepare_data("bench.bare_tasks.noop", result_ttl=0) for _ in range(n)]),
            rq_remaining,
            rq_ready(2),
            n,
        ),
        "celery_prefork_2": lambda: run_workers(
            "celery-prefork",
            [celery_argv(0, "celery-prefork", "prefork", 2)],
            child_env,
            celery_fill(peer_celery.noop, (), n),
            celery_remaining(n),
            peer_ready(celery_redis, 1),
            n,
        ),
        "dramatiq_2x8": lambda: run_workers(
            "dramatiq-noop",
            [dramatiq_argv(2, 8)],
            child_env,
            lambda: [peer_dramatiq.noop.send() for _ in range(n)],
            dramatiq_remaining,
            peer_ready(dramatiq_redis, 2),
            n,
        ),
    }
    io_systems = {
        "conveyor_2x8": lambda: run_conveyor("conveyor-io-8", JobSpec("bench.sleep", [0.05]), m, slots=8),
        "celery_threads_2x8": lambda: run_workers(
            "celery-threads",
            [celery_argv(i, "celery-threads", "threads", 8) for i in range(2)],
            child_env,
            celery_fill(peer_celery.sleep, (0.05,), m),
            celery_remaining(m),
            peer_ready(celery_redis, 2),
            m,
        ),
        "dramatiq_2x8": lambda: run_workers(
            "dramatiq-io",
            [dramatiq_argv(2, 8)],
            child_env,
            lambda: [peer_dramatiq.sleep.send(0.05) for _ in range(m)],
            dramatiq_remaining,
            peer_ready(dramatiq_redis, 2),
            m,
        ),
    }

    def guarded(run) -> dict:
        try:
            return run()
        except Exception as exc:  # one system's failure is a figure, not the end of the run
            return {"error": f"{type(exc).__name__}: {exc}"}

    def best_of(runs: list[dict], figure: str = "jobs_per_s", pick=max, also: tuple = ()) -> dict:
        """The round with the best ``figure`` (``pick``: max for a rate, min for a latency), with
        every round's ``figure`` and ``also`` figures beside it (``rounds_<figure>``)."""
        good = [r for r in runs if "error" not in r]
        best = dict(pick(good, key=lambda r: r[figure])) if good else dict(runs[-1])
        for name in (figure, *also):
            best[f"rounds_{name}"] = [r.get(name) for r in runs]
        errors = [r["error"] for r in runs if "error" in r]
        if errors:
            best["round_errors"] = errors
        return best

    # --- throughput: rounds, the systems interleaved -----------------------------------

    noop_runs: dict[str, list] = {k: [] for k in noop_systems}
    io_runs: dict[str, list] = {k: [] for k in io_systems}
    for r in range(opts.rounds):
        for name, run in noop_systems.items():
            noop_runs[name].append(guarded(run))
            print(f"round {r + 1} no-op {name}: {noop_runs[name][-1].get('jobs_per_s', noop_runs[name][-1].get('error'))}", flush=True)
        for name, run in io_systems.items():
            io_runs[name].append(guarded(run))
            print(f"round {r + 1} 50 ms {name}: {io_runs[name][-1].get('jobs_per_s', io_runs[name][-1].get('error'))}", flush=True)
    noop = {k: best_of(v) for k, v in noop_runs.items()}
    io = {k: best_of(v) for k, v in io_runs.items()}
    k = opts.io_jobs_1_slot
    io["conveyor_2x1"] = guarded(lambda: run_conveyor("conveyor-io-1", JobSpec("bench.sleep", [0.05]), k, slots=1))
    noop["conveyor_stock_cap"]["queue_cap"] = (
        f"default queue at MAX_QUEUE_CONCURRENCY={child_env.get('MAX_QUEUE_CONCURRENCY', '5 (default)')}"
    )
    loads["after_throughput"] = [round(v, 2) for v in os.getloadavg()]
    print("throughput done", flush=True)

    # --- enqueue -----------------------------------------------------------------------

    def commit_cost() -> dict | None:
        """One durable commit of a transaction that wrote (an xid, so WAL is flushed): what every
        enqueue in its own transaction and every claim pays on this machine's disk."""
        if not postgres:
            return None
        times = []
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            sync = cursor.fetchone()[0]
            for _ in range(200):
                started = time.perf_counter()
                with transaction.atomic():
                    cursor.execute("SELECT txid_current()")
                times.append((time.perf_counter() - started) * 1000)
        return {"synchronous_commit": sync, "p50_ms": round(quantile(times, 0.5), 2), "p99_ms": round(quantile(times, 0.99), 2)}

    def timed(*args, **kwargs) -> dict:
        return guarded(lambda: measure_timed(*args, **kwargs))

    def measure_timed(fn, count: int, sql: bool = False) -> dict:
        clean()
        x0 = pg_transactions() if sql else None
        c0 = sum(commands().values())
        started = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - started
        used = sum(commands().values()) - c0
        out = {"per_s": round(count / elapsed, 1), "redis_commands_per_job": round(used / count, 2)}
        if sql:
            out["sql_transactions_per_job"] = round((pg_transactions() - x0 - 1) / count, 2)
        return out

    def conveyor_singles():
        # Its own transaction: outside atomic(), as a view or script without ATOMIC_REQUESTS calls
        # it. The INSERT commits by itself (one round trip, one durable commit), then the push.
        for _ in range(opts.enqueue):
            enqueue("bench.noop")

    def standard_api_singles():
        # Django's standard Tasks API on Conveyor: the same enqueue behind the backend.
        from bench.bench_tasks import standard_noop

        for _ in range(opts.enqueue):
            standard_noop.enqueue()

    def conveyor_singles_atomic():
        # Inside the caller's atomic(): BEGIN and COMMIT are round trips of their own.
        for _ in range(opts.enqueue):
            with transaction.atomic():
                enqueue("bench.noop")

    def celery_singles():
        for _ in range(opts.enqueue):
            peer_celery.noop.apply_async()

    def dramatiq_singles():
        for _ in range(opts.enqueue):
            peer_dramatiq.noop.send()

    enqueue_systems = {
        "conveyor_single": lambda: timed(conveyor_singles, opts.enqueue, sql=postgres),
        "conveyor_single_in_atomic": lambda: timed(conveyor_singles_atomic, opts.enqueue, sql=postgres),
        "standard_api_single": lambda: timed(standard_api_singles, opts.enqueue, sql=postgres),
        "rq_single": lambda: timed(
            lambda: [bare_queue.enqueue("bench.bare_tasks.noop", result_ttl=0) for _ in range(opts.enqueue)], opts.enqueue
        ),
        "conveyor_many": lambda: timed(lambda: enqueue_many([JobSpec("bench.noop") for _ in range(opts.bulk)]), opts.bulk, sql=postgres),
        "rq_many": lambda: timed(
            lambda: bare_queue.enqueue_many([Queue.prepare_data("bench.bare_tasks.noop", result_ttl=0) for _ in range(opts.bulk)]),
            opts.bulk,
        ),
        "celery_single": lambda: timed(celery_singles, opts.enqueue),
        "dramatiq_single": lambda: timed(dramatiq_singles, opts.enqueue),
    }
    enqueue_runs: dict[str, list] = {k: [] for k in enqueue_systems}
    for _ in range(opts.rounds):
        for name, run in enqueue_systems.items():
            enqueue_runs[name].append(run())
    enqueue_figures: dict = {}
    for name, runs in enqueue_runs.items():
        good = [r for r in runs if "per_s" in r]
        enqueue_figures[name] = dict(max(good, key=lambda r: r["per_s"])) if good else runs[-1]
        enqueue_figures[name]["rounds_per_s"] = [r.get("per_s") for r in runs]
    enqueue_figures["postgres_commit"] = guarded(commit_cost) if postgres else None
    clean()
    print("enqueue done", flush=True)

    # --- enqueue -> start latency at idle -----------------------------------------------

    def latency(*args) -> dict:
        return guarded(lambda: measure_latency(*args))

    def measure_latency(label, argv, worker_env, submit) -> dict:
        clean()
        proc = fleet.start(argv, worker_env, label)
        try:
            wait_until = time.monotonic() + 90
            while redis.scard("rq:workers") < 1:
                if time.monotonic() > wait_until or proc.poll() is not None:
                    return {"error": "the worker did not start", "log_tail": log_tail(proc)}
                time.sleep(0.01)
            time.sleep(1.0)
            samples, calls, after = [], [], []
            warmup = 10
            for i in range(warmup + opts.latency_samples):
                sent = time.time()
                submit()
                returned = time.time()
                reply = redis.blpop([STARTED_KEY], timeout=10)
                if reply is None:
                    return {"error": f"sample {i}: the job had not started after 10s", "log_tail": log_tail(proc)}
                if i >= warmup:
                    body = float(reply[1])
                    samples.append((body - sent) * 1000)
                    calls.append((returned - sent) * 1000)
                    after.append((body - returned) * 1000)
                time.sleep(0.03)  # the job ends and the worker waits again
        finally:
            fleet.stop([proc])
        return {
            "samples": len(samples),
            "p50_ms": round(quantile(samples, 0.5), 2),
            "p90_ms": round(quantile(samples, 0.9), 2),
            "p99_ms": round(quantile(samples, 0.99), 2),
            "max_ms": round(max(samples), 2),
            "mean_ms": round(statistics.fmean(samples), 2),
            # of which: the enqueue call itself, and from its return to the body's start
            "enqueue_call_p50_ms": round(quantile(calls, 0.5), 2),
            "enqueue_call_p99_ms": round(quantile(calls, 0.99), 2),
            "after_enqueue_p50_ms": round(quantile(after, 0.5), 2),
            "after_enqueue_p99_ms": round(quantile(after, 0.99), 2),
        }

    def conveyor_stamp():
        enqueue("bench.stamp")  # in its own transaction, as the single-enqueue figure

    latency_systems = {
        "conveyor": lambda: latency("conveyor-latency", conveyor_argv(0, "conveyor-latency"), conveyor_env(), conveyor_stamp),
        "rq": lambda: latency(
            "rq-latency", rq_argv(0, "rq-latency"), child_env, lambda: bare_queue.enqueue("bench.bare_tasks.stamp", result_ttl=0)
        ),
    }
    latency_runs: dict[str, list] = {k: [] for k in latency_systems}
    for r in range(opts.rounds):  # interleaved, as the throughput rounds
        for name, run in latency_systems.items():
            latency_runs[name].append(run())
            print(
                f"round {r + 1} latency {name}: p99 {latency_runs[name][-1].get('p99_ms', latency_runs[name][-1].get('error'))}", flush=True
            )
    # A round's p99 rests on its two or three worst samples, and what else the machine does only
    # lengthens them: each system keeps its round with the lowest p99.
    latency_figures = {k: best_of(v, "p99_ms", min, also=("p50_ms",)) for k, v in latency_runs.items()}
    latency_figures["conveyor"]["worker"] = "1 process, WORKER_CONCURRENCY default (4)"
    latency_figures["rq"]["worker"] = "1 SimpleWorker"
    print("latency done", flush=True)

    # --- idle memory -------------------------------------------------------------------

    def memory(*args) -> dict:
        return guarded(lambda: measure_memory(*args))

    def measure_memory(label, argv, worker_env, ready, fill, remaining) -> dict:
        clean()
        proc = fleet.start(argv, worker_env, label)
        try:
            wait_until = time.monotonic() + 90
            while not ready():
                if time.monotonic() > wait_until or proc.poll() is not None:
                    return {"error": "the worker did not start", "log_tail": log_tail(proc)}
                time.sleep(0.01)
            fill()
            wait_until = time.monotonic() + 60
            while remaining() > 0:
                if time.monotonic() > wait_until:
                    return {"error": "the warm-up jobs did not finish", "log_tail": log_tail(proc)}
                time.sleep(0.05)
            time.sleep(2.0)  # idle again
            root = psutil.Process(proc.pid)
            out = {}
            for i, member in enumerate([root, *root.children(recursive=True)]):
                info = member.memory_full_info()
                out["main" if i == 0 else f"child_{i}"] = {"rss_mb": round(info.rss / MB, 1), "uss_mb": round(info.uss / MB, 1)}
            return out
        finally:
            fleet.stop([proc])

    def measure_floor() -> dict:
        """Idle RSS of bench/floor.py: bare Django, a database connection, redis-py and RQ."""
        proc = subprocess.Popen([py, str(Path(__file__).with_name("floor.py"))], env=child_env, stdout=subprocess.PIPE, text=True)
        try:
            if proc.stdout.readline().strip() != "ready":
                return {"error": "bench/floor.py did not start"}
            time.sleep(2.0)
            info = psutil.Process(proc.pid).memory_full_info()
            return {"main": {"rss_mb": round(info.rss / MB, 1), "uss_mb": round(info.uss / MB, 1)}}
        finally:
            proc.kill()
            proc.wait()

    warm = 50
    memory_figures = {
        "conveyor_1_slot": memory(
            "conveyor-rss-1",
            conveyor_argv(0, "conveyor-rss-1"),
            conveyor_env(slots=1),
            rq_ready(1),
            conveyor_fill(JobSpec("bench.noop"), warm),
            conveyor_remaining(warm),
        ),
        "conveyor_8_slots": memory(
            "conveyor-rss-8",
            conveyor_argv(0, "conveyor-rss-8"),
            conveyor_env(slots=8),
            rq_ready(1),
            conveyor_fill(JobSpec("bench.noop"), warm),
            conveyor_remaining(warm),
        ),
        "conveyor_rqworker_4_slots": memory(
            "conveyor-rss-rqworker",
            conveyor_argv(0, "conveyor-rss-rqworker", command="rqworker"),
            conveyor_env(),
            rq_ready(1),
            conveyor_fill(JobSpec("bench.noop"), warm),
            conveyor_remaining(warm),
        ),
        "rq_simpleworker": memory(
            "rq-rss",
            rq_argv(0, "rq-rss"),
            child_env,
            rq_ready(1),
            lambda: bare_queue.enqueue_many([Queue.prepare_data("bench.bare_tasks.noop", result_ttl=0) for _ in range(warm)]),
            rq_remaining,
        ),
        "celery_prefork_2": memory(
            "celery-rss",
            celery_argv(0, "celery-rss", "prefork", 2),
            child_env,
            peer_ready(celery_redis, 1),
            celery_fill(peer_celery.noop, (), warm, check=False),
            celery_remaining(warm),
        ),
        "dramatiq_1x8": memory(
            "dramatiq-rss",
            dramatiq_argv(1, 8),
            child_env,
            peer_ready(dramatiq_redis, 1),
            lambda: [peer_dramatiq.noop.send() for _ in range(warm)],
            dramatiq_remaining,
        ),
    }
    memory_figures["floor_django_psycopg_redis_rq"] = guarded(measure_floor)
    clean()
    loads["end"] = [round(v, 2) for v in os.getloadavg()]

    # --- goals -------------------------------------------------------------------------

    def rate(d: dict, key: str = "jobs_per_s"):
        return d.get(key) if isinstance(d, dict) else None

    def ratio(a, b):
        return round(a / b, 3) if a and b else None

    conveyor_rss = [
        memory_figures[k]["main"]["rss_mb"] for k in ("conveyor_1_slot", "conveyor_8_slots") if "main" in memory_figures.get(k, {})
    ]
    goals = [
        ("conveyor_noop / celery_prefork", ratio(rate(noop["conveyor_1_queue"]), rate(noop["celery_prefork_2"])), ">=", 1.0),
        (
            "conveyor_noop_all_queues / conveyor_noop_1_queue",
            ratio(rate(noop["conveyor_all_queues"]), rate(noop["conveyor_1_queue"])),
            ">=",
            0.9,
        ),
        ("conveyor_io_2x8 / celery_threads_2x8", ratio(rate(io["conveyor_2x8"]), rate(io["celery_threads_2x8"])), ">=", 1.0),
        (
            "conveyor single enqueue / rq single enqueue",
            ratio(rate(enqueue_figures["conveyor_single"], "per_s"), rate(enqueue_figures["rq_single"], "per_s")),
            ">=",
            0.5,
        ),
        (
            "conveyor enqueue_many / rq enqueue_many",
            ratio(rate(enqueue_figures["conveyor_many"], "per_s"), rate(enqueue_figures["rq_many"], "per_s")),
            ">=",
            1.0,
        ),
        ("latency p99 conveyor / rq", ratio(rate(latency_figures["conveyor"], "p99_ms"), rate(latency_figures["rq"], "p99_ms")), "<=", 1.5),
        ("idle RSS conveyor, MB (larger of 1 and 8 slots)", max(conveyor_rss) if conveyor_rss else None, "<=", 60),
    ]
    goal_rows = [
        {
            "figure": name,
            "value": value,
            "goal": f"{op} {target}",
            "met": None if value is None else (value >= target if op == ">=" else value <= target),
        }
        for name, value, op, target in goals
    ]
    other_ratios = {
        "conveyor_noop / rq_simpleworker_x2": ratio(rate(noop["conveyor_1_queue"]), rate(noop["rq_simpleworker_x2"])),
        "conveyor_noop / dramatiq_2x8": ratio(rate(noop["conveyor_1_queue"]), rate(noop["dramatiq_2x8"])),
        "conveyor_noop_stock_cap / conveyor_noop": ratio(rate(noop["conveyor_stock_cap"]), rate(noop["conveyor_1_queue"])),
        "conveyor_noop_1_slot / conveyor_noop": ratio(rate(noop["conveyor_1_slot"]), rate(noop["conveyor_1_queue"])),
        "conveyor_noop_8_slots / conveyor_noop": ratio(rate(noop["conveyor_8_slots"]), rate(noop["conveyor_1_queue"])),
        "conveyor_io_2x8 / dramatiq_2x8": ratio(rate(io["conveyor_2x8"]), rate(io["dramatiq_2x8"])),
        "conveyor_io_2x8 / conveyor_io_2x1": ratio(rate(io["conveyor_2x8"]), rate(io["conveyor_2x1"])),
        "idle RSS conveyor over the floor (bare Django + psycopg + redis-py + RQ), MB": (
            round(max(conveyor_rss) - memory_figures["floor_django_psycopg_redis_rq"]["main"]["rss_mb"], 1)
            if conveyor_rss and "main" in memory_figures["floor_django_psycopg_redis_rq"]
            else None
        ),
        "standard Tasks API enqueue / conveyor enqueue": ratio(
            rate(enqueue_figures["standard_api_single"], "per_s"), rate(enqueue_figures["conveyor_single"], "per_s")
        ),
        "latency p50 conveyor / rq": ratio(rate(latency_figures["conveyor"], "p50_ms"), rate(latency_figures["rq"], "p50_ms")),
    }
    for section in (noop, io):
        for name, figures in section.items():
            if "error" in figures or "round_errors" in figures or "worker_log_problems" in figures:
                problems.append(name)
    for name, figures in {**latency_figures, **memory_figures}.items():
        if "error" in figures or "round_errors" in figures:
            problems.append(name)

    return {
        "python": platform.python_version(),
        "versions": versions(),
        "load_avg": loads,
        "config": {
            "worker_processes": 2,
            "noop_jobs": n,
            "io_jobs": m,
            "io_jobs_1_slot": k,
            "rounds": opts.rounds,
            "conveyor_queue_overrides": UNLIMITED,
            "conveyor_noop_slots": "WORKER_CONCURRENCY default (4)",
            "conveyor_worker_command": "manage.py conveyor_worker default (all queues: no queue named)",
            "stock_cap_jobs": c,
            "celery": "Redis broker db 14, task_ignore_result, otherwise defaults (early ack, prefetch multiplier 4); done = task_postrun count",
            "dramatiq": "RedisBroker db 13, default middleware",
            "redis_background_commands_per_s": background_rate(commands),
        },
        "noop": noop,
        "io_50ms": io,
        "enqueue": enqueue_figures,
        "latency_idle": latency_figures,
        "idle_memory_mb": memory_figures,
        "goals": goal_rows,
        "other_ratios": other_ratios,
        "problems": problems,
    }


def background_rate(commands) -> float:
    """Redis commands per second that no benchmark process sent (another client of the server)."""
    before = sum(commands().values())
    time.sleep(1.0)
    return sum(commands().values()) - before


def versions() -> dict:
    from importlib.metadata import version

    return {name: version(name) for name in ("rq", "celery", "kombu", "dramatiq", "redis", "Django", "psycopg")}


def print_table(results: dict) -> None:
    def row(*cells):
        print("  ".join(str(c).ljust(w) for c, w in zip(cells, (34, 10, 10, 10, 10, 10, 10, 24))))

    print(f"\nload average: {results['load_avg']}")
    for title, section in (("no-op, 2 processes", results["noop"]), ("50 ms I/O, 2 processes", results["io_50ms"])):
        print(f"\n{title}")
        row("system", "jobs/s", "cpu ms/j", "redis ms", "pg ms", "redis cmd", "sql tx")
        for name, f in section.items():
            if "jobs_per_s" not in f:
                row(name, "ERROR", f.get("error", "")[:60])
                continue
            row(
                name,
                f["jobs_per_s"],
                f["worker_cpu_ms_per_job"],
                f["redis_cpu_ms_per_job"],
                f.get("postgres_cpu_ms_per_job") or "-",
                f["redis_commands_per_job"],
                f.get("sql_transactions_per_job", "-"),
            )
    print("\nenqueue (jobs/s)")
    row("system", "jobs/s", "redis cmd", "sql tx")
    for name, f in results["enqueue"].items():
        if name != "postgres_commit":
            row(name, f.get("per_s"), f.get("redis_commands_per_job", ""), f.get("sql_transactions_per_job", ""))
    commit = results["enqueue"].get("postgres_commit")
    if commit:
        print(
            f"  one PostgreSQL commit that wrote: p50 {commit['p50_ms']} ms, p99 {commit['p99_ms']} ms (synchronous_commit={commit['synchronous_commit']})"
        )
    print("\nenqueue->start latency at idle (ms)")
    row("system", "p50", "p90", "p99", "max", "call p50", "after p50", "p99 by round")
    for name, f in results["latency_idle"].items():
        row(
            name,
            f.get("p50_ms", f.get("error")),
            f.get("p90_ms", ""),
            f.get("p99_ms", ""),
            f.get("max_ms", ""),
            f.get("enqueue_call_p50_ms", ""),
            f.get("after_enqueue_p50_ms", ""),
            " ".join(str(v) for v in f.get("rounds_p99_ms", [])),
        )
    print("\nidle memory (MB, after 50 jobs)")
    for name, f in results["idle_memory_mb"].items():
        row(name, *(f"{k} {v['rss_mb']}/{v['uss_mb']}" for k, v in f.items() if isinstance(v, dict)))
    print("  (rss/uss)")
    print("\ngoals")
    for g in results["goals"]:
        row(g["figure"][:34], g["value"], g["goal"], {True: "met", False: "NOT MET", None: "n/a"}[g["met"]])
    print("\nother ratios")
    for name, value in results["other_ratios"].items():
        row(name[:34], value)
    if results["problems"]:
        print(f"\nproblems in: {', '.join(results['problems'])}")


if __name__ == "__main__":
    main()
