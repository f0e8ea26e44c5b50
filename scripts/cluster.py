#!/usr/bin/env python3
"""`make cluster`: several instances side by side, sharing one Redis and one database.

Two web instances (gunicorn, one process each) on two ports, three workers and two
schedulers, with the same commands as the Procfile. Unlike honcho, one process stopping
(kill -9 it, it crashes) does not stop the others: the cluster carries on and says so, as
a real deployment would. Ctrl-C stops them all.

Every process's pid is written to cluster.pids (``name pid`` per line) for the runbooks:

    kill -9 $(awk '$1=="worker.2"{print $2}' cluster.pids)

Runs inside scripts/with_services.py (which provides the embedded Redis when REDIS_URL is
unset); a second terminal reaches the same services with the exports it prints.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIDS = Path(os.environ.get("CLUSTER_PIDS", ROOT / "cluster.pids"))
COLOURS = ["36", "33", "32", "35", "34", "31", "96", "93"]


def procfile_command(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise SystemExit(f"Procfile has no {name} process")


def plan(port: int) -> list[tuple[str, str]]:
    worker, scheduler = procfile_command("worker"), procfile_command("scheduler")
    web = "gunicorn config.wsgi --bind 127.0.0.1:{port} --workers 1 --threads 4 --access-logfile -"
    return [
        ("web.1", web.format(port=port)),
        ("web.2", web.format(port=port + 1)),
        ("worker.1", worker),
        ("worker.2", worker),
        ("worker.3", worker),
        ("scheduler.1", scheduler),
        ("scheduler.2", scheduler),
    ]


def pump(name: str, colour: str, stream) -> None:
    for raw in iter(stream.readline, b""):
        sys.stdout.write(f"\033[{colour}m{time.strftime('%H:%M:%S')} {name:12}|\033[0m {raw.decode(errors='replace')}")
        sys.stdout.flush()


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    children: dict[str, subprocess.Popen] = {}
    for i, (name, command) in enumerate(plan(port)):
        child = subprocess.Popen(
            shlex.split(command), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        children[name] = child
        threading.Thread(target=pump, args=(name, COLOURS[i % len(COLOURS)], child.stdout), daemon=True).start()
    PIDS.write_text("".join(f"{name} {child.pid}\n" for name, child in children.items()))
    print(
        f"""
  Conveyor cluster: 2 web instances, 3 workers, 2 schedulers, one Redis, one database.
    web.1:   http://127.0.0.1:{port}/admin/dashboard/     (login: demo / demo)
    web.2:   http://127.0.0.1:{port + 1}/admin/dashboard/   (log in on one, you are logged in on the other)
  Process ids: {PIDS.name}. Stop one and watch the rest carry on, e.g.
    kill -9 $(awk '$1=="worker.2"{{print $2}}' {PIDS.name})
  From a second terminal, commands reach the same services (recorded in .conveyor/runtime.json):
    .venv/bin/python manage.py conveyor_queue list
  Ctrl-C stops everything.
""",
        flush=True,
    )

    stopping = threading.Event()

    def stop(*_):
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    reported: set[str] = set()
    while not stopping.is_set():
        for name, child in children.items():
            if name not in reported and child.poll() is not None:
                reported.add(name)
                alive = [n for n, c in children.items() if c.poll() is None]
                print(
                    f"\033[1m[cluster] {name} exited ({child.returncode}); still running: {', '.join(alive) or 'nothing'}\033[0m",
                    flush=True,
                )
        if len(reported) == len(children):
            break
        stopping.wait(0.5)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    PIDS.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
