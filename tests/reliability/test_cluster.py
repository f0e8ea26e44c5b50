"""`make cluster` (scripts/cluster.py): two web instances, three workers and two schedulers from
the Procfile's commands; one process killed, the rest carry on; Ctrl-C stops every one."""

import os
import signal
import subprocess
import sys
import urllib.request

import psutil
import pytest

from jobs.core.states import State
from jobs.models import JobRecord
from jobs.ops.enqueue import enqueue
from tests.reliability.procs import ROOT, Processes, free_port, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_the_cluster_survives_a_killed_worker_and_stops_cleanly(tmp_path):
    port, pids, out = free_port(), tmp_path / "cluster.pids", tmp_path / "cluster.log"
    env = {
        **Processes().env,
        "PORT": str(port),
        "CLUSTER_PIDS": str(pids),
        "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
    }
    with open(out, "wb") as log:
        cluster = subprocess.Popen(
            [sys.executable, "scripts/cluster.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        table = wait_for(lambda: pids.exists() and dict(line.split() for line in pids.read_text().splitlines()), 30, message="cluster.pids")
        assert sorted(table) == ["scheduler.1", "scheduler.2", "web.1", "web.2", "worker.1", "worker.2", "worker.3"]
        wait_for(
            lambda: answers(f"http://127.0.0.1:{port}/health/live") and answers(f"http://127.0.0.1:{port + 1}/health/live"),
            60,
            interval=0.3,
            message="both web instances",
        )
        os.kill(int(table["worker.2"]), signal.SIGKILL)
        wait_for(lambda: b"worker.2 exited" in out.read_bytes(), 10, message="the cluster to notice")
        assert b"still running: web.1, web.2, worker.1, worker.3, scheduler.1, scheduler.2" in out.read_bytes()
        job = enqueue("test.count", kwargs={"key": "cluster"})
        wait_for(lambda: JobRecord.objects.get(pk=job.pk).state == State.SUCCEEDED, 60, interval=0.3, message="a surviving worker")
        assert answers(f"http://127.0.0.1:{port + 1}/health/live")
    finally:
        cluster.send_signal(signal.SIGINT)
        cluster.wait(timeout=60)
    children = [int(pid) for name, pid in table.items() if name != "worker.2"]
    assert not [pid for pid in children if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert not pids.exists()
