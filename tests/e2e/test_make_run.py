"""`make run` as a newcomer meets it: the banner's URLs answer for the demo login, the README's
second-terminal commands work as they are pasted while it runs (they find its embedded Redis
and database), Ctrl-C stops everything with exit status 0, and with nothing running the same
commands say so.

The run uses the embedded services (no REDIS_URL), a database and a state dir of its own
(DATABASE_URL, CONVEYOR_STATE_DIR), so it never touches a developer's `make run`."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import subprocess
import termios
import time
from pathlib import Path

import pytest
import requests

from tests.reliability.procs import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(420)


def readme_second_terminal_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("from a second terminal", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.splitlines() if line.strip().startswith(".venv/bin/python manage.py")]


def banner_commands(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.strip().startswith(".venv/bin/python manage.py")]


def newcomer_env(tmp_path: Path) -> dict:
    """A terminal with none of the services configured, only where this run keeps its state."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "REDIS_HOST", "DATABASE_URL", "DJANGO_ENV", "PYTEST_ADDOPTS")}
    env["CONVEYOR_STATE_DIR"] = str(tmp_path / "state")
    return env


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_make_run_banner_urls_and_the_readmes_second_terminal_commands(tmp_path):
    port = free_port()
    env = newcomer_env(tmp_path)
    log = tmp_path / "make-run.log"
    run_env = {**env, "PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    # A terminal of its own (a pty), so that Ctrl-C is what a person sends: the terminal signals its
    # foreground process group, whatever that is.
    terminal, tty = pty.openpty()

    def own_terminal():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    with open(log, "wb") as out:
        make = subprocess.Popen(
            ["make", "run"], cwd=ROOT, env=run_env, stdin=tty, stdout=out, stderr=subprocess.STDOUT, preexec_fn=own_terminal
        )
    try:

        def ready():
            try:
                return requests.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).status_code == 200
            except requests.RequestException:
                assert make.poll() is None, log.read_text()[-3000:]
                return False

        wait_for(ready, 240, "make run to be ready (web, a worker and the scheduler)")
        output = log.read_text()
        assert (tmp_path / "state" / "runtime.json").exists()

        commands = readme_second_terminal_commands()
        assert len(commands) >= 3
        for command in dict.fromkeys(commands + banner_commands(output)):
            result = subprocess.run(command, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, (command, result.stdout[-500:], result.stderr[-2000:])
            if "api_token create" in command:
                key = result.stdout.strip().splitlines()[-1]
                queues = requests.get(f"http://127.0.0.1:{port}/api/v1/queues/", headers={"Authorization": f"Token {key}"}, timeout=10)
                assert queues.status_code == 200 and len(queues.json()) == 18

        urls = re.findall(r"(http://127\.0\.0\.1:\d+/\S*)", output.split("Conveyor is starting", 1)[1])
        assert len(urls) >= 6
        browser = requests.Session()
        login = f"http://127.0.0.1:{port}/admin/login/"
        browser.get(login, timeout=10)
        browser.post(
            login,
            data={"username": "demo", "password": "demo", "next": "/admin/", "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
            headers={"Referer": login},
            timeout=10,
        )
        for url in urls:
            response = browser.get(url, timeout=20)
            assert response.status_code == 200 and "/admin/login/" not in response.url, (url, response.status_code)
        assert "demo.noop" in browser.get(f"http://127.0.0.1:{port}/admin/jobs/jobrecord/?task_name=demo.noop", timeout=20).text
    finally:
        os.write(terminal, b"\x03")  # Ctrl-C
        try:
            code = make.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            raise
        finally:
            os.close(terminal)
            os.close(tty)
    output = log.read_text()
    assert code == 0 and "make: ***" not in output, output[-2000:]  # Ctrl-C is a clean stop, not "Error 130"
    assert "cleaning registries" not in output  # RQ's maintenance lines stay below RQ_LOG_LEVEL
    assert not (tmp_path / "state" / "runtime.json").exists()

    nothing_running = subprocess.run(
        readme_second_terminal_commands()[0], shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert nothing_running.returncode != 0 and "make run" in nothing_running.stderr and "Traceback" not in nothing_running.stderr
