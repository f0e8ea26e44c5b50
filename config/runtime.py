"""What a running `make run` (or `make cluster`) started, for commands in a second terminal.

scripts/with_services.py records the embedded services it started (the Redis URL, and the
DJANGO_ENV and DATABASE_URL it ran with) in ``<state dir>/runtime.json`` and removes the
file when it stops. Settings read it only for what the environment does not say, and only
while the process that wrote it is alive, so `manage.py enqueue_job ...` pasted from the
README reaches the same Redis and database as the running web and workers.

The state dir is CONVEYOR_STATE_DIR, by default ``.conveyor`` in the checkout; it also
holds the embedded Redis's data, so sessions and queues survive a restart (`make clean`
removes it). Pure: no Django imports.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

RECORDED = ("REDIS_URL", "DJANGO_ENV", "DATABASE_URL")


def state_dir(base_dir: Path) -> Path:
    return Path(os.environ.get("CONVEYOR_STATE_DIR") or base_dir / ".conveyor")


def runtime_file(base_dir: Path) -> Path:
    return state_dir(base_dir) / "runtime.json"


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError):
        return False
    return True


def read(base_dir: Path) -> dict:
    """The recorded values, or {} when nothing is running (no file, or its writer is gone)."""
    try:
        recorded = json.loads(runtime_file(base_dir).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(recorded, dict) or not _alive(recorded.get("pid")):
        return {}
    return {name: recorded[name] for name in RECORDED if isinstance(recorded.get(name), str) and recorded[name]}


def write(base_dir: Path, values: dict) -> Path:
    """Record ``values`` for this process (readable by its owner only); returns the file."""
    path = runtime_file(base_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({**{k: v for k, v in values.items() if k in RECORDED and v}, "pid": os.getpid()}, fh)
    os.replace(temporary, path)
    return path


def remove(base_dir: Path) -> None:
    """Remove the record if this process wrote it (a second `make run` may have replaced it)."""
    path = runtime_file(base_dir)
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass
