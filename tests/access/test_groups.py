"""The shipped groups: what the migration creates is what access/groups.py (and docs/api.md)
say, every permission in them exists, and none of the groups mixes asking for money with
releasing it."""

from __future__ import annotations

import importlib

import pytest
from django.contrib.auth.models import Group

from access.groups import GROUPS

pytestmark = pytest.mark.django_db


def test_the_migration_creates_the_groups_access_groups_describes():
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    migration = importlib.import_module("access.migrations.0001_groups")
    state = MigrationLoader(connection).project_state(("access", "0001_groups"))
    migration.create_groups(state.apps, None)  # with the migration's own (historical) apps; idempotent
    for name, perms in GROUPS.items():
        group = Group.objects.get(name=name)
        held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
        assert held == set(perms), (name, held ^ set(perms))
    assert migration.GROUPS == GROUPS


def test_money_is_in_two_hands():
    for name, perms in GROUPS.items():
        assert not {"payouts.request_payout", "payouts.approve_payout"} <= set(perms), name
        assert not {"payouts.run_payouts", "payouts.approve_payout"} <= set(perms), name
    assert not any(
        p.startswith("payouts.") and not p.startswith("payouts.view_") and p != "payouts.change_reconciliationreport"
        for p in GROUPS["Operators"]
    ), "operators touch no money"


def test_the_groups_are_documented():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    for name in GROUPS:
        assert f"**{name}**" in text
