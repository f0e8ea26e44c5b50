"""Finding what each installed app declares in a module of a given name (``schedules``, ``demo``),
the way Django's admin finds each app's ``admin`` module: the platform asks, the apps answer, and
the platform imports none of them by name."""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec
from types import ModuleType

from django.apps import apps


def app_modules(name: str) -> list[ModuleType]:
    """Every installed app's ``<app>.<name>`` module that exists, in INSTALLED_APPS order."""
    found = []
    for app in apps.get_app_configs():
        if find_spec(f"{app.name}.{name}") is not None:
            found.append(import_module(f"{app.name}.{name}"))
    return found
