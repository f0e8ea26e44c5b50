"""A worker process does not load the web stack: the checks `conveyor_worker` runs and the
apps' start-up import no view and no OpenAPI tooling (docs/decisions.md 43), and no
cryptography bindings until a job encrypts or decrypts (payouts/vault.py), no Twilio client
until a message goes through it, no IBAN registry (schwifty) until details are entered, and no
ModelAdmin (config/admin_site.py: the admin discovers its modules on first use)."""

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
heavy = sorted(set(sys.modules) & {'drf_spectacular.plumbing', 'yaml', 'jinja2', 'pygments', 'requests', 'cryptography.fernet', 'twilio.rest', 'schwifty', 'jobs.admin', 'payouts.admin', 'django_rq.stats_views', 'prometheus_client'})
print(','.join(heavy) or 'none', len(errors))
"""


def test_a_worker_loads_no_web_stack():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["none", "0"]


ADMIN_PROBE = """
import django
django.setup()
from django.contrib import admin
from django.core import checks
before = len(admin.site._registry)
errors = [e for e in checks.run_checks(tags=[checks.Tags.admin]) if not e.is_silenced()]
print(before, len(admin.site._registry) > 20, len(errors))
"""


def test_the_admins_checks_still_see_every_registration():
    """Nothing is registered while a process starts; `manage.py check` (the admin's checks)
    discovers the admin modules first, whatever order the checks run in."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    out = subprocess.run([sys.executable, "-c", ADMIN_PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0", "True", "0"]


CONCURRENT_PROBE = """
import threading, time
import django
django.setup()
from django.contrib import admin
import config.admin_site as admin_site
started = threading.Event()
real = admin_site.autodiscover
def slow():
    started.set()
    time.sleep(0.3)
    real()
admin_site.autodiscover = slow
first = threading.Thread(target=admin_site.discover)
first.start()
started.wait()
print(len(admin.site.registry()) > 20)
first.join()
"""


def test_a_thread_reading_the_registry_during_discovery_waits_for_all_of_it():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    out = subprocess.run([sys.executable, "-c", CONCURRENT_PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True"]


def test_the_admin_urls_load_the_registrations(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("boss", "boss@example.com", "pw"))
    assert client.get("/admin/jobs/jobrecord/").status_code == 200


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
