"""Giving test users exactly the permissions a test needs."""

from __future__ import annotations

from django.contrib.auth.models import Permission

from access.groups import GROUPS


def permissions(*perms: str) -> list[Permission]:
    found = []
    for perm in perms:
        app_label, codename = perm.split(".")
        found.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return found


def grant(user, *perms: str):
    """Add ``perms`` ("app_label.codename") to ``user``; returns the user, reloaded so that
    Django's per-object permission cache does not hide the change."""
    user.user_permissions.add(*permissions(*perms))
    return type(user).objects.get(pk=user.pk)


def grant_group(user, name: str):
    """The permissions of one of the shipped groups (access.groups), given to ``user`` directly:
    transactional tests flush the groups the migration made."""
    return grant(user, *GROUPS[name])
