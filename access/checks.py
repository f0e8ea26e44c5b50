"""System checks that read the middleware route groups (config/middleware.py).

The admin's checks look for sessions, authentication and messages in MIDDLEWARE, where the
router chooses them per route group, so they are silenced in settings and made here instead,
against the chains that really run: the default group (the admin) has all three, in order;
CSRF protection and the clickjacking header are in MIDDLEWARE for every request, where
Django's own deploy checks see them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register

SESSIONS = "django.contrib.sessions.middleware.SessionMiddleware"
WITH_SESSIONS = (
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
)
EVERYWHERE = ("django.middleware.csrf.CsrfViewMiddleware", "django.middleware.clickjacking.XFrameOptionsMiddleware")


@register(Tags.security, Tags.admin)
def route_groups_protect_sessions(app_configs=None, **kwargs):
    errors = []
    groups = {name: chain for name, _, _, chain in getattr(settings, "MIDDLEWARE_GROUPS", [])}
    if groups and SESSIONS not in groups.get("default", []):
        errors.append(Error("The default middleware group has no SessionMiddleware; the admin needs it.", id="access.E001"))
    for name, chain in groups.items():
        if SESSIONS in chain:
            for needed in WITH_SESSIONS:
                if needed not in chain or chain.index(needed) < chain.index(SESSIONS):
                    errors.append(Error(f"Middleware group {name!r} uses sessions without {needed} after them.", id="access.E002"))
    for needed in EVERYWHERE:
        if needed not in settings.MIDDLEWARE:
            errors.append(Error(f"{needed} must be in MIDDLEWARE: every request needs it.", id="access.E003"))
    return errors
