"""The shipped groups: what the migration creates is what access/groups.py (and docs/api.md)
say, every permission in them exists, and none of the groups mixes asking for money with
releasing it."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from access.groups import GROUPS
from api.models import ApiToken
from audit.models import AuditEntry
from notifications.models import Notification

pytestmark = pytest.mark.django_db

# Permissions whose model moved to another app after access/migrations/0001 froze its lists
# (the content type moves with the model, so a group keeps the permission: decision 42).
MOVED = {
    "jobs.view_auditentry": "audit.view_auditentry",
    "jobs.view_notification": "notifications.view_notification",
    "jobs.change_notification": "notifications.change_notification",
}


def _moved(perms) -> set:
    return {MOVED.get(p, p) for p in perms}


def test_the_migration_creates_the_groups_access_groups_describes():
    migration = importlib.import_module("access.migrations.0001_groups")
    state = MigrationLoader(connection).project_state(("access", "0001_groups"))
    migration.create_groups(state.apps, None)  # with the migration's own (historical) apps; idempotent
    for name, perms in GROUPS.items():
        group = Group.objects.get(name=name)
        held = _moved(f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type"))
        assert held == set(perms), (name, held ^ set(perms))
    assert {name: _moved(perms) for name, perms in migration.GROUPS.items()} == {name: set(perms) for name, perms in GROUPS.items()}


def test_money_is_in_two_hands():
    for name, perms in GROUPS.items():
        assert not {"payouts.request_payout", "payouts.approve_payout"} <= set(perms), name
        assert not {"payouts.run_payouts", "payouts.approve_payout"} <= set(perms), name
    assert not any(
        p.startswith("payouts.") and not p.startswith("payouts.view_") and p != "payouts.change_reconciliationreport"
        for p in GROUPS["Operators"]
    ), "operators touch no money"


def test_the_groups_are_documented():
    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    for name in GROUPS:
        assert f"**{name}**" in text


@pytest.mark.django_db(transaction=True)
def test_moving_models_to_their_own_apps_keeps_their_rows_and_the_groups_permissions():
    """audit/, notifications/ and api/ take over jobs_auditentry, jobs_notification and
    jobs_apitoken by state only: the rows stay, and the content types move, so a group or user
    that held their permissions still does."""
    before = [("jobs", "0014_schedule_declared_timing"), ("audit", None), ("notifications", None), ("api", None)]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state([("jobs", "0014_schedule_declared_timing"), ("access", "0001_groups")]).apps
    importlib.import_module("access.migrations.0001_groups").create_groups(old, None)  # a flush may have removed them
    old.get_model("jobs", "AuditEntry").objects.create(actor_label="ann", action="job.retry", object_type="job", object_id="7")
    old.get_model("jobs", "Notification").objects.create(channel="sms", recipient="+4915112345678", template="t", dedup_key="moved")
    readers = Group.objects.get(name="Read only")
    owner = User.objects.create_user("token-owner")
    owner.user_permissions.add(Permission.objects.get(content_type__app_label="jobs", codename="add_apitoken"))
    old.get_model("jobs", "ApiToken").objects.create(user_id=owner.pk, name="ci", prefix="abc", key_hash="0" * 64)
    assert readers.permissions.filter(content_type__app_label="jobs", codename="view_auditentry").exists()
    assert readers.permissions.filter(content_type__app_label="jobs", codename="view_notification").exists()

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert AuditEntry.objects.filter(actor_label="ann", action="job.retry", object_id="7").exists()
    assert Notification.objects.filter(dedup_key="moved", recipient="+4915112345678").exists()
    assert readers.permissions.filter(content_type__app_label="notifications", codename="view_notification").exists()
    assert ApiToken.objects.filter(user=owner, name="ci", key_hash="0" * 64).exists()
    assert set(owner.user_permissions.values_list("content_type__app_label", "codename")) == {("api", "add_apitoken")}
    assert readers.permissions.filter(content_type__app_label="audit", codename="view_auditentry").exists()
    assert not readers.permissions.filter(content_type__app_label="jobs", codename="view_auditentry").exists()
