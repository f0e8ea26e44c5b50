"""Production posture: DEBUG only on a developer's machine, `check --deploy` clean, the local
default on 127.0.0.1, and settings in the wrong unit refused at start with their name."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_settings import manage_check

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {"DJANGO_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "conveyor.example.com"}


def test_check_deploy_passes_with_production_settings_and_no_warnings():
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "DJANGO_ENV")}
    env.update(PRODUCTION)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({**PRODUCTION, "DEBUG": "true"}, "DEBUG=true is refused when DJANGO_ENV=production"),
        ({**PRODUCTION, "DJANGO_ENV": "test", "DEBUG": "on"}, "DEBUG=true is refused when DJANGO_ENV=test"),
        ({**PRODUCTION, "ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must be set"),
        ({"DJANGO_ENV": ""}, "SECRET_KEY must be set"),  # no DJANGO_ENV: production, which has no default secret
        (
            {"PAYOUT_APPROVAL_WINDOW": "86400000"},
            "PAYOUT_APPROVAL_WINDOW='86400000' is not a valid duration: a bare number is seconds here, and 86400000 seconds is 1,000 days",
        ),
        ({"IMPORT_FILE_RETENTION": "604800000"}, "IMPORT_FILE_RETENTION='604800000' is not a valid duration: a bare number is seconds"),
        ({"API_MAX_BODY_BYTES": "1"}, "API_MAX_BODY_BYTES='1' is not a valid integer: must be at least 1024 bytes"),
        ({"SECURE_HSTS_SECONDS": "31536000000"}, "SECURE_HSTS_SECONDS='31536000000' is not a valid integer"),
    ],
)
def test_unsafe_or_wrong_unit_settings_stop_start_up_naming_the_variable(overrides, expected):
    result = manage_check(**overrides)
    assert result.returncode != 0 and expected in result.stderr, result.stderr[-500:]


def test_debug_is_on_only_locally():
    assert manage_check(DJANGO_ENV="local", DEBUG="true").returncode == 0


def test_the_local_default_listens_on_127_0_0_1_and_a_deploy_on_all_interfaces():
    procfile = (ROOT / "Procfile").read_text()
    assert "--bind ${WEB_HOST:-0.0.0.0}:${PORT:-8000}" in procfile
    makefile = (ROOT / "Makefile").read_text()
    run_target = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "WEB_HOST=$${WEB_HOST:-127.0.0.1}" in run_target and "DJANGO_ENV=$${DJANGO_ENV:-local}" in run_target


def test_the_demo_login_is_never_made_in_production():
    env = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    env.update(PRODUCTION)
    result = subprocess.run([sys.executable, "manage.py", "seed_demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert "does nothing when DJANGO_ENV=production" in result.stderr
