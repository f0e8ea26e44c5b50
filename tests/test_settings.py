"""A bad environment stops start-up with a message naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def manage_check(**env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DJANGO_ENV", "DEBUG", "ALLOWED_HOSTS")}
    env["DJANGO_ENV"] = "test"
    env.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"JOB_TIMEOUT": "abc"}, "JOB_TIMEOUT='abc' is not a valid integer"),
        ({"JOB_TIMEOUT": "0"}, "JOB_TIMEOUT='0' is not a valid integer: must be at least 1"),
        ({"ENABLE_CORRELATION_IDS": "maybe"}, "ENABLE_CORRELATION_IDS='maybe' is not a valid boolean"),
        ({"REDIS_URL": "http://localhost"}, "REDIS_URL='http://localhost' is not a valid Redis URL"),
        ({"DATABASE_URL": "nosuchdb://x"}, "DATABASE_URL='nosuchdb://x' is not a valid database URL"),
        ({"DJANGO_ENV": "staging"}, "DJANGO_ENV='staging' must be local, test or production"),
        ({"DJANGO_ENV": "production", "ALLOWED_HOSTS": "example.com"}, "SECRET_KEY must be set"),
        ({"SCHEDULER_CLOCK": "soon"}, "SCHEDULER_CLOCK='soon' must be START,ANCHOR,SPEED"),
        (
            {"DJANGO_ENV": "production", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "example.com", "SCHEDULER_CLOCK": "0,0,1"},
            "SCHEDULER_CLOCK is for tests",
        ),
        ({"QUEUE_OVERRIDES": '{"nope": {}}'}, "QUEUE_OVERRIDES names unknown queue 'nope'"),
        ({"QUEUE_OVERRIDES": '{"reports": {"concurrency": -2}}'}, "QUEUE_OVERRIDES queue 'reports': concurrency must be a whole number"),
        ({"QUEUE_OVERRIDES": "[1"}, "QUEUE_OVERRIDES"),
        ({"WORKER_LOST_AFTER": "1", "WORKER_HEARTBEAT_INTERVAL": "5"}, "WORKER_LOST_AFTER must be at least twice"),
        ({"QUEUE_OVERRIDES": '{"payouts": {"colour": 1}}'}, "QUEUE_OVERRIDES['payouts'] has unknown keys"),
    ],
)
def test_bad_values_fail_naming_the_variable(overrides, expected):
    result = manage_check(**overrides)
    assert result.returncode != 0
    assert expected in result.stderr


def test_good_environment_passes():
    result = manage_check(JOB_TIMEOUT="30", ENABLE_CORRELATION_IDS="off")
    assert result.returncode == 0, result.stderr


def test_secret_value_is_not_echoed_for_production_checks():
    result = manage_check(DJANGO_ENV="production", SECRET_KEY="s3cr3t-value-xyz", ALLOWED_HOSTS="example.com", SESSION_TTL="x")
    assert "SESSION_TTL='x'" in result.stderr and "s3cr3t-value-xyz" not in result.stderr + result.stdout
