"""A worker process does not load the web stack: the checks `conveyor_worker` runs and the
apps' start-up import no view and no OpenAPI tooling (docs/decisions.md 43), and no
cryptography bindings until a job encrypts or decrypts (payouts/vault.py), no Twilio client
until a message goes through it, and no IBAN registry (schwifty) until details are entered."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.management.commands.conveyor_worker import Command
from payouts import vault

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys, django
django.setup()
from django.core import checks
from jobs.management.commands.conveyor_worker import Command
errors = checks.run_checks(tags=Command.requires_system_checks)
heavy = sorted(set(sys.modules) & {'drf_spectacular.plumbing', 'yaml', 'jinja2', 'pygments', 'requests', 'cryptography.fernet', 'twilio.rest', 'schwifty'})
print(','.join(heavy) or 'none', len(errors))
"""


def test_a_worker_loads_no_web_stack():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["none", "0"]


def test_the_worker_still_runs_the_platforms_checks():
    assert "conveyor" in Command.requires_system_checks and "models" in Command.requires_system_checks


def test_the_vault_still_round_trips_once_loaded():
    assert vault.decrypt(vault.encrypt("NL91ABNA0417164300")) == "NL91ABNA0417164300"
    assert vault.decrypt_bytes(vault.encrypt_bytes(b"a,b")) == b"a,b"


def test_a_token_from_another_key_is_a_vault_error():
    with pytest.raises(vault.VaultError, match="PAYOUT_ENCRYPTION_KEY"):
        vault.decrypt("gAAAAABnot-a-token-of-this-key")
    with pytest.raises(vault.VaultError, match="PAYOUT_ENCRYPTION_KEY"):
        vault.decrypt_bytes(b"gAAAAABnot-a-token-of-this-key")
